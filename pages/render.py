"""Render tab: one video per prompt of the set, shown as a grid (autoplay, loop, muted, captioned).

The prompts arrive from the Expand tab (`ctx.prompt_set`) and can be edited; the rendered grid
is stored in `ctx.rendered_set` for the Annotate tab. Full-size models need a GPU; the model
`tiny-random-wan` renders 16x16 noise on CPU in seconds, as a plumbing check. Videos are served
from the cache folder `<cache_dir>/videos` (a Gradio static path), named by content hash, so a
grid rendered once is free the next time.

    html, status, rendered = render_grid(settings, "a dog\\na cat", "tiny-random-wan", *[None] * 6, "0", 4,
                                         "auto", False, False, False, None)
"""

from __future__ import annotations

import dataclasses
import functools
import html
import importlib.util
import re
from pathlib import Path
from urllib.parse import quote

import gradio as gr

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.sets import RenderedSet
from dppgrpo_core.settings import Settings
from dppgrpo_core.video import (
    MAX_PROMPT_CHARS,
    MAX_PROMPTS,
    RenderSettings,
    check_prompts,
    parse_seeds,
    render_videos,
    videos_dir,
)
from dppgrpo_core.video.backends import (
    CONFIGURED_MODEL,
    DiffusersBackend,
    enabled_models,
    load_backend,
    model_for_client,
)
from pages.context import gpu, on_page_load, refused
from pages.fields import Number

NUMBER_FIELDS = ("steps", "frames", "guidance", "height", "width", "fps")
EMPTY_GRID = "<p style='opacity:.6'>Rendered videos appear here.</p>"


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


def _cpu_only(settings: Settings) -> bool:
    try:
        return not settings.check_device().startswith("cuda")
    except UserFacingError:
        return True


def _full_size(spec: str) -> bool:
    try:
        backend = load_backend(spec)
    except Exception:  # noqa: BLE001 - a bad configured model must not stop the app from starting
        return False
    return isinstance(backend, DiffusersBackend) and not backend.tiny


def default_model(settings: Settings, allow_cpu: bool = False) -> str:
    """The model the tab starts with: the server's, unless that is a full-size model and this machine has no
    CUDA GPU (and no --allow-cpu): then tiny-random-wan, which renders on a CPU in seconds."""
    configured = next(name for name, spec in enabled_models(settings.video_model).items()
                      if spec == settings.video_model)
    if allow_cpu or not _cpu_only(settings) or not _full_size(settings.video_model):
        return configured
    return "tiny-random-wan"


def hardware_note(settings: Settings, allow_cpu: bool = False) -> str:
    """One line on what this machine can render, and what the full-size models would need."""
    if not _cpu_only(settings):
        return "A CUDA GPU is available: wan2.1 and cogvideox render here (minutes per video)."
    if allow_cpu:
        return ("No CUDA GPU here; the server runs with `--allow-cpu`, so wan2.1 and cogvideox may run on the CPU "
                "(hours per video). tiny-random-wan is the quick plumbing check.")
    return ("No CUDA GPU here, so the default is **tiny-random-wan**: 16×16 noise in seconds, a plumbing check. "
            "wan2.1 and cogvideox need a CUDA GPU (Wan2.1-T2V-1.3B needs about 8 GB of GPU memory, per its model "
            "card); to force them onto this CPU anyway (hours per video), start the app with `--allow-cpu`.")


VIDEO_NAME = re.compile(r"[0-9a-f]{24}\.mp4")  # the cache's content-hash names (dppgrpo_core.video)


def saved_grid_copy(rendered: dict | None):
    """What the browser keeps of the session's grid across a reload: prompts, seeds and video file names only."""
    if not rendered or not rendered.get("videos"):
        return gr.skip()
    kept = RenderedSet.from_json(rendered)
    return dataclasses.replace(kept, videos=[Path(v).name for v in kept.videos], failed=[]).to_json()


