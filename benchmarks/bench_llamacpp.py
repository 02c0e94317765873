"""llama.cpp against ctranslate2: the raw decode of the packaged SmolLM2-135M base, milliseconds per step, alternating.

    pip install llama-cpp-python     # not a dependency: a C++ source build (~6.5 min on 2 cores)
    python benchmarks/bench_llamacpp.py --rounds 3 --threads 1

Why it exists: issue 22 asked whether a second CPU engine lowers the decode floor of `dpp-grpo`. Both engines
decode the same base weights (llama.cpp reads the packaged Q4_1 GGUF as shipped; ctranslate2 its int8 conversion of
the same weights, through the app's loader) from the same prompt tokens, greedy, a fixed number of steps (64), on
the same thread count; rounds alternate so a change in the machine's load hits both.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dppgrpo_core.models import ctranslate2_policy  # noqa: E402
from dppgrpo_core.models.packaged import smollm_gguf  # noqa: E402
from dppgrpo_core.settings import Settings  # noqa: E402

STEPS = 64
BASE = "packaged:SmolLM2-135M-Instruct"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        from llama_cpp import Llama
    except ImportError:
        sys.exit("llama-cpp-python is not installed: pip install llama-cpp-python (a source build).")
    import ctranslate2

    settings = Settings()
    policy = ctranslate2_policy.load(BASE, None, "cpu", str(settings.cache_dir), args.threads)
    tokens = policy._tokens([{"role": "user", "content": "a dog running on the beach at dusk"}])
    ids = policy.tokenizer.convert_tokens_to_ids(tokens)
    generator = ctranslate2.Generator(str(policy.folder), device="cpu", compute_type="int8",
                                      intra_threads=args.threads)
    llama = Llama(model_path=str(smollm_gguf()), n_threads=args.threads, n_threads_batch=args.threads, n_ctx=1024,
                  verbose=False)

    def ct2_step() -> None:
        generator.generate_batch([tokens], max_length=STEPS, min_length=STEPS, sampling_topk=1,
                                 include_prompt_in_result=False)

    def llama_step() -> None:
        llama.reset()  # no cached prefix: both engines prefill the same prompt
        for n, _ in enumerate(llama.generate(ids, temp=0.0), 1):
            if n == STEPS:
                break

    print(f"{BASE}, {os.cpu_count()} cores, {args.threads} thread(s), prompt {len(ids)} tokens + {STEPS} steps; "
          "ms per step (prefill included)")
    for engine, step in (("ctranslate2 int8", ct2_step), ("llama.cpp Q4_1", llama_step)):
        step()  # warm
    for round_ in range(args.rounds):
        for engine, step in (("ctranslate2 int8", ct2_step), ("llama.cpp Q4_1", llama_step)):
            start = time.perf_counter()
            step()
            print(f"round {round_}: {engine}: {1000 * (time.perf_counter() - start) / STEPS:.1f}")


if __name__ == "__main__":
    main()
