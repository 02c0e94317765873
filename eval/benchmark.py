"""Compare expansion methods on VBench prompts: diversity, relevance, efficiency, curves over set size.

    python -m eval.benchmark --n-prompts 200 --k 8 --out runs/bench                      # all four methods
    python -m eval.benchmark --n-prompts 3 --k 4 --methods original,dpp-rerank --out /tmp/b
    python -m eval.benchmark --k 8 --adapter runs/grpo/adapter --out runs/bench-grpo     # a trained policy
    python -m eval.benchmark --k 4 --videos renders/ --image-encoder openai/clip-vit-base-patch32 --out runs/b

Writes into --out: prompt_level.csv, prompt_summary.csv, curves.csv, efficiency.csv, results.md,
curves.html, meta.json (and video_level.csv / video_summary.csv with --videos). Every
(prompt, method) expansion is cached as JSON under OUT/cache/, so an interrupted run resumes
where it stopped and a re-run with the same settings only rebuilds the report.

Videos (--videos DIR), either
  DIR/manifest.jsonl: one JSON object per line
      {"prompt": "...", "method": "dpp-grpo", "videos": ["a.mp4", ...], "render_s": [41.2, ...]}
      (paths relative to DIR; render_s optional, seconds per video), or
  DIR/<method>/<prompt_id(prompt)>/*.mp4 with an optional render_s.json (a list of seconds).
They give the video-level table: Vendi and truncated entropy of per-video features (TCE when
the image encoder is CLIP), TIE with --inception PATH (else n/a), CLIP score with a CLIP encoder
(else n/a), and render overhead: expansion seconds per video as a % of render seconds per video.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dppgrpo_core import cli
from dppgrpo_core.errors import ModelUnavailable, UserFacingError
from dppgrpo_core.settings import Settings

from . import metrics
from .judge import keeps_subject_and_action
from .prompts import sample_prompts, vbench_prompts
from .report import runs_folder, write_report

DEFAULT_METHODS = ("original", "iid", "dpp-grpo", "dpp-rerank")


def prompt_id(prompt: str) -> str:
    """A file-name-safe id for a prompt: a short slug plus a hash, e.g. 'a-red-car-in-the-rain-3f2a9c1b0d'."""
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:40].strip("-")
    return f"{slug}-{hashlib.sha1(prompt.encode('utf-8')).hexdigest()[:10]}"


def _digest(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()[:12]


def _write_json_atomic(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj), encoding="utf-8")
    os.replace(tmp, path)  # a reader (or a resumed run) sees the whole file or none


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # absent or half-written by a killed run: recompute
        return None


# ---------------------------------------------------------------- expansion (cached)


def expansion_config(args, settings: Settings) -> dict:
    """What determines an expansion's output (the models, K, seed and `ExpandConfig`); part of every cache name."""
    from dppgrpo_core.expand import ExpandConfig

    return {"k": args.k, "seed": args.seed, "policy": settings.policy, "adapter": settings.adapter,
            "embedder": settings.embedder, **dataclasses.asdict(ExpandConfig.from_args(args))}


def cached_expansion(out: Path, prompt: str, method: str, config: dict, settings: Settings, embedder) -> tuple[dict, bool]:
    """(run_expansion result, whether it came from the cache) for one prompt and method."""
    from dppgrpo_core.expand import ExpandConfig, run_expansion

    path = out / "cache" / "expansions" / method / f"{prompt_id(prompt)}-{_digest(config)}.json"
    cached = _read_json(path)
    if cached is not None and cached.get("config") == config and cached.get("prompt") == prompt:
        return cached["result"], True
    options = ExpandConfig(**{f.name: config[f.name] for f in dataclasses.fields(ExpandConfig)})
    result = run_expansion(prompt, config["k"], method, config["seed"], settings=settings, embedder=embedder,
                           config=options)
    _write_json_atomic(path, {"prompt": prompt, "method": method, "config": config, "result": result})
    return result, False


# ---------------------------------------------------------------- prompt-level metrics


