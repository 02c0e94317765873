"""Policy engines side by side: ctranslate2 against transformers on the same prompts, seeds and sampling.

    python benchmarks/bench_engines.py                                  # the default trained policy, K = 8
    python benchmarks/bench_engines.py --rounds 5 --methods dpp-grpo,dpp-rerank,iid
    python benchmarks/bench_engines.py --policy packaged:Qwen2.5-Coder-0.5B-Instruct --methods dpp-grpo
    python benchmarks/bench_engines.py --busy                          # a second process holds one core

Each engine is loaded once (its load time reported), warmed up with one K = 1 set, then the rounds alternate
engines so a change in the machine's load hits both. Reported per engine and method: median and min of the
set's total seconds and of the seconds to its first prompt, generated tokens per second, and the transformers /
ctranslate2 ratio of the medians. `--busy` runs a busy loop in another process throughout (what a shared
machine does to spinning threads).
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dppgrpo_core.expand import run_expansion  # noqa: E402
from dppgrpo_core.models.embedder import load_embedder  # noqa: E402
from dppgrpo_core.models.policy import load_policy  # noqa: E402
from dppgrpo_core.settings import POLICY_SETTINGS, Settings  # noqa: E402

QUERIES = ["a dog playing with a ball at the beach", "a person riding a bicycle on a mountain road",
           "a red car driving through a rainy city at night"]


def _spin():
    while True:
        pass


def _tokens(policy, prompts: list[str]) -> int:
    return sum(len(policy.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--methods", default="dpp-grpo,dpp-rerank,iid")
    parser.add_argument("--engines", default="ctranslate2,transformers")
    parser.add_argument("--busy", action="store_true", help="a busy loop in another process holds one core")
    Settings.add_arguments(parser, only=(*POLICY_SETTINGS, "device", "cache_dir"))
    args = parser.parse_args()
    base = Settings.from_args(args)
    engines = args.engines.split(",")
    methods = args.methods.split(",")
    embedder = load_embedder(settings=base)
    policies = {}
    for engine in engines:
        settings = dataclasses.replace(base, engine=engine)
        start = time.perf_counter()
        policies[engine] = (settings, load_policy(settings=settings))
        print(f"{engine}: loaded in {time.perf_counter() - start:.1f} s ({settings.cpu_threads()} thread(s))")
        run_expansion(QUERIES[0], 1, methods[0], 0, settings=settings, policy=policies[engine][1], embedder=embedder)
    spinner = multiprocessing.Process(target=_spin, daemon=True) if args.busy else None
    if spinner:
        spinner.start()
    runs = {(e, m): [] for e in engines for m in methods}
    try:
        for r in range(args.rounds):
            for method in methods:
                for engine in engines:
                    settings, policy = policies[engine]
                    result = run_expansion(QUERIES[r % len(QUERIES)], args.k, method, r, settings=settings,
                                           policy=policy, embedder=embedder)
                    tokens = _tokens(policy, [s["prompt"] for s in result["steps"]])
                    runs[engine, method].append((result["timing"]["total_s"], result["timing"]["first_prompt_s"],
                                                 tokens / max(result["timing"]["generate_s"], 1e-9)))
    finally:
        if spinner:
            spinner.terminate()
    print(f"\n{base.policy}, K = {args.k}, {args.rounds} rounds, {os.cpu_count()} cores"
          f"{', one core held by a busy loop' if args.busy else ''}")
    print("| method | engine | total s (median, min) | first prompt s (median, min) | kept tokens/s | "
          "transformers / this |")
    print("|---|---|---|---|---|---|")
    for method in methods:
        medians = {e: statistics.median(t for t, _, _ in runs[e, method]) for e in engines}
        for engine in engines:
            totals, firsts, rates = zip(*runs[engine, method])
            ratio = f"{medians['transformers'] / medians[engine]:.2f}×" if "transformers" in medians else "–"
            print(f"| {method} | {engine} | {statistics.median(totals):.2f}, {min(totals):.2f} | "
                  f"{statistics.median(firsts):.2f}, {min(firsts):.2f} | {statistics.median(rates):.0f} | {ratio} |")


if __name__ == "__main__":
    main()