def grid_from_saved(settings: Settings, saved) -> dict:
    """A grid kept by the browser (`saved_grid_copy`), checked strictly, as a rendered set whose videos are
    files of this server's video cache; UserFacingError otherwise (a name that is not a cache file, ...)."""
    if not isinstance(saved, dict):
        raise UserFacingError("The kept grid is not an object.")
    prompts, videos, seeds = saved.get("prompts"), saved.get("videos"), saved.get("seeds") or []
    if not isinstance(prompts, list) or not isinstance(videos, list) or not isinstance(seeds, list) \
            or not prompts or len(prompts) != len(videos) or len(seeds) not in (0, len(prompts)):
        raise UserFacingError("The kept grid does not pair each prompt with one video.")
    prompts = check_prompts(prompts)
    folder = videos_dir(settings.cache_dir).resolve()
    paths = []
    for name in videos:
        if not isinstance(name, str) or not VIDEO_NAME.fullmatch(name) or not (folder / name).is_file():
            raise UserFacingError("A kept video is no longer in the server's video cache.")
        paths.append(str(folder / name))
    seeds = [checks.seed(seed) for seed in seeds]
    model = saved.get("model") if saved.get("model") in enabled_models(settings.video_model) else None
    query = saved.get("query")
    query = checks.text(query, "the query", 2000) if query is not None else None
    method = saved.get("method")
    method = checks.text(method, "the method", 40) if isinstance(method, str) else "manual"
    return RenderedSet(prompts, query, method, videos=paths, seeds=seeds, model=model).to_json()


def restore_grid(settings: Settings, saved):
    """On page load: (grid, status, rendered set, prompt box, filled text) from the grid this browser kept;
    nothing kept or anything that does not check: every output skipped."""
    skip = (gr.skip(),) * 5
    if not saved:
        return skip
    try:
        rendered = grid_from_saved(settings, saved)
    except UserFacingError:
        return skip
    results = [_Shown(i, prompt, path) for i, (prompt, path) in enumerate(zip(rendered["prompts"], rendered["videos"]))]
    text = "\n".join(rendered["prompts"])
    status = f"↩ Restored after the reload: the last grid of this browser, **{len(results)} videos**."
    return grid_html(results), status, rendered, text, text


@dataclasses.dataclass
class _Shown:
    """A video of a restored grid, shaped like a render result for `grid_html`."""

    index: int
    prompt: str
    path: str
    error: str | None = None


def model_choices(configured: str) -> list[tuple[str, str]]:
    """(label, name) pairs for the model dropdown; the server's own model shows by kind, never by its spec."""
    labels = {CONFIGURED_MODEL: f"configured on the server ({configured.partition(':')[0]})"}
    return [(labels.get(name, name), name) for name in enabled_models(configured)]


def model_defaults(settings: Settings, model: str) -> list:
    """The chosen model's default steps, frames, guidance, height, width, fps (blank when it has none)."""
    try:
        defaults = load_backend(model_for_client(model, settings.video_model)).defaults
    except UserFacingError as exc:
        gr.Warning(str(exc))
        return [gr.skip()] * len(NUMBER_FIELDS)
    return [defaults.get(name) for name in NUMBER_FIELDS]


def video_url(path: str) -> str:
    # Relative, so it also works when the app is mounted under a sub-path.
    return "gradio_api/file=" + quote(str(path))


def grid_html(results) -> str:
    """A responsive grid of <video autoplay loop muted> cards, each captioned with its escaped prompt."""
    cards = []
    for r in results:
        caption = f"<figcaption><b>#{r.index + 1}</b> {html.escape(r.prompt)}</figcaption>"
        if r.path:
            body = (f'<video src="{html.escape(video_url(r.path))}" autoplay loop muted playsinline controls '
                    'preload="auto" style="width:100%;border-radius:6px;background:#000"></video>')
        else:
            body = (f"<div style='padding:1em;border:1px dashed #c33;border-radius:6px;color:#c33'>"
                    f"not rendered: {html.escape(r.error or 'unknown error')}</div>")
        cards.append(f"<figure class='dpp-video' style='margin:0'>{body}{caption}</figure>")
    return ("<div class='dpp-grid' style='display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));"
            f"gap:14px'>{''.join(cards)}</div>")


