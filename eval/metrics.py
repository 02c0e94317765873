"""Diversity and alignment metrics over feature matrices (rows = samples), in float64, deterministic.

    >>> import numpy as np
    >>> round(vendi_score(np.eye(4)), 6)      # four orthogonal samples: four distinct "modes"
    4.0
    >>> round(vendi_score(np.ones((5, 3))), 6) # five copies of one sample: one mode
    1.0
    >>> round(mean_pairwise_cosine_distance(np.eye(3)), 6)
    1.0
    >>> round(dpp_log_det(np.eye(3)), 6)      # the paper's log det(L + I) = 3·log 2, from dppgrpo_core
    2.079442

- `vendi_score`: Friedman & Dieng (2022), exp of the order-q Rényi entropy of the eigenvalues of
  K/n, K the cosine kernel. The nonzero eigenvalues of K/n = X Xᵀ/n equal those of the d×d
  "dual" Xᵀ X/n, so n > d costs O(n·d²) instead of O(n³).
- `truncated_entropy`: Ibarrola & Grace (2024). TCE on CLIP image features, TIE on Inception-v3
  pool features; the formula is the same, only the encoder differs.
- `dpp_log_det`: `dppgrpo_core.maths.dpp.log_det`, re-exported so one table uses one implementation.
- `mean_pairwise_cosine_distance`, `clip_score`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dppgrpo_core.maths.dpp import ZERO_NORM, unit_rows
from dppgrpo_core.maths.dpp import log_det as dpp_log_det

__all__ = [
    "vendi_score",
    "truncated_entropy",
    "dpp_log_det",
    "mean_pairwise_cosine_distance",
    "clip_score",
]

# Eigenvalues of the covariance below this are clamped to it in `truncated_entropy` (see there).
EIGENVALUE_FLOOR = 1e-12


def _matrix(features, name: str = "features") -> torch.Tensor:
    """Float64 CPU tensor of shape (n, d) with finite entries; 1-D input is one row."""
    t = features if isinstance(features, torch.Tensor) else torch.as_tensor(np.asarray(features))
    t = t.detach().to("cpu", torch.float64)
    if t.ndim == 1:
        t = t.unsqueeze(0)
    if t.ndim != 2:
        raise ValueError(f"{name} must be a matrix with one sample per row, got shape {tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)})")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contain NaN or infinity")
    return t


def _unit_rows(features, name: str = "features") -> torch.Tensor:
    x = _matrix(features, name)
    norms = x.norm(dim=1, keepdim=True)
    if (norms <= ZERO_NORM).any():  # a metric refuses what the DPP maths would count as nothing
        bad = int(torch.nonzero(norms[:, 0] <= ZERO_NORM)[0])
        raise ValueError(f"{name} row {bad} is all zeros: a cosine kernel needs every sample to have a direction")
    return unit_rows(x)


def _renyi_entropy(p: torch.Tensor, q: float) -> float:
    """Order-q Rényi entropy of a probability vector (zeros allowed); q=1 Shannon, q=inf min-entropy."""
    p = p[p > 0]
    if q == 1:
        return float(-(p * torch.log(p)).sum())
    if math.isinf(q):
        return float(-torch.log(p.max()))
    if q == 0:  # Hartley entropy: log of the number of nonzero eigenvalues (the kernel's numerical rank)
        return math.log(p.numel())
    return float(torch.log((p**q).sum()) / (1.0 - q))


def vendi_score(features, q: float = 1.0) -> float:
    """Vendi score of the rows under the cosine kernel: 1 for copies of one sample, n for n orthogonal ones.

        vendi_score(X)             # Shannon (q = 1), the paper's default
        vendi_score(X, q=2)        # any q ≥ 0; q=float("inf") weighs only the largest eigenvalue

    Eigenvalues of K/n sum to 1 (K has a unit diagonal). Only the kernel's rank counts: eigenvalues
    below λ_max·max(n, d)·ε (rounding, as in `numpy.linalg.matrix_rank`) are dropped and the rest
    renormalised, so copies score exactly 1 for every q (for q < 1, rounding-level eigenvalues
    would otherwise add their q-th powers). Zero rows raise ValueError (they have no cosine similarity).
    """
    if not (q >= 0):
        raise ValueError(f"q must be ≥ 0 (or inf), got {q}")
    x = _unit_rows(features)
    n, d = x.shape
    gram = x.T @ x if n > d else x @ x.T  # same nonzero spectrum; pick the smaller side
    eig = torch.linalg.eigvalsh(gram / n)
    eig = eig[eig > eig.max() * max(n, d) * torch.finfo(eig.dtype).eps]
    return math.exp(_renyi_entropy(eig / eig.sum(), q))


def truncated_entropy(features, k: int = 20, eigenvalue_floor: float = EIGENVALUE_FLOOR) -> float:
    """Gaussian entropy of the top-k principal directions: (k/2)·log(2πe) + ½·Σ_{i≤k} log λ_i.

        truncated_entropy(clip_image_features, k=20)       # TCE
        truncated_entropy(inception_pool_features, k=20)   # TIE

    λ are the eigenvalues of the sample covariance (n − 1 in the denominator, as `torch.cov` and
    the authors' code). Features are used as given (no normalisation). k must be below n: a
    sample of n points spans at most n − 1 directions. Rule for degenerate sets: eigenvalues below
    `eigenvalue_floor` (including tiny negative ones from rounding) count as `eigenvalue_floor`,
    so a set with fewer than k directions of spread gets a finite, very low score
    (each missing direction adds ½·log(floor) ≈ −13.8) instead of −inf or NaN.
    """
    x = _matrix(features)
    n, d = x.shape
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k >= n:
        raise ValueError(f"truncated entropy with k={k} needs more than k samples, got n={n}; lower k or add samples")
    if k > d:
        raise ValueError(f"k={k} exceeds the feature dimension {d}")
    if eigenvalue_floor <= 0:
        raise ValueError("eigenvalue_floor must be positive")
    centred = x - x.mean(dim=0, keepdim=True)
    # The covariance has the same nonzero eigenvalues as the n×n Gram of the centred rows; use the smaller.
    gram = centred.T @ centred if n > d else centred @ centred.T
    eig = torch.linalg.eigvalsh(gram / (n - 1))
    top = eig.flip(0)[:k].clamp_min(eigenvalue_floor)
    return float(0.5 * k * math.log(2 * math.pi * math.e) + 0.5 * torch.log(top).sum())


def mean_pairwise_cosine_distance(features) -> float:
    """Mean of 1 − cos(x_i, x_j) over the n(n−1)/2 pairs i < j, in O(n·d); needs n ≥ 2.

    Σ_{i≠j} cos = ‖Σ_i x̂_i‖² − n for unit rows x̂, so no n×n matrix is built.
    """
    x = _unit_rows(features)
    n = x.shape[0]
    if n < 2:
        raise ValueError("mean pairwise cosine distance needs at least 2 samples")
    s = x.sum(dim=0)
    off_diagonal = float(s @ s) - n
    # Clamped to its exact range [0, 2]: rounding gives −1e-16 for identical rows.
    return min(2.0, max(0.0, 1.0 - off_diagonal / (n * (n - 1))))


def clip_score(image_features, text_features) -> float | np.ndarray:
    """cos(image, text) of CLIP embeddings, averaged over the sampled frames of each video.

    Shapes:
        image (F, D), text (D,) or (1, D)   -> float: one video of F frames against its prompt
        image (V, F, D), text (V, D)        -> array (V,): V videos, each against its own prompt

    The raw cosine (no ×100, no clipping at 0), so it reads on the same scale for every encoder.
    """
    img = image_features if isinstance(image_features, torch.Tensor) else torch.as_tensor(np.asarray(image_features))
    txt = text_features if isinstance(text_features, torch.Tensor) else torch.as_tensor(np.asarray(text_features))
    img, txt = img.detach().to("cpu", torch.float64), txt.detach().to("cpu", torch.float64)
    if img.ndim == 2:
        if txt.ndim == 2 and txt.shape[0] == 1:
            txt = txt[0]
        if txt.ndim != 1:
            raise ValueError(f"one video (F, D) needs one text embedding (D,), got text shape {tuple(txt.shape)}")
        return float(clip_score(img.unsqueeze(0), txt.unsqueeze(0))[0])
    if img.ndim != 3 or txt.ndim != 2 or img.shape[0] != txt.shape[0] or img.shape[2] != txt.shape[1]:
        raise ValueError(
            f"expected image (V, F, D) and text (V, D), got {tuple(img.shape)} and {tuple(txt.shape)}"
        )
    if img.shape[1] == 0:
        raise ValueError("each video needs at least one frame")
    img_unit = img / img.norm(dim=2, keepdim=True).clamp_min(ZERO_NORM)
    txt_unit = txt / txt.norm(dim=1, keepdim=True).clamp_min(ZERO_NORM)
    per_frame = torch.einsum("vfd,vd->vf", img_unit, txt_unit)
    return per_frame.mean(dim=1).numpy()


def faithful_vendi(vectors: np.ndarray, faithful: list[bool]) -> float:
    """Vendi score of the faithful rows only: 0 with none, 1 with one.

    The effective number of distinct prompts that keep q (eval.judge.keeps_subject_and_action), so
    drifting from q cannot buy diversity.

    >>> faithful_vendi(np.eye(3), [True, True, False])
    2.0
    >>> faithful_vendi(np.eye(3), [False, True, False]), faithful_vendi(np.eye(3), [False] * 3)
    (1.0, 0.0)
    """
    keep = np.asarray(faithful, dtype=bool)
    if keep.sum() == 0:
        return 0.0
    if keep.sum() == 1:
        return 1.0
    return float(vendi_score(np.asarray(vectors)[keep]))
