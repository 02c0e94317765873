"""The paper's reward components in trl's reward-function signature, over dppgrpo_core.maths.rewards.

    rewards = DPPRewards(load_embedder())
    rewards.dpp_gain(completions=["A drone shot of a dog."], previous=[["A close-up of a dog."]])   # [Δ]
    rewards.relevance(completions=["A drone shot of a dog."], query=["a dog"], variants=[["..."]])  # [R_rel]

GRPOTrainer calls each function with the batch's completions (strings, or lists of message dicts
for conversational prompts) and every dataset column as a keyword list, one entry per completion:
`previous` (the prompts already in the set: the DPP context S), `query` (q) and `variants` (R_q).
The weights λ_div, λ_rel are trl's `reward_weights`; trl logs each function's mean as
`rewards/dpp_gain/mean` and `rewards/relevance/mean`.

A third function, `writing`, is not the paper's: 1 when the critic's rules of a written prompt
(`training.critic.problems`: length, q and its style words kept, no contradiction, nothing said twice,
no plan label filled in, no second place) find nothing, else 0. Its weight λ_writing is 0 unless a
recipe asks (issue 24's ablation beside the paper's reward); it is logged either way, so every run
shows how often its completions break the rules.

A completion is scored as inference would keep it: cleaned with `clean_prompt`; one that
`degenerate_reason` (empty, a token loop, a verbatim repeat of an earlier prompt) scores 0 on all.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import torch

from dppgrpo_core.maths import rewards as core
from dppgrpo_core.models.chat import clean_prompt, degenerate_reason
from dppgrpo_core.models.embedder import embed, load_embedder

REWARD_NAMES = ("dpp_gain", "relevance", "writing")  # trl's reward_weights follow this order


def completion_text(completion) -> str:
    """The generated text of one completion: a string, or the last assistant message of a conversation."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    for message in reversed(list(completion)):
        if message.get("role", "assistant") == "assistant":
            return str(message.get("content", ""))
    return ""


class DPPRewards:
    """Both reward functions, sharing one embedder and an embedding cache.

    The context sets, queries and reference sets repeat across the G completions of a group and
    across steps, so each distinct text is embedded once; only new completions cost an encode.
    `seconds` accumulates the time spent inside the reward functions (the benchmark's reward share).
    """

    def __init__(self, embedder=None, cache_size: int = 50_000):
        self.embedder = embedder
        self.cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.cache_size = cache_size
        self.seconds = 0.0  # trl names each component after the bound method: dpp_gain, relevance

    def vectors(self, texts: list[str]) -> torch.Tensor:
        """Embeddings of `texts` (rows), encoding only those not cached, in one batch."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            self.embedder = self.embedder or load_embedder()
            for text, vector in zip(missing, embed(missing, self.embedder)):
                self.cache[text] = vector
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return torch.stack([self.cache[t] for t in texts]) if texts else torch.zeros(0, 1)

    def _cleaned(self, completions, previous) -> tuple[list[str], list[bool]]:
        texts = [clean_prompt(completion_text(c)) for c in completions]
        ok = [degenerate_reason(t, prev or ()) is None for t, prev in zip(texts, previous)]
        return texts, ok

    def dpp_gain(self, completions, previous=None, **kwargs) -> list[float]:
        """log det(L_{S∪p} + I) − log det(L_S + I) of each completion p against its row's context set S."""
        start = time.perf_counter()
        previous = previous if previous is not None else [[] for _ in completions]
        texts, ok = self._cleaned(completions, previous)
        self.vectors([t for t, good in zip(texts, ok) if good] + [p for ctx in previous for p in ctx or ()])  # one batch
        out = []
        for text, good, context in zip(texts, ok, previous):
            if not good:
                out.append(0.0)
                continue
            reference = self.vectors(list(context)) if context else None
            out.append(float(core.marginal_gains(reference, self.vectors([text]))[0]))
        self._timed("dpp_gain", start, kwargs)
        return out

    def relevance(self, completions, query, variants=None, previous=None, **kwargs) -> list[float]:
        """cos(p, q) · max_j cos(p, r_j) of each completion p, with R_q = the row's reference variants."""
        start = time.perf_counter()
        previous = previous if previous is not None else [[] for _ in completions]
        variants = variants if variants is not None else [[] for _ in completions]
        texts, ok = self._cleaned(completions, previous)
        self.vectors([t for t, good in zip(texts, ok) if good] + list(query) + [r for ref in variants for r in ref or ()])
        out = []
        for text, good, q, reference in zip(texts, ok, query, variants):
            if not good:
                out.append(0.0)
                continue
            ref = self.vectors(list(reference)) if reference else None
            out.append(float(core.relevance(self.vectors([q])[0], self.vectors([text]), ref)[0]))
        self._timed("relevance", start, kwargs)
        return out

    def writing(self, completions, query, previous=None, **kwargs) -> list[float]:
        """1.0 for each completion the critic's rules of a written prompt pass (`critic.problems`), else 0.0."""
        from .critic import problems

        start = time.perf_counter()
        previous = previous if previous is not None else [[] for _ in completions]
        texts, ok = self._cleaned(completions, previous)
        out = [float(good and not problems(text, q)) for text, good, q in zip(texts, ok, query)]
        self._timed("writing", start, kwargs)
        return out

    def _timed(self, name: str, start: float, kwargs: dict) -> None:
        seconds = time.perf_counter() - start
        self.seconds += seconds
        if kwargs.get("log_metric"):  # trl's hook: logged next to step_time, so the reward share is visible
            kwargs["log_metric"](f"reward_seconds/{name}", seconds)

    def functions(self, names=REWARD_NAMES) -> list:
        """The reward functions to hand to GRPOTrainer, in the order of `names` (and of reward_weights)."""
        table = {"dpp_gain": self.dpp_gain, "relevance": self.relevance, "writing": self.writing}
        unknown = [n for n in names if n not in table]
        if unknown:
            raise ValueError(f"unknown reward {unknown[0]!r}; choose from {sorted(table)}")
        return [table[n] for n in names]
