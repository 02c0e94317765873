"""One module per tab; each exposes `build(ctx)`, called inside its `gr.Tab`. `app.py` assembles them.

TABS lists (tab label, module name) in display order; a new tab is one module and one line here.
"""

TABS = [
    ("Expand", "expand"),
    ("Render", "render"),
    ("Annotate", "annotate"),
    ("Results", "results"),
    ("Benchmark", "benchmark"),
]
