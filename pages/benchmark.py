"""Benchmark tab: the tables and diversity-vs-set-size curves of a `python -m eval.benchmark` output folder.

    python -m eval.benchmark --n-prompts 200 --k 8 --out ~/.cache/dppgrpo/benchmarks/my-run
    # then pick "my-run" here: the runs under <cache_dir>/benchmarks/ are listed by name

Reading only: this tab never starts a benchmark (a 200-prompt run takes hours on a CPU). A client
picks a run by name among those listed; it never sends a folder (the server chooses its folders).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from eval.report import OUTPUT_FILES, load_report, runs_folder
from pages.context import AppContext, bind, refused

ROUND = 3


def list_runs(cache_dir: str) -> list[str]:
    """Names of the benchmark output folders under <cache_dir>/benchmarks/, newest first."""
    root = runs_folder(cache_dir)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / OUTPUT_FILES["markdown"]).is_file()]
    return [p.name for p in sorted(runs, key=lambda p: (p / OUTPUT_FILES["markdown"]).stat().st_mtime, reverse=True)]


def _table(frame: pd.DataFrame | None, missing: str) -> pd.DataFrame:
    # An empty DataFrame renders as bare column numbers; say what is missing instead.
    if frame is None or frame.empty:
        return pd.DataFrame({"note": [missing]})
    return frame.round(ROUND)


def load_benchmark(cache_dir: str, run: str):
    """(markdown, curve figure, prompt summary, efficiency, video summary) of one listed run; gr.Error otherwise."""
    if not isinstance(run, str) or not run.strip():
        raise refused("Choose a benchmark run: `python -m eval.benchmark --out "
                       f"{runs_folder(cache_dir)}/NAME` writes one.")
    if run not in list_runs(cache_dir):  # a name from the list, never a path a client typed
        raise refused(f"No benchmark run named {run[:80]!r}; choose one from the list.")
    try:
        report = load_report(runs_folder(cache_dir) / run)
    except FileNotFoundError:
        raise refused(f"The run {run!r} holds no benchmark results.") from None
    except (ValueError, OSError) as exc:  # a damaged CSV
        raise refused(f"Could not read the benchmark run {run!r}: {type(exc).__name__}.") from None
    return (
        report["markdown"],
        report["figure"],
        _table(report["prompt_summary"], "no prompt-level table in this folder"),
        _table(report["efficiency"], "no efficiency table in this folder"),
        _table(report["video_summary"], "no rendered videos in this run (python -m eval.benchmark --videos DIR)"),
    )


def small_run_command(cache_dir: str) -> str:
    """The one command that writes a small run this tab lists (three VBench prompts, K = 4, no language model:
    a minute or two on a CPU)."""
    out = runs_folder(cache_dir) / "small"
    home = Path.home()
    shown = f"~/{out.relative_to(home)}" if out.is_relative_to(home) else str(out)
    return f"python -m eval.benchmark --n-prompts 3 --k 4 --methods original,composer,dpp-compose --out {shown}"


def empty_note(cache_dir: str) -> str:
    """What a Benchmark tab with no run chosen says: how to make one (or that one is waiting in the list)."""
    if list_runs(cache_dir):
        return "Choose a benchmark run in the list above, then press **Load**."
    return (f"No benchmark run yet. This command makes a small one (three VBench prompts, K = 4, a minute or two on "
            f"a CPU):\n\n```bash\n{small_run_command(cache_dir)}\n```\n\nthen press **Refresh list**. "
            "Add `iid,dpp-grpo,dpp-rerank` to `--methods` to compare the policy's methods too (slower).")


def load_if_chosen(cache_dir: str, run: str):
    """On page load and on choosing a run: like `load_benchmark`, but an empty choice just clears the view."""
    if not (run or "").strip():
        empty = pd.DataFrame({"note": ["no run loaded"]})
        return "", None, empty, empty, empty
    return load_benchmark(cache_dir, run)


def validate_choice(cache_dir: str, run):
    """The Load button's validator: a run chosen from the list, else the message and the page as it was."""
    if not isinstance(run, str) or not run.strip():
        return gr.validate(False, "Choose a benchmark run first" + (
            "." if list_runs(cache_dir) else ": there is none yet (see the command below)."))
    return gr.validate(run in list_runs(cache_dir), "Choose a run from the list.")


def refresh_runs(cache_dir: str):
    """The Refresh list button: the runs now in the benchmark folder."""
    found = list_runs(cache_dir)
    return gr.Dropdown(choices=found), "" if found else empty_note(cache_dir)


def build(ctx: AppContext) -> None:
    cache_dir = ctx.settings.cache_dir
    runs = list_runs(cache_dir)
    gr.Markdown(
        "Results of `python -m eval.benchmark` (VBench prompts, methods compared on diversity, relevance and "
        "cost). The runs the server wrote under its benchmark folder are listed by name."
    )
    with gr.Row():
        folder = gr.Dropdown(choices=runs, value=runs[0] if runs else None, label="benchmark run", scale=4)
        refresh = gr.Button("Refresh list", scale=1)
        load = gr.Button("Load", variant="primary", scale=1)
    note = gr.Markdown("" if runs else empty_note(cache_dir), elem_id="benchmark-note")
    curves = gr.Plot(label="Diversity against set size")
    prompt_table = gr.Dataframe(label="Prompt level (mean and std over prompts)", interactive=False)
    efficiency_table = gr.Dataframe(label="Efficiency", interactive=False)
    video_table = gr.Dataframe(label="Video level (empty without rendered videos)", interactive=False)
    with gr.Accordion("Report (results.md)", open=False):
        report_md = gr.Markdown()

    outputs = [report_md, curves, prompt_table, efficiency_table, video_table]
    load.click(bind(load_benchmark, cache_dir), inputs=folder, outputs=outputs,
               validator=bind(validate_choice, cache_dir))
    # On page load and on every new choice.
    gr.on(triggers=None, fn=bind(load_if_chosen, cache_dir), inputs=folder, outputs=outputs)
    refresh.click(bind(refresh_runs, cache_dir), outputs=[folder, note])
