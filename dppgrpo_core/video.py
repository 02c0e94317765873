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
plumbing check that runs on CPU). Backends live in `video_backends.py`.

A file is named by a hash of (model, prompt, seed, the settings that change pixels), so the
same request renders once. Several prompts go through one pipeline call (`batch_size`);
a CUDA out-of-memory halves the batch and retries, and any other failure of a batch retries
its prompts one by one, so one bad video is reported while the others still render.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import checks
from .cli import ArgumentParser, real, run_main, whole
from .errors import UserFacingError
from .settings import Settings

MAX_PROMPTS = 256
MAX_PROMPT_CHARS = 2000  # characters of one prompt (the Expand tab's limit; T5 reads about 512 tokens)
MAX_PROMPTS_FILE_BYTES = 10_000_000


@dataclass(frozen=True)
class RenderSettings:
    """What to render and how. None means "the model's default" (see `video_backends.MODEL_DEFAULTS`)."""

    steps: int | None = None  # denoising steps
    frames: int | None = None  # frames per video (Wan: 4k+1)
    guidance: float | None = None  # classifier-free guidance scale
    height: int | None = None  # pixels, a multiple of 16
    width: int | None = None
    fps: int | None = None  # playback rate written into the mp4
    negative_prompt: str | None = None
    dtype: str = "auto"  # "auto" (the model card's on GPU, float32 on CPU), "bfloat16", "float16", "float32"
    # Memory and run options: they do not change what is rendered, so they are not part of the cache key.
    batch_size: int = 4  # prompts per pipeline call; halved automatically on CUDA out-of-memory
    cpu_offload: bool = False  # diffusers model CPU offload: each component moves to the GPU only while it runs
    vae_tiling: bool = False  # decode the video in spatial tiles (less peak memory at high resolution)
    vae_slicing: bool = False  # decode one video of the batch at a time
    allow_cpu: bool = False  # let a full-size model run on CPU (hours per video); refused otherwise
    timeout_s: float = 3600.0  # per video, for command: backends

    CACHE_FIELDS = ("steps", "frames", "guidance", "height", "width", "fps", "negative_prompt", "dtype")

    def filled(self, defaults: dict) -> "RenderSettings":
        """These settings with every None replaced by the model's default."""
        return dataclasses.replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})

    def cache_fields(self) -> dict:
        return {name: getattr(self, name) for name in self.CACHE_FIELDS}

    # Accepted ranges of the numbers (None = the model's default): checked once for the app and the command line.
    RANGES = {"steps": (1, 1000), "frames": (1, 1024), "guidance": (0, 100), "height": (16, 4096),
              "width": (16, 4096), "fps": (1, 240), "batch_size": (1, MAX_PROMPTS)}
    WHOLE = ("steps", "frames", "height", "width", "fps", "batch_size")

    def check(self) -> None:
        """UserFacingError (one line) for a number that is not finite, not whole where it must be, or out of
        RANGES; a dtype that is not one of auto, bfloat16, float16, float32; a negative prompt that is not text."""
        for name, (low, high) in self.RANGES.items():
            value = getattr(self, name)
            if value is not None:
                checks.number(value, name.replace("_", " "), low, high, whole=name in self.WHOLE)
        if self.dtype not in ("auto", "bfloat16", "float16", "float32"):
            raise UserFacingError(f"dtype must be auto, bfloat16, float16 or float32, got {checks.shown(self.dtype)}.")
        if self.negative_prompt is not None:
            checks.text(self.negative_prompt, "the negative prompt", MAX_PROMPT_CHARS, allow_empty=True)
        checks.number(self.timeout_s, "timeout", 0.001, 7 * 24 * 3600)


@dataclass
class VideoJob:
    index: int  # position in the prompt set
    prompt: str
    seed: int
    path: Path  # final cached file
    tmp: Path  # where the backend writes; moved onto `path` once complete


