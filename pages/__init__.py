"""One module per tab; each exposes `build(ctx)`, called inside its `gr.Tab`. `app.py` assembles them.

TABS lists (tab label, module name) in display order; a tab whose module is absent is skipped.
"""

TABS = [
    ("Expand", "expand"),
    ("Render", "render"),
    ("Annotate", "annotate"),
    ("Results", "results"),
    ("Benchmark", "benchmark"),
]
