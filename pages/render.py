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

import functools
import html
import importlib.util
from urllib.parse import quote

import gradio as gr

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.settings import Settings
from dppgrpo_core.video import MAX_PROMPTS, RenderSettings, parse_seeds, render_videos, videos_dir
from dppgrpo_core.video_backends import CONFIGURED_MODEL, enabled_models, load_backend, model_for_client
from pages.context import gpu

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
    if value is None or value == "":
        return None
    if kind is int and float(value) != int(value):
        raise UserFacingError(f"{name} must be a whole number, got {value}.")
    return kind(value)


def render_grid(settings: Settings, prompts_text, model, steps, frames, guidance, height, width, fps, seeds,
                batch_size, dtype, cpu_offload, vae_tiling, vae_slicing, prompt_set, progress=None):
    """Render the prompts (one per line) and return (grid html, status markdown, rendered set)."""
    prompts = [line.strip() for line in (prompts_text or "").splitlines() if line.strip()]
    if not prompts:
        raise gr.Error("Type prompts, one per line, or expand a prompt in the Expand tab first.")
    if len(prompts) > MAX_PROMPTS:
        raise gr.Error(f"At most {MAX_PROMPTS} prompts per grid, got {len(prompts)}.")
    try:
        spec = model_for_client(model, settings.video_model)  # a name the server enabled, never a spec
        render = RenderSettings(
            steps=_number(steps, "steps"), frames=_number(frames, "frames"),
            guidance=_number(guidance, "guidance", float), height=_number(height, "height"),
            width=_number(width, "width"), fps=_number(fps, "fps"), dtype=dtype or "auto",
            batch_size=_number(batch_size, "batch size") or 1, cpu_offload=bool(cpu_offload),
            vae_tiling=bool(vae_tiling), vae_slicing=bool(vae_slicing),
        )
        seed_values = parse_seeds(seeds, len(prompts))

        def report(fraction: float, text: str) -> None:
            if progress is not None:
                progress(fraction, desc=text)

        results = render_videos(prompts, seed_values, spec, render, settings.cache_dir,
                                settings.device, progress=report)
    except UserFacingError as exc:
        raise gr.Error(str(exc)) from None

    done = [r for r in results if r.path]
    failed = [r for r in results if not r.path]
    cached = sum(r.cached for r in results)
    status = f"**{len(done)} of {len(results)} videos** rendered with `{model}`"
    status += f" ({cached} from the cache)." if cached else "."
    if failed:
        status += " Failed: " + "; ".join(f"#{r.index + 1}: {html.escape(r.error or '')}" for r in failed)
        gr.Warning(f"{len(failed)} of {len(results)} videos failed" + ("; the others are shown." if done else "."))
    same_set = bool(prompt_set) and list(prompt_set.get("prompts") or []) == prompts
    rendered = {
        "query": prompt_set.get("query") if same_set else None,
        "method": (prompt_set.get("method") if same_set else None) or "manual",
        # Only rendered pairs, so prompts[i] always belongs to videos[i]; failures are listed apart.
        "prompts": [r.prompt for r in done],
        "videos": [r.path for r in done],
        "seeds": [r.seed for r in done],
        "model": model,
        "failed": [{"prompt": r.prompt, "error": r.error} for r in failed],
    }
    return grid_html(results), status, rendered


def build(ctx) -> None:
    settings = ctx.settings
    gr.set_static_paths([videos_dir(settings.cache_dir)])  # serve rendered videos by URL, without copying them
    choices = model_choices(settings.video_model)
    default_model = next(name for name, spec in enabled_models(settings.video_model).items()
                         if spec == settings.video_model)
    try:
        start = model_defaults(settings, default_model)
    except Exception:  # noqa: BLE001 - a bad configured model must not stop the app from starting
        start = [None] * len(NUMBER_FIELDS)

    source = gr.Markdown("Expand a prompt in the Expand tab, or type prompts below, one per line.")
    prompts_box = gr.Textbox(label="Prompts, one per line", lines=6, max_lines=30)
    with gr.Row():
        model = gr.Dropdown(choices, value=default_model, scale=3,
                            label="Video model (tiny-random-wan: CPU plumbing check)")
        seeds = gr.Textbox("0", label="Seeds: one for all videos, or one per video (0,1,2,...)", scale=2)
        button = gr.Button("Render", variant="primary", scale=1)
    with gr.Accordion("Settings (blank = the model's default)", open=False):
        with gr.Row():
            steps = gr.Number(start[0], label="steps", precision=0, minimum=1)
            frames = gr.Number(start[1], label="frames (Wan: 4k+1)", precision=0, minimum=1)
            guidance = gr.Number(start[2], label="guidance", minimum=0)
            height = gr.Number(start[3], label="height (multiple of 16)", precision=0, minimum=16)
            width = gr.Number(start[4], label="width (multiple of 16)", precision=0, minimum=16)
            fps = gr.Number(start[5], label="fps", precision=0, minimum=1)
        with gr.Row():
            batch_size = gr.Number(4, label="videos per pipeline call (halved on out-of-memory)", precision=0,
                                   minimum=1)
            dtype = gr.Dropdown(["auto", "bfloat16", "float16", "float32"], value="auto", label="dtype")
            cpu_offload = gr.Checkbox(False, label="CPU offload")
            vae_tiling = gr.Checkbox(False, label="VAE tiling")
            vae_slicing = gr.Checkbox(False, label="VAE slicing")
    status = gr.Markdown()
    grid = gr.HTML(EMPTY_GRID)
    study = None
    if importlib.util.find_spec("pages.annotate") is not None:
        study = gr.Button("Create an annotation study from this grid", visible=False)

    numbers = [steps, frames, guidance, height, width, fps]
    model.change(functools.partial(model_defaults, settings), inputs=model, outputs=numbers)
    ctx.prompt_set.change(prompts_from_set, inputs=ctx.prompt_set, outputs=[prompts_box, source])

    @gpu
    def on_render(*args, progress=gr.Progress()):
        return render_grid(settings, *args, progress=progress)

    event = button.click(
        on_render,
        inputs=[prompts_box, model, *numbers, seeds, batch_size, dtype, cpu_offload, vae_tiling, vae_slicing,
                ctx.prompt_set],
        outputs=[grid, status, ctx.rendered_set],
        **ctx.model_queue,
    )
    if study is not None:
        event.success(lambda rendered: gr.Button(visible=bool(rendered and rendered["videos"])),
                      inputs=ctx.rendered_set, outputs=study)
        study.click(lambda: gr.Tabs(selected="annotate"), outputs=ctx.tabs)
