"""Benchmark tab: the evaluation this repository ships (`docs/evaluation/`) and the runs of this server
(`<cache_dir>/benchmarks/`), browsable by name, and a small benchmark started from the page with its progress.

    python -m eval.benchmark --n-prompts 200 --k 8 --out ~/.cache/dppgrpo/benchmarks/my-run
    # then pick "my-run" here: the runs under <cache_dir>/benchmarks/ are listed by name

A folder written by `python -m eval.benchmark` shows its curves and tables; one written by
`python -m eval.set_quality` its table and the sets themselves. A client picks among the listed names; it never
sends a folder (the server chooses its folders). The run started here is in `benchmark_run.py`.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from eval.report import OUTPUT_FILES, load_report, runs_folder
from pages.benchmark_run import build_run_panel
from pages.context import AppContext, bind, on_page_load, refused

ROUND = 3
SHIPPED = Path(__file__).resolve().parent.parent / "docs" / "evaluation"  # copied out of runs/, in the repository
SHIPPED_PREFIX = "shipped:"
SETS_FILE = "sets.md"  # eval.set_quality's sets, verbatim


def list_runs(cache_dir: str) -> list[str]:
    """Names of the benchmark output folders under <cache_dir>/benchmarks/, newest first."""
    root = runs_folder(cache_dir)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / OUTPUT_FILES["markdown"]).is_file()]
    return [p.name for p in sorted(runs, key=lambda p: (p / OUTPUT_FILES["markdown"]).stat().st_mtime, reverse=True)]


def shipped_runs(root: Path | None = None) -> dict[str, Path]:
    """The evaluation folders shipped in the repository, "shipped:<group>/<name>" -> folder, benchmark runs first.

    >>> "shipped:training-v2/k16" in shipped_runs()
    True
    """
    root = SHIPPED if root is None else root
    if not root.is_dir():
        return {}
    found = sorted(p.parent for p in root.glob("*/*/" + OUTPUT_FILES["markdown"]))
    found.sort(key=lambda p: not (p / OUTPUT_FILES["curves"]).is_file())  # curves and tables first
    return {SHIPPED_PREFIX + p.relative_to(root).as_posix(): p for p in found}


def choices(cache_dir: str) -> list[tuple[str, str]]:
    """(label, name) of everything the tab can show: this server's runs, then the shipped evaluation."""
    runs = [(f"this server: {name}", name) for name in list_runs(cache_dir)]
    return runs + [(f"shipped: {key.removeprefix(SHIPPED_PREFIX)}", key) for key in shipped_runs()]


def _folder(cache_dir: str, run) -> Path:
    """The folder of a listed name; gr.Error for anything else (a path, a traversal, a name not listed)."""
    if not isinstance(run, str) or not run.strip():
        raise refused("Choose a benchmark run: `python -m eval.benchmark --out "
                      f"{runs_folder(cache_dir)}/NAME` writes one.")
    shipped = shipped_runs()
    if run in shipped:
        return shipped[run]
    if run not in list_runs(cache_dir):  # a name from the list, never a path a client typed
        raise refused(f"No benchmark run named {run[:80]!r}; choose one from the list.")
    return runs_folder(cache_dir) / run


def read_run(cache_dir: str, run) -> dict:
    """A listed run: {"markdown", "figure" (or None), "prompt_summary", "efficiency", "video_summary" (DataFrames
    or None), "sets" (markdown or None)}; gr.Error for a name not listed or a damaged folder."""
    folder = _folder(cache_dir, run)
    try:
        report = load_report(folder)
        sets = folder / SETS_FILE
        report["sets"] = sets.read_text(encoding="utf-8") if sets.is_file() else None
    except FileNotFoundError:
        raise refused(f"The run {run!r} holds no benchmark results.") from None
    except (ValueError, OSError) as exc:  # a damaged CSV
        raise refused(f"Could not read the benchmark run {run!r}: {type(exc).__name__}.") from None
    return report


def _table(frame: pd.DataFrame | None, missing: str) -> pd.DataFrame:
    # An empty DataFrame renders as bare column numbers; say what is missing instead.
    if frame is None or frame.empty:
        return pd.DataFrame({"note": [missing]})
    return frame.round(ROUND)


def load_benchmark(cache_dir: str, run: str):
    """(markdown, curve figure, prompt summary, efficiency, video summary) of one listed run; gr.Error otherwise."""
    report = read_run(cache_dir, run)
    return (
        report["markdown"],
        report["figure"],
        _table(report["prompt_summary"], "no prompt-level table in this folder"),
        _table(report["efficiency"], "no efficiency table in this folder"),
        _table(report["video_summary"], "no rendered videos in this run (python -m eval.benchmark --videos DIR)"),
    )


def _shown(frame: pd.DataFrame | None):
    has = frame is not None and not frame.empty
    return gr.Dataframe(value=frame.round(ROUND) if has else None, visible=has)


