"""The video table of `python -m eval.benchmark --videos DIR`: per-video features of each rendered set.

    found = find_videos(Path("renders"))     # {(prompt_id, method): {"videos": [Path], "render_s": [...] | None}}

DIR holds either DIR/manifest.jsonl (one JSON object a line: prompt, method, videos, optional
render_s) or DIR/<method>/<prompt_id(prompt)>/*.mp4 with an optional render_s.json. Each set's row
(Vendi and truncated entropy of the frame features, TIE with an Inception file, CLIP score with a
CLIP encoder, render seconds) is cached under OUT/cache/videos/ by encoder, frame count and the
videos' sizes and times.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from dppgrpo_core.errors import UserFacingError

from . import metrics
from .harness import digest, prompt_id, read_json, write_json


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
                timings = read_json(set_dir / "render_s.json")
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
    path = out / "cache" / "videos" / method / f"{prompt_id(prompt)}-{digest(key)}.json"
    cached = read_json(path)
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
    write_json(path, {"key": key, "row": row})
    return row


def video_metric_names(encoder) -> dict[str, str]:
    """Column headers; 'TCE' only when the features really are CLIP's, so encoders are never mixed up."""
    entropy = "TCE ↑" if encoder.has_text else f"truncated entropy ({encoder.name}) ↑"
    return {"vendi": f"Vendi ({encoder.name}) ↑", "truncated_entropy": entropy, "tie": "TIE ↑",
            "clip_score": "CLIP score ↑", "pairwise_distance": "pairwise cos dist ↑"}


def video_rows(args, settings, prompts: list[str], methods: list[str], out: Path, found: dict | None = None):
    """The video table's rows for the sets of `prompts` × `methods` found under --videos (`found`: `find_videos` of
    it, when the caller has read it already), its headers, the encoder."""
    from tqdm.auto import tqdm

    from .features import InceptionEncoder, load_image_encoder

    found = find_videos(Path(args.videos)) if found is None else found
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
