"""Autoregressive DPP expansion: rewrite a prompt q into K prompts, one at a time, scoring each step.

    python -m dppgrpo_core.expand "a dog playing with a ball at the beach" -k 8 --method dpp-rerank --seed 0
    python -m dppgrpo_core.expand "a red car in the rain" -k 4 --method iid --json > set.json

    >>> for step in expand("a dog playing with a ball at the beach", k=4, method="dpp-grpo", seed=0):
    ...     print(step.index, round(step.gain, 3), step.prompt)

Each step record holds the prompt, its DPP marginal gain Δ against the prompts before it,
its relevance cos(p, q) (at inference there is no curated reference set), the composite
reward λ_div·Δ + λ_rel·R_rel, the cumulative log det(L + I) of the set, and the seconds
spent generating and scoring. Methods live in `METHODS`; adding one is one function.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import torch

from .dpp import marginal_gains
from .embedder import embed, load_embedder
from .errors import UserFacingError
from .policy import Policy, build_messages, check_query, is_degenerate, load_policy
from .rewards import composite_reward, relevance
from .settings import Settings

MAX_K = 50


@dataclass
class StepRecord:
    index: int  # 1-based position in the set
    prompt: str
    gain: float  # Δ = log det(L_{S∪p} + I) − log det(L_S + I), S = the prompts before this one
    relevance: float  # cos(p, q)
    reward: float  # λ_div·Δ + λ_rel·relevance
    log_det: float  # log det(L + I) of the set up to and including this prompt
    generate_s: float
    score_s: float
    retries: int = 0  # degenerate generations thrown away before this one
    flag: str | None = None  # set when a degenerate generation had to be kept after all retries
    candidates: list[str] = field(default_factory=list)  # dpp-rerank: every candidate considered
    # The prompt's unit sentence embedding, so callers can plot the set without embedding it again;
    # left out of `to_dict` (the JSON and CSV downloads).
    embedding: torch.Tensor | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "embedding"}


@dataclass
class Choice:
    """What a method hands back for one step, before the step is scored."""

    prompt: str
    generate_s: float
    score_s: float = 0.0
    retries: int = 0
    flag: str | None = None
    candidates: list[str] = field(default_factory=list)


class SetScorer:
    """Holds q's embedding and the set's embeddings; scores candidates against the set so far."""

    def __init__(self, query: str, embedder, lambda_div: float, lambda_rel: float):
        self.embedder, self.lambda_div, self.lambda_rel = embedder, lambda_div, lambda_rel
        self.query_embedding = embed([query], embedder)
        self.set_embeddings = torch.zeros(0, self.query_embedding.shape[1])

    def score(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(embeddings, gains, relevances, rewards) of each prompt on its own against the set so far."""
        vectors = embed(prompts, self.embedder)
        gains = marginal_gains(self.set_embeddings, vectors)
        rels = relevance(self.query_embedding, vectors, None)
        return vectors, gains, rels, composite_reward(gains, rels, self.lambda_div, self.lambda_rel)

    def add(self, vector: torch.Tensor) -> None:
        self.set_embeddings = torch.cat([self.set_embeddings, vector.reshape(1, -1)])


@dataclass
class ExpandRun:
    """Everything a method needs for one expansion."""

    query: str
    k: int
    seed: int
    scorer: SetScorer
    policy_loader: Callable[[], Policy]
    temperature: float = 0.8
    n_candidates: int = 4
    max_retries: int = 3
    prompts: list[str] = field(default_factory=list)  # the set so far, filled in by `expand`

    @property
    def policy(self) -> Policy:
        return self.policy_loader()

    def step_seed(self, step: int, attempt: int = 0) -> int:
        return self.seed * 100_003 + step * 101 + attempt


