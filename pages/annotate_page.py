"""The annotator page, `/annotate`: the annotation form alone, a page of its own built on the server, for the link a
study lead sends to annotators.

    http://HOST:7860/annotate?annotator=ann07    # without --auth: the id comes from the link (one link each)
    http://HOST:7860/annotate                    # the annotator types an id; with --auth, the signed-in name

Gradio sends a page only its own components and events, so this page holds no set-up panel, no study dashboard
and no other tab, in its HTML as in its config, whoever opens it. The study lead works on the main page, where
the Annotate tab has the set-up panel and Results the dashboard: with `--auth`, for `--admin` users only (checked
in every handler); without `--auth` there is no one to tell apart, so the main page is the lead's and this page
is what annotators are sent. That is a view, not a lock: whoever knows the main page's address can open it, so a
study that others can reach runs with `--auth` and `--admin`.
"""

from __future__ import annotations

import gradio as gr

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study.fields import check_annotator
from pages.annotate import annotation_form, refresh
from pages.context import AppContext, bind, markdown_text, on_page_load
from pages.layout import ANNOTATOR_PAGE



def open_page(ctx: AppContext, request: gr.Request):
    """On load: (the id box, the status line). With sign-in the id is the user name; without, the link's
    `annotator` (fixed, so a typo cannot start a second annotator), or a box to type it in."""
    if ctx.auth is not None:
        return gr.Textbox(value=request.username or ""), refresh(ctx, None, "named")
    params = getattr(request, "query_params", None) or {}
    given = str(params.get("annotator", "")).strip()
    if not given:
        return gr.Textbox(), refresh(ctx, None, "annotator")
    try:
        annotator = check_annotator(given)
    except UserFacingError as exc:
        return gr.Textbox(), f"This link's annotator id cannot be used: {markdown_text(str(exc))} Type your id."
    return gr.Textbox(value=annotator, interactive=False, info="from your link"), refresh(ctx, None, "named")


def add_page(demo: gr.Blocks, title: str, settings, auth, admins) -> None:
    """Add the page to the app (after its main page is built): the title and the annotation form, nothing else."""
    ctx = AppContext(settings=settings, tabs=None, prompt_set=None, rendered_set=None, auth=auth,
                     admins=set(admins or []))
    with demo.route("Annotate", f"/{ANNOTATOR_PAGE}", show_in_navbar=False):
        gr.Navbar(visible=False)  # the page links to nothing: no way to the main page from here
        gr.Markdown(f"# {title}")
        build(ctx)


def build(ctx: AppContext) -> None:
    """The page's content: the annotation form and its load event."""
    annotator_box, _, progress = annotation_form(ctx, api=False)
    on_page_load(bind(open_page, ctx), None, [annotator_box, progress], api_visibility="private",
                 show_progress="hidden")
