"""The Annotate tab's store access and its "Study set-up" panel (admins only when the app runs with sign-in; never
on the annotator page, pages/annotate_page.py).

The panel adds the Expand/Render tab's current set as one item (optionally with an attention-check twin; the
Render tab's one-click button calls the same `add_current_set`), imports a JSONL manifest of items and pairs, or
makes pairs from the app's own renders (`study_pairs.py`).
"""

from __future__ import annotations

import os

import gradio as gr

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study import (
    add_manifest_entries,
    attention_check_for,
    item_from_set,
    pairwise,
    read_manifest,
)
from dppgrpo_core.video import videos_dir
from pages.context import AppContext, bind, handler, is_admin, markdown_text, open_store, refused
from pages.layout import annotator_link
from pages.study_pairs import build_pairs_panel


# ----- study set-up (admins) -----
def _require_admin(ctx, request) -> None:
    if not is_admin(ctx, request):
        raise refused("Only study admins can change the study.")


@handler
def add_current_set(ctx: AppContext, rendered: dict | None, expanded: dict | None, attention: bool,
                    request: gr.Request | None) -> str:
    """Add the session's rendered grid (if it has clips) or else its expanded set as one item; a message.

    Without sign-in the annotators use this same page, so the message names neither the method nor the item
    id (which holds the method): it says what was added and how many items the study now has."""
    _require_admin(ctx, request)
    source = rendered if isinstance(rendered, dict) and rendered.get("videos") else expanded
    item = item_from_set(source)
    items = [item, attention_check_for(item)] if attention else [item]  # the store refuses > MAX_CLIPS clips
    store = open_store(ctx)
    store.add_items(items)
    kind = f"{len(item['videos'])} clips" if item.get("videos") else f"{len(item['prompts'])} prompts as text"
    extra = " and its attention check" if attention else ""
    what = f"item {markdown_text(item['item_id'])}" if ctx.auth is not None else "one item"
    return (f"Added {what} ({kind}, prompt *{markdown_text(item['prompt'])}*){extra}. "
            f"The study has {len(store.item_ids())} items.")


@handler
def import_manifest_upload(ctx: AppContext, path: str | None, request: gr.Request | None) -> str:
    """Import an uploaded JSONL manifest (items and pairs). Its clips are read from the `media_root` setting
    (else the app's working folder), since the upload folder is temporary, and must lie inside it or be videos
    this app rendered (its video cache)."""
    _require_admin(ctx, request)
    if not path:
        raise refused("Choose a .jsonl manifest first.")
    base = ctx.settings.media_root or os.getcwd()
    try:
        entries = read_manifest(path, base_dir=base, media_root=videos_dir(ctx.settings.cache_dir))
    except UserFacingError as exc:
        where, outside, _ = str(exc).partition(" is outside ")
        if not outside:
            raise
        raise UserFacingError(f"{where} is not a clip this app may show (only videos it rendered, or files in "
                              f"{'the --media-root folder' if ctx.settings.media_root else 'its working folder'}). "
                              "To pair grids rendered here, use “Pair these two grids” below; for other clips, "
                              "start the app with --media-root set to their folder.") from None
    store = open_store(ctx)
    added, pairs = add_manifest_entries(store, entries)
    paired = f" and {pairs} pairs" if pairs else ""
    return (f"Imported {added} items{paired}. The study has {len(store.item_ids())} items and "
            f"{len(pairwise.pair_ids(store))} pairs.")


def setup_on_load(ctx: AppContext, request: gr.Request):
    """On page load, with sign-in: the id box shows the user name, and only admins get the set-up panel (hidden,
    it is not in the page at all). Without sign-in the main page is the study lead's (annotators are sent the
    annotator page, which has no panel: pages/annotate_page.py)."""
    return gr.Textbox(value=request.username or ""), gr.Accordion(visible=is_admin(ctx, request))


def build_setup(ctx: AppContext, annotator_box) -> list:
    """The set-up panel; returns its two events (add, import), after which the caller refreshes its counts."""
    with gr.Accordion("Study set-up", open=False, visible=ctx.auth is None) as setup:
        gr.Markdown("Add the current set of the Expand tab (as text) or the Render tab (as clips) as one item; "
                    "or import a JSONL manifest (one item or pair per line; see "
                    "`python -m dppgrpo_core.study --help`). Send each annotator the **annotator page**, this "
                    f"address followed by `{annotator_link('THEIR-ID')}` (e.g. [{annotator_link('ann07')}]"
                    f"({annotator_link('ann07')})): the annotation form alone, with no set-up and no other tab.",
                    elem_id="study-annotator-link")
        with gr.Row():
            with_check = gr.Checkbox(label="also add an attention-check item (identical clips)", value=False)
            add = gr.Button("Add current set to study")
        with gr.Row():
            manifest = gr.File(label="JSONL manifest", file_types=[".jsonl"], type="filepath")
            import_button = gr.Button("Import manifest")
        setup_status = gr.Markdown()
        pair_events = build_pairs_panel(ctx)  # "pair these two grids", "pair two methods over prompts"
    if ctx.auth is not None:
        gr.on(triggers=None, fn=bind(setup_on_load, ctx), outputs=[annotator_box, setup], api_visibility="private")
    return pair_events + [add.click(bind(add_current_set, ctx), inputs=[ctx.rendered_set, ctx.prompt_set, with_check],
                      outputs=setup_status, api_visibility="private"),
            import_button.click(bind(import_manifest_upload, ctx), inputs=manifest, outputs=setup_status,
                                api_visibility="private")]
