"""The expansion methods: each turns one `ExpandRun` into K `Choice`s, one per step of the set.

Adding a method is one generator function here, one entry in `METHODS` and one line in
`METHOD_NOTES` (the Expand tab and `--help` show it); `run.expand` scores every choice.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import composer
from dppgrpo_core.expand.config import ExpandConfig
from dppgrpo_core.expand.scoring import Choice, SetScorer
from dppgrpo_core.maths.rewards import balanced_reward
from dppgrpo_core.models.chat import MAX_NEW_TOKENS, build_extend_messages, build_messages, degenerate_reason
from dppgrpo_core.models.embedder import embed
from dppgrpo_core.models.policy import Policy

DEFAULT_METHOD = "dpp-compose"


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
    _policy: Policy | None = field(default=None, repr=False)

    @property
    def policy(self) -> Policy:
        """The policy for this run, loaded on first use and seeded once for the whole set (`Policy.stream`)."""
        if self._policy is None:
            self._policy = self.policy_loader().stream(self.step_seed(0))
        return self._policy

    def step_seed(self, step: int, attempt: int = 0) -> int:
        # Distinct for every (seed, step, attempt) with step < 1000 and attempt < 101: the primes
        # keep neighbouring seeds' steps apart; modulo 2**63 so torch.manual_seed accepts any seed.
        return (self.seed * 100_003 + step * 101 + attempt) % 2**63


def _generate_checked(run: ExpandRun, messages: list[dict], step: int, previous: list[str], **overrides) -> Choice:
    """One prompt from the policy, retried (new seed, some sampling) while it comes out degenerate."""
    start = time.perf_counter()
    reason, text = None, ""
    for attempt in range(run.config.max_retries + 1):
        # A greedy retry would repeat itself; retries always sample.
        temperature = run.config.temperature if attempt == 0 else max(run.config.temperature, 0.7)
        text = run.policy.generate([messages], temperature=temperature, seed=run.step_seed(step, attempt),
                                   **overrides)[0]
        reason = degenerate_reason(text, previous)
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


def _independent(run: ExpandRun, messages: list[dict], **overrides) -> Iterator[Choice]:
    """K independent completions of one conversation, sampled in one batched call; a degenerate one is redrawn
    alone, still with no set conditioning."""
    start = time.perf_counter()
    texts = run.policy.generate([messages], num_return_sequences=run.k,
                                temperature=max(run.config.temperature, 1e-3), seed=run.step_seed(0), **overrides)
    per_prompt = (time.perf_counter() - start) / run.k
    for step, text in enumerate(texts, 1):
        if degenerate_reason(text) is None:
            yield Choice(text, per_prompt)
        else:
            choice = _generate_checked(run, messages, step, [], **overrides)
            choice.generate_s += per_prompt
            choice.retries += 1
            yield choice


def method_iid(run: ExpandRun) -> Iterator[Choice]:
    """K independent rewrites of q (no set conditioning), sampled in one batched call."""
    yield from _independent(run, build_messages(run.query, []))


def method_extend(run: ExpandRun) -> Iterator[Choice]:
    """The peer baseline: the same model asked K times, independently, for one rich 80-100-word description in
    the anchors' way (Wan2.1's prompt extender, LTX-Video's enhancer); no set conditioning, no DPP."""
    yield from _independent(run, build_extend_messages(run.query), max_new_tokens=MAX_NEW_TOKENS)


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
            usable = [t for t in dict.fromkeys(texts) if degenerate_reason(t, run.prompts) is None]
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
    frame = composer.ParsedQuery.of(run.query)
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
    from dppgrpo_core.maths.dpp import greedy_select

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
    "extend": method_extend,
    "original": method_original,
    "dpp-rerank": method_dpp_rerank,
}
# The methods that run the language policy (the others need only the embedder): what waits for a policy engine.
POLICY_METHODS = ("dpp-grpo", "iid", "extend", "dpp-rerank")
# One line each, for the app and --help.
METHOD_NOTES = {
    "dpp-compose": "q word for word in a cinematic frame over ten axes; each step keeps the candidate with the "
                   "best DPP gain and relevance against the set (fast, faithful; the default)",
    "composer": "baseline: q plus a random shot, angle, camera move, light and lens; K picked by greedy DPP",
    "dpp-grpo": "the paper's inference: the policy writes each prompt seeing q and the set so far",
    "iid": "K independent policy rewrites of q (no set conditioning)",
    "extend": "peer baseline: K independent rich 80-100-word rewrites of q, Wan2.1's prompt extender asked K times",
    "original": "q itself K times (only the video seed differs)",
    "dpp-rerank": "n policy rewrites of q per step; keep the best DPP gain and relevance against the set",
}
