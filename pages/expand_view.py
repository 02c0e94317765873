"""Pure view helpers of the Expand tab: the typed views its handlers return (`SetView`, `FormValues`,
`CompareView`: outputs by name), tables, plotly figures, files and step status lines from step records (no Gradio;
the estimates before a run are in `estimates.py`).

    >>> steps = [{"index": 1, "prompt": "A <b>dog</b>.", "gain": 0.69, "relevance": 0.8, "reward": 0.745, "log_det": 0.69}]
    >>> steps_table(steps).columns.tolist()
    ['step', 'prompt', 'Δ gain', 'relevance', 'reward']
    >>> gains_figure(steps).data[0].type
    'bar'
"""

from __future__ import annotations

import csv
import html
import json
import os
import statistics
import textwrap
from typing import Any, NamedTuple

import pandas as pd
import plotly.graph_objects as go

from dppgrpo_core.checks import csv_cell
from pages.estimates import duration
from pages.scratch import new_folder

TABLE_COLUMNS = ["step", "prompt", "Δ gain", "relevance", "reward"]
# Plotly shows axis titles as text (a few HTML tags only): plain words, no TeX-like subscripts.
GAIN_AXIS_TITLE = "Δ log det(L+I): gain of the new prompt"


class SetView(NamedTuple):
    """What the Expand tab shows of a set, by name. `build` declares one component per field
    (`SetView(status=status_markdown, ...)`) and wires them in this order; a handler yields a `SetView` of values,
    so no position is counted anywhere. A field left out is cleared (None, or "" for the summary)."""

    status: Any
    table: Any = None
    gains: Any = None
    heatmap: Any = None
    summary: Any = ""
    json_file: Any = None
    csv_file: Any = None
    prompt_set: Any = None  # the session's set (`PromptSet.to_json()`), read by the Render tab


class FormValues(NamedTuple):
    """The Expand form, by name, in the order of the /expand API's inputs: the handlers' parameters, the values a
    loaded set puts back, and `request_problems`' answers follow it."""

    query: Any  # the prompt box
    k: Any
    method: Any
    seed: Any
    lambda_div: Any
    lambda_rel: Any
    policy: Any
    temperature: Any
    n_candidates: Any


class CompareView(NamedTuple):
    """What the comparison shows, by name: its status line, the gain curves, the two sets side by side."""

    status: Any
    figure: Any
    sets: Any


def filled(view: type[NamedTuple], value) -> tuple:
    """Every field of `view` set to `value` (gr.skip() to leave a view as it is).

    >>> filled(CompareView, None)
    CompareView(status=None, figure=None, sets=None)
    """
    return view(*[value] * len(view._fields))


def steps_table(steps: list[dict]) -> pd.DataFrame:
    rows = [[s["index"], s["prompt"], round(s["gain"], 4), round(s["relevance"], 4), round(s["reward"], 4)] for s in steps]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _label(prompt: str, width: int = 60) -> str:
    # Plotly renders a subset of HTML in hover text: escape the user's words, then wrap with <br>.
    return "<br>".join(html.escape(line) for line in textwrap.wrap(prompt, width)[:4])


def gains_figure(steps: list[dict], k: int | None = None, title: str = "Marginal gain per step") -> go.Figure:
    """Bars: Δ of each prompt against the ones before it; line: cumulative log det(L + I) of the set."""
    x = [s["index"] for s in steps]
    fig = go.Figure()
    fig.add_bar(x=x, y=[s["gain"] for s in steps], name="Δ marginal gain", marker_color="#6366f1",
                hovertext=[_label(s["prompt"]) for s in steps], hoverinfo="text+y")
    fig.add_scatter(x=x, y=[s["log_det"] for s in steps], name="log det(L+I) of the set", mode="lines+markers",
                    yaxis="y2", line={"color": "#ec4899"})
    fig.update_layout(
        title=title, xaxis={"title": "step", "dtick": 1, "range": [0.5, (k or max(x, default=1)) + 0.5]},
        yaxis={"title": GAIN_AXIS_TITLE, "rangemode": "tozero"},
        yaxis2={"title": "log det(L+I)", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.25}, margin={"l": 60, "r": 60, "t": 50, "b": 60}, height=380,
    )
    return fig


def compare_figure(runs: dict[str, list[dict]], k: int | None = None) -> go.Figure:
    """Gain curves of several methods on the same prompt, on one chart."""
    fig = go.Figure()
    for method, steps in runs.items():
        fig.add_scatter(x=[s["index"] for s in steps], y=[s["gain"] for s in steps], mode="lines+markers",
                        name=f"{method} Δ", hovertext=[_label(s["prompt"]) for s in steps], hoverinfo="text+y")
    fig.update_layout(title="Marginal gain per step, by method", xaxis={"title": "step", "dtick": 1},
                      yaxis={"title": "Δ marginal gain", "rangemode": "tozero"}, height=380,
                      legend={"orientation": "h", "y": -0.25})
    if k:
        fig.update_xaxes(range=[0.5, k + 0.5])
    return fig


