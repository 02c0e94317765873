"""Benchmark rows → summary tables (CSV, markdown) and diversity-vs-set-size curves (plotly HTML).

Pure and Gradio-free, so the command line and the app's Benchmark tab read the same files:

    write_report(out_dir, set_rows, video_rows, meta)   # writes the files listed in OUTPUT_FILES
    report = load_report(out_dir)                       # {"markdown", "prompt_summary", "curves", "figure", ...}

Each summary cell is "mean ± std over prompts"; curves average each metric over prompts at
every set size k = 1 … K (the paper's "continuous mode discovery").
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from dppgrpo_core.checks import csv_cell

OUTPUT_FILES = {
    "prompt_rows": "prompt_level.csv",  # one row per (prompt, method)
    "prompt_summary": "prompt_summary.csv",  # one row per method
    "video_rows": "video_level.csv",
    "video_summary": "video_summary.csv",
    "efficiency": "efficiency.csv",
    "curves": "curves.csv",  # method, k, metric means over prompts
    "markdown": "results.md",
    "figure": "curves.html",
    "meta": "meta.json",
}

PROMPT_METRICS = {  # column → header in the tables
    "vendi": "Vendi ↑",
    "log_det": "log det(L+I) ↑",
    "pairwise_distance": "pairwise cos dist ↑",
    "relevance": "relevance cos(p,q)",
}
# vendi_faithful counts only the prompts that keep q (eval.metrics.faithful_vendi): drift cannot raise it.
CURVE_METRICS = {"vendi": "Vendi score", "vendi_faithful": "Vendi of the prompts that keep q", "log_det": "log det(L + I)"}



def runs_folder(cache_dir) -> Path:
    """Where `python -m eval.benchmark` writes its runs by default, and where the Benchmark tab lists them."""
    return Path(cache_dir).expanduser() / "benchmarks"

def summarise(rows: list[dict], metrics: dict[str, str], methods: list[str]) -> pd.DataFrame:
    """Mean and std over prompts of each metric, one row per method (in `methods` order)."""
    frame = pd.DataFrame(rows)
    out = []
    for method in methods:
        part = frame[frame["method"] == method] if len(frame) else frame
        row = {"method": method, "n_prompts": int(len(part))}
        for col in metrics:
            values = pd.to_numeric(part[col], errors="coerce").dropna() if col in part else pd.Series(dtype=float)
            row[col] = float(values.mean()) if len(values) else math.nan
            row[col + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        out.append(row)
    return pd.DataFrame(out)


def curve_frame(set_rows: list[dict], methods: list[str]) -> pd.DataFrame:
    """Long table (method, k, vendi, log_det, n_prompts): each metric of the first k prompts, averaged over prompts."""
    out = []
    for method in methods:
        curves = [r["curve"] for r in set_rows if r["method"] == method and r.get("curve")]
        if not curves:
            continue
        longest = max(len(c["vendi"]) for c in curves)
        for k in range(1, longest + 1):
            row = {"method": method, "k": k}
            for metric in CURVE_METRICS:
                values = [c[metric][k - 1] for c in curves if len(c.get(metric, ())) >= k]
                row[metric] = sum(values) / len(values) if values else math.nan
            row["n_prompts"] = len([c for c in curves if len(c["vendi"]) >= k])
            out.append(row)
    return pd.DataFrame(out, columns=["method", "k", *CURVE_METRICS, "n_prompts"])


def _cell(mean: float, std: float, digits: int = 3) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    return f"{mean:.{digits}f}" + ("" if std is None or math.isnan(std) else f" ± {std:.{digits}f}")


def markdown_table(summary: pd.DataFrame, metrics: dict[str, str]) -> str:
    """A GitHub markdown table of a `summarise` result: method, n, then "mean ± std" per metric."""
    headers = ["method", "n", *metrics.values()]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for _, row in summary.iterrows():
        cells = [str(row["method"]), str(int(row["n_prompts"]))]
        cells += [_cell(row.get(col, math.nan), row.get(col + "_std", math.nan)) for col in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def efficiency_markdown(efficiency: pd.DataFrame) -> str:
    lines = ["| method | expansion s / video | render s / video | overhead % of render |", "|---|---|---|---|"]
    for _, row in efficiency.iterrows():
        render = row.get("render_s_per_video", math.nan)
        overhead = row.get("overhead_pct", math.nan)
        lines.append(
            f"| {row['method']} | {row['expansion_s_per_video']:.3f} | "
            f"{'n/a' if pd.isna(render) else f'{render:.1f}'} | {'n/a' if pd.isna(overhead) else f'{overhead:.2f}%'} |"
        )
    return "\n".join(lines)


def curve_figure(curves: pd.DataFrame):
    """Plotly figure: one panel per curve metric, one line per method, x = set size k."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    shown = [m for m in CURVE_METRICS if m in curves and curves[m].notna().any()]  # older folders lack some
    fig = make_subplots(rows=1, cols=max(1, len(shown)), subplot_titles=[CURVE_METRICS[m] for m in shown])
    palette = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3"]
    for i, method in enumerate(dict.fromkeys(curves["method"]) if len(curves) else []):
        part = curves[curves["method"] == method]
        for col, metric in enumerate(shown, 1):
            fig.add_trace(
                go.Scatter(x=part["k"], y=part[metric], mode="lines+markers", name=method, legendgroup=method,
                           showlegend=col == 1, line=dict(color=palette[i % len(palette)])),
                row=1, col=col,
            )
    fig.update_xaxes(title_text="set size k", dtick=1)
    fig.update_layout(title="Diversity against set size (mean over prompts)", height=420, template="plotly_white")
    return fig


