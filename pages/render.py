"""Render tab: one video per prompt of the set, shown as a grid (autoplay, loop, muted, captioned).

The prompts arrive from the Expand tab (`ctx.prompt_set`) and can be edited; the rendered grid
is stored in `ctx.rendered_set` for the Annotate tab. Full-size models need a GPU; the model
`tiny-random-wan` renders 16x16 noise on CPU in seconds, as a plumbing check. Videos are served
from the cache folder `<cache_dir>/videos` (a Gradio static path), named by content hash, so a
grid rendered once is free the next time. The grid's view and the browser's kept copy of it are in
`render_view.py`.

The server's own model ("configured": a folder, or a command that may call a paid API) is limited per
user under sign-in: a user who is not an admin renders at most CONFIGURED_PER_CALL prompts per click and
CONFIGURED_PER_HOUR in any hour with it (`render_as_user`; counted in this process's memory).

    html, status, rendered = on_render(settings, False, "a dog\\na cat", "tiny-random-wan", *[None] * 6, "0", 4,
                                       "auto", False, False, False, None)
"""

from __future__ import annotations

import html

import gradio as gr

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.sets import MAX_PROMPT_CHARS, MAX_PROMPTS, RenderedSet, check_prompts
from dppgrpo_core.settings import Settings
from dppgrpo_core.video import RenderSettings, parse_seeds, render_videos, scrub_notes, videos_dir  # noqa: F401
from dppgrpo_core.video.backends import (
    CONFIGURED_MODEL,
    model_for_client,
)
from pages.context import (
    AppContext,
    bind,
    handler,
    is_admin,
    kept_or_none,
    on_page_load,
)
from pages.fields import Number
from pages.render_limits import charge_configured
from pages.render_extras import model_menu, origin_note, set_origin, with_negative_prompt, zip_grid
from pages.render_view import (
    EMPTY_GRID,
    NUMBER_FIELDS,
    default_model,
    grid_html,
    hardware_note,
    model_defaults,
    restore_grid,
    saved_grid_copy,
    served_videos,
)


def prompts_from_set(prompt_set: dict | None) -> tuple[str, str]:
    """(prompt box text, note on where the set came from) for a set sent by the Expand tab."""
    if not prompt_set or not prompt_set.get("prompts"):
        return gr.skip(), gr.skip()
    note = f"From the Expand tab: **{len(prompt_set['prompts'])} prompts** ({prompt_set.get('method') or 'set'})"
    if prompt_set.get("query"):
        note += f" for the query *{html.escape(prompt_set['query'])}*"
    return "\n".join(prompt_set["prompts"]), note + "."


def prompts_on_new_set(prompt_set: dict | None, current, filled):
    """A new set from the Expand tab: (prompt box, note, text the tab filled in, "use the new set" button).

    The box takes the new prompts unless the user edited it since the tab last filled it (or typed their own):
    then their text stays and the note offers the new set with one click."""
    text, note = prompts_from_set(prompt_set)
    if text is gr.skip() or isinstance(text, dict):  # no prompts in the set
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    current = current if isinstance(current, str) else ""
    if current.strip() and current != (filled or "") and current.strip() != text:
        kept = (f"A new set came from the Expand tab ({len(prompt_set['prompts'])} prompts); **your edited prompts "
                "are kept**. Press *Use the new set* to replace them.")
        return gr.skip(), kept, gr.skip(), gr.Button(visible=True)
    return text, note, text, gr.Button(visible=False)


def use_new_set(prompt_set: dict | None):
    """The "Use the new set" button: the Expand tab's set replaces the edited prompts."""
    text, note = prompts_from_set(prompt_set)
    if isinstance(text, dict):
        return gr.skip(), gr.skip(), gr.skip(), gr.Button(visible=False)
    return text, note, text, gr.Button(visible=False)


def _number(value, name: str, kind=int):
    """A number field of the form: None when blank, else a finite number in RenderSettings.RANGES."""
    if value is None or value == "":
        return None
    low, high = RenderSettings.RANGES[name.replace(" ", "_")]
    return checks.number(value, name, low, high, whole=kind is int)