def _generate_checked(run: ExpandRun, messages: list[dict], step: int, previous: list[str]) -> Choice:
    """One prompt from the policy, retried (new seed, some sampling) while it comes out degenerate."""
    start = time.perf_counter()
    reason, text = None, ""
    for attempt in range(run.max_retries + 1):
        # A greedy retry would repeat itself; retries always sample.
        temperature = run.temperature if attempt == 0 else max(run.temperature, 0.7)
        text = run.policy.generate([messages], temperature=temperature, seed=run.step_seed(step, attempt))[0]
        reason = is_degenerate(text, previous)
        if reason is None:
            return Choice(text, time.perf_counter() - start, retries=attempt)
    if not text.strip():
        raise UserFacingError(
            f"The policy produced no usable prompt at step {step} after {run.max_retries + 1} tries; "
            "try another seed, a higher temperature, or a stronger policy."
        )
    return Choice(text, time.perf_counter() - start, retries=run.max_retries, flag=f"kept after retries: {reason}")


def method_dpp_grpo(run: ExpandRun) -> Iterator[Choice]:
    """The paper's inference: each prompt conditioned on q and on the set made so far."""
    for step in range(1, run.k + 1):
        yield _generate_checked(run, build_messages(run.query, run.prompts), step, run.prompts)


def method_iid(run: ExpandRun) -> Iterator[Choice]:
    """K independent rewrites of q (no set conditioning), sampled in one batched call."""
    start = time.perf_counter()
    messages = build_messages(run.query, [])
    texts = run.policy.generate([messages], num_return_sequences=run.k, temperature=max(run.temperature, 1e-3),
                                seed=run.step_seed(0))
    per_prompt = (time.perf_counter() - start) / run.k
    for step, text in enumerate(texts, 1):
        if is_degenerate(text) is None:
            yield Choice(text, per_prompt)
        else:  # only this one is redrawn, still with no set conditioning
            choice = _generate_checked(run, messages, step, [])
            choice.generate_s += per_prompt
            choice.retries += 1
            yield choice


def method_original(run: ExpandRun) -> Iterator[Choice]:
    """q itself K times: only the video seed differs downstream (the paper's 'original prompts')."""
    for _ in range(run.k):
        yield Choice(run.query, 0.0)


def method_dpp_rerank(run: ExpandRun) -> Iterator[Choice]:
    """At each step, sample n rewrites of q in one batched call and keep the best composite reward.

    The candidates are drawn from q alone, not from the set-conditioned prompt: the reranker does
    the set conditioning, through the DPP gain against the set so far. So it works with any
    rewriter, including small untrained ones that, shown the set, tend to copy it (measured on
    20 VBench prompts with the packaged SmolLM2: set-conditioned candidates gave a *less*
    diverse set than iid, Vendi 2.0 vs 3.6; see BENCHMARKS.md).
    """
    messages = build_messages(run.query, [])
    for step in range(1, run.k + 1):
        generate_s = score_s = 0.0
        for attempt in range(run.max_retries + 1):
            start = time.perf_counter()
            texts = run.policy.generate([messages], num_return_sequences=run.n_candidates,
                                        temperature=max(run.temperature, 0.3), seed=run.step_seed(step, attempt))
            generate_s += time.perf_counter() - start
            usable = [t for t in dict.fromkeys(texts) if is_degenerate(t, run.prompts) is None]
            if usable:
                start = time.perf_counter()
                _, _, _, rewards = run.scorer.score(usable)
                score_s += time.perf_counter() - start
                best = usable[int(torch.argmax(rewards))]
                yield Choice(best, generate_s, score_s, retries=attempt, candidates=texts)
                break
        else:
            raise UserFacingError(f"dpp-rerank found no usable candidate at step {step}; try another seed.")


METHODS: dict[str, Callable[[ExpandRun], Iterator[Choice]]] = {
    "dpp-grpo": method_dpp_grpo,
    "iid": method_iid,
    "original": method_original,
    "dpp-rerank": method_dpp_rerank,
}


