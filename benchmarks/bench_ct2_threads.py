"""ctranslate2's raw decode, one thread against two: milliseconds per step of the converted policy, alternating.

    python benchmarks/bench_ct2_threads.py                         # the shipped policy's converted folder
    python benchmarks/bench_ct2_threads.py --batch 1,4 --rounds 3

Loads the policy once through the app's loader (which converts it on first use), then times `generate_batch` of
64 greedy tokens (min_length = max_length, so every run decodes the same number of steps) for each thread count,
alternating, so a change in the machine's load hits both. `Settings.cpu_threads` follows what this shows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import ctranslate2

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dppgrpo_core.models import ctranslate2_policy  # noqa: E402
from dppgrpo_core.settings import Settings  # noqa: E402

STEPS = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", default="1,4")
    parser.add_argument("--threads", default="2,1")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    settings = Settings()
    policy = ctranslate2_policy.load(settings.policy, settings.adapter, "cpu", str(settings.cache_dir), 1)
    folder = policy.folder
    tokens = policy._tokens([{"role": "user", "content": "a dog running on the beach at dusk"}])
    generators = {t: ctranslate2.Generator(str(folder), device="cpu", compute_type="int8", intra_threads=t)
                  for t in map(int, args.threads.split(","))}
    print(f"{settings.policy}, {os.cpu_count()} cores, {STEPS} steps; ms per step")
    for batch in map(int, args.batch.split(",")):
        for _ in range(args.rounds):
            for threads, generator in generators.items():
                generator.generate_batch([tokens] * batch, max_length=8, sampling_topk=1)  # warm
                start = time.perf_counter()
                generator.generate_batch([tokens] * batch, max_length=STEPS, min_length=STEPS, sampling_topk=1,
                                         include_prompt_in_result=False)
                print(f"batch {batch}, {threads} thread(s): {1000 * (time.perf_counter() - start) / STEPS:.1f}")


if __name__ == "__main__":
    main()