def write_report(out: Path, set_rows: list[dict], video_rows: list[dict], efficiency: pd.DataFrame, meta: dict,
                 video_metrics: dict[str, str] | None = None) -> str:
    """Write every file of OUTPUT_FILES under `out` and return the markdown."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    methods = meta["methods"]
    flat = [{k: csv_cell(v) for k, v in r.items() if k != "curve"} for r in set_rows]  # prompts start no formula
    pd.DataFrame(flat).to_csv(out / OUTPUT_FILES["prompt_rows"], index=False)
    prompt_summary = summarise(set_rows, PROMPT_METRICS, methods)
    prompt_summary.to_csv(out / OUTPUT_FILES["prompt_summary"], index=False)
    curves = curve_frame(set_rows, methods)
    curves.to_csv(out / OUTPUT_FILES["curves"], index=False)
    efficiency.to_csv(out / OUTPUT_FILES["efficiency"], index=False)
    curve_figure(curves).write_html(out / OUTPUT_FILES["figure"], include_plotlyjs="cdn")

    md = [
        f"# Benchmark: {meta['n_prompts']} VBench prompts × K = {meta['k']} (seed {meta['seed']})",
        "",
        f"Prompt-level metrics on sentence embeddings from `{meta['text_encoder']}` "
        f"(policy `{meta['policy']}`{', adapter `' + meta['adapter'] + '`' if meta.get('adapter') else ''}).",
        "",
        markdown_table(prompt_summary, PROMPT_METRICS),
        "",
    ]
    if video_rows:
        video_summary = summarise(video_rows, video_metrics, methods)
        video_summary.to_csv(out / OUTPUT_FILES["video_summary"], index=False)
        pd.DataFrame([{k: csv_cell(v) for k, v in r.items()} for r in video_rows]).to_csv(
            out / OUTPUT_FILES["video_rows"], index=False)
        md += [
            f"## Video level: frame features from `{meta['image_encoder']}`"
            f" ({meta['n_frames']} frames per video, truncated entropy k = {meta['entropy_k']})",
            "",
            meta.get("video_note", ""),
            "",
            markdown_table(video_summary, video_metrics),
            "",
        ]
    md += ["## Efficiency", "", efficiency_markdown(efficiency), "",
           f"Curves: `{OUTPUT_FILES['figure']}` (data in `{OUTPUT_FILES['curves']}`).", ""]
    if meta.get("failures"):  # sets that could not be made are left out of the tables above: say which
        md += [f"## Failed expansions ({len(meta['failures'])})", "",
               *[f"- {failure}" for failure in meta["failures"]], ""]
    text = "\n".join(md)
    (out / OUTPUT_FILES["markdown"]).write_text(text, encoding="utf-8")
    (out / OUTPUT_FILES["meta"]).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return text


def load_report(out: Path) -> dict:
    """Read a benchmark folder back: markdown, tables (DataFrames or None), the curve figure, meta."""
    out = Path(out)
    if not (out / OUTPUT_FILES["markdown"]).is_file():
        raise FileNotFoundError(f"{out} holds no benchmark results ({OUTPUT_FILES['markdown']} is missing)")
    report = {"markdown": (out / OUTPUT_FILES["markdown"]).read_text(encoding="utf-8")}
    for key in ("prompt_summary", "video_summary", "efficiency", "curves", "prompt_rows"):
        path = out / OUTPUT_FILES[key]
        report[key] = pd.read_csv(path) if path.is_file() else None
    meta_path = out / OUTPUT_FILES["meta"]
    report["meta"] = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    report["figure"] = curve_figure(report["curves"]) if report["curves"] is not None else None
    return report