def _flag(value, name: str) -> bool:
    """A checkbox: True or False (blank counts as False); the text "false" is refused, not read as True."""
    return False if value is None else checks.boolean(value, name)


def form_settings(steps, frames, guidance, height, width, fps, batch_size, dtype, cpu_offload, vae_tiling,
                  vae_slicing, allow_cpu: bool = False) -> RenderSettings:
    """The Settings accordion's values as checked RenderSettings (blank = the model's default); UserFacingError
    for a value out of range, not finite, or not a boolean. `allow_cpu` is the server's flag, never the client's."""
    render_settings = RenderSettings(
        steps=_number(steps, "steps"), frames=_number(frames, "frames"),
        guidance=_number(guidance, "guidance", float), height=_number(height, "height"),
        width=_number(width, "width"), fps=_number(fps, "fps"), dtype=dtype or "auto",
        batch_size=_number(batch_size, "batch size") or 1,
        cpu_offload=_flag(cpu_offload, "CPU offload"), vae_tiling=_flag(vae_tiling, "VAE tiling"),
        vae_slicing=_flag(vae_slicing, "VAE slicing"), allow_cpu=allow_cpu is True,
    )
    render_settings.check()
    return render_settings


def prompt_lines(prompts_text) -> list[str]:
    """The prompt box as a list of prompts (blank lines dropped), checked; UserFacingError otherwise."""
    if prompts_text is not None and not isinstance(prompts_text, str):
        raise UserFacingError("Prompts must be text, one per line.")
    if len(prompts_text or "") > MAX_PROMPTS * (MAX_PROMPT_CHARS + 1):
        raise UserFacingError(f"The prompts are too long ({len(prompts_text):,} characters).")
    prompts = [checks.stripped(line) for line in (prompts_text or "").splitlines() if checks.stripped(line)]
    if not prompts:
        raise UserFacingError("Type prompts, one per line, or expand a prompt in the Expand tab first.")
    if len(prompts) > MAX_PROMPTS:
        raise UserFacingError(f"At most {MAX_PROMPTS} prompts per grid, got {len(prompts)}.")
    return check_prompts(prompts)  # valid Unicode, no control characters, not too long


@handler(uses_gpu=True)
def on_render(settings: Settings, allow_cpu: bool, prompts_text, model, steps, frames, guidance, height, width, fps,
              seeds, batch_size, dtype, cpu_offload, vae_tiling, vae_slicing, prompt_set, negative_prompt=None,
              progress=gr.Progress()):
    """The Render button, with the form's inputs in order: (grid html, status markdown, rendered set)."""
    render_settings = form_settings(steps, frames, guidance, height, width, fps, batch_size, dtype, cpu_offload,
                                    vae_tiling, vae_slicing, allow_cpu)
    render_settings = with_negative_prompt(render_settings, negative_prompt)
    return render_grid(settings, prompt_lines(prompts_text), model, seeds, render_settings, prompt_set, progress)


@handler
def render_as_user(ctx: AppContext, prompts_text, model, steps, frames, guidance, height, width, fps, seeds,
                   batch_size, dtype, cpu_offload, vae_tiling, vae_slicing, prompt_set, request: gr.Request,
                   negative_prompt=None, progress=gr.Progress()):
    """The Render button (API name /on_render): `on_render`, after the per-user limit of the configured model
    for a signed-in user who is not an admin."""
    if model == CONFIGURED_MODEL and not is_admin(ctx, request):
        charge_configured(request.username, len(prompt_lines(prompts_text)))
    return on_render(ctx.settings, ctx.allow_cpu is True, prompts_text, model, steps, frames, guidance, height, width, fps,
                     seeds, batch_size, dtype, cpu_offload, vae_tiling, vae_slicing, prompt_set, negative_prompt,
                     progress)


