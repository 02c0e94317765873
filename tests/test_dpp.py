"""The DPP core against brute force: log det(L + I), marginal gains, greedy MAP."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dppgrpo_core.maths.dpp import (
    cosine_kernel,
    greedy_select,
    log_det,
    marginal_gains,
    unit_rows,
)


def brute_log_det(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return 0.0
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    e = np.where(norms > 1e-12, x / np.maximum(norms, 1e-12), 0.0)
    sign, value = np.linalg.slogdet(np.eye(len(e)) + e @ e.T)
    assert sign > 0
    return float(value)


finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32)
matrices = st.integers(1, 12).flatmap(
    lambda n: st.integers(1, 8).flatmap(lambda d: arrays(np.float64, (n, d), elements=finite))
)


@settings(max_examples=150, deadline=None)
@given(matrices)
def test_log_det_matches_brute_force(x):
    # n > d rows go through Sylvester's identity, n <= d through the n x n kernel: both must agree.
    assert log_det(x) == pytest.approx(brute_log_det(x), abs=1e-8)


@settings(max_examples=150, deadline=None)
@given(matrices, st.integers(0, 11), st.data())
def test_marginal_gains_match_difference_of_log_dets(x, m, data):
    m = min(m, len(x) - 1)
    reference, candidates = x[:m], x[m:]
    gains = marginal_gains(reference, candidates)
    expected = [brute_log_det(np.vstack([reference, c[None]])) - brute_log_det(reference) for c in candidates]
    assert gains.shape == (len(candidates),)
    np.testing.assert_allclose(gains.numpy(), expected, atol=1e-7)
    assert (gains >= 0).all()


def test_orthogonal_vector_gains_log_two():
    reference = torch.eye(6)[:4] * 3.0  # scale must not matter: rows are normalised
    gains = marginal_gains(reference, torch.eye(6)[4:])
    np.testing.assert_allclose(gains.numpy(), [math.log(2)] * 2, atol=1e-12)


def test_empty_reference_gains_log_two_for_unit_and_zero_for_zero_vector():
    cands = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    for empty in (torch.zeros(0, 3), np.zeros((0, 3)), None):
        np.testing.assert_allclose(marginal_gains(empty, cands).numpy(), [math.log(2), 0.0], atol=1e-12)


def test_diminishing_returns_for_copies():
    # The j-th copy of an element orthogonal to the rest gains log((j+1)/j), falling towards 0.
    base = torch.eye(5)
    reference = base[1:]  # four other orthogonal elements
    copy = base[:1]
    previous = math.inf
    for j in range(1, 30):
        gain = float(marginal_gains(reference, copy)[0])
        assert gain == pytest.approx(math.log((j + 1) / j), abs=1e-10)
        assert gain < previous
        previous = gain
        reference = torch.cat([reference, copy])
    assert previous < 0.04


def test_accepts_float32_numpy_and_duplicates_at_scale():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((100, 384)).astype(np.float32)
    fresh = rng.standard_normal((900, 384))
    copies = np.repeat(reference[:1], 100, 0)  # 100 identical candidates, each a copy of a reference row
    candidates = np.vstack([fresh, copies]).astype(np.float32)
    gains = marginal_gains(reference, candidates)
    assert gains.shape == (1000,) and torch.isfinite(gains).all() and (gains >= 0).all()
    # A copy of a reference row gains at most log(3/2) (its first copy, were it orthogonal to the rest),
    # less than any fresh random direction; all copies gain alike.
    assert float(gains[900:].max()) <= math.log(1.5) + 1e-9
    assert float(gains[900:].max()) < float(gains[:900].min())
    assert float(gains[900:].max() - gains[900:].min()) < 1e-6
    # float32 and float64 inputs agree.
    np.testing.assert_allclose(
        marginal_gains(reference.astype(np.float64), candidates[:50]).numpy(), gains[:50].numpy(), atol=1e-4
    )


def test_log_det_empty_and_zero_rows():
    assert log_det(np.zeros((0, 4))) == 0.0
    assert log_det(np.zeros((3, 4))) == 0.0
    assert log_det(torch.eye(3)) == pytest.approx(3 * math.log(2))


def test_unit_rows_rejects_nan_and_bad_shapes():
    with pytest.raises(ValueError, match="NaN"):
        unit_rows(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="matrix"):
        unit_rows(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="dimension"):
        marginal_gains(np.ones((2, 3)), np.ones((2, 4)))


def test_cosine_kernel_is_cosine_similarity():
    x = np.array([[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(cosine_kernel(x).numpy(), [[1, 0.5**0.5], [0.5**0.5, 1]], atol=1e-12)


def brute_greedy(x: np.ndarray, k: int) -> list[int]:
    picked: list[int] = []
    for _ in range(k):
        best, best_val = None, -math.inf
        for i in range(len(x)):
            if i in picked:
                continue
            val = brute_log_det(x[picked + [i]])
            if val > best_val + 1e-9:
                best, best_val = i, val
        picked.append(best)
    return picked


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 15), st.integers(2, 10))
def test_greedy_select_matches_brute_force(seed, n, d):
    x = np.random.default_rng(seed).standard_normal((n, d))
    k = min(n, 1 + seed % n)
    assert greedy_select(x, k) == brute_greedy(x, k)


def test_greedy_select_skips_duplicates_and_checks_k():
    x = torch.eye(4)[[0, 0, 0, 1, 2]]
    assert greedy_select(x, 3) == [0, 3, 4]
    assert greedy_select(x, 0) == []
    with pytest.raises(ValueError, match="k must be"):
        greedy_select(x, 6)
