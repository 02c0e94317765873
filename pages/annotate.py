"""Annotate tab: blind 5-point ratings of prompt sets / video grids, one item at a time.

    python app.py                                              # anyone types an annotator id
    python app.py --auth ann1:pw --auth lead:pw --admin lead    # the id is the signed-in user name

An annotator sees the study's items in their own seeded order, each once, with the clips shuffled
and served under neutral file names (a clip's path often names its method); the method is never
sent to the browser. Submitting records both scores, the comment and the seconds spent on the item.
The "Study set-up" panel (admins only when the app runs with sign-in) adds the Expand/Render tab's
current set, optionally with an attention-check twin, or imports a JSONL manifest.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import gradio as gr

from dppgrpo_core.annotations import MAX_CLIPS, MAX_NAME, AnnotationError, AnnotationStore, check_annotator
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study import VIDEO_SUFFIXES, attention_check_for, item_from_set, next_item, read_manifest
from pages.context import markdown_text

COLUMNS = 4  # video slots: MAX_CLIPS (the core's limit, which import enforces) in rows of COLUMNS
DIVERSITY_ANCHORS = {
    1: "near-identical clips",
    2: "small differences, mostly the same shot",
    3: "some variety in one or two of camera, scene, composition, motion",
    4: "clearly different in most of camera, scene, composition and motion",
    5: "clearly different in camera, scene, composition and motion",
}
ALIGNMENT_ANCHORS = {
    1: "unrelated to the prompt",
    2: "loosely related: the main subject is often missing or wrong",
    3: "about half the clips show what the prompt asks",
    4: "most clips faithful to the prompt",
    5: "every clip faithful to it",
}
INSTRUCTIONS = """Each item is one prompt and a set of clips (or, where no clips exist, a set of prompts) made
from it. Rate the **set as a whole**: how different the clips are from each other (diversity), and how
faithful they are to the prompt (alignment). The order of items and of clips is random; you see each item once
and can stop and come back at any time."""


# ----- shared with pages/results.py -----
@functools.lru_cache(maxsize=8)
def _store_at(path: str) -> AnnotationStore:
    return AnnotationStore(path)


def open_store(ctx) -> AnnotationStore:
    """The study store of the app's settings, opened on first use (building the app writes nothing)."""
    try:
        return _store_at(str(Path(ctx.settings.annotations_db).expanduser().resolve()))
    except (UserFacingError, OSError, sqlite3.Error) as exc:
        # The path is the server's business: annotators see that it failed, the server log says where.
        logging.getLogger(__name__).error("cannot open the annotation store %s: %s", ctx.settings.annotations_db, exc)
        raise gr.Error("Cannot open the study's annotation store; tell the study organiser.") from None


def is_admin(ctx, request: gr.Request | None) -> bool:
    """Without sign-in everyone is; with sign-in, only the users named by --admin."""
    if ctx.auth is None:
        return True
    return bool(request is not None and request.username and request.username in ctx.admins)


# ----- blind media -----
def blind_copy(path: str) -> str:
    """A copy of a clip under a neutral name in the temp folder (which Gradio may serve from anywhere).

    The name hashes the source path, size and time, so it says nothing of the method and a re-rendered
    clip gets a fresh copy; a hard link is tried first to save space.
    """
    source = Path(path)
    try:
        stat = source.stat()
    except OSError:
        raise gr.Error("A clip of this item is missing on the server; tell the study organiser.") from None
    if source.resolve().suffix.lower() not in VIDEO_SUFFIXES:  # a study from before import checked its clips
        raise gr.Error("A clip of this item is not a video file; tell the study organiser.")
    digest = hashlib.sha1(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:20]
    folder = Path(tempfile.gettempdir()) / "dppgrpo-blind"
    folder.mkdir(exist_ok=True)
    target = folder / f"clip-{digest}{source.suffix.lower()}"
    if not target.exists():
        partial = folder / f".{target.name}.{os.getpid()}.part"
        try:
            os.link(source, partial)
        except OSError:
            shutil.copyfile(source, partial)
        os.replace(partial, target)  # atomic: two sessions may race to make the same copy
    return str(target)


# ----- views -----
def _progress(annotator: str, done: int, total: int) -> str:
    who = markdown_text(annotator)
    if total == 0:
        return f"Signed in as **{who}**. The study has no items yet."
    if done >= total:
        return f"Signed in as **{who}**. All {total} items rated: thank you!"
    return f"Signed in as **{who}**. Item {done + 1} of {total} ({done} rated)."


