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

import argparse
import dataclasses
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import torch

from . import checks, cli, composer
from .dpp import marginal_gains
from .embedder import embed, load_embedder
from .errors import UserFacingError
from .policy import Policy, build_messages, check_query, is_degenerate, load_policy
from .rewards import balanced_reward, composite_reward, relevance
from .settings import Settings

MAX_K = 50
MAX_SEED = checks.SEED_MAX  # torch.manual_seed takes a 64-bit seed
DEFAULT_METHOD = "dpp-compose"


@dataclass(frozen=True)
class ExpandConfig:
    """How a set is made, apart from q, K and the models: the one home of these options and their defaults.

    >>> ExpandConfig(lambda_div=0.8).check().lambda_rel
    0.35
    >>> ExpandConfig(temperature=float("nan")).check()
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: temperature must be a number from 0.0 to 2.0, got nan.
    """

    # Weights of the DPP marginal gain and of the relevance to q, on one scale (rewards.balanced_reward).
    # 0.65 / 0.35 measured best for the default method (BENCHMARKS.md, "Prompt sets"): every dpp-compose
    # prompt keeps q, so leaning to Δ buys diversity (Vendi 2.75 -> 2.99) at no cost in faithfulness.
    lambda_div: float = 0.65
    lambda_rel: float = 0.35
    temperature: float = 0.8  # policy sampling temperature, 0 = greedy
    n_candidates: int = 4  # dpp-rerank: policy rewrites sampled per step
    compose_candidates: int = 12  # dpp-compose: composed candidates per prompt of the set (a pool of 12·K)
    max_retries: int = 3  # degenerate generations redrawn before one is kept with a flag

    RANGES = {"lambda_div": (0.0, 1.0), "lambda_rel": (0.0, 1.0), "temperature": (0.0, 2.0),
              "n_candidates": (1, 16), "compose_candidates": (1, 256), "max_retries": (0, 10)}

    def check(self) -> "ExpandConfig":
        """This config with numbers as their types; UserFacingError (one line) for a bad value."""
        values = {}
        for f in dataclasses.fields(self):
            low, high = self.RANGES[f.name]
            values[f.name] = checks.number(getattr(self, f.name), f.name, low, high, whole=f.type == "int")
        if values["lambda_div"] + values["lambda_rel"] == 0:
            raise UserFacingError("lambda_div and lambda_rel cannot both be 0.")
        return ExpandConfig(**values)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One `--field` flag per option, defaulting to the dataclass default."""
        for f in dataclasses.fields(cls):
            low, high = cls.RANGES[f.name]
            kind = cli.whole(low, high) if f.type == "int" else cli.real(low, high)
            parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=f.default,
                                help=f"{low} to {high} (default {f.default})")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "ExpandConfig":
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}).check()


def check_seed(seed) -> int:
    """A seed as an int in [0, 2**63 - 1]; UserFacingError otherwise (NaN, 1.5, 2**64, text)."""
    return checks.seed(seed)


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
    embedding: torch.Tensor | None = None  # the prompt's embedding when the method already computed it


# Embeddings of the composer's axis values, per loaded embedder (id: embedders are loaded once per process).
_VALUE_EMBEDDINGS: dict[int, dict[str, torch.Tensor]] = {}


class SetScorer:
    """Holds q's embedding and the set's embeddings; scores candidates against the set so far."""

    def __init__(self, query: str, embedder, lambda_div: float, lambda_rel: float):
        self.embedder, self.lambda_div, self.lambda_rel = embedder, lambda_div, lambda_rel
        self.query_embedding = embed([query], embedder)
        self.set_embeddings = torch.zeros(0, self.query_embedding.shape[1])

    def score(self, prompts: list[str], vectors: torch.Tensor | None = None):
        """(embeddings, gains, relevances, raw composite rewards) of each prompt on its own against the set so far."""
        vectors = embed(prompts, self.embedder) if vectors is None else vectors
        gains = marginal_gains(self.set_embeddings, vectors)
        rels = relevance(self.query_embedding, vectors, None)
        return vectors, gains, rels, composite_reward(gains, rels, self.lambda_div, self.lambda_rel)

    def pick(self, prompts: list[str]) -> tuple[int, torch.Tensor]:
        """(index, embedding) of the candidate with the best balanced reward against the set so far."""
        vectors, gains, rels, _ = self.score(prompts)
        best = int(torch.argmax(balanced_reward(gains, rels, self.lambda_div, self.lambda_rel)))
        return best, vectors[best]

    def closeness(self, texts: list[str]) -> list[float]:
        """cos(text, q) for each text (the composer's plausibility ranking of scene values).

        The texts are the composer's fixed axis values: their embeddings are kept per embedder, so
        only q is embedded on a warm call.
        """
        known = _VALUE_EMBEDDINGS.setdefault(id(self.embedder), {})
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, embed(missing, self.embedder)))
        return (torch.stack([known[t] for t in texts]) @ self.query_embedding[0]).tolist()

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
    config: ExpandConfig = field(default_factory=ExpandConfig)
    prompts: list[str] = field(default_factory=list)  # the set so far, filled in by `expand`

    @property
    def policy(self) -> Policy:
        return self.policy_loader()

    def step_seed(self, step: int, attempt: int = 0) -> int:
        # Distinct for every (seed, step, attempt) with step < 1000 and attempt < 101: the primes
        # keep neighbouring seeds' steps apart; modulo 2**63 so torch.manual_seed accepts any seed.
        return (self.seed * 100_003 + step * 101 + attempt) % 2**63


def _generate_checked(run: ExpandRun, messages: list[dict], step: int, previous: list[str]) -> Choice:
    """One prompt from the policy, retried (new seed, some sampling) while it comes out degenerate."""
    start = time.perf_counter()
    reason, text = None, ""
    for attempt in range(run.config.max_retries + 1):
        # A greedy retry would repeat itself; retries always sample.
        temperature = run.config.temperature if attempt == 0 else max(run.config.temperature, 0.7)
        text = run.policy.generate([messages], temperature=temperature, seed=run.step_seed(step, attempt))[0]
        reason = is_degenerate(text, previous)
        if reason is None:
            return Choice(text, time.perf_counter() - start, retries=attempt)
    if not text.strip():
        raise UserFacingError(
            f"The policy produced no usable prompt at step {step} after {run.config.max_retries + 1} tries; "
            "try another seed, a higher temperature, or a stronger policy."
        )
    return Choice(text, time.perf_counter() - start, retries=run.config.max_retries,
                  flag=f"kept after retries: {reason}")


def method_dpp_grpo(run: ExpandRun) -> Iterator[Choice]:
    """The paper's inference: each prompt conditioned on q and on the set made so far."""
    for step in range(1, run.k + 1):
        yield _generate_checked(run, build_messages(run.query, run.prompts), step, run.prompts)


def method_iid(run: ExpandRun) -> Iterator[Choice]:
    """K independent rewrites of q (no set conditioning), sampled in one batched call."""
    start = time.perf_counter()
    messages = build_messages(run.query, [])
    texts = run.policy.generate([messages], num_return_sequences=run.k,
                                temperature=max(run.config.temperature, 1e-3), seed=run.step_seed(0))
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
    """At each step, sample n rewrites of q in one batched call and keep the best balanced reward.

    The candidates are drawn from q alone, not from the set-conditioned prompt: the reranker does
    the set conditioning, through the DPP gain against the set so far. So it works with any
    rewriter, including small untrained ones that, shown the set, tend to copy it (measured on
    20 VBench prompts with the packaged SmolLM2: set-conditioned candidates gave a *less*
    diverse set than iid, Vendi 2.0 vs 3.6; see BENCHMARKS.md).
    """
    messages = build_messages(run.query, [])
    for step in range(1, run.k + 1):
        generate_s = score_s = 0.0
        for attempt in range(run.config.max_retries + 1):
            start = time.perf_counter()
            texts = run.policy.generate([messages], num_return_sequences=run.config.n_candidates,
                                        temperature=max(run.config.temperature, 0.3),
                                        seed=run.step_seed(step, attempt))
            generate_s += time.perf_counter() - start
            usable = [t for t in dict.fromkeys(texts) if is_degenerate(t, run.prompts) is None]
            if usable:
                start = time.perf_counter()
                best, vector = run.scorer.pick(usable)
                score_s += time.perf_counter() - start
                yield Choice(usable[best], generate_s, score_s, retries=attempt, candidates=texts, embedding=vector)
                break
        else:
            raise UserFacingError(f"dpp-rerank found no usable candidate at step {step}; try another seed.")


def method_dpp_compose(run: ExpandRun) -> Iterator[Choice]:
    """Composed candidates over ten cinematic axes (q verbatim in each, scene values plausible for q).
    Each step keeps, among the candidates that reuse the fewest axis values of the set, the one with
    the best balanced reward (DPP gain and relevance) against the set so far.

    The pool (`compose_candidates` per prompt) is drawn and embedded once, in one batch: the gains
    against the growing set are then cheap updates, so K = 8 costs about one embedding call.
    """
    start = time.perf_counter()
    frame = composer.Frame.of(run.query)
    values = composer.palette(frame, run.scorer.closeness)
    rng = random.Random(run.step_seed(0))
    picks = [{} for _ in range(run.config.compose_candidates * run.k)]
    texts = [composer.draw(frame, values, rng, {}, picks=p) for p in picks]
    unique = list(dict.fromkeys(texts))
    picks = [picks[texts.index(t)] for t in unique]
    # The first pick weighs relevance alone (every gain is log 2 on an empty set), so it is made from
    # the first `compose_candidates` of the pool: the first row shows before the rest is embedded.
    first = min(len(unique), run.config.compose_candidates)
    vectors = embed(unique[:first], run.scorer.embedder)
    setup_s, used, left = time.perf_counter() - start, {}, list(range(first))
    for step in range(run.k):
        start = time.perf_counter()
        if step == 1 and first < len(unique):
            vectors = torch.cat([vectors, embed(unique[first:], run.scorer.embedder)])
            left += list(range(first, len(unique)))
        fewest = min(composer.reuse(picks[i], used) for i in left)
        pool = [i for i in left if composer.reuse(picks[i], used) == fewest]
        _, gains, rels, _ = run.scorer.score([unique[i] for i in pool], vectors[pool])
        best = pool[int(torch.argmax(balanced_reward(gains, rels, run.config.lambda_div, run.config.lambda_rel)))]
        composer.record_use(picks[best], used)
        left.remove(best)
        yield Choice(unique[best], 0.0, setup_s + time.perf_counter() - start, candidates=[unique[i] for i in pool],
                     embedding=vectors[best])
        setup_s = 0.0


def method_composer(run: ExpandRun) -> Iterator[Choice]:
    """Baseline: q plus a random shot, angle, camera move, light and lens in one template; K of a pool
    of 4K picked by greedy DPP MAP (log det only). What a template alone achieves."""
    from .dpp import greedy_select

    start = time.perf_counter()
    rng = random.Random(run.step_seed(0))
    pool = list(dict.fromkeys(
        f"{run.query.rstrip('.')}, {rng.choice(composer.SHOTS)} from a "
        f"{rng.choice(composer.ANGLES).removesuffix('-angle')} angle, {rng.choice(composer.CAMERAS)}, "
        f"{rng.choice(composer.LIGHTS)}, "
        f"{rng.choice(composer.LENSES)}." for _ in range(4 * run.k)))
    vectors = embed(pool, run.scorer.embedder)
    order = greedy_select(vectors, min(run.k, len(pool)))
    score_s = time.perf_counter() - start
    for n, i in enumerate(list(order) + [order[-1]] * (run.k - len(order))):
        yield Choice(pool[i], 0.0, score_s if n == 0 else 0.0, embedding=vectors[i])


METHODS: dict[str, Callable[[ExpandRun], Iterator[Choice]]] = {
    "dpp-compose": method_dpp_compose,
    "composer": method_composer,
    "dpp-grpo": method_dpp_grpo,
    "iid": method_iid,
    "original": method_original,
    "dpp-rerank": method_dpp_rerank,
}
# One line each, for the app and --help.
METHOD_NOTES = {
    "dpp-compose": "q word for word in a cinematic frame over ten axes; each step keeps the candidate with the "
                   "best DPP gain and relevance against the set (fast, faithful; the default)",
    "composer": "baseline: q plus a random shot, angle, camera move, light and lens; K picked by greedy DPP",
    "dpp-grpo": "the paper's inference: the policy writes each prompt seeing q and the set so far",
    "iid": "K independent policy rewrites of q (no set conditioning)",
    "original": "q itself K times (only the video seed differs)",
    "dpp-rerank": "n policy rewrites of q per step; keep the best DPP gain and relevance against the set",
}


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
    seed = check_seed(seed)
    try:
        config = dataclasses.replace(config or ExpandConfig(), **options).check()
    except TypeError as exc:  # an unknown keyword
        raise UserFacingError(f"Unknown expansion option: {exc}.") from None
    settings = settings or Settings.from_env()
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
    settings = settings or Settings.from_env()
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


def _main(argv: list[str]) -> int:
    parser = cli.ArgumentParser(prog="python -m dppgrpo_core.expand", description="Expand a prompt into K diverse prompts.")
    parser.add_argument("query", help="the text-to-video prompt to expand")
    parser.add_argument("-k", type=cli.whole(1, MAX_K), default=8, help=f"number of prompts (1-{MAX_K})")
    parser.add_argument("--method", default=DEFAULT_METHOD, choices=list(METHODS),
                        help="; ".join(f"{name}: {note}" for name, note in METHOD_NOTES.items()))
    parser.add_argument("--seed", type=cli.seed(), default=0, help=f"a whole number from 0 to {MAX_SEED}")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ExpandConfig.add_arguments(parser)
    Settings.add_arguments(parser, only=("policy", "adapter", "embedder", "device", "cache_dir"))
    args = parser.parse_args(argv)
    query = check_arguments(args.query, args.k, args.method)
    config = ExpandConfig.from_args(args)
    from tqdm.auto import tqdm

    with tqdm(total=args.k, desc=f"{args.method}", unit="prompt", file=sys.stderr) as bar:
        result = run_expansion(query, args.k, args.method, args.seed, progress=bar,
                               settings=Settings.from_args(args), config=config)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


def main(argv=None) -> int:
    """The command line (see the module doc): 0, or 2 with one line on stderr for bad input."""
    return cli.run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
