"""The paper's rewards as pure functions of embeddings (rows = prompts).

    >>> import torch
    >>> q = torch.tensor([1.0, 0.0]); ref = torch.tensor([[1.0, 1.0]])
    >>> relevance(q, torch.tensor([[1.0, 0.0]]), ref)          # cos(p, q) · max_j cos(p, r_j)
    tensor([0.7071], dtype=torch.float64)
    >>> composite_reward(torch.tensor([0.69]), torch.tensor([0.8]))   # 0.5·Δ + 0.5·R_rel
    tensor([0.7450])
    >>> balanced_reward(torch.tensor([0.1, 0.3]), torch.tensor([0.9, 0.5]), 0.8, 0.2).round(decimals=2)
    tensor([-0.4200,  0.4200], dtype=torch.float64)
    >>> group_advantages(torch.tensor([1.0, 3.0, 5.0, 5.0]), group_size=2)
    tensor([-0.7071,  0.7071,  0.0000,  0.0000])

One scale wherever the two rewards are combined to *choose* (the rerank pick, the composer pick,
the GRPO advantage). Δ lives in (0, log 2] and relevance in [-1, 1], and within a group of
candidates relevance usually varies several times more than Δ, so a raw λ_div·Δ + λ_rel·R_rel
lets relevance decide whatever λ says. `balanced_reward` first standardises each component within
the group, (x - mean) / (std + ε), then applies the weights: λ is the weight of each, 0.5/0.5 is a
real balance, and a component that is constant over the group adds nothing. It is trl's
`multi_objective_aggregation="normalize_then_sum"`, so training and inference rank alike. The raw
`composite_reward` stays what a step record reports, since it does not depend on the group.
"""

from __future__ import annotations

import torch

from dppgrpo_core.maths.dpp import _has_rows, marginal_gains, unit_rows

__all__ = ["marginal_gains", "relevance", "composite_reward", "balanced_reward", "group_advantages"]

STANDARDISE_EPS = 1e-4  # as trl's GRPO advantages: a constant group standardises to 0, not to NaN


def relevance(query, candidates, reference=None, aggregate: str = "max") -> torch.Tensor:
    """cos(p, q) × aggregate_j cos(p, r_j) for each candidate p, shape (c,); cos(p, q) when the reference is empty.

    `aggregate` is "max" (the paper: close to at least one valid variant) or "mean".
    """
    if aggregate not in ("max", "mean"):
        raise ValueError(f"aggregate must be 'max' or 'mean', got {aggregate!r}")
    cand = unit_rows(candidates)
    q = unit_rows(query)
    if q.shape[0] != 1:
        raise ValueError(f"expected one query embedding, got {q.shape[0]}")
    to_query = cand @ q[0]
    if not _has_rows(reference):
        return to_query
    to_reference = cand @ unit_rows(reference).T  # (c, m)
    agg = to_reference.max(dim=1).values if aggregate == "max" else to_reference.mean(dim=1)
    return to_query * agg


def composite_reward(gains, relevances, lambda_div: float = 0.5, lambda_rel: float = 0.5) -> torch.Tensor:
    """λ_div·Δ + λ_rel·R_rel, elementwise."""
    return lambda_div * torch.as_tensor(gains) + lambda_rel * torch.as_tensor(relevances)


def standardise(values) -> torch.Tensor:
    """(x - mean) / (std + ε) over a 1-D group (unbiased std, as trl); zeros for a single value."""
    x = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if x.numel() < 2:
        return torch.zeros_like(x)
    return (x - x.mean()) / (x.std() + STANDARDISE_EPS)


def balanced_reward(gains, relevances, lambda_div: float = 0.5, lambda_rel: float = 0.5) -> torch.Tensor:
    """λ_div·z(Δ) + λ_rel·z(R_rel), z standardising within the group (see the module doc): for choosing."""
    return lambda_div * standardise(gains) + lambda_rel * standardise(relevances)


def group_advantages(rewards, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """(r − group mean) / (group std + ε) within each consecutive group of `group_size`, as GRPO does.

    The std is the unbiased sample std, as in trl's GRPOTrainer (and ε = 1e-4 as there).
    """
    r = torch.as_tensor(rewards, dtype=torch.float32 if not torch.is_tensor(rewards) else None)
    if group_size < 1 or r.numel() % group_size != 0:
        raise ValueError(f"{r.numel()} rewards do not split into groups of {group_size}")
    groups = r.reshape(-1, group_size)
    mean = groups.mean(dim=1, keepdim=True)
    std = groups.std(dim=1, keepdim=True) if group_size > 1 else torch.zeros_like(mean)
    return ((groups - mean) / (std + eps)).reshape(-1)