def render_grid(settings: Settings, prompts: list[str], model: str, seeds, render_settings: RenderSettings,
                prompt_set: dict | None = None, progress=None) -> tuple[str, str, dict]:
    """Render the prompts with the model the client picked (a name the server enabled); (grid html, status,
    rendered set, see `dppgrpo_core.sets.RenderedSet`). Prompts edited from the Expand tab's set keep its query,
    their method marked "(edited)" (`render_extras.set_origin`)."""
    spec = model_for_client(model, settings.video_model)  # a name the server enabled, never a spec
    if not isinstance(seeds, (str, int, float, type(None))):
        raise UserFacingError("Seeds must be whole numbers separated by commas.")
    seed_values = parse_seeds(seeds, len(prompts))

    def report(fraction: float, text: str) -> None:
        if progress is not None:
            progress(fraction, desc=text)

    results = render_videos(prompts, seed_values, spec, render_settings, settings.cache_dir, settings.device,
                            progress=report)
    done = [r for r in results if r.path]
    failed = [r for r in results if not r.path]
    cached = sum(r.cached for r in results)
    status = f"**{len(done)} of {len(results)} videos** rendered with `{model}`"
    status += f" ({cached} from the cache)." if cached else "."
    if failed:
        status += " Failed: " + "; ".join(f"#{r.index + 1}: {html.escape(r.error or '')}" for r in failed)
        gr.Warning(f"{len(failed)} of {len(results)} videos failed" + ("; the others are shown." if done else "."))
    query, method, edited = set_origin(prompt_set, prompts)
    status += origin_note(query, method, edited)
    # Only rendered pairs, so prompts[i] always belongs to videos[i]; failures are listed apart.
    rendered = RenderedSet(
        prompts=[r.prompt for r in done], query=query, method=method, videos=[r.path for r in done],
        seeds=[r.seed for r in done], model=model, failed=[{"prompt": r.prompt, "error": r.error} for r in failed],
    ).to_json()
    return grid_html(results), status, rendered


def show_study_row(ctx, rendered: dict | None, request: gr.Request):
    """The one-click study row, once a grid has clips, to admins only (with sign-in)."""
    return gr.Row(visible=bool(rendered and rendered.get("videos")) and is_admin(ctx, request))


def add_grid(ctx, rendered: dict | None, attention: bool, request: gr.Request) -> str:
    """The one-click button: the grid as a study item (and its attention check), as the Annotate tab adds it."""
    from pages.annotate_setup import add_current_set

    return add_current_set(ctx, rendered, None, attention, request)


def zip_download(rendered: dict | None):
    """The "All clips" download beside the grid: a zip of its clips and prompts, shown once there are clips."""
    path = zip_grid(rendered)
    return gr.File(value=path, visible=path is not None)


def open_annotate():
    return gr.Tabs(selected="annotate")


