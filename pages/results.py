"""Results tab: what the human study found, per method (admins only when the app runs with sign-in).

    python app.py --auth ann1:pw --auth lead:pw --admin lead    # only "lead" may load results

Mean and 95% bootstrap CI (over items) of each scale per method, score distributions, numbers of
annotators and items, ordinal Krippendorff's alpha, attention-check failures, and downloads. Pairwise
mode: win rates with 95% bootstrap CIs (over pairs), a Bradley–Terry ranking of the methods and the share
of decisive votes that went to the left side (position bias). Both modes: seconds per answer per annotator,
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

import math
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
from pages.context import (
    AppContext,
    bind,
    handler,
    is_admin,
    markdown_text,
    open_store,
    refused,
)
from pages.scratch import private_folder

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


def _mean_ci(row: pd.Series, scale: str) -> str:
    return f"{row[f'{scale}_mean']:.2f} [{row[f'{scale}_ci_low']:.2f}, {row[f'{scale}_ci_high']:.2f}]"


def summary_table(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per method: counts and 'mean [95% CI low, high]' of each scale, as shown in the tab (empty: no ratings)."""
    summary = study_results.method_summary(ratings)
    table = summary[["method", "n_items", "n_annotators", "n_ratings"]].copy()
    for scale in study_results.SCALES:
        table[f"{scale} mean [95% CI]"] = [_mean_ci(row, scale) for _, row in summary.iterrows()]
    return table


def pairwise_table(votes: pd.DataFrame) -> pd.DataFrame:
    """Per method, best first: Bradley–Terry rank and strength, win rate [95% CI], wins / ties / losses / both bad."""
    if votes.empty:
        return pd.DataFrame()
    rates = study_results.win_rates(votes)
    ranking = study_results.bradley_terry(votes)
    table = ranking.merge(rates, on="method")
    table["win rate [95% CI]"] = [f"{r.win_rate:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]" for r in table.itertuples()]
    table["Bradley–Terry strength"] = table["strength"].round(3)
    return table[["rank", "method", "Bradley–Terry strength", "win rate [95% CI]", "votes", "wins", "ties",
                  "losses", "both_bad"]]


def _shown(frame: pd.DataFrame, empty_line: str):
    """(note, table): the table when it has rows, else no table (no "1 2 3" headers) and a line saying why."""
    if frame is None or frame.empty:
        return f"*{empty_line}*", gr.Dataframe(value=None, visible=False)
    return "", gr.Dataframe(value=frame, visible=True)


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


def pairwise_markdown(votes: pd.DataFrame, n_pairs: int) -> str:
    if votes.empty:
        return f"Pairwise mode: {n_pairs} pairs in the study, no votes yet."
    bias = study_results.position_bias(votes)
    left = ("no decisive votes yet" if not bias["decisive"] else
            f"{bias['left_share']:.0%} of {bias['decisive']} decisive votes went to the left side "
            f"[95% CI {bias['ci_low']:.0%}, {bias['ci_high']:.0%}]; about 50% means no position bias")
    return (f"Pairwise mode: **{n_pairs}** pairs, **{votes['pair_id'].nunique()}** voted, **{len(votes)}** votes by "
            f"**{votes['annotator'].nunique()}** annotators. Position: {left}.")


@handler
def load_results(ctx: AppContext, previous: str | None, request: gr.Request):
    """The Load results button (admins only with sign-in): the tables, the plot and fresh downloads."""
    if not is_admin(ctx, request):
        raise refused("Only study admins can read the results.")
    store = open_store(ctx)
    ratings, votes = store.ratings(), pairwise.votes(store)
    ranking = pairwise_table(votes)
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
    fails = study_results.attention_failures(ratings)
    where = f"Store: {markdown_text(str(ctx.settings.annotations_db))}.  \n"
    answer_times = study_results.answer_times(ratings, votes)
    return (where + overview_markdown(ratings, len(store.item_ids())),
            *_shown(summary_table(ratings), "No ratings yet: method means appear once annotators rate items."),
            gr.Plot(value=study_results.distribution_figure(ratings), visible=True) if len(ratings)
            else gr.Plot(value=None, visible=False),
            *_shown(fails, "No attention check rated yet."),
            pairwise_markdown(votes, len(pairwise.pair_ids(store))),
            _shown(ranking, "")[1],
            *_shown(answer_times, "No answers yet."),
            *files, gr.File(value=extra or None, visible=bool(extra)), str(folder))


def build(ctx: AppContext) -> None:
    gate = ("Results are visible to study admins only." if ctx.auth is not None else
            "Anyone can read results while the app runs without sign-in (`--auth` and `--admin` restrict them).")
    gr.Markdown(f"Results of the human study. {gate}")  # the store's path is for admins (shown on load)
    load = gr.Button("Load results", variant="primary")
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
    load.click(bind(load_results, ctx), inputs=exported,
               outputs=[overview, summary_note, summary, figure, failures_note, failures, pair_overview, pair_table,
                        times_note, times, csv_file, jsonl_file, pair_files, exported],
               api_name="results", api_visibility="undocumented")
