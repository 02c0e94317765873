"""Relevance, composite reward and GRPO group advantages."""

import numpy as np
import pytest
import torch

from dppgrpo_core.rewards import composite_reward, group_advantages, relevance


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
