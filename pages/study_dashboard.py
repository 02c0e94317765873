"""The study dashboard (in the Results tab; with sign-in, admins only: not in anyone else's page): how far the study
is, per annotator and per item, which answers to look at, and the lead's targets (ratings per item, the quota per
annotator, which caps both the items rated and the pairs voted on).

    outputs = load_dashboard(ctx, request)   # (headline, coverage map, progress, per item, flagged, overlap, quota)
    save_targets(ctx, 3, 20, request)        # kept beside the study's database (dppgrpo_core.study.plan)

Label Studio keeps this view for its paid edition; here it reads the same store the Results tab reads.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from dppgrpo_core.study import pairwise
from dppgrpo_core.study.plan import read_plan, save_plan
from pages.context import AppContext, bind, handler, is_admin, on_page_load, open_store, refused
from pages.study_dashboard_view import (
    annotator_progress,
    answers_per_item,
    coverage_figure,
    flagged_answers,
    headline,
)


def _table(frame, empty: str):
    """A table with rows, or none and a line saying why (no bare "1 2 3" headers)."""
    if frame is None or frame.empty:
        return gr.Dataframe(value=None, visible=False), f"*{empty}*"
    return gr.Dataframe(value=frame, visible=True), ""


@handler
def load_dashboard(ctx: AppContext, request: gr.Request = None):
    """(headline, coverage, progress, progress note, per item, per-item note, flagged, flagged note, overlap,
    quota) for the study in the app's store; gr.Error for a user who is not a study admin."""
    if not is_admin(ctx, request):
        raise refused("Only study admins can read the study dashboard.")
    plan = read_plan(ctx.settings.annotations_db)
    if not Path(ctx.settings.annotations_db).expanduser().is_file():  # a read never creates the database
        empty = gr.Dataframe(value=None, visible=False)
        return (headline(None, [], [], plan["overlap"]), gr.Plot(visible=False), empty, "", empty, "", empty, "",
                plan["overlap"], plan["quota"])
    store = open_store(ctx)
    ratings, votes, items = store.ratings(), pairwise.votes(store), store.items()
    annotators = sorted(set(store.annotator_seeds()) | set(ratings["annotator"]) |
                        (set(votes["annotator"]) if len(votes) else set()))
    progress = annotator_progress(ratings, votes, annotators, len(items), len(pairwise.pair_ids(store)),
                                  plan["quota"])
    figure = coverage_figure(ratings, items, annotators) if items and annotators else None
    return (headline(ratings, items, annotators, plan["overlap"]),
            gr.Plot(value=figure, visible=figure is not None),
            *_table(progress, "No annotator has started yet."),
            *_table(answers_per_item(ratings, items, plan["overlap"]), "No items yet."),
            *_table(flagged_answers(ratings, votes), "No flagged answers: none too fast, no failed attention "
                                                     "check, no comment."),
            plan["overlap"], plan["quota"])


@handler
def save_targets(ctx: AppContext, overlap, quota, request: gr.Request = None) -> str:
    """The Save targets button: the lead's ratings per item and quota per annotator (blank: no quota)."""
    if not is_admin(ctx, request):
        raise refused("Only study admins can change the study's targets.")
    plan = save_plan(ctx.settings.annotations_db, overlap, quota)
    quota_text = (f"at most {plan['quota']} items rated and {plan['quota']} pairs voted on per annotator"
                  if plan["quota"] else "no quota per annotator")
    return f"Saved: {plan['overlap']} ratings wanted per item, {quota_text}."


def dashboard_on_load(ctx: AppContext, request: gr.Request):
    """On page load, with sign-in: the dashboard for admins, nothing for anyone else."""
    return gr.Accordion(visible=is_admin(ctx, request))


def build_dashboard(ctx: AppContext):
    """The dashboard's section; returns `follow(event)`, which refreshes it after another event (Load results)."""
    with gr.Accordion("Study dashboard: coverage, progress, flagged answers", open=True, elem_id="study-dashboard",
                      visible=ctx.auth is None) as panel:
        summary = gr.Markdown("*Press Load results to read the study.*", elem_classes=["dpp-live"])
        with gr.Row():
            overlap = gr.Number(label="Ratings wanted per item", precision=0, minimum=1, scale=1)
            quota = gr.Number(label="Quota per annotator: items rated, and pairs voted on (blank: none; the "
                                    "store takes no answer beyond it)", precision=0, scale=2)
            save = gr.Button("Save targets", scale=1)
        saved = gr.Markdown(elem_classes=["dpp-live"])
        coverage = gr.Plot(label="Items × annotators", visible=False, elem_id="dashboard-coverage")
        gr.Markdown("#### Per annotator: progress and quota")
        progress_note = gr.Markdown()
        progress = gr.Dataframe(interactive=False, visible=False, elem_id="dashboard-progress")
        gr.Markdown("#### Answers per item (fewest first)")
        items_note = gr.Markdown()
        per_item = gr.Dataframe(interactive=False, visible=False, elem_id="dashboard-items")
        gr.Markdown("#### Flagged answers")
        flagged_note = gr.Markdown()
        flagged = gr.Dataframe(interactive=False, visible=False, elem_id="dashboard-flagged")
    outputs = [summary, coverage, progress, progress_note, per_item, items_note, flagged, flagged_note, overlap,
               quota]
    save.click(bind(save_targets, ctx), [overlap, quota], saved, api_visibility="private").success(
        bind(load_dashboard, ctx), None, outputs, api_visibility="private", show_progress="hidden")

    if ctx.auth is not None:  # shown to admins only: for anyone else it is not in the page
        on_page_load(bind(dashboard_on_load, ctx), None, panel, api_visibility="private", show_progress="hidden")

    def follow(event):
        return event.success(bind(load_dashboard, ctx), None, outputs, api_visibility="private",
                          show_progress="hidden")

    return follow
