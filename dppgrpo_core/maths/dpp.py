"""DPP volume of a set of embeddings, and what one more item adds to it.

Rows are L2-normalised inside, so L = E Eᵀ is the cosine-similarity kernel, and every
quantity is the paper's log det(L + I). All maths runs in float64 whatever the input dtype.

    >>> import torch
    >>> log_det(torch.eye(3))                      # three orthogonal prompts: 3·log 2
    2.079441541679836
    >>> marginal_gains(torch.eye(3)[:1], torch.eye(3)).tolist()   # a copy gains log(3/2), new directions log 2
    [0.4054651081081644, 0.6931471805599453, 0.6931471805599453]
    >>> greedy_select(torch.eye(3)[[0, 0, 1]], 2)
    [0, 2]
"""

from __future__ import annotations

import math

import numpy as np
import torch

# Rows with a norm below this are treated as zero vectors: they carry no direction, add
# nothing to the volume, and gain exactly 0.
ZERO_NORM = 1e-12


def unit_rows(x) -> torch.Tensor:
    """Float64 copy of `x` (numpy or torch, shape (n, d) or (d,)) with each row scaled to unit length."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach().to("cpu", torch.float64)
    if t.ndim == 1:
        t = t.unsqueeze(0)
    if t.ndim != 2:
        raise ValueError(f"expected a matrix whose rows are embeddings, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError("embeddings contain NaN or infinity")
    norms = t.norm(dim=1, keepdim=True)
    return torch.where(norms > ZERO_NORM, t / norms.clamp_min(ZERO_NORM), torch.zeros_like(t))


def cosine_kernel(embeddings) -> torch.Tensor:
    """L = E Eᵀ for unit rows E: the (n, n) cosine-similarity matrix."""
    e = unit_rows(embeddings)
    return e @ e.T


def _logdet_spd(a: torch.Tensor) -> float:
    # a = I + PSD, so its eigenvalues are ≥ 1 and Cholesky always succeeds in float64.
    chol = torch.linalg.cholesky(a)
    return float(2.0 * torch.log(torch.diagonal(chol)).sum())


def log_det(embeddings) -> float:
    """log det(L + I) of the set; 0.0 for an empty set.

    For n > d, Sylvester's identity det(I_n + E Eᵀ) = det(I_d + Eᵀ E) works in the smaller d×d space.
    """
    e = unit_rows(embeddings)
    n, d = e.shape
    if n == 0:
        return 0.0
    if n <= d:
        return _logdet_spd(torch.eye(n, dtype=e.dtype) + e @ e.T)
    return _logdet_spd(torch.eye(d, dtype=e.dtype) + e.T @ e)


def marginal_gains(reference, candidates) -> torch.Tensor:
    """For each candidate on its own: log_det(reference ∪ {candidate}) − log_det(reference), shape (c,).

    One Cholesky factor C of A = L_ref + I serves all candidates (Schur complement):
    det([[A, b], [bᵀ, 1 + xᵀx]]) = det(A) · (1 + xᵀx − bᵀA⁻¹b), with b = R x, so the gain is
    log(1 + xᵀx − ‖C⁻¹ b‖²). The bracket is ≥ 1 in exact arithmetic (gains are never negative);
    it is clamped there against rounding. The reference may have 0 rows.
    """
    cand = unit_rows(candidates)
    ref = unit_rows(reference) if _has_rows(reference) else torch.zeros(0, cand.shape[1], dtype=torch.float64)
    if ref.shape[1] != cand.shape[1]:
        raise ValueError(f"reference has dimension {ref.shape[1]} but candidates have {cand.shape[1]}")
    self_sim = 1.0 + (cand * cand).sum(dim=1)  # 2 for unit rows, 1 for zero rows
    if ref.shape[0] == 0:
        return torch.log(self_sim)
    chol = torch.linalg.cholesky(torch.eye(ref.shape[0], dtype=ref.dtype) + ref @ ref.T)
    solved = torch.linalg.solve_triangular(chol, ref @ cand.T, upper=False)  # C⁻¹ B, shape (m, c)
    schur = self_sim - (solved * solved).sum(dim=0)
    return torch.log(schur.clamp_min(1.0))


def _has_rows(x) -> bool:
    if x is None:
        return False
    shape = tuple(x.shape) if hasattr(x, "shape") else np.asarray(x).shape
    return len(shape) > 0 and shape[0] > 0 and (len(shape) == 1 or shape[-1] > 0)


def greedy_select(embeddings, k: int) -> list[int]:
    """Greedy DPP MAP: k indices in pick order, each the item of largest marginal gain given those before.

    Incremental Cholesky (Chen, Zhang & Zhou, NeurIPS 2018) on K = L + I: each step costs O(n·k)
    instead of a log det per candidate. Ties go to the lowest index, so the result is deterministic.
    """
    e = unit_rows(embeddings)
    n = e.shape[0]
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and the number of items ({n}), got {k}")
    residual = 1.0 + (e * e).sum(dim=1)  # d_i² = K_ii − ‖c_i‖², the exp of item i's current gain
    factors = torch.zeros(n, k, dtype=e.dtype)
    picked: list[int] = []
    available = torch.ones(n, dtype=torch.bool)
    for step in range(k):
        scores = torch.where(available, residual, torch.full_like(residual, -math.inf))
        # Ties (within rounding) go to the lowest index, so equal items are picked in input order.
        j = int(torch.nonzero(scores >= scores.max() - 1e-12)[0])
        picked.append(j)
        available[j] = False
        if step == k - 1:
            break
        d_j = math.sqrt(max(float(residual[j]), 1.0))
        kernel_row = e @ e[j]  # K_ji − δ_ji; the identity term only touches j itself, which is now excluded
        new = (kernel_row - factors[:, :step] @ factors[j, :step]) / d_j
        factors[:, step] = new
        residual = residual - new * new
    return picked