def _view(store: AnnotationStore, annotator: str):
    """(state, progress, panel, prompt, *videos, text, diversity, alignment, comment) for the next item."""
    item, done, total = next_item(store, annotator)
    blank_videos = [gr.Video(value=None, visible=False) for _ in range(MAX_CLIPS)]
    reset = [gr.Radio(value=None), gr.Radio(value=None), gr.Textbox(value="")]
    if item is None:
        state = {"annotator": annotator, "item_id": None, "shown_at": None}
        return [state, _progress(annotator, done, total), gr.Column(visible=False), "", *blank_videos, "", *reset]
    shown = item["shown"]
    if item["videos"] and len(shown) > MAX_CLIPS:
        raise gr.Error(f"This item has {len(shown)} clips; the page shows at most {MAX_CLIPS}. Tell the organiser.")
    prompt = f"### Prompt\n> {markdown_text(item['prompt'])}"
    if item["videos"]:
        videos = [gr.Video(value=blind_copy(shown[i]), visible=True, label=f"clip {i + 1}") if i < len(shown)
                  else gr.Video(value=None, visible=False) for i in range(MAX_CLIPS)]
        text = ""
    else:
        videos = blank_videos
        text = "### The set\n" + "\n".join(f"{i}. {markdown_text(p)}" for i, p in enumerate(shown, 1))
    state = {"annotator": annotator, "item_id": item["item_id"], "shown_at": time.monotonic()}
    return [state, _progress(annotator, done, total), gr.Column(visible=True), prompt, *videos, text, *reset]


def _annotator_of(ctx, typed: str, request: gr.Request | None) -> str:
    if ctx.auth is not None:
        if request is None or not request.username:
            raise gr.Error("Sign in to annotate.")
        return request.username
    if not isinstance(typed, str) or not typed.strip() or len(typed.strip()) > MAX_NAME:
        raise gr.Error(f"Type your annotator id (1 to {MAX_NAME} characters) first.")
    try:
        return check_annotator(typed)
    except UserFacingError as exc:
        raise gr.Error(str(exc)[0].upper() + str(exc)[1:]) from None


