"""Expansion speed with the default policy: per method, K = 8 on one prompt.

    python benchmarks/bench_expand.py                 # packaged SmolLM2-135M-Instruct on this CPU
    python benchmarks/bench_expand.py --k 8 --policy Qwen/Qwen2-7B-Instruct --device cuda

Reports total seconds, seconds to the first prompt, scoring (embedding + DPP) as a share of
the total, dpp-rerank time over dpp-grpo time (same run), and what the KV cache buys: one
step's generation with and without `use_cache`, and the share of a step spent on the prompt
prefill (the most a cache of the shared prompt prefix could save).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dppgrpo_core.models.embedder import load_embedder  # noqa: E402
from dppgrpo_core.expand import METHODS, run_expansion  # noqa: E402
from dppgrpo_core.models.chat import build_messages  # noqa: E402
from dppgrpo_core.models.policy import load_policy  # noqa: E402
from dppgrpo_core.settings import POLICY_SETTINGS, Settings  # noqa: E402

QUERY = "a dog playing with a ball at the beach"


def kv_cache_figures(policy, previous: list[str]) -> dict:
    messages = build_messages(QUERY, previous)
    inputs = policy.encode([messages])
    out = {"prompt_tokens": int(inputs["input_ids"].shape[1])}
    with torch.inference_mode():
        start = time.perf_counter()
        policy.model(**inputs)
        out["prefill_s"] = time.perf_counter() - start
        for use_cache in (True, False):
            start = time.perf_counter()
            policy.model.generate(**inputs, max_new_tokens=64, min_new_tokens=64, do_sample=False,
                                  use_cache=use_cache, pad_token_id=policy.tokenizer.pad_token_id)
            out[f"generate_s_cache_{use_cache}"] = time.perf_counter() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="one JSON line of timings per method, no KV-cache figures")
    Settings.add_arguments(parser, only=(*POLICY_SETTINGS, "device", "cache_dir"))
    args = parser.parse_args()
    settings = Settings.from_args(args)
    policy = load_policy(settings=settings)  # loaded before timing: load time is not expansion time
    embedder = load_embedder(settings=settings)
    if args.json:
        timings = {}
        for method in args.methods.split(","):
            run_expansion(QUERY, 1, method, args.seed, settings=settings, policy=policy, embedder=embedder)  # warm-up
            timings[method] = run_expansion(QUERY, args.k, method, args.seed, settings=settings, policy=policy,
                                            embedder=embedder)["timing"]
        print(json.dumps(timings))
        return
    print(f"policy {settings.policy} on {settings.resolved_device()}, {os.cpu_count()} cores, K = {args.k}")
    print("| method | total (s) | first prompt (s) | generate (s) | scoring (s) | scoring share |")
    print("|---|---|---|---|---|---|")
    totals = {}
    for method in args.methods.split(","):
        r = run_expansion(QUERY, args.k, method, args.seed, settings=settings, policy=policy)
        t = r["timing"]
        totals[method] = t["total_s"]
        print(f"| {method} | {t['total_s']:.1f} | {t['first_prompt_s']:.1f} | {t['generate_s']:.1f} | "
              f"{t['score_s']:.2f} | {100 * t['score_s'] / t['total_s']:.1f}% |")
    if "dpp-rerank" in totals and "dpp-grpo" in totals:
        print(f"\ndpp-rerank (n=4) / dpp-grpo time: {totals['dpp-rerank'] / totals['dpp-grpo']:.2f}×")
    kv = kv_cache_figures(policy, [f"A {s} shot of a dog with a ball on a beach." for s in ("wide", "close", "aerial")])
    print(f"\nKV cache, one step (64 new tokens, {kv['prompt_tokens']}-token prompt): "
          f"with cache {kv['generate_s_cache_True']:.2f} s, without {kv['generate_s_cache_False']:.2f} s "
          f"({kv['generate_s_cache_False'] / kv['generate_s_cache_True']:.1f}×); prompt prefill {kv['prefill_s']:.3f} s "
          f"= {100 * kv['prefill_s'] / kv['generate_s_cache_True']:.1f}% of the step")


if __name__ == "__main__":
    main()
