"""Results tab: what the human study found, per method (admins only when the app runs with sign-in).

    python app.py --auth ann1:pw --auth lead:pw --admin lead    # only "lead" may load results

Mean and 95% bootstrap CI (over items) of each scale per method, score distributions, numbers of
annotators and items, ordinal Krippendorff's alpha, attention-check failures, and downloads.
The check is made inside the handler, on the request's user, so the API refuses non-admins too.
"""

from __future__ import annotations

import html
import math
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from dppgrpo_core import study_results
from dppgrpo_core.study import export_ratings
from pages.annotate import is_admin, open_store


def _mean_ci(row: pd.Series, scale: str) -> str:
    return f"{row[f'{scale}_mean']:.2f} [{row[f'{scale}_ci_low']:.2f}, {row[f'{scale}_ci_high']:.2f}]"


def summary_table(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per method: counts and 'mean [95% CI low, high]' of each scale, as shown in the tab."""
    summary = study_results.method_summary(ratings)
    if summary.empty:
        return pd.DataFrame({"note": ["no ratings yet"]})
    table = summary[["method", "n_items", "n_annotators", "n_ratings"]].copy()
    for scale in study_results.SCALES:
        table[f"{scale} mean [95% CI]"] = [_mean_ci(row, scale) for _, row in summary.iterrows()]
    return table


def _alpha(value: float) -> str:
    return "undefined (needs items rated by two or more annotators, and some disagreement)" if math.isnan(value) \
        else f"{value:.3f}"


def overview_markdown(ratings: pd.DataFrame, n_items: int) -> str:
    counts = study_results.study_overview(ratings, n_items)
    alpha = study_results.agreement(ratings)
    return (f"**{counts['items']}** items in the study, **{counts['items_rated']}** rated; "
            f"**{counts['annotators']}** annotators, **{counts['ratings']}** ratings.  \n"
            f"Agreement (ordinal Krippendorff's α): diversity {_alpha(alpha['diversity'])}, "
            f"alignment {_alpha(alpha['alignment'])}.  \n"
            f"Attention checks: {counts['attention_failed']} failed of {counts['attention_checks']} "
            f"(a check fails when identical clips get diversity > {study_results.ATTENTION_MAX_DIVERSITY}).")


def build(ctx) -> None:
    gate = ("Results are visible to study admins only." if ctx.auth is not None else
            "Anyone can read results while the app runs without sign-in (`--auth` and `--admin` restrict them).")
    gr.Markdown(f"Results of the human study. {gate}")  # the store's path is for admins (shown on load)
    load = gr.Button("Load results", variant="primary")
    overview = gr.Markdown()
    summary = gr.Dataframe(label="Per method (attention checks excluded)", interactive=False)
    figure = gr.Plot(label="Score distributions")
    failures = gr.Dataframe(label="Attention-check failures per annotator", interactive=False)
    with gr.Row():
        csv_file = gr.File(label="ratings.csv", interactive=False)
        jsonl_file = gr.File(label="ratings.jsonl", interactive=False)

    def load_results(request: gr.Request):
        if not is_admin(ctx, request):
            raise gr.Error("Only study admins can read the results.")
        store = open_store(ctx)
        ratings = store.ratings()
        folder = Path(tempfile.mkdtemp(prefix="dppgrpo-ratings-"))
        files = [str(export_ratings(store, folder / name)) for name in ("ratings.csv", "ratings.jsonl")]
        fails = study_results.attention_failures(ratings)
        where = f"Store: `{html.escape(str(ctx.settings.annotations_db))}`.  \n"
        return (where + overview_markdown(ratings, len(store.item_ids())), summary_table(ratings),
                study_results.distribution_figure(ratings) if len(ratings) else None,
                fails if len(fails) else pd.DataFrame({"note": ["no attention checks rated"]}), *files)

    # "undocumented": not advertised in the API page; callable by an admin's script, refused to others.
    load.click(load_results, outputs=[overview, summary, figure, failures, csv_file, jsonl_file],
               api_name="results", api_visibility="undocumented")