def check_arguments(query: str, k: int, method: str) -> str:
    query = check_query(query)
    if not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise UserFacingError(f"k must be an integer from 1 to {MAX_K}, got {k!r}.")
    if method not in METHODS:
        raise UserFacingError(f"Unknown method {method!r}; choose one of: {', '.join(METHODS)}.")
    return query


def expand(
    query: str,
    k: int,
    method: str = "dpp-grpo",
    seed: int = 0,
    *,
    settings: Settings | None = None,
    policy: Policy | None = None,
    embedder=None,
    lambda_div: float = 0.5,
    lambda_rel: float = 0.5,
    temperature: float = 0.8,
    n_candidates: int = 4,
    max_retries: int = 3,
) -> Iterator[StepRecord]:
    """Yield one `StepRecord` per prompt as soon as it is generated and scored."""
    query = check_arguments(query, k, method)
    if n_candidates < 1:
        raise UserFacingError("n_candidates must be at least 1.")
    settings = settings or Settings.from_env()
    embedder = embedder or load_embedder(settings=settings)
    run = ExpandRun(
        query=query, k=k, seed=seed,
        scorer=SetScorer(query, embedder, lambda_div, lambda_rel),
        policy_loader=(lambda: policy) if policy is not None else (lambda: load_policy(settings=settings)),
        temperature=temperature, n_candidates=n_candidates, max_retries=max_retries,
    )
    total_log_det = 0.0
    for index, choice in enumerate(METHODS[method](run), 1):
        start = time.perf_counter()
        vectors, gains, rels, rewards = run.scorer.score([choice.prompt])
        run.scorer.add(vectors[0])
        total_log_det += float(gains[0])  # chain rule: log det of the set = sum of its marginal gains
        run.prompts.append(choice.prompt)
        yield StepRecord(
            index=index, prompt=choice.prompt, gain=float(gains[0]), relevance=float(rels[0]),
            reward=float(rewards[0]), log_det=total_log_det, generate_s=choice.generate_s,
            score_s=choice.score_s + time.perf_counter() - start, retries=choice.retries, flag=choice.flag,
            candidates=choice.candidates, embedding=vectors[0],
        )


def run_expansion(query: str, k: int, method: str = "dpp-grpo", seed: int = 0, progress=None, **kwargs) -> dict:
    """The whole set as one JSON-ready dict: query, method, seed, steps, timing."""
    start = time.perf_counter()
    steps = []
    first_s = None
    for record in expand(query, k, method, seed, **kwargs):
        steps.append(record.to_dict())
        first_s = first_s if first_s is not None else time.perf_counter() - start
        if progress is not None:
            progress.update(1)
    return {
        "query": query.strip(), "method": method, "seed": seed, "k": k, "steps": steps,
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dppgrpo_core.expand", description="Expand a prompt into K diverse prompts.")
    parser.add_argument("query", help="the text-to-video prompt to expand")
    parser.add_argument("-k", type=int, default=8, help=f"number of prompts (1-{MAX_K})")
    parser.add_argument("--method", default="dpp-grpo", help=f"one of {', '.join(METHODS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--n-candidates", type=int, default=4, help="candidates per step for dpp-rerank")
    parser.add_argument("--lambda-div", type=float, default=0.5)
    parser.add_argument("--lambda-rel", type=float, default=0.5)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    Settings.add_arguments(parser, only=("policy", "adapter", "embedder", "device", "cache_dir"))
    args = parser.parse_args(argv)
    try:
        query = check_arguments(args.query, args.k, args.method)
        from tqdm.auto import tqdm

        with tqdm(total=args.k, desc=f"{args.method}", unit="prompt", file=sys.stderr) as bar:
            result = run_expansion(
                query, args.k, args.method, args.seed, progress=bar, settings=Settings.from_args(args),
                lambda_div=args.lambda_div, lambda_rel=args.lambda_rel, temperature=args.temperature,
                n_candidates=args.n_candidates,
            )
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