def _number(value, name: str, kind=int):
    """A number field of the form: None when blank, else a finite number in RenderSettings.RANGES."""
    if value is None or value == "":
        return None
    low, high = RenderSettings.RANGES[name.replace(" ", "_")]
    return checks.number(value, name, low, high, whole=kind is int)


def _flag(value, name: str) -> bool:
    """A checkbox: True or False (blank counts as False); the text "false" is refused, not read as True."""
    return False if value is None else checks.boolean(value, name)


def render_grid(settings: Settings, prompts_text, model, steps, frames, guidance, height, width, fps, seeds,
                batch_size, dtype, cpu_offload, vae_tiling, vae_slicing, prompt_set, progress=None, allow_cpu=False):
    """Render the prompts (one per line) and return (grid html, status markdown, rendered set).

    `allow_cpu` is the server's --allow-cpu (never a client's choice): full-size models may then run on a CPU."""
    if prompts_text is not None and not isinstance(prompts_text, str):
        raise refused("Prompts must be text, one per line.")
    if len(prompts_text or "") > MAX_PROMPTS * (MAX_PROMPT_CHARS + 1):
        raise refused(f"The prompts are too long ({len(prompts_text):,} characters).")
    prompts = [line.strip() for line in (prompts_text or "").splitlines() if line.strip()]
    if not prompts:
        raise refused("Type prompts, one per line, or expand a prompt in the Expand tab first.")
    if len(prompts) > MAX_PROMPTS:
        raise refused(f"At most {MAX_PROMPTS} prompts per grid, got {len(prompts)}.")
    try:
        prompts = check_prompts(prompts)  # valid Unicode, no control characters, not too long
        spec = model_for_client(model, settings.video_model)  # a name the server enabled, never a spec
        if not isinstance(seeds, (str, int, float, type(None))):
            raise UserFacingError("Seeds must be whole numbers separated by commas.")
        render = RenderSettings(
            steps=_number(steps, "steps"), frames=_number(frames, "frames"),
            guidance=_number(guidance, "guidance", float), height=_number(height, "height"),
            width=_number(width, "width"), fps=_number(fps, "fps"), dtype=dtype or "auto",
            batch_size=_number(batch_size, "batch size") or 1,
            cpu_offload=_flag(cpu_offload, "CPU offload"), vae_tiling=_flag(vae_tiling, "VAE tiling"),
            vae_slicing=_flag(vae_slicing, "VAE slicing"), allow_cpu=allow_cpu is True,
        )
        render.check()
        seed_values = parse_seeds(seeds, len(prompts))

        def report(fraction: float, text: str) -> None:
            if progress is not None:
                progress(fraction, desc=text)

        results = render_videos(prompts, seed_values, spec, render, settings.cache_dir,
                                settings.device, progress=report)
    except UserFacingError as exc:
        raise refused(str(exc)) from None

    done = [r for r in results if r.path]
    failed = [r for r in results if not r.path]
    cached = sum(r.cached for r in results)
    status = f"**{len(done)} of {len(results)} videos** rendered with `{model}`"
    status += f" ({cached} from the cache)." if cached else "."
    if failed:
        status += " Failed: " + "; ".join(f"#{r.index + 1}: {html.escape(r.error or '')}" for r in failed)
        gr.Warning(f"{len(failed)} of {len(results)} videos failed" + ("; the others are shown." if done else "."))
    same_set = bool(prompt_set) and list(prompt_set.get("prompts") or []) == prompts
    # Only rendered pairs, so prompts[i] always belongs to videos[i]; failures are listed apart.
    rendered = RenderedSet(
        prompts=[r.prompt for r in done], query=prompt_set.get("query") if same_set else None,
        method=(prompt_set.get("method") if same_set else None) or "manual", videos=[r.path for r in done],
        seeds=[r.seed for r in done], model=model, failed=[{"prompt": r.prompt, "error": r.error} for r in failed],
    ).to_json()
    return grid_html(results), status, rendered