@dataclass
class VideoResult:
    index: int
    prompt: str
    seed: int
    path: str | None  # the mp4, or None when it failed
    error: str | None = None
    cached: bool = False  # True when the file was already there
    seconds: float = 0.0  # render time of its batch, shared evenly among the batch's videos

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def video_key(model_id: str, prompt: str, seed: int, settings: RenderSettings) -> str:
    """Stable name of one rendered video: a hash of everything that changes its pixels."""
    payload = json.dumps({"model": model_id, "prompt": prompt, "seed": seed, **settings.cache_fields()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def videos_dir(cache_dir: str | os.PathLike) -> Path:
    path = Path(cache_dir).expanduser() / "videos"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserFacingError(f"Cannot use the cache folder {checks.shown(str(path))}: {exc.strerror or exc}.") from None
    return path


def seed_list(seeds, n: int) -> list[int]:
    """One seed per prompt. An int gives every prompt the same seed, so the videos differ only by prompt.
    Each seed is a whole number from 0 to 2**63 - 1 (UserFacingError otherwise)."""
    if seeds is None:
        seeds = 0
    if isinstance(seeds, (numbers.Number, str)):
        return [checks.seed(seeds)] * n
    seeds = [checks.seed(s) for s in seeds]
    if len(seeds) != n:
        raise UserFacingError(f"Give one seed for all prompts or one per prompt: {len(seeds)} seeds for {n} prompts.")
    return seeds


def parse_seeds(text: str | int | None, n: int) -> list[int]:
    """'7' -> [7]*n; '0, 1, 2' -> [0, 1, 2] (one per prompt)."""
    if text is None or str(text).strip() == "":
        return seed_list(0, n)
    text = str(text)
    if len(text) > 20 * (MAX_PROMPTS + 1):
        raise UserFacingError(f"Seeds: too long a list ({len(text):,} characters).")
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise UserFacingError(f"Seeds must be whole numbers separated by commas, got {checks.shown(text)}.") from None
    return seed_list(values[0] if len(values) == 1 else values, n)


def check_prompts(prompts) -> list[str]:
    """The prompts as a list of text (valid Unicode, no control characters, at most MAX_PROMPT_CHARS each and
    MAX_PROMPTS in all); an empty prompt stays (it is reported as that video's error)."""
    prompts = list(prompts)
    if not prompts:
        raise UserFacingError("There are no prompts to render.")
    if len(prompts) > MAX_PROMPTS:
        raise UserFacingError(f"At most {MAX_PROMPTS} prompts per render, got {len(prompts)}.")
    return [checks.text(p, f"prompt {i}", MAX_PROMPT_CHARS, multiline=True, allow_empty=True)
            for i, p in enumerate(prompts, 1)]


# -- mp4 files ------------------------------------------------------------------------------------

def write_mp4(frames, path: str | os.PathLike, fps: int) -> None:
    """Write frames (F, H, W, 3), floats in [0, 1] or uint8, as H.264 (yuv420p) that browsers play."""
    import imageio.v2 as imageio
    import numpy as np

    frames = np.asarray(frames)
    if frames.dtype != np.uint8:  # NaN (e.g. random weights in half precision) becomes black, not garbage
        frames = (np.clip(np.nan_to_num(frames, nan=0.0), 0.0, 1.0) * 255).round().astype(np.uint8)
    # yuv420p needs even sides; macro_block_size=2 pads odd ones instead of resizing to multiples of 16.
    with imageio.get_writer(
        str(path), format="FFMPEG", fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=2,
        quality=8, ffmpeg_log_level="error", ffmpeg_params=["-movflags", "+faststart"],
    ) as writer:
        for frame in frames:
            writer.append_data(frame)


def read_mp4(path: str | os.PathLike) -> tuple[list, dict]:
    """(decoded frames, metadata with 'codec', 'fps', 'size') of an mp4, through imageio-ffmpeg."""
    import imageio.v2 as imageio

    with imageio.get_reader(str(path), format="FFMPEG") as reader:
        meta = reader.get_meta_data()
        frames = [frame for frame in reader]
    return frames, meta


# -- rendering ------------------------------------------------------------------------------------

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
    settings: RenderSettings | None = None,
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
    from .video_backends import load_backend

    prompts = check_prompts(prompts)
    seeds = seed_list(seeds, len(prompts))
    settings = settings or RenderSettings()
    settings.check()
    backend = backend or load_backend(model)
    device = Settings(device=device).resolved_device()
    settings = backend.resolve(settings, device)
    folder = videos_dir(cache_dir if cache_dir is not None else Settings.from_env().cache_dir)

    results: dict[int, VideoResult] = {}
    pending: list[VideoJob] = []

    def finish(result: VideoResult) -> None:
        results[result.index] = result
        if on_result is not None:
            on_result(result)

    for index, (prompt, seed) in enumerate(zip(prompts, seeds)):
        key = video_key(backend.cache_id, prompt, seed, settings)
        path = folder / f"{key}.mp4"
        if not prompt.strip():
            finish(VideoResult(index, prompt, seed, None, error="empty prompt"))
        elif path.exists() and path.stat().st_size > 0:
            finish(VideoResult(index, prompt, seed, str(path), cached=True))
        else:
            tmp = folder / f".{key}.{os.getpid()}.tmp.mp4"  # ends in .mp4: ffmpeg picks the container by name
            pending.append(VideoJob(index, prompt, seed, path, tmp))
    if not pending:
        return [results[i] for i in range(len(prompts))]

    backend.prepare(settings, device)  # loads the model only when something must be rendered
    total = len(prompts)
    batch_size = min(settings.batch_size, backend.max_batch_size)
    queue = [pending[i:i + batch_size] for i in range(0, len(pending), batch_size)]
    while queue:
        batch = queue.pop(0)
        done_before = len(results)

        def on_step(step: int, steps: int, _batch=batch, _done=done_before) -> None:
            if progress is not None:
                progress((_done + len(_batch) * step / max(steps, 1)) / total,
                         f"videos {_done + 1}-{_done + len(_batch)} of {total}: step {step}/{steps}")

        start = time.perf_counter()
        try:
            backend.render(batch, settings, on_step)
        except Exception as exc:  # noqa: BLE001 - any failure is retried smaller, then reported per video
            for job in batch:
                job.tmp.unlink(missing_ok=True)
            if len(batch) > 1:
                if _is_out_of_memory(exc):
                    _free_cuda_memory()
                    batch_size = max(1, len(batch) // 2)
                else:  # one prompt may be the culprit: retry one by one
                    batch_size = 1
                queue[:0] = [batch[i:i + batch_size] for i in range(0, len(batch), batch_size)]
                continue
            if _is_out_of_memory(exc):
                _free_cuda_memory()
            job = batch[0]
            finish(VideoResult(job.index, job.prompt, job.seed, None, error=_error_text(exc),
                               seconds=time.perf_counter() - start))
            continue
        seconds = (time.perf_counter() - start) / len(batch)
        for job in batch:
            if job.tmp.exists() and job.tmp.stat().st_size > 0:
                os.replace(job.tmp, job.path)  # atomic: the cache never holds half a file
                _write_sidecar(job, backend.cache_id, settings)
                finish(VideoResult(job.index, job.prompt, job.seed, str(job.path), seconds=seconds))
            else:
                finish(VideoResult(job.index, job.prompt, job.seed, None, error="no video file was written",
                                   seconds=seconds))
    if progress is not None:
        progress(1.0, f"{total} videos")
    return [results[i] for i in range(len(prompts))]


def _write_sidecar(job: VideoJob, model_id: str, settings: RenderSettings) -> None:
    """What the cached file holds, next to it, for people and for other tools."""
    info = {"model": model_id, "prompt": job.prompt, "seed": job.seed, **settings.cache_fields()}
    job.path.with_suffix(".json").write_text(json.dumps(info, indent=2))


# -- command line -------------------------------------------------------------------------------

def load_prompt_set(path: str | os.PathLike) -> dict:
    """{"query", "method", "prompts"} from an expansion's --json output, a rendered set, or a list of strings."""
    shown = checks.shown(str(path))
    try:
        if Path(path).stat().st_size > MAX_PROMPTS_FILE_BYTES:
            raise UserFacingError(f"{shown} is larger than {MAX_PROMPTS_FILE_BYTES // 1_000_000} MB.")
        data = json.loads(Path(path).read_bytes().decode("utf-8"), parse_constant=_not_json)
    except FileNotFoundError:
        raise UserFacingError(f"No such prompts file: {shown}") from None
    except UnicodeDecodeError:
        raise UserFacingError(f"{shown} is not UTF-8 text.") from None
    except OSError as exc:
        raise UserFacingError(f"Cannot read {shown}: {exc.strerror or exc}.") from None
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise UserFacingError(f"Cannot read {shown} as JSON: {getattr(exc, 'msg', exc)}.") from None
    query, method = None, None
    if isinstance(data, dict):
        query, method = data.get("query"), data.get("method")
        if isinstance(data.get("steps"), list):
            prompts = [s.get("prompt") if isinstance(s, dict) else None for s in data["steps"]]
        else:
            prompts = data.get("prompts")
    else:
        prompts = data
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise UserFacingError(
            f"{shown} must hold a non-empty JSON list of prompt strings, or an expansion's --json output "
            '(an object with "steps": [{"prompt": ...}, ...]).'
        )
    prompts = check_prompts(prompts)
    query = checks.text(query, "query", MAX_PROMPT_CHARS, multiline=True) if isinstance(query, str) else None
    method = checks.text(method, "method", 100) if isinstance(method, str) else None
    return {"query": query, "method": method, "prompts": prompts}


def _not_json(name: str):
    raise ValueError(f"{name} is not a JSON number")


def check_out_folder(out: str | os.PathLike) -> Path:
    """The output folder, made and proven writable (a probe file is written and removed) before any rendering:
    UserFacingError for an existing file, a read-only place, or a folder that cannot be made."""
    out = Path(out).expanduser()
    shown = checks.shown(str(out))
    if out.exists() and not out.is_dir():
        raise UserFacingError(f"--out {shown} is a file; give a folder for the videos and manifest.json.")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserFacingError(f"Cannot write to --out {shown}: {exc.strerror or exc}.") from None
    manifest = out / "manifest.json"
    if manifest.exists() and not manifest.is_file():
        raise UserFacingError(f"{checks.shown(str(manifest))} is not a file; choose another --out.")
    return out


def _parse_args(argv):
    p = ArgumentParser(prog="python -m dppgrpo_core.video", description="Render one video per prompt.")
    p.add_argument("--prompts-file", required=True, help="expansion --json output, or a JSON list of strings")
    p.add_argument("--model", default=None, help="wan2.1, cogvideox, tiny-random-wan, tiny-random-cogvideox, "
                   "wan2.1:PATH, cogvideox:PATH, or 'command:TEMPLATE' (env DPPGRPO_VIDEO_MODEL)")
    p.add_argument("--out", required=True, help="folder for the videos (copies of the cache) and manifest.json")
    p.add_argument("--seeds", default="0", help="one seed for all prompts, or one per prompt: '0,1,2,3'")
    ranges = RenderSettings.RANGES
    for name in ("steps", "frames", "guidance", "height", "width", "fps"):
        kind = whole(*ranges[name]) if name in RenderSettings.WHOLE else real(*ranges[name])
        p.add_argument(f"--{name}", type=kind, default=None,
                       help=f"{ranges[name][0]} to {ranges[name][1]}; default: the model's")
    p.add_argument("--negative-prompt", default=None)
    p.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float16", "float32"])
    p.add_argument("--batch-size", type=whole(*ranges["batch_size"]), default=4,
                   help="prompts per pipeline call (halved on out-of-memory)")
    p.add_argument("--cpu-offload", action="store_true", help="diffusers model CPU offload")
    p.add_argument("--vae-tiling", action="store_true")
    p.add_argument("--vae-slicing", action="store_true")
    p.add_argument("--allow-cpu", action="store_true", help="run a full-size model on CPU (hours per video)")
    Settings.add_arguments(p, only=("device", "cache_dir"))
    return p.parse_args(argv)


def _export(results: list[VideoResult], prompt_set: dict, out: Path, model: str) -> Path:
    """Copy the videos into `out` as 00-<hash>.mp4, ... and write manifest.json (the rendered set)."""
    out.mkdir(parents=True, exist_ok=True)
    videos = []
    for r in results:
        target = None
        if r.path:
            target = out / f"{r.index:02d}-{Path(r.path).name}"
            if not target.exists():
                try:
                    os.link(r.path, target)  # same disk: free; else copy
                except OSError:
                    shutil.copyfile(r.path, target)
            target = str(target)
        videos.append(target)
    manifest = {**prompt_set, "model": model, "videos": videos, "results": [r.to_dict() for r in results]}
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2))
    return path


def _export_checked(results: list[VideoResult], prompt_set: dict, out: Path, model: str) -> Path:
    try:
        return _export(results, prompt_set, out, model)
    except OSError as exc:  # --out was checked before rendering; the disk may still fill up
        raise UserFacingError(f"Cannot write the videos to {checks.shown(str(out))}: {exc.strerror or exc}.") from None


def _main(argv) -> int:
    args = _parse_args(argv)
    from tqdm.auto import tqdm

    settings = Settings.from_args(args)
    model = args.model or settings.video_model
    prompt_set = load_prompt_set(args.prompts_file)
    prompts = prompt_set["prompts"]
    seeds = parse_seeds(args.seeds, len(prompts))
    render = RenderSettings(
        steps=args.steps, frames=args.frames, guidance=args.guidance, height=args.height, width=args.width,
        fps=args.fps, negative_prompt=args.negative_prompt, dtype=args.dtype, batch_size=args.batch_size,
        cpu_offload=args.cpu_offload, vae_tiling=args.vae_tiling, vae_slicing=args.vae_slicing,
        allow_cpu=args.allow_cpu,
    )
    render.check()
    from .video_backends import load_backend

    backend = load_backend(model)  # bad model names fail here, before any process split
    state, device, indices = None, settings.device, list(range(len(prompts)))
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # under `accelerate launch`: one share of prompts per GPU
        from accelerate import PartialState

        state = PartialState()
        device = str(state.device)
        with state.split_between_processes(indices) as share:
            indices = list(share)
    else:
        settings.check_device()  # --device bogus: a device error, before any model loads
    if state is None or state.is_main_process:
        check_out_folder(args.out)  # a file or a read-only place: refused before hours of rendering
    position = state.process_index if state else 0
    with tqdm(total=len(indices), desc=f"render {model}"[:40], unit="video", file=sys.stderr,
              position=position) as bar:
        mine = render_videos(
            [prompts[i] for i in indices], [seeds[i] for i in indices], model, render, settings.cache_dir,
            device, on_result=lambda r: bar.update(1), backend=backend,
        ) if indices else []
    for r, i in zip(mine, indices):
        r.index = i
    results = mine
    if state is not None:
        from accelerate.utils import gather_object

        results = sorted(gather_object(mine), key=lambda r: r.index)
        if not state.is_main_process:
            return 0
    manifest = _export_checked(results, prompt_set, Path(args.out), model)
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"video {r.index} failed: {r.error}  (prompt: {r.prompt[:80]!r})", file=sys.stderr)
    print(f"{len(results) - len(failed)} of {len(results)} videos in {args.out} "
          f"({sum(r.cached for r in results)} from the cache); manifest: {manifest}")
    return 1 if failed else 0


def main(argv=None) -> int:
    """The command line: 0 when every video rendered, 1 when some failed, 2 with one line for bad input."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