def show_run(cache_dir: str, run):
    """The page for one listed run: (note, report, curves, prompt table, efficiency, video table, sets accordion,
    sets). Only what the folder holds is shown: no empty plot, no "no run loaded" table."""
    if not isinstance(run, str) or not run.strip():
        return (empty_note(cache_dir), "", gr.Plot(visible=False), *[gr.Dataframe(visible=False)] * 3,
                gr.Accordion(visible=False), "")
    report = read_run(cache_dir, run)
    missing = [what for what, key in (("curves", "figure"), ("video-level table", "video_summary"))
               if report.get(key) is None]
    note = f"Showing **{run.removeprefix(SHIPPED_PREFIX)}**" + (
        f" (this folder has no {' and no '.join(missing)})." if missing and report["prompt_summary"] is not None
        else ": a set-quality table and its sets." if report["sets"] else ".")
    figure = report["figure"]
    return (note, report["markdown"], gr.Plot(value=figure, visible=figure is not None),
            _shown(report["prompt_summary"]), _shown(report["efficiency"]), _shown(report["video_summary"]),
            gr.Accordion(visible=bool(report["sets"])), report["sets"] or "")


def small_run_command(cache_dir: str) -> str:
    """The one command that writes a small run this tab lists (three VBench prompts, K = 4, no language model:
    a minute or two on a CPU)."""
    out = runs_folder(cache_dir) / "small"
    home = Path.home()
    shown = f"~/{out.relative_to(home)}" if out.is_relative_to(home) else str(out)
    return f"python -m eval.benchmark --n-prompts 3 --k 4 --methods original,composer,dpp-compose --out {shown}"


def empty_note(cache_dir: str) -> str:
    """What the tab says with nothing chosen: choose one, or how to make one (the panel below, or the command)."""
    if choices(cache_dir):
        return "Choose a run in the list above."
    return (f"No benchmark run yet. Start a small one below (**Run a small benchmark here**), or run this "
            f"command:\n\n```bash\n{small_run_command(cache_dir)}\n```\n\nthen press **Refresh list**.")


def validate_choice(cache_dir: str, run):
    """The Load button's validator: a run chosen from the list, else the message and the page as it was."""
    if not isinstance(run, str) or not run.strip():
        return gr.validate(False, "Choose a benchmark run first" + (
            "." if choices(cache_dir) else ": there is none yet (see the command below)."))
    return gr.validate(run in dict((key, None) for _, key in choices(cache_dir)), "Choose a run from the list.")


def refresh_runs(cache_dir: str, current=None):
    """The Refresh list button: the runs now listed (the choice kept when it is still there)."""
    found = choices(cache_dir)
    keys = [key for _, key in found]
    return gr.Dropdown(choices=found, value=current if current in keys else (keys[0] if keys else None))


def build(ctx: AppContext) -> None:
    cache_dir = ctx.settings.cache_dir
    listed = choices(cache_dir)
    gr.Markdown(
        "Methods compared on VBench prompts: diversity (Vendi, log det), faithfulness (relevance, keeps q) and cost. "
        "The list holds this server's runs and the evaluation behind BENCHMARKS.md, shipped in `docs/evaluation/`."
    )
    with gr.Row():
        folder = gr.Dropdown(choices=listed, value=listed[0][1] if listed else None, label="Benchmark run", scale=4)
        refresh = gr.Button("Refresh list", scale=1)
        load = gr.Button("Load", variant="primary", scale=1)
    note = gr.Markdown(empty_note(cache_dir) if not listed else "", elem_id="benchmark-note",
                       elem_classes=["dpp-live"])
    report_md = gr.Markdown(elem_id="benchmark-report")
    curves = gr.Plot(label="Diversity against set size", visible=False, elem_id="benchmark-curves")
    prompt_table = gr.Dataframe(label="Prompt level (mean and std over prompts)", interactive=False, visible=False)
    efficiency_table = gr.Dataframe(label="Efficiency", interactive=False, visible=False)
    video_table = gr.Dataframe(label="Video level", interactive=False, visible=False)
    with gr.Accordion("The sets, verbatim", open=False, visible=False) as sets_box:
        sets_md = gr.Markdown()
    outputs = [note, report_md, curves, prompt_table, efficiency_table, video_table, sets_box, sets_md]
    load.click(bind(show_run, cache_dir), inputs=folder, outputs=outputs, validator=bind(validate_choice, cache_dir),
               api_visibility="private")
    folder.input(bind(show_run, cache_dir), inputs=folder, outputs=outputs, api_visibility="private")
    on_page_load(bind(show_run, cache_dir), inputs=folder, outputs=outputs, api_visibility="private",
                 show_progress="hidden")
    refresh.click(bind(refresh_runs, cache_dir), inputs=folder, outputs=folder, api_visibility="private")
    finished, new_run = build_run_panel(ctx)  # a small run started here; once done, the list shows it, chosen
    finished.success(bind(refresh_runs, cache_dir), inputs=new_run, outputs=folder,
                     api_visibility="private").success(bind(show_run, cache_dir), inputs=folder, outputs=outputs,
                                                       api_visibility="private")