def set_metrics(prompt: str, method: str, result: dict, embeddings: np.ndarray) -> dict:
    """Metrics of one prompt set from its sentence embeddings (rows in set order), plus its curves."""
    steps = result["steps"]
    n = len(steps)
    keeps = [keeps_subject_and_action(s["prompt"], prompt) for s in steps]
    return {
        "prompt_id": prompt_id(prompt), "prompt": prompt, "method": method, "k": n,
        "vendi": metrics.vendi_score(embeddings),
        "log_det": metrics.dpp_log_det(embeddings),
        "pairwise_distance": metrics.mean_pairwise_cosine_distance(embeddings) if n >= 2 else math.nan,
        "relevance": float(np.mean([s["relevance"] for s in steps])),
        "distinct_prompts": len({s["prompt"] for s in steps}),
        "expansion_s": float(result["timing"]["total_s"]),
        "generate_s": float(result["timing"]["generate_s"]),
        "curve": {
            "vendi": [metrics.vendi_score(embeddings[:j]) for j in range(1, n + 1)],
            "log_det": [metrics.dpp_log_det(embeddings[:j]) for j in range(1, n + 1)],
            "vendi_faithful": [metrics.faithful_vendi(embeddings[:j], keeps[:j]) for j in range(1, n + 1)],
        },
    }


# ---------------------------------------------------------------- videos


