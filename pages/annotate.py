"""Annotate tab: blind 5-point ratings of prompt sets / video grids, or pairwise votes, one at a time.

    python app.py                                              # anyone types an annotator id
    python app.py --auth ann1:pw --auth lead:pw --admin lead    # the id is the signed-in user name

An annotator sees the study's items in their own seeded order, each once, with the clips shuffled
and served under neutral file names (a clip's path often names its method); the method is never
sent to the browser. Submitting records both scores, the comment and the seconds spent on the item.
The clips of an item play together, muted and looped, with one play/pause for all (pages/annotate_view.py).

Mode "pairwise" shows two methods' sets for one prompt side by side (left/right drawn per annotator and
recorded); the vote "A (left) / B (right) is more diverse / tie / both bad" is stored once per annotator
per pair, and only then are the two methods named (dppgrpo_core.study.pairwise).

The lead's quota per annotator (Results: study dashboard) caps both modes: the store refuses an answer beyond it
and the page says the quota is reached.

`annotation_form` is the form itself, shared by this tab and the annotator page (pages/annotate_page.py, which
has nothing else). The tab adds the "Study set-up" panel (pages/annotate_setup.py; with sign-in, admins only),
which adds the Expand/Render tab's current set, optionally with an attention-check twin, or imports a JSONL
manifest (items and pairs).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import gradio as gr

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study import next_item, pairwise
from dppgrpo_core.study.fields import MAX_NAME, AnnotationError, QuotaReached, check_annotator
from dppgrpo_core.study.plan import quota_reached
from dppgrpo_core.study.store import AnnotationStore
from pages.annotate_setup import build_setup
from pages.annotate_view import (
    ALIGNMENT_ANCHORS,
    BLIND_FOLDER,
    DIVERSITY_ANCHORS,
    INSTRUCTIONS,
    MODES,
    PLAY_PAUSE_JS,
    SYNC_JS,
    clips_html,
    first_showable,
    likert_outputs,
    next_or_truth,
    pair_outputs,
    progress_line,
    quota_line,
    set_html,
    set_markdown,
    skipped_note,
    study_counts_line,
)
from pages.context import (
    AppContext,
    bind,
    handler,
    markdown_text,
    open_store,
    refused,
)

# ----- views: (state, progress, likert panel and fields, pair panel and fields, play/pause) -----
def _view(store: AnnotationStore, annotator: str, last_s: float | None = None):
    """(state, progress, likert panel, prompt, clips, text, diversity, alignment, comment, pair panel, pair
    prompt, left, right, choice, reveal, play/pause) for the annotator's next item."""
    item, done, total, clips, skipped = first_showable(lambda skip: next_item(store, annotator, skip),
                                                       lambda found: clips_html(found["shown"]) if found["videos"] else "")
    progress = progress_line(annotator, done, total, "items", last_s) + skipped_note(skipped)
    quota = quota_reached(store.path, done)  # the lead's quota per annotator (Results: study dashboard)
    if quota is not None and item is not None:
        item, progress = None, quota_line(annotator, quota, "items")
    if item is None:
        state = {"annotator": annotator, "mode": "likert", "item_id": None, "shown_at": None}
        return [state, progress, *likert_outputs(), *pair_outputs(reveal=""), gr.Button(visible=False)]
    shown = item["shown"]
    prompt = f"### Prompt\n> {markdown_text(item['prompt'])}"
    text = "" if item["videos"] else set_markdown(shown)
    state = {"annotator": annotator, "mode": "likert", "item_id": item["item_id"], "shown_at": time.monotonic()}
    return [state, progress, *likert_outputs(True, prompt, clips, text), *pair_outputs(reveal=""),
            gr.Button(visible=bool(item["videos"]))]


