"""Relevance, the composite and balanced rewards, and GRPO group advantages."""

import numpy as np
import pytest
import torch

from dppgrpo_core.maths.rewards import (
    balanced_reward,
    composite_reward,
    group_advantages,
    relevance,
    standardise,
)


def cos(a, b):
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


def test_relevance_is_query_cosine_times_best_reference_cosine():
    rng = np.random.default_rng(1)
    q, cands, ref = rng.standard_normal(8), rng.standard_normal((5, 8)), rng.standard_normal((3, 8))
    got = relevance(q, cands, ref)
    expected = [cos(c, q) * max(cos(c, r) for r in ref) for c in cands]
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)
    got_mean = relevance(q, cands, ref, aggregate="mean")
    np.testing.assert_allclose(got_mean.numpy(), [cos(c, q) * np.mean([cos(c, r) for r in ref]) for c in cands])


def test_relevance_with_empty_reference_is_cosine_to_query():
    q, cands = np.array([1.0, 0.0]), np.array([[1.0, 1.0], [0.0, 2.0]])
    for empty in (None, np.zeros((0, 2)), torch.zeros(0, 2)):
        np.testing.assert_allclose(relevance(q, cands, empty).numpy(), [0.5**0.5, 0.0], atol=1e-12)


def test_relevance_rejects_bad_arguments():
    with pytest.raises(ValueError, match="aggregate"):
        relevance(np.ones(2), np.ones((1, 2)), None, aggregate="median")
    with pytest.raises(ValueError, match="one query"):
        relevance(np.ones((2, 2)), np.ones((1, 2)))


def test_composite_reward_weights():
    out = composite_reward(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), lambda_div=0.3, lambda_rel=0.7)
    np.testing.assert_allclose(out.numpy(), [0.3, 0.7], atol=1e-7)


def test_group_advantages_normalise_within_each_group():
    rewards = torch.tensor([1.0, 2.0, 3.0, 10.0, 10.0, 10.0, 0.0, 5.0, 10.0])
    adv = group_advantages(rewards, group_size=3).reshape(3, 3)
    np.testing.assert_allclose(adv[0].numpy(), [-1, 0, 1], atol=1e-3)
    np.testing.assert_allclose(adv[1].numpy(), [0, 0, 0])  # equal rewards: no signal, no NaN
    np.testing.assert_allclose(adv[2].numpy(), [-1, 0, 1], atol=1e-3)
    assert torch.allclose(adv.sum(dim=1), torch.zeros(3), atol=1e-5)


def test_group_advantages_rejects_ragged_groups():
    with pytest.raises(ValueError, match="groups of 4"):
        group_advantages([1.0, 2.0, 3.0], group_size=4)


# ----- balanced reward: one scale for Δ and relevance -----
def test_balanced_reward_equal_weights_pull_equally():
    # Δ favours candidate 0 and relevance favours candidate 1 by the same number of standard deviations,
    # though relevance's raw spread is twice as large: at 0.5/0.5 they tie (up to ε), and each λ tips it its way.
    gains = torch.tensor([0.30, 0.20])
    rels = torch.tensor([0.40, 0.60])
    even = balanced_reward(gains, rels, 0.5, 0.5)
    assert float(even[0]) == pytest.approx(float(even[1]), abs=1e-3)
    assert int(torch.argmax(balanced_reward(gains, rels, 0.6, 0.4))) == 0
    assert int(torch.argmax(balanced_reward(gains, rels, 0.4, 0.6))) == 1
    # The raw composite lets relevance decide even when λ leans to diversity.
    assert int(torch.argmax(composite_reward(gains, rels, 0.6, 0.4))) == 1


def test_balanced_reward_constant_component_adds_nothing():
    gains = torch.tensor([0.1, 0.5, 0.3, 0.2])
    same_rel = torch.full((4,), 0.7)
    torch.testing.assert_close(balanced_reward(gains, same_rel, 0.5, 0.5), 0.5 * standardise(gains))
    torch.testing.assert_close(balanced_reward(torch.full((4,), 0.2), same_rel), torch.zeros(4, dtype=torch.float64))
    assert balanced_reward(torch.tensor([0.3]), torch.tensor([0.9])).tolist() == [0.0]  # a group of one


def test_balanced_reward_is_shift_and_scale_free_per_component():
    gains, rels = torch.tensor([0.1, 0.4, 0.2]), torch.tensor([0.9, 0.3, 0.5])
    moved = balanced_reward(gains * 7 + 3, rels * 3 - 2, 0.8, 0.2)
    torch.testing.assert_close(moved, balanced_reward(gains, rels, 0.8, 0.2), atol=1e-3, rtol=0)
