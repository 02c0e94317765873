"""Scoring a set as it grows: each prompt's DPP marginal gain against the set so far and its relevance to q.

    scorer = SetScorer("a dog at the beach", embedder, lambda_div=0.65, lambda_rel=0.35)
    best, vector = scorer.pick(candidates)       # the best balanced reward against the set so far
    scorer.add(vector)                           # the set grows by that prompt
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from dppgrpo_core.maths.dpp import marginal_gains
from dppgrpo_core.maths.rewards import balanced_reward, composite_reward, relevance
from dppgrpo_core.models.embedder import embed


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
