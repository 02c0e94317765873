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
from dataclasses import asdict, dataclass
from typing import Iterator

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand.config import MAX_K, ExpandConfig, check_k, check_query, check_weights
from dppgrpo_core.expand.methods import DEFAULT_METHOD, METHODS, ExpandRun
from dppgrpo_core.expand.scoring import SetScorer, StepRecord
from dppgrpo_core.models.embedder import load_embedder
from dppgrpo_core.models.policy import Policy, load_policy
from dppgrpo_core.settings import Settings


@dataclass(frozen=True)
class ExpandRequest:
    """A request that passed `check_inputs`: q stripped, K and the seed whole, the method known, the options in
    range. Every entry path (the command line, the app, the library) makes one; deeper layers trust it."""

    query: str
    k: int
    method: str
    seed: int
    config: ExpandConfig


def check_method(method, name: str = "the method") -> str:
    """`method` when it is one of `METHODS`; UserFacingError (one line) naming the choices otherwise."""
    if not isinstance(method, str) or method not in METHODS:
        raise UserFacingError(f"Unknown method {checks.shown(method)}: {name} must be one of {', '.join(METHODS)}.")
    return method


def _checked(query, k, method, seed, config: ExpandConfig | None, options: dict, max_k: int):
    """({input: checked value}, {input: its one-line problem}) of a request, in the inputs' order."""
    names = [f.name for f in dataclasses.fields(ExpandConfig)]
    unknown = sorted(set(options) - set(names))
    if unknown:  # a caller's typo, not a user's value: refused at once
        raise UserFacingError(f"Unknown expansion option: {', '.join(unknown)} (the options: {', '.join(names)}).")
    base = config or ExpandConfig()
    checks_by_input = {"query": lambda: check_query(query), "k": lambda: check_k(k, max_k),
                       "method": lambda: check_method(method), "seed": lambda: checks.seed(0 if seed is None else seed)}
    for name in names:
        value = options.get(name, getattr(base, name))
        checks_by_input[name] = lambda name=name, value=value: ExpandConfig.check_option(name, value)
    values, problems = {}, {}
    for name, check in checks_by_input.items():
        try:
            values[name] = check()
        except UserFacingError as exc:
            problems[name] = str(exc)
    if "lambda_div" in values and "lambda_rel" in values:
        try:
            check_weights(values["lambda_div"], values["lambda_rel"])
        except UserFacingError as exc:
            problems["lambda_div"] = str(exc)
    return values, problems


def input_problems(query, k, method, seed=0, *, config: ExpandConfig | None = None, max_k: int = MAX_K,
                   **options) -> dict[str, str]:
    """What is wrong with each input of a request, by name ("query", "k", "method", "seed", an option); {} when
    nothing is. The app's validator shows each on its field; `check_inputs` raises the first.

    >>> problems = input_problems("  ", 3, "iid", lambda_div=0, lambda_rel=0)
    >>> list(problems), problems["query"]
    (['query', 'lambda_div'], 'The prompt is empty: type a text-to-video prompt.')
    """
    return _checked(query, k, method, seed, config, options, max_k)[1]


def check_inputs(query, k, method=DEFAULT_METHOD, seed=0, *, config: ExpandConfig | None = None,
                 max_k: int = MAX_K, **options) -> ExpandRequest:
    """The one check of a request, at the top of every entry path: an `ExpandRequest`, or UserFacingError with
    one line (the first input at fault). The options are `config` and/or `ExpandConfig`'s fields as keywords;
    `max_k` is MAX_K, or the app's stricter MAX_K_APP.

    >>> check_inputs(" a dog ", 4.0, "iid", lambda_div=0.8).config.lambda_div
    0.8
    >>> check_inputs("a dog", 21, "iid", max_k=20)
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: K must be a whole number from 1 to 20, got 21.
    """
    values, problems = _checked(query, k, method, seed, config, options, max_k)
    if problems:
        raise UserFacingError(next(iter(problems.values())))
    return ExpandRequest(values.pop("query"), values.pop("k"), values.pop("method"), values.pop("seed"),
                         ExpandConfig(**values))


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
    request = check_inputs(query, k, method, seed, config=config, **options)
    query, k, seed, config = request.query, request.k, request.seed, request.config
    settings = settings or Settings()
    embedder = embedder or load_embedder(settings=settings)
    run = ExpandRun(
        query=query, k=k, seed=seed,
        scorer=SetScorer(query, embedder, config.lambda_div, config.lambda_rel),
        policy_loader=(lambda: policy) if policy is not None else (lambda: load_policy(settings=settings)),
        config=config,
    )
    total_log_det = 0.0
    for index, choice in enumerate(METHODS[request.method](run), 1):
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
                  config: ExpandConfig | None = None, settings: Settings | None = None, policy: Policy | None = None,
                  embedder=None, **options) -> dict:
    """The whole set as one JSON-ready dict (`set_json`): query, method, seed, config, models, steps, timing."""
    request = check_inputs(query, k, method, seed, config=config, **options)
    settings = settings or Settings()
    start = time.perf_counter()
    steps = []
    first_s = None
    for record in expand(request.query, request.k, request.method, request.seed, config=request.config,
                         settings=settings, policy=policy, embedder=embedder):
        steps.append(record.to_dict())
        first_s = first_s if first_s is not None else time.perf_counter() - start
        if progress is not None:
            progress.update(1)
    return set_json(request, steps, policy=settings.policy, adapter=settings.adapter, embedder=settings.embedder,
                    total_s=time.perf_counter() - start, first_prompt_s=first_s)


def set_json(request: ExpandRequest, steps: list[dict], *, policy, adapter, embedder, total_s: float,
             first_prompt_s: float | None = None) -> dict:
    """A made set as the JSON-ready dict `--json` prints and the app downloads: the request, the models (as the
    caller names them), the steps and their timing (`first_prompt_s` when measured)."""
    timing = {"generate_s": sum(s["generate_s"] for s in steps), "score_s": sum(s["score_s"] for s in steps)}
    if first_prompt_s is not None:
        timing["first_prompt_s"] = first_prompt_s
    return {"query": request.query, "method": request.method, "seed": request.seed, "k": request.k,
            "config": asdict(request.config), "policy": policy, "adapter": adapter, "embedder": embedder,
            "steps": steps, "timing": {**timing, "total_s": total_s}}


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
