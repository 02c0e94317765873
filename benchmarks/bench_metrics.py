"""Speed of the evaluation metrics on one 4,000 × 512 feature matrix, and the dual trick's gain for Vendi.

    python benchmarks/bench_metrics.py                 # n=4000, d=512, best of 3 repeats
    python benchmarks/bench_metrics.py --n 2000 --d 256 --repeats 5

Times every metric of eval.metrics once each (the whole set must take under 1 s), then the
Vendi score computed literally from the n×n kernel's eigendecomposition, and prints the ratio
of the two ways to the same number, measured in this one run.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from dppgrpo_core.cli import ArgumentParser, run_main, whole  # noqa: E402
from eval import metrics  # noqa: E402


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, value = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def vendi_by_n_by_n_eigendecomposition(x: torch.Tensor) -> float:
    """The definition: eigenvalues of the n×n cosine kernel / n (what the dual avoids)."""
    u = x / x.norm(dim=1, keepdim=True)
    eig = torch.linalg.eigvalsh(u @ u.T / u.shape[0]).clamp_min(0)
    p = eig[eig > 0] / eig.sum()
    return math.exp(float(-(p * p.log()).sum()))


def main(argv=None) -> int:
    """0, or 2 with one `error:` line on stderr for a bad flag."""
    return run_main(_main, argv)


def _main(argv) -> int:
    parser = ArgumentParser(prog="python benchmarks/bench_metrics.py", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=whole(2, 100_000), default=4000)
    parser.add_argument("--d", type=whole(2, 100_000), default=512)
    parser.add_argument("--repeats", type=whole(1, 1000), default=3)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    # Low-rank structure plus noise, like real embeddings (a spread of eigenvalues, not a flat spectrum).
    x = rng.normal(size=(args.n, 32)) @ rng.normal(size=(32, args.d)) + 0.5 * rng.normal(size=(args.n, args.d))
    text = rng.normal(size=args.d)
    frames = x[:16]
    xt = torch.as_tensor(x)

    cases = {
        "vendi_score (q=1)": lambda: metrics.vendi_score(x),
        "truncated_entropy (k=20)": lambda: metrics.truncated_entropy(x, k=20),
        "dpp_log_det": lambda: metrics.dpp_log_det(x),
        "mean_pairwise_cosine_distance": lambda: metrics.mean_pairwise_cosine_distance(x),
        "clip_score (16 frames)": lambda: metrics.clip_score(frames, text),
    }
    print(f"{args.n} x {args.d} float64 features; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    total, values = 0.0, {}
    for name, fn in tqdm(cases.items(), desc="metrics", unit="metric"):
        seconds, values[name] = best_of(fn, args.repeats)
        total += seconds
        tqdm.write(f"  {name:32s} {seconds * 1000:8.1f} ms   value {values[name]:.6g}")
    print(f"  {'all metrics':32s} {total * 1000:8.1f} ms   ({'under' if total < 1 else 'OVER'} 1 s)")

    slow_s, slow_value = best_of(lambda: vendi_by_n_by_n_eigendecomposition(xt), 1)
    fast_s = best_of(cases["vendi_score (q=1)"], args.repeats)[0]
    assert abs(slow_value - values["vendi_score (q=1)"]) < 1e-6 * slow_value, "the two Vendi computations disagree"
    print(f"Vendi through the {args.d}x{args.d} dual: {fast_s * 1000:.1f} ms; through the {args.n}x{args.n} "
          f"eigendecomposition: {slow_s * 1000:.0f} ms; ratio {slow_s / fast_s:.0f}x (same value {slow_value:.6f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
