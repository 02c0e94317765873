"""Render one video per prompt (prompts, seeds, settings -> mp4 paths), cached by content hash.

    python -m dppgrpo_core.video --prompts-file set.json --model wan2.1 --out videos/
    python -m dppgrpo_core.video --prompts-file set.json --model tiny-random-wan --out /tmp/v   # CPU plumbing check
    accelerate launch -m dppgrpo_core.video --prompts-file set.json --out videos/              # one share per GPU

    results = render_videos(["a dog surfing", "a dog on a skateboard"], seeds=0, model="tiny-random-wan",
                            cache_dir="/tmp/cache")
    [r.path for r in results]        # /tmp/cache/videos/<hash>.mp4, H.264; None where r.error says why

`set.json` is the output of `python -m dppgrpo_core.expand ... --json` or a JSON list of
strings. Models: `wan2.1` (Wan-AI/Wan2.1-T2V-1.3B-Diffusers; paper settings: guidance 6,
40 steps, 81 frames, 480x832), `cogvideox` (THUDM/CogVideoX-2b, model card settings),
`wan2.1:PATH_OR_ID` / `cogvideox:PATH_OR_ID` for other weights, `command:TEMPLATE` for a
black-box API, and `tiny-random-wan` / `tiny-random-cogvideox` (random weights, 16x16: a
plumbing check that runs on CPU). Backends live in `backends.py`.

A file is named by a hash of (model, prompt, seed, the settings that change pixels), so the
same request renders once. The `.json` note beside it names the model by its public name and a hash
only (`public_note`): the videos folder is served to the app's clients, and a model spec may hold a
server folder or a command template with its API key. Several prompts go through one pipeline call (`batch_size`);
a CUDA out-of-memory halves the batch and retries, and any other failure of a batch retries
its prompts one by one, so one bad video is reported while the others still render.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.sets import check_prompts
from dppgrpo_core.settings import Settings, resolve_device
from dppgrpo_core.video.backends import load_backend
from dppgrpo_core.video.options import (
    RenderSettings,
    VideoJob,
    VideoResult,
    seed_list,
)


def video_key(model_id: str, prompt: str, seed: int, render_settings: RenderSettings) -> str:
    """Stable name of one rendered video: a hash of everything that changes its pixels."""
    payload = json.dumps({"model": model_id, "prompt": prompt, "seed": seed, **render_settings.cache_fields()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def videos_dir(cache_dir: str | os.PathLike) -> Path:
    path = Path(cache_dir).expanduser() / "videos"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserFacingError(f"Cannot use the cache folder {checks.shown(str(path))}: {exc.strerror or exc}.") from None
    return path


def _is_out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _free_cuda_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, UserFacingError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else 'no message'}"


def render_videos(
    prompts: list[str],
    seeds=0,
    model: str = "wan2.1",
    render_settings: RenderSettings | None = None,
    cache_dir: str | os.PathLike | None = None,
    device: str = "auto",
    progress: Callable[[float, str], None] | None = None,
    on_result: Callable[[VideoResult], None] | None = None,
    backend=None,
) -> list[VideoResult]:
    """Render (or fetch from the cache) one mp4 per prompt; results are in prompt order.

    `progress(fraction, text)` is called as denoising steps finish; `on_result(result)` as each
    video is done. Raises UserFacingError/ModelUnavailable for problems that stop every video
    (bad settings, no GPU, missing weights); a failure of one video is in its result's `error`.
    """
    prompts = check_prompts(prompts)
    seeds = seed_list(seeds, len(prompts))
    render_settings = render_settings or RenderSettings()
    render_settings.check()
    backend = backend or load_backend(model)
    device = resolve_device(device)
    render_settings = backend.resolve(render_settings, device)
    folder = videos_dir(cache_dir if cache_dir is not None else Settings().cache_dir)

    results: dict[int, VideoResult] = {}

    def finish(result: VideoResult) -> None:
        results[result.index] = result
        if on_result is not None:
            on_result(result)

    pending = _cached_or_pending(prompts, seeds, backend.cache_id, render_settings, folder, finish)
    if pending:
        backend.prepare(render_settings, device)  # loads the model only when something must be rendered
        _render_batches(backend, pending, render_settings, len(prompts), finish, progress)
    if pending and progress is not None:
        progress(1.0, f"{len(prompts)} videos")
    return [results[i] for i in range(len(prompts))]


def _cached_or_pending(prompts, seeds, cache_id: str, render_settings: RenderSettings, folder: Path, finish) -> list[VideoJob]:
    """Finish each empty prompt (an error) and each video already in the cache; the others, as jobs to render."""
    pending = []
    for index, (prompt, seed) in enumerate(zip(prompts, seeds)):
        key = video_key(cache_id, prompt, seed, render_settings)
        path = folder / f"{key}.mp4"
        if not checks.stripped(prompt):  # blank, or only zero-width characters
            finish(VideoResult(index, prompt, seed, None, error="empty prompt"))
        elif path.exists() and path.stat().st_size > 0:
            finish(VideoResult(index, prompt, seed, str(path), cached=True))
        else:
            tmp = folder / f".{key}.{os.getpid()}.tmp.mp4"  # ends in .mp4: ffmpeg picks the container by name
            pending.append(VideoJob(index, prompt, seed, path, tmp))
    return pending


def _render_batches(backend, pending: list[VideoJob], render_settings: RenderSettings, total: int, finish, progress) -> None:
    """Render the jobs in batches; an out-of-memory batch is halved and retried, any other failed batch is
    retried one prompt at a time, and a single prompt that still fails is finished with its error."""
    done = total - len(pending)
    batch_size = min(render_settings.batch_size, backend.max_batch_size)
    queue = [pending[i:i + batch_size] for i in range(0, len(pending), batch_size)]
    while queue:
        batch = queue.pop(0)

        def on_step(step: int, steps: int, _batch=batch, _done=done) -> None:
            if progress is not None:
                progress((_done + len(_batch) * step / max(steps, 1)) / total,
                         f"videos {_done + 1}-{_done + len(_batch)} of {total}: step {step}/{steps}")

        start = time.perf_counter()
        try:
            backend.render(batch, render_settings, on_step)
        except Exception as exc:  # noqa: BLE001 - any failure is retried smaller, then reported per video
            for job in batch:
                job.tmp.unlink(missing_ok=True)
            if _is_out_of_memory(exc):
                _free_cuda_memory()
            if len(batch) > 1:
                # Out of memory: half the batch; anything else: one prompt may be the culprit, so one by one.
                batch_size = max(1, len(batch) // 2) if _is_out_of_memory(exc) else 1
                queue[:0] = [batch[i:i + batch_size] for i in range(0, len(batch), batch_size)]
                continue
            job = batch[0]
            finish(VideoResult(job.index, job.prompt, job.seed, None, error=_error_text(exc),
                               seconds=time.perf_counter() - start))
            done += 1
            continue
        seconds = (time.perf_counter() - start) / len(batch)
        for job in batch:
            if job.tmp.exists() and job.tmp.stat().st_size > 0:
                os.replace(job.tmp, job.path)  # atomic: the cache never holds half a file
                _write_sidecar(job, backend, render_settings)
                finish(VideoResult(job.index, job.prompt, job.seed, str(job.path), seconds=seconds))
            else:
                finish(VideoResult(job.index, job.prompt, job.seed, None, error="no video file was written",
                                   seconds=seconds))
        done += len(batch)


def model_note(backend) -> dict:
    """How a note names the model: its public name and a hash of the full spec (the same spec, the same hash),
    never the spec itself.

    >>> from dppgrpo_core.video.backends import load_backend
    >>> model_note(load_backend("command:veo3 --key sk-123 --prompt {prompt} --out {out}"))["model"]
    'command (configured)'
    """
    public = getattr(backend, "public_id", "configured")  # a backend without one is named by nothing it holds
    return {"model": public, "model_hash": hashlib.sha256(backend.cache_id.encode()).hexdigest()[:16]}


def _write_sidecar(job: VideoJob, backend, render_settings: RenderSettings) -> None:
    """What the cached file holds, next to it, for people and for other tools (no model spec: see `model_note`)."""
    info = {**model_note(backend), "prompt": job.prompt, "seed": job.seed, **render_settings.cache_fields()}
    job.path.with_suffix(".json").write_text(json.dumps(info, indent=2))


def scrub_notes(folder: str | os.PathLike) -> int:
    """Rewrite the notes that older versions wrote with the full model spec (`"model": "command:..."` or a
    folder) to `model_note`'s form, so a served videos folder holds no template; returns how many changed."""
    from dppgrpo_core.video.backends import load_backend

    changed = 0
    for note in Path(folder).glob("*.json"):
        try:
            info = json.loads(note.read_text())
        except (OSError, ValueError):
            continue  # not a note of ours: left alone
        if not isinstance(info, dict) or "model_hash" in info or not isinstance(info.get("model"), str):
            continue
        spec = info["model"]
        try:
            info.update(model_note(load_backend(spec)))
        except UserFacingError:  # a spec this version no longer reads: still never kept
            info.update(model=f"{spec.partition(':')[0]} (configured)",
                        model_hash=hashlib.sha256(spec.encode()).hexdigest()[:16])
        note.write_text(json.dumps(info, indent=2))
        changed += 1
    return changed
