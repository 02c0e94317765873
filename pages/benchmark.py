"""Benchmark tab: the tables and diversity-vs-set-size curves of a `python -m eval.benchmark` output folder.

    python -m eval.benchmark --n-prompts 200 --k 8 --out ~/.cache/dppgrpo/benchmarks/my-run
    # then pick "my-run" here (runs under <cache_dir>/benchmarks/ are listed), or type any folder

Reading only: this tab never starts a benchmark (a 200-prompt run takes hours on a CPU).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from eval.report import OUTPUT_FILES, load_report

ROUND = 3


def runs_folder(cache_dir: str) -> Path:
    return Path(cache_dir).expanduser() / "benchmarks"


def list_runs(cache_dir: str) -> list[str]:
    """Benchmark output folders under <cache_dir>/benchmarks/, newest first."""
    root = runs_folder(cache_dir)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / OUTPUT_FILES["markdown"]).is_file()]
    return [str(p) for p in sorted(runs, key=lambda p: (p / OUTPUT_FILES["markdown"]).stat().st_mtime, reverse=True)]


def _table(frame: pd.DataFrame | None, missing: str) -> pd.DataFrame:
    # An empty DataFrame renders as bare column numbers; say what is missing instead.
    if frame is None or frame.empty:
        return pd.DataFrame({"note": [missing]})
    return frame.round(ROUND)


def load_benchmark(folder: str):
    """(markdown, curve figure, prompt summary, efficiency, video summary) of one output folder; gr.Error if absent."""
    folder = (folder or "").strip()
    if not folder:
        raise gr.Error("Choose a benchmark run or type the folder that `python -m eval.benchmark --out` wrote.")
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise gr.Error(f"No folder at {path}.")
    try:
        report = load_report(path)
    except FileNotFoundError:
        raise gr.Error(f"{path} holds no benchmark results: run `python -m eval.benchmark --out {path}` first.") from None
    except (ValueError, OSError) as exc:  # a damaged CSV
        raise gr.Error(f"Could not read the benchmark in {path}: {exc}") from None
    return (
        report["markdown"],
        report["figure"],
        _table(report["prompt_summary"], "no prompt-level table in this folder"),
        _table(report["efficiency"], "no efficiency table in this folder"),
        _table(report["video_summary"], "no rendered videos in this run (python -m eval.benchmark --videos DIR)"),
    )


def load_if_chosen(folder: str):
    """On page load and on choosing a run: like `load_benchmark`, but an empty choice just clears the view."""
    if not (folder or "").strip():
        empty = pd.DataFrame({"note": ["choose a benchmark run above"]})
        return "", None, empty, empty, empty
    return load_benchmark(folder)


def build(ctx) -> None:
    cache_dir = ctx.settings.cache_dir
    runs = list_runs(cache_dir)
    gr.Markdown(
        "Results of `python -m eval.benchmark` (VBench prompts, methods compared on diversity, relevance and "
        f"cost). Runs written under `{runs_folder(cache_dir)}` are listed; any other output folder can be typed."
    )
    with gr.Row():
        folder = gr.Dropdown(choices=runs, value=runs[0] if runs else None, allow_custom_value=True,
                             label="benchmark output folder", scale=4)
        refresh = gr.Button("Refresh list", scale=1)
        load = gr.Button("Load", variant="primary", scale=1)
    curves = gr.Plot(label="Diversity against set size")
    prompt_table = gr.Dataframe(label="Prompt level (mean and std over prompts)", interactive=False)
    efficiency_table = gr.Dataframe(label="Efficiency", interactive=False)
    video_table = gr.Dataframe(label="Video level (empty without rendered videos)", interactive=False)
    with gr.Accordion("Report (results.md)", open=False):
        report_md = gr.Markdown()

    outputs = [report_md, curves, prompt_table, efficiency_table, video_table]
    load.click(load_benchmark, inputs=folder, outputs=outputs)
    gr.on(triggers=None, fn=load_if_chosen, inputs=folder, outputs=outputs)  # on page load and on every new choice

    def refresh_runs():
        return gr.Dropdown(choices=list_runs(cache_dir))

    refresh.click(refresh_runs, outputs=folder)