def build(ctx) -> None:
    state = gr.State(None)  # {"annotator", "item_id", "shown_at"}: server-side, one per browser session
    gr.Markdown(INSTRUCTIONS)
    with gr.Row():
        annotator_box = gr.Textbox(label="Annotator id", placeholder="your id, e.g. ann07", scale=3,
                                   interactive=ctx.auth is None,
                                   info="the signed-in user name" if ctx.auth is not None else None)
        start = gr.Button("Start / resume", variant="primary", scale=1)
    progress = gr.Markdown()
    with gr.Column(visible=False) as panel:
        prompt = gr.Markdown()
        videos = []
        for row in range(MAX_CLIPS // COLUMNS):
            with gr.Row(equal_height=True):
                for _ in range(COLUMNS):
                    videos.append(gr.Video(visible=False, interactive=False, loop=True, autoplay=False,
                                           buttons=[], elem_classes="study-clip"))
        text = gr.Markdown()
        diversity = gr.Radio([(f"{k}: {a}", k) for k, a in DIVERSITY_ANCHORS.items()],
                             label="Diversity: how different are the clips from each other?")
        alignment = gr.Radio([(f"{k}: {a}", k) for k, a in ALIGNMENT_ANCHORS.items()],
                             label="Alignment: how faithful are the clips to the prompt?")
        comment = gr.Textbox(label="Comment (optional)", lines=2, max_length=2000)
        submit = gr.Button("Submit and next", variant="primary")
    view = [state, progress, panel, prompt, *videos, text, diversity, alignment, comment]

    def sign_in(typed: str, request: gr.Request):
        annotator = _annotator_of(ctx, typed, request)
        try:
            return _view(open_store(ctx), annotator)
        except UserFacingError as exc:
            raise gr.Error(str(exc)) from None

    def rate(current: dict | None, diversity_score, alignment_score, note: str, request: gr.Request):
        if not current or not current.get("annotator"):
            raise gr.Error("Sign in with your annotator id first.")
        annotator = current["annotator"]
        if ctx.auth is not None and request.username != annotator:
            raise gr.Error("Signed-in user changed: press Start / resume.")
        if not current.get("item_id"):
            raise gr.Error("No item to rate: every item is done.")
        if diversity_score is None or alignment_score is None:
            raise gr.Error("Choose a score on both scales before submitting.")
        store = open_store(ctx)
        seconds = time.monotonic() - current["shown_at"]
        try:
            store.add_rating(annotator, current["item_id"], diversity_score, alignment_score, note or None, seconds)
        except AnnotationError as exc:
            if current["item_id"] not in store.rated_item_ids(annotator):
                raise gr.Error(str(exc)) from None
            gr.Warning("This item was already rated (another tab?); moving on.")
        return _view(store, annotator)

    start.click(sign_in, inputs=annotator_box, outputs=view, api_name="start")
    annotator_box.submit(sign_in, inputs=annotator_box, outputs=view, api_visibility="private")
    submit.click(rate, inputs=[state, diversity, alignment, comment], outputs=view, api_name="submit")

    _build_setup(ctx, annotator_box)


# ----- study set-up (admins) -----
def _require_admin(ctx, request) -> None:
    if not is_admin(ctx, request):
        raise gr.Error("Only study admins can change the study.")


def add_current_set(ctx, rendered: dict | None, expanded: dict | None, attention: bool, request) -> str:
    """Add the session's rendered grid (if it has clips) or else its expanded set as one item; a message."""
    _require_admin(ctx, request)
    source = rendered if isinstance(rendered, dict) and rendered.get("videos") else expanded
    try:
        item = item_from_set(source)
        items = [item, attention_check_for(item)] if attention else [item]  # the store refuses > MAX_CLIPS clips
        store = open_store(ctx)
        store.add_items(items)
    except UserFacingError as exc:
        raise gr.Error(str(exc)) from None
    kind = f"{len(item['videos'])} clips" if item.get("videos") else f"{len(item['prompts'])} prompts as text"
    extra = " and its attention check" if attention else ""
    return (f"Added {markdown_text(item['item_id'])} ({kind}, prompt *{markdown_text(item['prompt'])}*){extra}. "
            f"The study has {len(store.item_ids())} items.")


def import_manifest_upload(ctx, path: str | None, request) -> str:
    """Import an uploaded JSONL manifest. Its clips are read from the `media_root` setting (else the app's
    working folder), since the upload folder is temporary, and must lie inside it (see `read_manifest`)."""
    _require_admin(ctx, request)
    if not path:
        raise gr.Error("Choose a .jsonl manifest first.")
    try:
        items = read_manifest(path, base_dir=ctx.settings.media_root or os.getcwd())
        store = open_store(ctx)
        added = store.add_items(items)
    except UserFacingError as exc:
        raise gr.Error(str(exc)) from None
    return f"Imported {added} items. The study has {len(store.item_ids())} items."


def _build_setup(ctx, annotator_box) -> None:
    with gr.Accordion("Study set-up", open=False, visible=ctx.auth is None) as setup:
        gr.Markdown("Add the current set of the Expand tab (as text) or the Render tab (as clips) as one item; "
                    "or import a JSONL manifest (one item per line; see `python -m dppgrpo_core.study --help`).")
        with gr.Row():
            with_check = gr.Checkbox(label="also add an attention-check item (identical clips)", value=False)
            add = gr.Button("Add current set to study")
        with gr.Row():
            manifest = gr.File(label="JSONL manifest", file_types=[".jsonl"], type="filepath")
            import_button = gr.Button("Import manifest")
        setup_status = gr.Markdown()

    def add_current(rendered: dict | None, expanded: dict | None, attention: bool, request: gr.Request):
        return add_current_set(ctx, rendered, expanded, attention, request)

    def import_upload(path: str | None, request: gr.Request):
        return import_manifest_upload(ctx, path, request)

    add.click(add_current, inputs=[ctx.rendered_set, ctx.prompt_set, with_check], outputs=setup_status,
              api_visibility="private")
    import_button.click(import_upload, inputs=manifest, outputs=setup_status, api_visibility="private")

    def on_load(request: gr.Request):
        # With sign-in, the id is the user name and only admins see the set-up panel.
        if ctx.auth is None:
            return gr.Textbox(), gr.Accordion(visible=True)
        return gr.Textbox(value=request.username or ""), gr.Accordion(visible=is_admin(ctx, request))

    gr.on(triggers=None, fn=on_load, outputs=[annotator_box, setup], api_visibility="private")
