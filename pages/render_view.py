"""The Render tab's view: the grid of captioned videos, the model choices and hardware note, and the copy
of the grid a browser keeps across a reload (checked on the way back: only files of the video cache).

The grid's videos are served through a link in this process's private temporary folder (`served_videos`),
so their URLs name no server folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import re
from pathlib import Path
from urllib.parse import quote

import gradio as gr

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.sets import RenderedSet, check_prompts
from dppgrpo_core.settings import Settings
from dppgrpo_core.video import videos_dir
from dppgrpo_core.video.backends import (
    CONFIGURED_MODEL,
    DiffusersBackend,
    enabled_models,
    load_backend,
    model_for_client,
)
from pages.scratch import private_folder

NUMBER_FIELDS = ("steps", "frames", "guidance", "height", "width", "fps")
EMPTY_GRID = "<p style='opacity:.6'>Rendered videos appear here.</p>"


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


def _link_for(folder) -> Path:
    return private_folder("videos") / hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:16]


def served_videos(settings: Settings) -> Path:
    """The folder the grid's videos are served from: a link to `<cache_dir>/videos` in this process's private
    temporary folder (Gradio resolves it, so the same files are served; only the URL changes)."""
    link = _link_for(videos_dir(settings.cache_dir))
    try:
        link.symlink_to(videos_dir(settings.cache_dir).resolve(), target_is_directory=True)
    except FileExistsError:
        pass
    return link


def video_url(path: str) -> str:
    """The URL of a cached video, through its folder's link when it has one (`served_videos`); relative, so it
    also works when the app is mounted under a sub-path."""
    link = _link_for(Path(path).parent)
    return "gradio_api/file=" + quote(str(link / Path(path).name if link.is_symlink() else path))


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
