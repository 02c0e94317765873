"""The command line `python -m dppgrpo_core.video` (examples in `render.py`), and the files it reads and writes."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from dppgrpo_core import checks
from dppgrpo_core.cli import ArgumentParser, real, run_main, whole
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.sets import PromptSet
from dppgrpo_core.settings import Settings
from dppgrpo_core.video.backends import load_backend
from dppgrpo_core.video.options import RenderSettings, VideoResult, parse_seeds
from dppgrpo_core.video.render import render_videos


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


def _export(results: list[VideoResult], prompt_set: PromptSet, out: Path, model: str) -> Path:
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
    manifest = {"query": prompt_set.query, "method": prompt_set.method, "prompts": prompt_set.prompts,
                "model": model, "videos": videos, "results": [r.to_dict() for r in results]}
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2))
    return path


def _export_checked(results: list[VideoResult], prompt_set: PromptSet, out: Path, model: str) -> Path:
    try:
        return _export(results, prompt_set, out, model)
    except OSError as exc:  # --out was checked before rendering; the disk may still fill up
        raise UserFacingError(f"Cannot write the videos to {checks.shown(str(out))}: {exc.strerror or exc}.") from None


def _main(argv) -> int:
    args = _parse_args(argv)
    from tqdm.auto import tqdm

    settings = Settings.from_args(args)
    model = args.model or settings.video_model
    prompt_set = PromptSet.read(args.prompts_file)
    prompts = prompt_set.prompts
    seeds = parse_seeds(args.seeds, len(prompts))
    render_settings = RenderSettings(
        steps=args.steps, frames=args.frames, guidance=args.guidance, height=args.height, width=args.width,
        fps=args.fps, negative_prompt=args.negative_prompt, dtype=args.dtype, batch_size=args.batch_size,
        cpu_offload=args.cpu_offload, vae_tiling=args.vae_tiling, vae_slicing=args.vae_slicing,
        allow_cpu=args.allow_cpu,
    )
    render_settings.check()
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
            [prompts[i] for i in indices], [seeds[i] for i in indices], model, render_settings, settings.cache_dir,
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
