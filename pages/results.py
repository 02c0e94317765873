"""Results tab: what the human study found, per method (admins only when the app runs with sign-in).

    python app.py --auth ann1:pw --auth lead:pw --admin lead    # only "lead" may load results

Mean and 95% bootstrap CI (over items) of each scale per method, score distributions, numbers of
annotators and items, ordinal Krippendorff's alpha, attention-check failures, and downloads. Pairwise
mode: win rates with 95% bootstrap CIs (over pairs), a Bradley–Terry ranking of the methods (pairs of clips
and pairs of prompt sets apart) and the share of decisive votes that went to the left side (position bias).
Small samples say so instead of showing an interval, and too-fast answers are left out (results_view.py).
The study dashboard (study_dashboard.py) sits on top. Both modes: seconds per answer per annotator,
answers under `study_results.FAST_ANSWER_S` flagged. A table with nothing in it is replaced by a line
saying why.
The check is made inside the handler, on the request's user, so the API refuses non-admins too.

Downloads: each browser session has one export folder (an unguessable name under EXPORTS_ROOT, this
process's private temporary folder, which Gradio serves in place instead of copying into its cache). A
new "Load results" replaces the session's previous files; the folder goes when the session ends or after
EXPORT_TTL_S, so clicks never pile up copies of every rating in the temp folder. Under sign-in only admins
can fetch them, even by URL (`pages.admin_files`). CSV cells never start a spreadsheet formula.
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study import export_ratings, pairwise, votes_path, write_table
from dppgrpo_core.study import results as study_results
from pages.admin_files import guard_files
from pages.context import AppContext, bind, handler, is_admin, markdown_text, open_store, refused
from pages.results_view import (
    overview_markdown,
    pair_kind,
    pairwise_markdown,
    pairwise_table,
    summary_table,
    without_fast,
)
from pages.scratch import private_folder
from pages.study_dashboard import build_dashboard

EXPORTS_ROOT = private_folder("ratings")  # mode 700, a name no other local user can take first
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


def _shown(frame: pd.DataFrame, empty_line: str):
    """(note, table): the table when it has rows, else no table (no "1 2 3" headers) and a line saying why."""
    if frame is None or frame.empty:
        return f"*{empty_line}*", gr.Dataframe(value=None, visible=False)
    return "", gr.Dataframe(value=frame, visible=True)


@handler
def load_results(ctx: AppContext, previous: str | None, request: gr.Request):
    """The Load results button (admins only with sign-in): the tables, the plot and fresh downloads."""
    if not is_admin(ctx, request):
        raise refused("Only study admins can read the results.")
    store = open_store(ctx)
    all_ratings, all_votes = store.ratings(), pairwise.votes(store)
    ratings, fast_ratings = without_fast(all_ratings)  # too-fast answers count in no table (small samples: results_view)
    votes, fast_votes = without_fast(all_votes)
    kinds = {pair_id: pair_kind(pairwise.pair(store, pair_id)) for pair_id in set(votes["pair_id"])}
    ranking = pairwise_table(votes, kinds)
    if ctx.auth is not None:  # before the first export exists: other users get 403 for its URL
        guard_files(request, EXPORTS_ROOT, ctx.admins)
    folder = None
    try:
        folder = export_folder(previous)
        files = [str(export_ratings(store, folder / name)) for name in ("ratings.csv", "ratings.jsonl")]
        extra = [str(votes_path(folder / name)) for name in ("ratings.csv", "ratings.jsonl")] if len(votes) else []
        if len(votes):
            extra.append(str(write_table(ranking, folder / "pairwise_ranking.csv")))
    except (UserFacingError, OSError) as exc:
        _remove(str(folder) if folder else None)
        raise refused(f"Could not write the downloads: {exc}") from None
    fails = study_results.attention_failures(all_ratings)
    where = f"Store: {markdown_text(str(ctx.settings.annotations_db))}.  \n"
    answer_times = study_results.answer_times(all_ratings, all_votes)
    return (where + overview_markdown(ratings, len(store.item_ids()), fast_ratings),
            *_shown(summary_table(ratings), "No ratings yet: method means appear once annotators rate items."),
            gr.Plot(value=study_results.distribution_figure(ratings), visible=True) if len(ratings)
            else gr.Plot(value=None, visible=False),
            *_shown(fails, "No attention check rated yet."),
            pairwise_markdown(votes, len(pairwise.pair_ids(store)), fast_votes),
            _shown(ranking, "")[1],
            *_shown(answer_times, "No answers yet."),
            *files, gr.File(value=extra or None, visible=bool(extra)), str(folder))


def build(ctx: AppContext) -> None:
    gate = ("Results are visible to study admins only." if ctx.auth is not None else
            "Anyone can read results while the app runs without sign-in (`--auth` and `--admin` restrict them).")
    gr.Markdown(f"Results of the human study. {gate}")  # the store's path is for admins (shown on load)
    load = gr.Button("Load results", variant="primary")
    dashboard = build_dashboard(ctx)  # coverage, progress and flagged answers: refreshed by Load results
    gr.set_static_paths([EXPORTS_ROOT])  # served where they are: no copy in Gradio's cache per click
    # The session's export folder: removed on the next click, when the session ends, or after EXPORT_TTL_S.
    exported = gr.State(None, time_to_live=EXPORT_TTL_S, delete_callback=_remove)
    overview = gr.Markdown("*Press Load results to read the study.*")
    gr.Markdown("#### Rating sets (1-5 scales), per method (attention checks excluded)")
    summary_note = gr.Markdown()
    summary = gr.Dataframe(interactive=False, visible=False, elem_id="results-summary")
    figure = gr.Plot(label="Score distributions", visible=False)
    gr.Markdown("#### Attention-check failures per annotator")
    failures_note = gr.Markdown()
    failures = gr.Dataframe(interactive=False, visible=False)
    gr.Markdown("#### Pairwise: Bradley–Terry ranking and win rates")
    pair_overview = gr.Markdown()
    pair_table = gr.Dataframe(interactive=False, visible=False, elem_id="results-pairwise")
    gr.Markdown(f"#### Time per answer (under {study_results.FAST_ANSWER_S:g} s counts as too fast)")
    times_note = gr.Markdown()
    times = gr.Dataframe(interactive=False, visible=False)
    with gr.Row():
        csv_file = gr.File(label="ratings.csv", interactive=False)
        jsonl_file = gr.File(label="ratings.jsonl", interactive=False)
        pair_files = gr.File(label="pairwise: votes (with presentation order) and rankings", interactive=False,
                             file_count="multiple", visible=False)

    # "undocumented": not advertised in the API page; callable by an admin's script, refused to others.
    loaded = load.click(bind(load_results, ctx), inputs=exported,
               outputs=[overview, summary_note, summary, figure, failures_note, failures, pair_overview, pair_table,
                        times_note, times, csv_file, jsonl_file, pair_files, exported],
               api_name="results", api_visibility="undocumented")
    dashboard(loaded)
