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
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dppgrpo_core import cli
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.settings import Settings

from . import metrics
from .harness import expand_all, held_out_prompts, load_policy_once, out_folder, prompt_id
from .judge import keeps_subject_and_action
from .report import runs_folder, write_report
from .videos import find_videos, video_rows

DEFAULT_METHODS = ("original", "iid", "dpp-grpo", "dpp-rerank")


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
    from dppgrpo_core.expand import ExpandConfig
    from dppgrpo_core.models.embedder import embed, load_embedder

    settings = Settings.from_args(args)
    methods = check_methods(args.methods)
    found = find_videos(Path(args.videos)) if args.videos else None  # a bad --videos is one line before any expansion
    out = out_folder(args.out) if args.out else runs_folder(settings.cache_path) / "latest"
    prompts = held_out_prompts(args.n_prompts, args.seed)
    config = ExpandConfig.from_args(args)
    embedder = load_embedder(settings=settings)
    policy = load_policy_once(methods, settings)  # up front, so no method's timing includes loading the model
    start = time.perf_counter()
    made, failures = expand_all(out, [(m, m, config) for m in methods], prompts, args.k, args.seed, settings,
                                embedder, policy, log)
    set_rows = []
    for method, prompt, result in made:
        vectors = embed([s["prompt"] for s in result["steps"]], embedder).numpy()
        set_rows.append(set_metrics(prompt, method, result, vectors))

    videos, video_names, encoder_name = [], None, None
    if args.videos:
        videos, video_names, encoder_name = video_rows(args, settings, prompts, methods, out, found)

    meta = {
        "n_prompts": len(prompts), "k": args.k, "seed": args.seed, "methods": methods, "policy": settings.policy,
        "adapter": settings.adapter, "text_encoder": settings.embedder, "image_encoder": encoder_name,
        "n_frames": args.n_frames, "entropy_k": min(args.entropy_k, args.k - 1), "failures": failures,
        "video_note": "" if not videos else (
            "TIE: " + (f"Inception-v3 from `{args.inception}`" if args.inception else "n/a (give --inception PATH)")
            + "; CLIP score: " + ("cos(frame, q) averaged over frames and videos" if video_names and "TCE ↑" in
                                 video_names.values() else "n/a (the image encoder is not CLIP)")),
        "config": {"k": args.k, "seed": args.seed, "policy": settings.policy, "adapter": settings.adapter,
                   "embedder": settings.embedder, **dataclasses.asdict(config)},
        "wall_s": time.perf_counter() - start,
    }
    write_report(out, set_rows, videos, efficiency_table(set_rows, videos, methods), meta, video_names)
    return out


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