def _pair_view(store: AnnotationStore, annotator: str, last_s: float | None = None, reveal: str = ""):
    """The same outputs as `_view`, for the annotator's next pair; `reveal` names the methods of the last vote."""
    found, done, total, sides, skipped = first_showable(lambda skip: pairwise.next_pair(store, annotator, skip),
                                                        lambda pair: (set_html(pair["left"]), set_html(pair["right"])))
    progress = progress_line(annotator, done, total, "pairs", last_s) + skipped_note(skipped, "pairs")
    reveal_md = f"**Revealed:** {markdown_text(reveal)}" if reveal else ""
    quota = quota_reached(store.path, done)  # the same quota caps the votes
    if quota is not None and found is not None:
        found, progress = None, quota_line(annotator, quota, "pairs")
    if found is None:
        state = {"annotator": annotator, "mode": "pairwise", "pair_id": None, "shown_at": None}
        return [state, progress, *likert_outputs(), *pair_outputs(reveal=reveal_md), gr.Button(visible=False)]
    prompt = f"### Prompt\n> {markdown_text(found['prompt'])}"
    state = {"annotator": annotator, "mode": "pairwise", "pair_id": found["pair_id"], "left_side": found["left_side"],
             "shown_at": time.monotonic()}  # server-side: the methods never reach the browser before the vote
    videos = bool(found["left"].get("videos") or found["right"].get("videos"))
    return [state, progress, *likert_outputs(),
            *pair_outputs(True, prompt, *sides, reveal_md),
            gr.Button(visible=videos)]


def _annotator_of(ctx, typed: str, request: gr.Request | None) -> str:
    if ctx.auth is not None:
        if request is None or not request.username:
            raise refused("Sign in to annotate.")
        return request.username
    if not isinstance(typed, str) or not typed.strip() or len(typed.strip()) > MAX_NAME:
        raise refused(f"Type your annotator id (1 to {MAX_NAME} characters) first.")
    try:
        return check_annotator(typed)
    except UserFacingError as exc:
        raise refused(str(exc)[0].upper() + str(exc)[1:]) from None


def _seconds(current: dict) -> float:
    return time.monotonic() - current["shown_at"]


@handler
def sign_in(ctx: AppContext, typed: str, chosen_mode: str, request: gr.Request):
    annotator = _annotator_of(ctx, typed, request)
    if chosen_mode not in ("likert", "pairwise"):
        raise refused("Choose a mode: rate one set, or compare two sets.")
    store = open_store(ctx)
    return _pair_view(store, annotator) if chosen_mode == "pairwise" else _view(store, annotator)

def _signed(ctx: AppContext, current: dict | None, request: gr.Request, wanted: str) -> str:
    if not current or not current.get("annotator"):
        raise refused("Sign in with your annotator id first.")
    if ctx.auth is not None and request.username != current["annotator"]:
        raise refused("Signed-in user changed: press Start / resume.")
    if current.get("mode", "likert") != wanted:
        raise refused("This session is in the other mode: press Start / resume.")
    return current["annotator"]

@handler
def rate(ctx: AppContext, current: dict | None, diversity_score, alignment_score, note: str, request: gr.Request):
    annotator = _signed(ctx, current, request, "likert")
    if not current.get("item_id"):
        raise refused("No item to rate: every item is done.")
    if diversity_score is None or alignment_score is None:
        raise refused("Choose a score on both scales before submitting.")
    store = open_store(ctx)
    seconds = _seconds(current)
    try:
        store.add_rating(annotator, current["item_id"], diversity_score, alignment_score, note or None, seconds)
    except QuotaReached:  # reached in another tab: this one says so too
        return _view(store, annotator)
    except AnnotationError as exc:
        if current["item_id"] not in store.rated_item_ids(annotator):
            raise refused(str(exc)) from None
        gr.Warning("This item was already rated (another tab?); moving on.")
    return next_or_truth(lambda: _view(store, annotator, seconds), "rating")


