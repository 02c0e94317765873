"""Autoregressive DPP expansion: rewrite a prompt q into K prompts, one at a time, scoring each step.

    python -m dppgrpo_core.expand "a dog playing with a ball at the beach" -k 8 --method dpp-rerank --seed 0
    python -m dppgrpo_core.expand "a red car in the rain" -k 4 --method iid --json > set.json

    for step in expand("a dog playing with a ball at the beach", k=4, method="dpp-compose", seed=0):
        print(step.index, round(step.gain, 3), step.prompt)

Each step record holds the prompt, its DPP marginal gain Δ against the prompts before it,
its relevance cos(p, q) (at inference there is no curated reference set), the composite
reward λ_div·Δ + λ_rel·R_rel, the cumulative log det(L + I) of the set, and the seconds
spent generating and scoring. Methods live in `METHODS`; adding one is one function.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict
from typing import Iterator

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand.config import MAX_K, ExpandConfig, check_query
from dppgrpo_core.expand.methods import DEFAULT_METHOD, METHODS, ExpandRun
from dppgrpo_core.expand.scoring import SetScorer, StepRecord
from dppgrpo_core.models.embedder import load_embedder
from dppgrpo_core.models.policy import Policy, load_policy
from dppgrpo_core.settings import Settings


def check_arguments(query: str, k: int, method: str) -> str:
    """q stripped, once q, k and the method are checked; UserFacingError (one line) otherwise."""
    # Text first (no lone surrogate or control character), then the prompt's own rules (empty, length).
    query = check_query(checks.text(query, "The prompt", max_chars=10**6, multiline=True, allow_empty=True))
    if not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise UserFacingError(f"k must be an integer from 1 to {MAX_K}, got {k!r}.")
    if method not in METHODS:
        raise UserFacingError(f"Unknown method {method!r}; choose one of: {', '.join(METHODS)}.")
    return query


def expand(
    query: str,
    k: int,
    method: str = DEFAULT_METHOD,
    seed: int = 0,
    *,
    settings: Settings | None = None,
    policy: Policy | None = None,
    embedder=None,
    config: ExpandConfig | None = None,
    **options,
) -> Iterator[StepRecord]:
    """Yield one `StepRecord` per prompt as soon as it is generated and scored.

    The options are `config` or `ExpandConfig`'s fields as keywords (lambda_div=0.8, ...).
    """
    query = check_arguments(query, k, method)
    seed = checks.seed(seed)
    try:
        config = dataclasses.replace(config or ExpandConfig(), **options).check()
    except TypeError as exc:  # an unknown keyword
        raise UserFacingError(f"Unknown expansion option: {exc}.") from None
    settings = settings or Settings()
    embedder = embedder or load_embedder(settings=settings)
    run = ExpandRun(
        query=query, k=k, seed=seed,
        scorer=SetScorer(query, embedder, config.lambda_div, config.lambda_rel),
        policy_loader=(lambda: policy) if policy is not None else (lambda: load_policy(settings=settings)),
        config=config,
    )
    total_log_det = 0.0
    for index, choice in enumerate(METHODS[method](run), 1):
        start = time.perf_counter()
        vectors, gains, rels, rewards = run.scorer.score(
            [choice.prompt], None if choice.embedding is None else choice.embedding.reshape(1, -1))
        run.scorer.add(vectors[0])
        total_log_det += float(gains[0])  # chain rule: log det of the set = sum of its marginal gains
        run.prompts.append(choice.prompt)
        yield StepRecord(
            index=index, prompt=choice.prompt, gain=float(gains[0]), relevance=float(rels[0]),
            reward=float(rewards[0]), log_det=total_log_det, generate_s=choice.generate_s,
            score_s=choice.score_s + time.perf_counter() - start, retries=choice.retries, flag=choice.flag,
            candidates=choice.candidates, embedding=vectors[0],
        )


def run_expansion(query: str, k: int, method: str = DEFAULT_METHOD, seed: int = 0, progress=None, *,
                  config: ExpandConfig | None = None, settings: Settings | None = None, **kwargs) -> dict:
    """The whole set as one JSON-ready dict: query, method, seed, config, models, steps, timing."""
    start = time.perf_counter()
    steps = []
    first_s = None
    options = {k_: kwargs.pop(k_) for k_ in list(kwargs) if k_ in {f.name for f in dataclasses.fields(ExpandConfig)}}
    try:
        config = dataclasses.replace(config or ExpandConfig(), **options).check()
    except TypeError as exc:
        raise UserFacingError(f"Unknown expansion option: {exc}.") from None
    settings = settings or Settings()
    for record in expand(query, k, method, seed, config=config, settings=settings, **kwargs):
        steps.append(record.to_dict())
        first_s = first_s if first_s is not None else time.perf_counter() - start
        if progress is not None:
            progress.update(1)
    return {
        "query": query.strip(), "method": method, "seed": seed, "k": k, "config": asdict(config),
        "policy": settings.policy, "adapter": settings.adapter, "embedder": settings.embedder, "steps": steps,
        "timing": {
            "generate_s": sum(s["generate_s"] for s in steps),
            "score_s": sum(s["score_s"] for s in steps),
            "first_prompt_s": first_s,
            "total_s": time.perf_counter() - start,
        },
    }


def format_table(result: dict) -> str:
    rows = [f"{'#':>2}  {'gain':>6}  {'rel':>5}  {'reward':>6}  prompt"]
    for s in result["steps"]:
        flag = f"  [{s['flag']}]" if s.get("flag") else ""
        rows.append(f"{s['index']:>2}  {s['gain']:6.3f}  {s['relevance']:5.3f}  {s['reward']:6.3f}  {s['prompt']}{flag}")
    t = result["timing"]
    last = result["steps"][-1]["log_det"] if result["steps"] else 0.0
    rows.append(f"log det(L+I) = {last:.3f}   generate {t['generate_s']:.1f}s   score {t['score_s']:.2f}s   "
                f"total {t['total_s']:.1f}s   ({result['method']}, seed {result['seed']})")
    return "\n".join(rows)
