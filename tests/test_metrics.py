"""Known answers and properties of the diversity metrics (eval.metrics)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dppgrpo_core.maths.dpp import log_det
from eval.metrics import (
    clip_score,
    dpp_log_det,
    mean_pairwise_cosine_distance,
    truncated_entropy,
    vendi_score,
)


def _vendi_by_n_by_n_eigendecomposition(x: np.ndarray, q: float = 1.0) -> float:
    """The definition, literally: eigenvalues of K/n with K the n×n cosine kernel."""
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    lam = np.clip(np.linalg.eigvalsh(u @ u.T / len(u)), 0, None)
    lam = lam[lam > 1e-15] / lam.sum()
    if q == 1:
        return float(np.exp(-(lam * np.log(lam)).sum()))
    if math.isinf(q):
        return float(1 / lam.max())
    return float(np.exp(np.log((lam**q).sum()) / (1 - q)))


# ---------------------------------------------------------------- Vendi


@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 1.0, 2.0, math.inf])
@pytest.mark.parametrize("shape", [(7, 3), (2, 384), (50, 8), (8, 50), (200, 512), (3, 1)])
def test_vendi_of_identical_samples_is_one(shape, q):
    # Rounding leaves eigenvalues of ~1e-17 beside the one true eigenvalue; for q < 1 their q-th powers
    # add up (1.0000000075 at q = 0.5 on one machine, n at q = 0) unless the kernel's rank is respected.
    n, d = shape
    row = np.random.default_rng(n * 1000 + d).normal(size=(1, d))
    assert vendi_score(np.tile(row, (n, 1)), q=q) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("q", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("shape", [(12, 5), (6, 40), (300, 64)])
def test_vendi_of_copies_of_r_orthogonal_rows_is_r(shape, q):
    n, d = shape
    r = 3
    basis = np.linalg.qr(np.random.default_rng(d).normal(size=(d, r)))[0].T  # r orthonormal rows in R^d
    x = np.repeat(basis, n // r, axis=0) * np.random.default_rng(n).uniform(0.5, 2.0, size=(n // r * r, 1))
    assert vendi_score(x, q=q) == pytest.approx(float(r), rel=1e-12)


@pytest.mark.parametrize("q", [0.5, 1.0, 2.0, math.inf])
def test_vendi_of_n_orthogonal_samples_is_n(q):
    x = np.linalg.qr(np.random.default_rng(0).normal(size=(10, 6)))[0].T  # 6 orthonormal rows in R^10
    x = x * np.arange(1, 7)[:, None]  # lengths do not matter under the cosine kernel
    assert vendi_score(x, q=q) == pytest.approx(6.0, rel=1e-9)


def test_vendi_of_two_clusters_is_two():
    x = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 5)
    assert vendi_score(x) == pytest.approx(2.0)


@pytest.mark.parametrize("shape", [(30, 5), (5, 30)])  # dual (n > d) and primal (n ≤ d) paths
@pytest.mark.parametrize("q", [0.5, 1.0, 3.0, math.inf])
def test_vendi_matches_the_n_by_n_definition(shape, q):
    x = np.random.default_rng(1).normal(size=shape)
    assert vendi_score(x, q=q) == pytest.approx(_vendi_by_n_by_n_eigendecomposition(x, q), rel=1e-9)


def test_vendi_rejects_zero_rows_and_bad_q():
    with pytest.raises(ValueError, match="all zeros"):
        vendi_score(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="q must be"):
        vendi_score(np.eye(2), q=-1)
    with pytest.raises(ValueError, match="NaN"):
        vendi_score(np.array([[1.0, np.nan]]))


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 8)), elements=st.floats(-10, 10)))
def test_vendi_lies_between_one_and_min_n_d_and_ignores_row_order_and_scale(x):
    assume((np.linalg.norm(x, axis=1) > 1e-3).all())  # zero rows are rejected (tested above)
    v = vendi_score(x)
    assert 1.0 - 1e-9 <= v <= min(x.shape) + 1e-9
    shuffled = x[::-1] * 3.7
    assert vendi_score(shuffled) == pytest.approx(v, rel=1e-7)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 10), st.integers(0, 10_000))
def test_vendi_decreases_with_q(n, seed):
    x = np.random.default_rng(seed).normal(size=(n, 4))
    values = [vendi_score(x, q=q) for q in (0.5, 1.0, 2.0, math.inf)]
    assert all(a >= b - 1e-9 for a, b in zip(values, values[1:]))


# ---------------------------------------------------------------- truncated entropy


@pytest.mark.parametrize("sigma", [0.5, 2.0])
def test_truncated_entropy_of_isotropic_gaussian_is_close_to_closed_form(sigma):
    d = 6
    x = np.random.default_rng(2).normal(scale=sigma, size=(20_000, d))
    expected = 0.5 * d * math.log(2 * math.pi * math.e * sigma**2)  # entropy of N(0, σ² I_d)
    assert truncated_entropy(x, k=d) == pytest.approx(expected, abs=0.03)


def test_truncated_entropy_uses_the_top_k_eigenvalues_of_the_n_minus_1_covariance():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 8)) * np.array([5, 4, 3, 2, 1, 0.5, 0.2, 0.1])
    lam = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False, ddof=1)))[::-1][:3]
    expected = 1.5 * math.log(2 * math.pi * math.e) + 0.5 * np.log(lam).sum()
    assert truncated_entropy(x, k=3) == pytest.approx(expected, rel=1e-10)
    # torch.cov agrees (the authors' code uses it)
    lam_t = torch.linalg.eigvalsh(torch.cov(torch.as_tensor(x).T)).flip(0)[:3]
    assert truncated_entropy(x, k=3) == pytest.approx(1.5 * math.log(2 * math.pi * math.e) + 0.5 * float(torch.log(lam_t).sum()))


def test_truncated_entropy_same_on_primal_and_dual_paths():
    x = np.random.default_rng(4).normal(size=(6, 40))  # n < d: through the n×n Gram
    lam = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1][:4]
    assert truncated_entropy(x, k=4) == pytest.approx(2 * math.log(2 * math.pi * math.e) + 0.5 * np.log(lam).sum())


def test_truncated_entropy_needs_k_below_n():
    with pytest.raises(ValueError, match="needs more than k samples"):
        truncated_entropy(np.random.default_rng(0).normal(size=(5, 10)), k=5)
    with pytest.raises(ValueError, match="positive integer"):
        truncated_entropy(np.eye(5), k=0)


def test_truncated_entropy_floors_missing_directions():
    # All samples on one line: one direction of spread, the other k-1 eigenvalues are 0 → floored, finite.
    x = np.outer(np.arange(10.0), [1.0, 2.0, 0.0])
    h = truncated_entropy(x, k=3, eigenvalue_floor=1e-12)
    lam = np.var(np.arange(10.0), ddof=1) * 5.0
    expected = 1.5 * math.log(2 * math.pi * math.e) + 0.5 * (math.log(lam) + 2 * math.log(1e-12))
    assert math.isfinite(h)
    assert h == pytest.approx(expected, rel=1e-6)
    assert truncated_entropy(x, k=3, eigenvalue_floor=1e-6) > h


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 10.0))
def test_truncated_entropy_shifts_by_k_log_scale(seed, scale):
    x = np.random.default_rng(seed).normal(size=(15, 5))
    assert truncated_entropy(x * scale, k=4) == pytest.approx(truncated_entropy(x, k=4) + 4 * math.log(scale), abs=1e-8)
    assert truncated_entropy(x + 100.0, k=4) == pytest.approx(truncated_entropy(x, k=4), abs=1e-6)  # translation


# ---------------------------------------------------------------- log det, pairwise distance, CLIP score


def test_dpp_log_det_is_the_core_one():
    x = np.random.default_rng(5).normal(size=(7, 4))
    assert dpp_log_det is log_det
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert dpp_log_det(x) == pytest.approx(np.linalg.slogdet(u @ u.T + np.eye(7))[1])


def test_mean_pairwise_cosine_distance_known_values_and_brute_force():
    assert mean_pairwise_cosine_distance(np.eye(4)) == pytest.approx(1.0)
    assert mean_pairwise_cosine_distance(np.ones((3, 2))) == pytest.approx(0.0, abs=1e-12)
    assert mean_pairwise_cosine_distance(np.array([[1.0, 0], [-1.0, 0]])) == pytest.approx(2.0)
    x = np.random.default_rng(6).normal(size=(9, 5))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    pairs = [1 - u[i] @ u[j] for i in range(9) for j in range(i + 1, 9)]
    assert mean_pairwise_cosine_distance(x) == pytest.approx(np.mean(pairs))
    with pytest.raises(ValueError, match="at least 2"):
        mean_pairwise_cosine_distance(np.ones((1, 3)))


def test_clip_score_is_the_frame_mean_of_cosines():
    rng = np.random.default_rng(7)
    frames, text = rng.normal(size=(5, 8)), rng.normal(size=8)
    cos = [f @ text / np.linalg.norm(f) / np.linalg.norm(text) for f in frames]
    assert clip_score(frames, text) == pytest.approx(np.mean(cos))
    assert clip_score(frames, text[None]) == pytest.approx(np.mean(cos))
    assert clip_score(np.tile(text, (3, 1)) * 2.0, text) == pytest.approx(1.0)


def test_clip_score_batched_and_shape_errors():
    rng = np.random.default_rng(8)
    images, texts = rng.normal(size=(3, 4, 6)), rng.normal(size=(3, 6))
    batched = clip_score(images, texts)
    assert batched.shape == (3,)
    assert batched == pytest.approx([clip_score(images[v], texts[v]) for v in range(3)])
    with pytest.raises(ValueError, match="expected image"):
        clip_score(images, texts[:2])
    with pytest.raises(ValueError, match="one text embedding"):
        clip_score(images[0], texts)


def test_metrics_are_deterministic_and_a_single_row_is_one_mode():
    x = np.random.default_rng(9).normal(size=(12, 6))
    for metric in (vendi_score, dpp_log_det, mean_pairwise_cosine_distance, lambda m: truncated_entropy(m, 5)):
        assert metric(x) == metric(x.copy())
    assert vendi_score(x[:1]) == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["eval.metrics", "eval.prompts"])
def test_docstring_examples_hold(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