def find_videos(folder: Path) -> dict[tuple[str, str], dict]:
    """{(prompt_id, method): {"videos": [Path], "render_s": [float] | None}} from a manifest or the folder layout."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserFacingError(f"--videos {folder} is not a folder.")
    found: dict[tuple[str, str], dict] = {}
    manifest = folder / "manifest.jsonl"
    if manifest.is_file():
        for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                key = (prompt_id(entry["prompt"]), entry["method"])
                paths = [Path(p) if Path(p).is_absolute() else folder / p for p in entry["videos"]]
            except (ValueError, KeyError, TypeError) as exc:
                raise UserFacingError(f"{manifest} line {number} is not a valid entry ({exc}).") from exc
            found[key] = {"videos": paths, "render_s": entry.get("render_s")}
        return found
    for method_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for set_dir in sorted(p for p in method_dir.iterdir() if p.is_dir()):
            videos = sorted(set_dir.glob("*.mp4"))
            if videos:
                timings = _read_json(set_dir / "render_s.json")
                found[(set_dir.name, method_dir.name)] = {"videos": videos, "render_s": timings}
    return found


def video_set_metrics(prompt: str, method: str, entry: dict, encoder, inception, n_frames: int, entropy_k: int,
                      out: Path) -> dict:
    """Video-level metrics of one set (cached by encoder, frame count and the videos' sizes and times)."""
    from .features import frame_features

    videos = [Path(v) for v in entry["videos"]]
    missing = [str(v) for v in videos if not v.is_file()]
    if missing:
        raise UserFacingError(f"Missing video files for {prompt!r} ({method}): {', '.join(missing[:3])}")
    key = {
        "encoder": encoder.name, "inception": inception.name if inception else None, "n_frames": n_frames,
        "entropy_k": entropy_k, "videos": [[str(v), v.stat().st_size, v.stat().st_mtime_ns] for v in videos],
    }
    path = out / "cache" / "videos" / method / f"{prompt_id(prompt)}-{_digest(key)}.json"
    cached = _read_json(path)
    if cached is not None and cached.get("key") == key:
        return cached["row"]
    frames = [frame_features(v, encoder, n_frames).vectors for v in videos]
    rows = np.stack([f.mean(axis=0) for f in frames])
    n = len(videos)
    k_e = min(entropy_k, n - 1)
    row = {
        "prompt_id": prompt_id(prompt), "prompt": prompt, "method": method, "n_videos": n, "encoder": encoder.name,
        "vendi": metrics.vendi_score(rows),
        "truncated_entropy": metrics.truncated_entropy(rows, k_e) if k_e >= 1 else math.nan,
        "pairwise_distance": metrics.mean_pairwise_cosine_distance(rows) if n >= 2 else math.nan,
        "clip_score": math.nan,
        "tie": math.nan,
        "render_s": float(np.sum(entry["render_s"])) if entry.get("render_s") else math.nan,
    }
    if encoder.has_text:  # alignment with the user's original prompt q, averaged over frames, then videos
        text = encoder.encode_text([prompt])[0]
        row["clip_score"] = float(np.mean([metrics.clip_score(f, text) for f in frames]))
    if inception is not None and k_e >= 1:
        pool = np.stack([frame_features(v, inception, n_frames).vectors.mean(axis=0) for v in videos])
        row["tie"] = metrics.truncated_entropy(pool, k_e)
    _write_json_atomic(path, {"key": key, "row": row})
    return row


def video_metric_names(encoder) -> dict[str, str]:
    """Column headers; 'TCE' only when the features really are CLIP's, so encoders are never mixed up."""
    entropy = "TCE ↑" if encoder.has_text else f"truncated entropy ({encoder.name}) ↑"
    return {"vendi": f"Vendi ({encoder.name}) ↑", "truncated_entropy": entropy, "tie": "TIE ↑",
            "clip_score": "CLIP score ↑", "pairwise_distance": "pairwise cos dist ↑"}


# ---------------------------------------------------------------- efficiency


def efficiency_table(set_rows: list[dict], video_rows: list[dict], methods: list[str]) -> pd.DataFrame:
    """Seconds of expansion per video, and as a % of render seconds per video where renders were timed."""
    out = []
    for method in methods:
        sets = [r for r in set_rows if r["method"] == method]
        if not sets:
            continue
        per_video = sum(r["expansion_s"] for r in sets) / sum(r["k"] for r in sets)
        timed = [r for r in video_rows if r["method"] == method and not math.isnan(r["render_s"])]
        render = sum(r["render_s"] for r in timed) / sum(r["n_videos"] for r in timed) if timed else math.nan
        out.append({"method": method, "expansion_s_per_video": per_video, "render_s_per_video": render,
                    "overhead_pct": 100.0 * per_video / render if timed and render > 0 else math.nan})
    return pd.DataFrame(out, columns=["method", "expansion_s_per_video", "render_s_per_video", "overhead_pct"])


# ---------------------------------------------------------------- command line


def parse_args(argv=None) -> argparse.Namespace:
    from dppgrpo_core.expand import MAX_K, ExpandConfig

    parser = cli.ArgumentParser(prog="python -m eval.benchmark", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-prompts", type=cli.whole(1, 10_000), default=200, help="seeded subset of the VBench prompts")
    parser.add_argument("--k", type=cli.whole(1, MAX_K), default=8, help=f"prompts (and videos) per set, 1 to {MAX_K}")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS), help="comma-separated expansion methods")
    parser.add_argument("--out", default=None, help="output folder (default: CACHE_DIR/benchmarks/latest)")
    parser.add_argument("--seed", type=cli.seed(), default=0, help="picks the prompt subset and seeds every expansion")
    ExpandConfig.add_arguments(parser)  # --lambda-div, --lambda-rel, --temperature, --n-candidates, ...
    parser.add_argument("--videos", default=None, help="folder of rendered videos (see above) for the video table")
    parser.add_argument("--n-frames", type=cli.whole(1, 256), default=8, help="frames sampled per video")
    parser.add_argument("--entropy-k", type=cli.whole(1, 10_000), default=20, help="top-k eigenvalues of TCE/TIE (capped at videos-1)")
    parser.add_argument("--inception", default=None, help="TorchScript Inception-v3 file for TIE (else TIE is n/a)")
    Settings.add_arguments(parser)  # --adapter, --policy, --embedder, --image-encoder, --device, --cache-dir, ...
    return parser.parse_args(argv)


def check_methods(text: str) -> list[str]:
    from dppgrpo_core.expand import METHODS

    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if not methods or unknown:
        raise UserFacingError(f"Unknown method(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(METHODS)}.")
    return list(dict.fromkeys(methods))