@handler
def cast_vote(ctx: AppContext, current: dict | None, chosen, request: gr.Request):
    annotator = _signed(ctx, current, request, "pairwise")
    if not current.get("pair_id"):
        raise refused("No pair to vote on: every pair is done.")
    if chosen not in pairwise.CHOICES:
        raise refused("Choose A, B, tie or both bad before voting.")
    store = open_store(ctx)
    seconds = _seconds(current)
    try:
        pairwise.add_vote(store, annotator, current["pair_id"], chosen, current["left_side"], seconds)
    except QuotaReached:  # reached in another tab: this one says so too
        return _pair_view(store, annotator)
    except AnnotationError as exc:
        if current["pair_id"] not in pairwise.voted_pair_ids(store, annotator):
            raise refused(str(exc)) from None
        gr.Warning("This pair already has your vote (another tab?); moving on.")
    shown = dict(pairwise.pair(store, current["pair_id"]), left_side=current["left_side"])
    return next_or_truth(lambda: _pair_view(store, annotator, seconds, pairwise.reveal(shown, chosen)), "vote")

# Validators refuse before the handler runs: the message shows on the input at fault and the item on
# screen stays as it was (no red "Error" badges over the clips and scales).
def start_problems(ctx: AppContext, typed, chosen_mode):
    message = ""
    if ctx.auth is None:
        try:
            _annotator_of(ctx, typed, None)
        except gr.Error as exc:
            message = exc.message
    return [gr.validate(not message, message),
            gr.validate(chosen_mode in ("likert", "pairwise"), "Choose a mode: rate one set, or compare two sets.")]

def submit_problems(current, diversity_score, alignment_score, note):
    started = bool(current and current.get("item_id"))
    missing = "" if started else ("No item to rate: every item is done." if current and current.get("annotator")
                                  and current.get("mode", "likert") == "likert"
                                  else "Press Start / resume first: there is no item on screen.")
    return [gr.validate(True, ""),
            gr.validate(started and diversity_score is not None,
                        missing or "Choose a score on both scales before submitting."),
            gr.validate(not started or alignment_score is not None,
                        "Choose a score on both scales before submitting."),
            gr.validate(True, "")]

def vote_problems(current, chosen):
    started = bool(current and current.get("pair_id"))
    done = bool(current and current.get("annotator") and current.get("mode") == "pairwise")
    return [gr.validate(True, ""),
            gr.validate(started and chosen is not None,
                        "Choose A, B, tie or both bad before voting." if started else
                        "No pair to vote on: every pair is done." if done else
                        "Press Start / resume first: there is no pair on screen.")]

def set_mode(value):
    return value if value in ("likert", "pairwise") else "likert"


def refresh(ctx: AppContext, current: dict | None, page: str = "tab"):
    """The status line as the study is now (`study_counts_line`); unchanged when the store cannot be read."""
    path = Path(ctx.settings.annotations_db).expanduser()
    try:  # a read: never creates the database (a tab switch must write nothing)
        store = open_store(ctx) if path.is_file() else None
        return study_counts_line(store, current, page)
    except (gr.Error, UserFacingError, sqlite3.Error):
        return gr.skip()


def _endpoint(api: bool, name: str) -> dict:
    return {"api_name": name} if api else {"api_visibility": "private"}