def compare_sets_html(sets: list[dict]) -> str:
    """The compared sets side by side: each method's Vendi, mean relevance, log det and numbered prompts.

    Each set is {"method", "prompts", "vendi" (None while it runs), "relevance", "log_det"}; all text is escaped.

    >>> print(compare_sets_html([{"method": "iid", "prompts": ["a <b>dog</b>"], "vendi": 1.0, "relevance": 0.5,
    ...                           "log_det": 0.69}])[-108:])
    mean relevance <b>0.500</b> · log det <b>0.690</b></p><ol><li>a &lt;b&gt;dog&lt;/b&gt;</li></ol></div></div>
    """
    columns = []
    for item in sets:
        vendi = "…" if item.get("vendi") is None else f"{item['vendi']:.3f}"
        prompts = "".join(f"<li>{html.escape(p)}</li>" for p in item["prompts"])
        columns.append(
            f"<div class='dpp-compare-set'><h4 style='margin:0 0 .3em'>{html.escape(item['method'])}</h4>"
            f"<p style='margin:0 0 .3em'>Vendi <b>{vendi}</b> (of at most {len(item['prompts'])}) · "
            f"mean relevance <b>{item['relevance']:.3f}</b> · log det <b>{item['log_det']:.3f}</b></p>"
            f"<ol>{prompts}</ol></div>")
    return ("<div class='dpp-compare' style='display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));"
            f"gap:16px'>{''.join(columns)}</div>")


def similarity_heatmap(prompts: list[str], kernel) -> go.Figure:
    """The K×K cosine-similarity matrix of the set (the DPP kernel L)."""
    labels = [f"{i}" for i in range(1, len(prompts) + 1)]
    hover = [[f"{_label(prompts[i], 40)}<br>vs<br>{_label(prompts[j], 40)}" for j in range(len(prompts))]
             for i in range(len(prompts))]
    fig = go.Figure(go.Heatmap(z=kernel, x=labels, y=labels, zmin=0, zmax=1, colorscale="Viridis",
                               text=hover, hovertemplate="%{text}<br>cos = %{z:.3f}<extra></extra>"))
    fig.update_layout(title="Cosine similarity of the set (L)", xaxis={"title": "prompt"},
                      yaxis={"title": "prompt", "autorange": "reversed"}, height=380)
    return fig


def set_summary(vendi: float, log_det: float, steps: list[dict], seconds: float) -> str:
    k = len(steps)
    mean_rel = sum(s["relevance"] for s in steps) / max(k, 1)
    flagged = [s["index"] for s in steps if s.get("flag")]
    note = f"  \n⚠️ steps {flagged} kept a degenerate generation after retries." if flagged else ""
    return (f"**K = {k}** · Vendi score **{vendi:.3f}** (of at most {k}) · log det(L+I) **{log_det:.3f}** "
            f"(at most {k}·log 2 = {k * 0.6931:.3f}) · mean relevance **{mean_rel:.3f}** · {seconds:.1f} s{note}")


def write_downloads(result: dict) -> tuple[str, str]:
    """The set as JSON (same shape as `python -m dppgrpo_core.expand --json`) and as CSV; returns both paths."""
    folder = str(new_folder("sets", max_age_s=3600))  # Gradio copies the files at once; older folders go
    json_path = os.path.join(folder, "prompt_set.json")
    csv_path = os.path.join(folder, "prompt_set.csv")
    with open(json_path, "w") as f:
        json.dump(result, f, indent=2)
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        config = result.get("config") or {}
        writer.writerow(["index", "prompt", "gain", "relevance", "reward", "log_det", "method", "query", "seed",
                         *CSV_CONFIG, "policy"])
        for s in result["steps"]:
            writer.writerow(map(csv_cell, [s["index"], s["prompt"], s["gain"], s["relevance"], s["reward"],
                                           s["log_det"], result["method"], result["query"], result["seed"],
                                           *[config.get(name) for name in CSV_CONFIG], result.get("policy")]))
    return json_path, csv_path


# The expansion options repeated on every CSV row, so a CSV alone says how its set was made.
CSV_CONFIG = ("lambda_div", "lambda_rel", "temperature", "n_candidates", "compose_candidates", "max_retries")


def rerun_command(result: dict) -> str:
    """The command line that makes the same set again (`python -m dppgrpo_core.expand`), from a result dict.

    >>> print(rerun_command({"query": "a dog", "k": 3, "method": "iid", "seed": 7, "config": {"lambda_div": 0.8},
    ...                      "policy": "packaged:SmolLM2-135M-Instruct"}).replace(" --", "\\n--"))
    python -m dppgrpo_core.expand 'a dog' -k 3
    --method iid
    --seed 7
    --lambda-div 0.8
    --policy packaged:SmolLM2-135M-Instruct
    """
    import shlex

    words = ["python", "-m", "dppgrpo_core.expand", result["query"], "-k", str(result["k"]),
             "--method", result["method"], "--seed", str(result["seed"])]
    for name, value in (result.get("config") or {}).items():
        words += ["--" + name.replace("_", "-"), str(value)]
    policy = result.get("policy") or ""
    if policy and not policy.startswith("configured: "):  # the server's own folder is not named to clients
        words += ["--policy", policy]
    return " ".join(shlex.quote(w) for w in words)


def step_status(method: str, k: int, done: list[dict], step_elapsed: float, n_candidates: int) -> str:
    """The status line while step len(done)+1 runs: its elapsed seconds and, after one step, the time left.

    >>> step_status("dpp-rerank", 4, [{"generate_s": 10.0, "score_s": 0.5}], 3.2, 4)
    '⏳ dpp-rerank: prompt 2 of 4 · 3 s on this step (4 candidates drawn in one batch) · about 28 s left'
    """
    line = f"⏳ {method}: prompt {len(done) + 1} of {k} · {step_elapsed:.0f} s on this step"
    if method == "dpp-rerank":
        line += f" ({n_candidates} candidates drawn in one batch)"
    if done:
        per_step = statistics.median(s["generate_s"] + s["score_s"] for s in done)
        left = max(per_step * (k - len(done)) - step_elapsed, 0.0)
        line += f" · about {duration(left)} left"
    elif step_elapsed > 5:
        line += " (the first step also loads the models)"
    return line