def run(args: argparse.Namespace, log=print) -> Path:
    """Run the benchmark described by parsed arguments; return the output folder."""
    from tqdm.auto import tqdm

    from dppgrpo_core.models.embedder import embed, load_embedder

    settings = Settings.from_args(args)
    methods = check_methods(args.methods)
    if args.k < 1:
        raise UserFacingError("--k must be at least 1.")
    out = Path(args.out) if args.out else runs_folder(settings.cache_path) / "latest"
    prompts = [p["prompt"] for p in sample_prompts(vbench_prompts(), args.n_prompts, args.seed)]
    config = expansion_config(args, settings)
    embedder = load_embedder(settings=settings)
    if any(m != "original" for m in methods):
        from dppgrpo_core.models.policy import load_policy

        load_policy(settings=settings)  # load once up front, so no method's timing includes loading the model

    results: dict[tuple[str, str], dict] = {}
    failures: list[str] = []
    start = time.perf_counter()
    with tqdm(total=len(prompts) * len(methods), desc="expanding", unit="set", file=sys.stderr) as bar:
        for prompt in prompts:
            for method in methods:
                bar.set_postfix_str(method)
                try:
                    results[(prompt, method)], _ = cached_expansion(out, prompt, method, config, settings, embedder)
                except ModelUnavailable:
                    raise
                except UserFacingError as exc:  # one bad generation should not sink a 200-prompt run
                    failures.append(f"{method} on {prompt!r}: {exc}")
                    log(f"warning: {failures[-1]}")
                bar.update(1)

    if not results:  # nothing to measure: a report of empty tables would read as a result
        raise UserFacingError(f"every expansion failed ({len(failures)}); the first: {failures[0]}" if failures
                              else "no prompt set was made.")
    set_rows = []
    for (prompt, method), result in results.items():
        vectors = embed([s["prompt"] for s in result["steps"]], embedder).numpy()
        set_rows.append(set_metrics(prompt, method, result, vectors))

    video_rows, video_names, encoder_name = [], None, None
    if args.videos:
        video_rows, video_names, encoder_name = _video_rows(args, settings, prompts, methods, out)

    meta = {
        "n_prompts": len(prompts), "k": args.k, "seed": args.seed, "methods": methods, "policy": settings.policy,
        "adapter": settings.adapter, "text_encoder": settings.embedder, "image_encoder": encoder_name,
        "n_frames": args.n_frames, "entropy_k": min(args.entropy_k, args.k - 1), "failures": failures,
        "video_note": "" if not video_rows else (
            "TIE: " + (f"Inception-v3 from `{args.inception}`" if args.inception else "n/a (give --inception PATH)")
            + "; CLIP score: " + ("cos(frame, q) averaged over frames and videos" if video_names and "TCE ↑" in
                                 video_names.values() else "n/a (the image encoder is not CLIP)")),
        "config": config, "wall_s": time.perf_counter() - start,
    }
    write_report(out, set_rows, video_rows, efficiency_table(set_rows, video_rows, methods), meta, video_names)
    return out


def _video_rows(args, settings, prompts, methods, out):
    from tqdm.auto import tqdm

    from .features import InceptionEncoder, load_image_encoder

    found = find_videos(Path(args.videos))
    encoder = load_image_encoder(settings=settings)
    inception = InceptionEncoder(f"inception:{args.inception}", settings.resolved_device()) if args.inception else None
    wanted = [(p, m) for p in prompts for m in methods if (prompt_id(p), m) in found]
    if not wanted:
        raise UserFacingError(f"No videos in {args.videos} match the benchmark's prompts and methods.")
    rows = []
    for prompt, method in tqdm(wanted, desc="video features", unit="set", file=sys.stderr):
        rows.append(video_set_metrics(prompt, method, found[(prompt_id(prompt), method)], encoder, inception,
                                      args.n_frames, args.entropy_k, out))
    return rows, video_metric_names(encoder), encoder.name


def _main(argv: list[str]) -> int:
    out = run(parse_args(argv), log=lambda line: print(line, file=sys.stderr))
    print((out / "results.md").read_text(encoding="utf-8"))
    print(f"wrote {out}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    """The command line (see the module doc): 0, or 2 with one line on stderr for bad input or no result."""
    return cli.run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
