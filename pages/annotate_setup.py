"""The Annotate tab's store access and its "Study set-up" panel (admins only when the app runs with sign-in).

The panel adds the Expand/Render tab's current set as one item (optionally with an attention-check twin; the
Render tab's one-click button calls the same `add_current_set`), or imports a JSONL manifest of items and pairs.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
from pathlib import Path

import gradio as gr

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study import (
    add_manifest_entries,
    attention_check_for,
    item_from_set,
    pairwise,
    read_manifest,
)
from dppgrpo_core.study.store import AnnotationStore
from pages.context import markdown_text, refused


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
        raise refused("Cannot open the study's annotation store; tell the study organiser.") from None


def is_admin(ctx, request: gr.Request | None) -> bool:
    """Without sign-in everyone is; with sign-in, only the users named by --admin."""
    if ctx.auth is None:
        return True
    return bool(request is not None and request.username and request.username in ctx.admins)


# ----- study set-up (admins) -----
def _require_admin(ctx, request) -> None:
    if not is_admin(ctx, request):
        raise refused("Only study admins can change the study.")


def add_current_set(ctx, rendered: dict | None, expanded: dict | None, attention: bool, request) -> str:
    """Add the session's rendered grid (if it has clips) or else its expanded set as one item; a message.

    Without sign-in the annotators use this same page, so the message names neither the method nor the item
    id (which holds the method): it says what was added and how many items the study now has."""
    _require_admin(ctx, request)
    source = rendered if isinstance(rendered, dict) and rendered.get("videos") else expanded
    try:
        item = item_from_set(source)
        items = [item, attention_check_for(item)] if attention else [item]  # the store refuses > MAX_CLIPS clips
        store = open_store(ctx)
        store.add_items(items)
    except UserFacingError as exc:
        raise refused(str(exc)) from None
    kind = f"{len(item['videos'])} clips" if item.get("videos") else f"{len(item['prompts'])} prompts as text"
    extra = " and its attention check" if attention else ""
    what = f"item {markdown_text(item['item_id'])}" if ctx.auth is not None else "one item"
    return (f"Added {what} ({kind}, prompt *{markdown_text(item['prompt'])}*){extra}. "
            f"The study has {len(store.item_ids())} items.")


def import_manifest_upload(ctx, path: str | None, request) -> str:
    """Import an uploaded JSONL manifest (items and pairs). Its clips are read from the `media_root` setting
    (else the app's working folder), since the upload folder is temporary, and must lie inside it."""
    _require_admin(ctx, request)
    if not path:
        raise refused("Choose a .jsonl manifest first.")
    try:
        entries = read_manifest(path, base_dir=ctx.settings.media_root or os.getcwd())
        store = open_store(ctx)
        added, pairs = add_manifest_entries(store, entries)
    except UserFacingError as exc:
        raise refused(str(exc)) from None
    paired = f" and {pairs} pairs" if pairs else ""
    return (f"Imported {added} items{paired}. The study has {len(store.item_ids())} items and "
            f"{len(pairwise.pair_ids(store))} pairs.")


def build_setup(ctx, annotator_box, then_refresh) -> None:
    with gr.Accordion("Study set-up", open=False, visible=ctx.auth is None) as setup:
        gr.Markdown("Add the current set of the Expand tab (as text) or the Render tab (as clips) as one item; "
                    "or import a JSONL manifest (one item or pair per line; see "
                    "`python -m dppgrpo_core.study --help`).")
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

    then_refresh(add.click(add_current, inputs=[ctx.rendered_set, ctx.prompt_set, with_check], outputs=setup_status,
                           api_visibility="private"))
    then_refresh(import_button.click(import_upload, inputs=manifest, outputs=setup_status, api_visibility="private"))

    def on_load(request: gr.Request):
        # With sign-in, the id is the user name and only admins see the set-up panel.
        if ctx.auth is None:
            return gr.Textbox(), gr.Accordion(visible=True)
        return gr.Textbox(value=request.username or ""), gr.Accordion(visible=is_admin(ctx, request))

    gr.on(triggers=None, fn=on_load, outputs=[annotator_box, setup], api_visibility="private")