def build(ctx: AppContext) -> None:
    # Long but flat: the layout, then the wiring of module-level handlers (nothing else happens here).
    settings = ctx.settings
    # Served by URL without copies, through a link whose path names no server folder; older notes of the
    # cache lose any model spec (a command template with its key) before the folder is served.
    scrub_notes(served_videos(settings))
    gr.set_static_paths([served_videos(settings)])
    allow_cpu = getattr(ctx, "allow_cpu", False)
    choices = model_menu(settings, allow_cpu)  # no full-size model where it cannot run
    start_model = default_model(settings, allow_cpu)
    try:
        start = model_defaults(settings, start_model)
    except Exception:  # noqa: BLE001 - a bad configured model must not stop the app from starting
        start = [None] * len(NUMBER_FIELDS)

    source = gr.Markdown("Expand a prompt in the Expand tab, or type prompts below, one per line.")
    prompts_box = gr.Textbox(label="Prompts, one per line", lines=6, max_lines=30)
    filled = gr.State("")  # the text this tab last put in the box: anything else is the user's edit
    use_new = gr.Button("Use the new set from the Expand tab", visible=False, size="sm")
    gr.Markdown(hardware_note(settings, allow_cpu), elem_id="render-hardware")
    with gr.Row():
        model = gr.Dropdown(choices, value=start_model, scale=3,
                            label="Video model (tiny-random-wan: CPU plumbing check)")
        seeds = gr.Textbox("0", label="Seeds: one for all videos, or one per video (0,1,2,...)", scale=2)
        button = gr.Button("Render", variant="primary", scale=1)
    with gr.Accordion("Settings (blank = the model's default)", open=False):
        with gr.Row():
            steps = Number(start[0], label="steps", precision=0, minimum=1)
            frames = Number(start[1], label="frames (Wan: 4k+1)", precision=0, minimum=1)
            guidance = Number(start[2], label="guidance", minimum=0)
            height = Number(start[3], label="height (multiple of 16)", precision=0, minimum=16)
            width = Number(start[4], label="width (multiple of 16)", precision=0, minimum=16)
            fps = Number(start[5], label="fps", precision=0, minimum=1)
        with gr.Row():
            batch_size = Number(4, label="videos per pipeline call (halved on out-of-memory)", precision=0,
                                   minimum=1)
            dtype = gr.Dropdown(["auto", "bfloat16", "float16", "float32"], value="auto", label="dtype")
            cpu_offload = gr.Checkbox(False, label="CPU offload")
            vae_tiling = gr.Checkbox(False, label="VAE tiling")
            vae_slicing = gr.Checkbox(False, label="VAE slicing")
        negative = gr.Textbox(label="Negative prompt (what no video should show; blank: none)", max_lines=3,
                              elem_id="render-negative")
    status = gr.Markdown(elem_id="render-status", elem_classes=["dpp-live"])
    grid = gr.HTML(EMPTY_GRID)
    all_clips = gr.File(label="All clips (.zip, with prompts.txt)", visible=False, elem_id="render-zip")
    # One click adds the grid as a study item (the attention-check choice beside it), then opens Annotate.
    with gr.Row(visible=False) as study:
        study_check = gr.Checkbox(True, label="also add an attention-check item (its first clip repeated)",
                                  scale=2, elem_id="render-study-check")
        study_button = gr.Button("Create an annotation study from this grid", scale=1,
                                 elem_id="render-study-button")
    study_status = gr.Markdown(elem_id="render-study-status")

    numbers = [steps, frames, guidance, height, width, fps]
    model.change(bind(model_defaults, settings), inputs=model, outputs=numbers)
    ctx.prompt_set.change(prompts_on_new_set, inputs=[ctx.prompt_set, prompts_box, filled],
                          outputs=[prompts_box, source, filled, use_new], api_visibility="private")
    use_new.click(use_new_set, inputs=ctx.prompt_set, outputs=[prompts_box, source, filled, use_new],
                  api_visibility="private")

    event = button.click(
        bind(render_as_user, ctx),
        inputs=[prompts_box, model, *numbers, seeds, batch_size, dtype, cpu_offload, vae_tiling, vae_slicing,
                ctx.prompt_set, negative],
        outputs=[grid, status, ctx.rendered_set],
        api_name="on_render",
        **ctx.model_queue,
    )
    saved_grid = getattr(ctx, "saved_grid", None)
    if saved_grid is not None:  # kept in the browser across a reload
        event.success(saved_grid_copy, ctx.rendered_set, saved_grid, api_visibility="private",
                      show_progress="hidden")
        kept = gr.State(None)  # set on page load only when the browser kept a grid (see the Expand tab)
        on_page_load(kept_or_none, saved_grid, kept, api_visibility="private", show_progress="hidden")
        restored = kept.change(bind(restore_grid, settings), kept,
                               [grid, status, ctx.rendered_set, prompts_box, filled], api_visibility="private",
                               show_progress="hidden")
        restored.success(bind(show_study_row, ctx), inputs=ctx.rendered_set, outputs=study, api_visibility="private")
    event.success(bind(show_study_row, ctx), inputs=ctx.rendered_set, outputs=study, api_visibility="private")
    event.success(zip_download, inputs=ctx.rendered_set, outputs=all_clips, api_visibility="private",
                  show_progress="hidden")
    study_button.click(bind(add_grid, ctx), inputs=[ctx.rendered_set, study_check], outputs=study_status,
                       api_visibility="private").success(open_annotate, outputs=ctx.tabs, api_visibility="private")
