"""DPP core speed: batched `marginal_gains` against one `slogdet` per candidate, and embedding time.

    python benchmarks/bench_dpp.py            # prints a markdown table; figures go to BENCHMARKS.md

Both sides compute the same numbers (checked); the ratio is measured in one run.
"""

from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dppgrpo_core.maths.dpp import log_det, marginal_gains, unit_rows  # noqa: E402


def naive_gains(reference: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The definition, literally: log det of each extended kernel minus log det of the reference's."""
    ref = unit_rows(reference)
    base = log_det(ref)
    out = []
    for c in unit_rows(candidates):
        e = torch.cat([ref, c[None]])
        out.append(float(torch.linalg.slogdet(torch.eye(len(e), dtype=e.dtype) + e @ e.T)[1]) - base)
    return np.array(out)


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print("| reference | candidates | d | batched (ms) | naive loop (ms) | speed-up |")
    print("|---|---|---|---|---|---|")
    for m, c in [(20, 64), (100, 1000)]:
        reference = rng.standard_normal((m, 384)).astype(np.float32)
        candidates = rng.standard_normal((c, 384)).astype(np.float32)
        np.testing.assert_allclose(marginal_gains(reference, candidates).numpy(), naive_gains(reference, candidates),
                                   atol=1e-8)
        fast = best_of(lambda: marginal_gains(reference, candidates), 20)
        slow = best_of(lambda: naive_gains(reference, candidates), 3)
        print(f"| {m} | {c} | 384 | {fast * 1e3:.2f} | {slow * 1e3:.1f} | {slow / fast:.0f}× |")

    from dppgrpo_core.models.embedder import embed, load_embedder

    embedder = load_embedder(device="cpu")
    prompts = [f"a cinematic shot number {i} of a dog playing with a ball at the beach at sunset" for i in range(64)]
    embed(prompts[:8], embedder)  # warm-up
    seconds = best_of(lambda: embed(prompts, embedder), 5)
    print(f"\nembedding 64 prompts with the packaged all-MiniLM-L6-v2 on CPU: {seconds:.3f} s")


if __name__ == "__main__":
    main()