def build(ctx) -> None:
    settings = ctx.settings
    gr.set_static_paths([videos_dir(settings.cache_dir)])  # serve rendered videos by URL, without copying them
    choices = model_choices(settings.video_model)
    allow_cpu = getattr(ctx, "allow_cpu", False)
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
    status = gr.Markdown()
    grid = gr.HTML(EMPTY_GRID)
    study = None
    if importlib.util.find_spec("pages.annotate") is not None:
        # One click adds the grid as a study item (the attention-check choice beside it), then opens Annotate.
        with gr.Row(visible=False) as study:
            study_check = gr.Checkbox(True, label="also add an attention-check item (its first clip repeated)",
                                      scale=2, elem_id="render-study-check")
            study_button = gr.Button("Create an annotation study from this grid", scale=1,
                                     elem_id="render-study-button")
        study_status = gr.Markdown(elem_id="render-study-status")

    numbers = [steps, frames, guidance, height, width, fps]
    model.change(functools.partial(model_defaults, settings), inputs=model, outputs=numbers)
    ctx.prompt_set.change(prompts_on_new_set, inputs=[ctx.prompt_set, prompts_box, filled],
                          outputs=[prompts_box, source, filled, use_new], api_visibility="private")
    use_new.click(use_new_set, inputs=ctx.prompt_set, outputs=[prompts_box, source, filled, use_new],
                  api_visibility="private")

    @gpu
    def on_render(*args, progress=gr.Progress()):
        return render_grid(settings, *args, progress=progress, allow_cpu=allow_cpu)

    event = button.click(
        on_render,
        inputs=[prompts_box, model, *numbers, seeds, batch_size, dtype, cpu_offload, vae_tiling, vae_slicing,
                ctx.prompt_set],
        outputs=[grid, status, ctx.rendered_set],
        **ctx.model_queue,
    )
    saved_grid = getattr(ctx, "saved_grid", None)
    if saved_grid is not None:  # kept in the browser across a reload
        event.success(saved_grid_copy, ctx.rendered_set, saved_grid, api_visibility="private",
                      show_progress="hidden")
        kept = gr.State(None)  # set on page load only when the browser kept a grid (see the Expand tab)
        on_page_load(lambda saved: saved or None, saved_grid, kept, api_visibility="private",
                     show_progress="hidden")
        def on_restore_grid(saved):
            return restore_grid(settings, saved)

        restored = kept.change(on_restore_grid, kept,
                               [grid, status, ctx.rendered_set, prompts_box, filled], api_visibility="private",
                               show_progress="hidden")
        if study is not None:
            restored.success(study_row_for(ctx), inputs=ctx.rendered_set, outputs=study, api_visibility="private")
    if study is not None:
        from pages.annotate import add_current_set

        def add_grid(rendered: dict | None, attention: bool, request: gr.Request):
            return add_current_set(ctx, rendered, None, attention, request)

        event.success(study_row_for(ctx), inputs=ctx.rendered_set, outputs=study, api_visibility="private")
        study_button.click(add_grid, inputs=[ctx.rendered_set, study_check], outputs=study_status,
                           api_visibility="private").success(lambda: gr.Tabs(selected="annotate"), outputs=ctx.tabs,
                                                             api_visibility="private")


def study_row_for(ctx):
    """The handler that shows the one-click study row once a grid has clips (to admins only, with sign-in)."""
    from pages.annotate import is_admin

    def show(rendered: dict | None, request: gr.Request):
        return gr.Row(visible=bool(rendered and rendered.get("videos")) and is_admin(ctx, request))

    return show