def annotation_form(ctx: AppContext, api: bool = True) -> tuple:
    """The annotation form: instructions, id, mode, the item or pair on screen, the scales or the vote. Returns
    (id box, state, status line). `api`: its events are the app's /start, /submit and /vote (the tab's form);
    the annotator page's copy is private (one name per endpoint)."""
    gr.set_static_paths([BLIND_FOLDER])  # the blind copies, served in place
    state = gr.State(None)  # {"annotator", "mode", "item_id" | "pair_id", "left_side", "shown_at"}: server-side
    gr.Markdown(INSTRUCTIONS)
    with gr.Row():
        annotator_box = gr.Textbox(label="Annotator id", placeholder="your id, e.g. ann07", scale=3,
                                   interactive=ctx.auth is None, elem_id="study-annotator",
                                   info="the signed-in user name" if ctx.auth is not None else None)
        mode = gr.Radio(MODES, value="likert", label="Mode", scale=2)
        # The chosen mode, server-side: /start keeps its one input (the id), as API clients already call it.
        chosen = gr.State("likert")
        start = gr.Button("Start / resume", variant="primary", scale=1)
    progress = gr.Markdown(elem_id="study-top", elem_classes=["dpp-live"])
    reveal = gr.Markdown(elem_id="study-reveal")  # after a pairwise vote: the methods of the pair just voted on
    play_pause = gr.Button("Play / pause all clips", visible=False, size="sm", elem_id="study-play-pause")
    with gr.Column(visible=False) as panel:
        prompt = gr.Markdown()
        clips = gr.HTML("", elem_id="study-clips")
        text = gr.Markdown()
        diversity = gr.Radio([(f"{k}: {a}", k) for k, a in DIVERSITY_ANCHORS.items()],
                             label="Diversity: how different are the clips from each other?")
        alignment = gr.Radio([(f"{k}: {a}", k) for k, a in ALIGNMENT_ANCHORS.items()],
                             label="Alignment: how faithful are the clips to the prompt?")
        comment = gr.Textbox(label="Comment (optional)", lines=2, max_length=2000)
        with gr.Column(elem_classes=["dpp-sticky"], elem_id="study-submit-bar"):  # always in view (pages/layout.py)
            submit = gr.Button("Submit and next", variant="primary")
    with gr.Column(visible=False, elem_id="study-pair") as pair_panel:
        pair_prompt = gr.Markdown()
        with gr.Row(equal_height=False):
            with gr.Column():
                gr.Markdown("#### A (left)")
                left = gr.HTML("", elem_id="study-left")
            with gr.Column():
                gr.Markdown("#### B (right)")
                right = gr.HTML("", elem_id="study-right")
        with gr.Column(elem_classes=["dpp-sticky"], elem_id="study-vote-bar"):  # always in view (pages/layout.py)
            choice = gr.Radio([(label, key) for key, label in pairwise.CHOICE_LABELS.items()],
                              label="Which set is more diverse (clips more different from each other)?")
            vote = gr.Button("Vote and next", variant="primary")
    view = [state, progress, panel, prompt, clips, text, diversity, alignment, comment,
            pair_panel, pair_prompt, left, right, choice, reveal, play_pause]

    mode.change(set_mode, inputs=mode, outputs=chosen, queue=False, api_visibility="private", show_progress="hidden")
    for event in (gr.on([start.click, annotator_box.submit], bind(sign_in, ctx), inputs=[annotator_box, chosen],
                        outputs=view, validator=bind(start_problems, ctx), **_endpoint(api, "start")),
                  submit.click(bind(rate, ctx), inputs=[state, diversity, alignment, comment], outputs=view,
                               validator=submit_problems, **_endpoint(api, "submit")),
                  vote.click(bind(cast_vote, ctx), inputs=[state, choice], outputs=view, validator=vote_problems,
                             **_endpoint(api, "vote"))):
        event.success(None, js=SYNC_JS)  # clips start together; the page scrolls to the new item
    play_pause.click(None, js=PLAY_PAUSE_JS)
    return annotator_box, state, progress


def build(ctx: AppContext) -> None:
    """The Annotate tab: the form, and for the study lead the set-up panel."""
    annotator_box, state, progress = annotation_form(ctx)
    # The status line stays true when items arrive from elsewhere (the Render tab's one-click study item).
    ctx.tabs.change(bind(refresh, ctx), inputs=state, outputs=progress, api_visibility="private", show_progress="hidden")
    for event in build_setup(ctx, annotator_box):  # an item added or imported: the status line counts it
        event.success(bind(refresh, ctx), inputs=state, outputs=progress, api_visibility="private",
                      show_progress="hidden")
