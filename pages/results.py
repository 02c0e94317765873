"""Results tab: what the human study found, per method (admins only when the app runs with sign-in).

    python app.py --auth ann1:pw --auth lead:pw --admin lead    # only "lead" may load results

Mean and 95% bootstrap CI (over items) of each scale per method, score distributions, numbers of
annotators and items, ordinal Krippendorff's alpha, attention-check failures, and downloads.
The check is made inside the handler, on the request's user, so the API refuses non-admins too.

Downloads: each browser session has one export folder (an unguessable name under EXPORTS_ROOT, which
Gradio serves in place instead of copying into its cache). A new "Load results" replaces the session's
previous files; the folder goes when the session ends or after EXPORT_TTL_S, so clicks never pile up
copies of every rating in the temp folder.
"""

from __future__ import annotations

import math
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from dppgrpo_core import study_results
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study import export_ratings
from pages.annotate import is_admin, open_store
from pages.context import markdown_text


EXPORTS_ROOT = Path(tempfile.gettempdir()) / "dppgrpo-ratings"
EXPORT_TTL_S = 3600  # a session's export lives this long after its last click (API clients never "close")


def _remove(folder) -> None:
    """Remove one export folder (only ever one under EXPORTS_ROOT)."""
    if isinstance(folder, str) and folder and Path(folder).parent == EXPORTS_ROOT:
        shutil.rmtree(folder, ignore_errors=True)


def _prune(max_age_s: float = EXPORT_TTL_S) -> None:
    """Remove export folders older than max_age_s: sessions that never end (API clients keep no tab open to
    close) and servers that stopped before their sessions ended."""
    now = time.time()
    for folder in EXPORTS_ROOT.iterdir() if EXPORTS_ROOT.is_dir() else []:
        try:
            if now - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def export_folder(previous: str | None) -> Path:
    """A fresh, private export folder for this session; the session's previous one is removed."""
    _remove(previous)
    _prune()
    EXPORTS_ROOT.mkdir(mode=0o700, exist_ok=True)
    folder = EXPORTS_ROOT / secrets.token_urlsafe(18)
    folder.mkdir(mode=0o700)
    return folder


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
    EXPORTS_ROOT.mkdir(mode=0o700, exist_ok=True)
    gr.set_static_paths([EXPORTS_ROOT])  # served where they are: no copy in Gradio's cache per click
    # The session's export folder: removed on the next click, when the session ends, or after EXPORT_TTL_S.
    exported = gr.State(None, time_to_live=EXPORT_TTL_S, delete_callback=_remove)
    overview = gr.Markdown()
    summary = gr.Dataframe(label="Per method (attention checks excluded)", interactive=False)
    figure = gr.Plot(label="Score distributions")
    failures = gr.Dataframe(label="Attention-check failures per annotator", interactive=False)
    with gr.Row():
        csv_file = gr.File(label="ratings.csv", interactive=False)
        jsonl_file = gr.File(label="ratings.jsonl", interactive=False)

    def load_results(previous: str | None, request: gr.Request):
        if not is_admin(ctx, request):
            raise gr.Error("Only study admins can read the results.")
        store = open_store(ctx)
        ratings = store.ratings()
        folder = None
        try:
            folder = export_folder(previous)
            files = [str(export_ratings(store, folder / name)) for name in ("ratings.csv", "ratings.jsonl")]
        except (UserFacingError, OSError) as exc:
            _remove(str(folder) if folder else None)
            raise gr.Error(f"Could not write the downloads: {exc}") from None
        fails = study_results.attention_failures(ratings)
        where = f"Store: {markdown_text(str(ctx.settings.annotations_db))}.  \n"
        return (where + overview_markdown(ratings, len(store.item_ids())), summary_table(ratings),
                study_results.distribution_figure(ratings) if len(ratings) else None,
                fails if len(fails) else pd.DataFrame({"note": ["no attention checks rated"]}), *files, str(folder))

    # "undocumented": not advertised in the API page; callable by an admin's script, refused to others.
    load.click(load_results, inputs=exported, outputs=[overview, summary, figure, failures, csv_file, jsonl_file,
                                                       exported],
               api_name="results", api_visibility="undocumented")
