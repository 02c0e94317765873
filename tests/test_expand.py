"""Expansion: step records agree with the DPP core, every method runs, the command line behaves."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import METHODS, expand, run_expansion
from dppgrpo_core.maths.dpp import log_det, marginal_gains
from dppgrpo_core.maths.rewards import relevance
from dppgrpo_core.models.embedder import embed, load_embedder
from dppgrpo_core.models.policy import load_policy
from dppgrpo_core.settings import Settings

QUERY = "a dog playing with a ball at the beach"


@pytest.fixture(scope="module")
def tiny_policy(tiny_policy_dir):
    policy = load_policy(str(tiny_policy_dir), settings=Settings(device="cpu"))
    policy.gen_defaults = {"max_new_tokens": 12, "top_p": 0.95}
    return policy


def assert_records_consistent(records, lambda_div=0.5, lambda_rel=0.5):
    emb = load_embedder()
    prompts = [r.prompt for r in records]
    vectors = embed(prompts, emb)
    q = embed([QUERY], emb)
    for i, r in enumerate(records):
        assert r.index == i + 1
        expected_gain = float(marginal_gains(vectors[:i], vectors[i : i + 1])[0])
        assert r.gain == pytest.approx(expected_gain, abs=1e-5)
        assert r.relevance == pytest.approx(float(relevance(q, vectors[i : i + 1])[0]), abs=1e-5)
        assert r.reward == pytest.approx(lambda_div * r.gain + lambda_rel * r.relevance, abs=1e-9)
        assert r.log_det == pytest.approx(log_det(vectors[: i + 1]), abs=1e-4)
        assert r.generate_s >= 0 and r.score_s > 0
        torch.testing.assert_close(r.embedding.float(), vectors[i].float(), atol=1e-5, rtol=0)  # the app plots these
        assert "embedding" not in r.to_dict()  # downloads stay plain JSON


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_yields_k_consistent_records(method, tiny_policy):
    records = list(expand(QUERY, 3, method, seed=1, policy=tiny_policy, lambda_div=0.3, lambda_rel=0.7))
    assert len(records) == 3 and all(r.prompt for r in records)
    assert_records_consistent(records, 0.3, 0.7)


def test_original_repeats_the_query_with_diminishing_gains():
    records = list(expand(QUERY, 4, "original"))
    assert [r.prompt for r in records] == [QUERY] * 4
    gains = [r.gain for r in records]
    assert gains[0] == pytest.approx(np.log(2)) and all(a > b for a, b in zip(gains, gains[1:]))
    np.testing.assert_allclose(gains, [np.log((j + 1) / j) for j in range(1, 5)], atol=1e-5)


def test_same_seed_same_set_and_rerank_keeps_best_candidate(tiny_policy):
    a = [r.prompt for r in expand(QUERY, 3, "dpp-grpo", seed=5, policy=tiny_policy)]
    b = [r.prompt for r in expand(QUERY, 3, "dpp-grpo", seed=5, policy=tiny_policy)]
    assert a == b
    records = list(expand(QUERY, 2, "dpp-rerank", seed=2, policy=tiny_policy, n_candidates=3))
    for i, r in enumerate(records):
        assert 1 <= len(r.candidates) <= 3 and r.prompt in r.candidates


def test_bad_arguments_are_clear_errors():
    with pytest.raises(UserFacingError, match="empty"):
        next(expand("  ", 3, "original"))
    with pytest.raises(UserFacingError, match="K must"):
        next(expand(QUERY, 0, "original"))
    with pytest.raises(UserFacingError, match="Unknown method"):
        next(expand(QUERY, 2, "nope"))
    for bad in ({"lambda_div": float("nan")}, {"temperature": float("inf")}, {"n_candidates": 2.5},
                {"lambda_rel": -0.1}, {"compose_candidates": 10**6}, {"lambda_div": True}):
        with pytest.raises(UserFacingError, match=f"{next(iter(bad))} must be"):
            next(expand(QUERY, 2, "original", **bad))
    with pytest.raises(UserFacingError, match="Unknown expansion option"):
        next(expand(QUERY, 2, "original", lambda_dvi=0.3))
    for seed in (float("nan"), -1, 2**63, 1.5, "x"):
        with pytest.raises(UserFacingError, match="seed must be"):
            next(expand(QUERY, 2, "original", seed=seed))


def test_config_is_recorded_and_changes_the_choice():
    # A dpp-compose set is q plus composed frames; λ moves the pick: more weight on Δ, a more diverse set.
    emb = load_embedder()
    sets = {lam: run_expansion(QUERY, 6, "dpp-compose", seed=0, embedder=emb, lambda_div=lam, lambda_rel=1 - lam)
            for lam in (0.1, 0.9)}
    assert sets[0.9]["config"]["lambda_div"] == 0.9 and sets[0.1]["config"]["lambda_rel"] == pytest.approx(0.9)
    assert all(QUERY in s["prompt"].lower() for s in sets[0.9]["steps"])
    log_dets = {lam: r["steps"][-1]["log_det"] for lam, r in sets.items()}
    rels = {lam: np.mean([s["relevance"] for s in r["steps"]]) for lam, r in sets.items()}
    assert log_dets[0.9] > log_dets[0.1] and rels[0.1] > rels[0.9]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "dppgrpo_core.expand", *args], capture_output=True, text=True, timeout=300)


def test_cli_json_output(tiny_policy_dir):
    out = run_cli(QUERY, "-k", "3", "--method", "dpp-rerank", "--seed", "0", "--json", "--policy", str(tiny_policy_dir),
                  "--n-candidates", "2", "--device", "cpu")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["query"] == QUERY and result["method"] == "dpp-rerank"
    assert [s["index"] for s in result["steps"]] == [1, 2, 3]
    assert {"prompt", "gain", "relevance", "reward"} <= set(result["steps"][0])
    assert set(result["timing"]) >= {"generate_s", "score_s", "total_s"}
    assert "prompt/s" in out.stderr or "3/3" in out.stderr  # the progress bar


@pytest.mark.parametrize(
    "args, message",
    [(["", "-k", "2"], "empty"), ([QUERY, "-k", "0"], "-k: must be a whole number from 1 to 50"), ([QUERY, "-k", "51"], "from 1 to 50"),
     ([QUERY, "--method", "magic"], "invalid choice"), ([QUERY, "--lambda-div", "nan"], "--lambda-div: must be"),
     ([QUERY, "--temperature", "inf"], "--temperature: must be"), ([QUERY, "--lambda-rel", "1.5"], "from 0.0 to 1.0"),
     ([QUERY, "--n-candidates", "100000"], "--n-candidates: must be"), ([QUERY, "--seed", str(2**64)], "--seed"),
     ([QUERY, "--seed", "nan"], "--seed"), ([QUERY, "--lambda-div", "0", "--lambda-rel", "0"], "both be 0")],
)
def test_cli_bad_input_exits_2_with_one_line(args, message):
    out = run_cli(*args)
    assert out.returncode == 2 and message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


@pytest.mark.slow
def test_packaged_smollm_end_to_end():
    result = run_expansion(QUERY, 3, "dpp-rerank", seed=0, n_candidates=2)
    assert len(result["steps"]) == 3
    prompts = [s["prompt"] for s in result["steps"]]
    assert len(set(prompts)) == 3 and all(len(p.split()) >= 3 for p in prompts)
    assert result["steps"][-1]["log_det"] == pytest.approx(log_det(embed(prompts)), abs=1e-4)
    assert torch.tensor([s["relevance"] for s in result["steps"]]).mean() > 0.2


def test_extend_is_k_independent_rich_rewrites_with_the_anchors_instruction():
    from dppgrpo_core.models.chat import MAX_NEW_TOKENS, build_extend_messages
    from dppgrpo_core.models.policy import Policy

    class Recording(Policy):
        name, calls = "recording", []

        def generate(self, messages_batch, num_return_sequences=1, **kwargs):
            self.calls.append((messages_batch, num_return_sequences, kwargs.get("max_new_tokens")))
            return [f"A detailed description number {i} of a dog with a ball on a sunny beach." for i in
                    range(num_return_sequences)]

    policy = Recording()
    records = list(expand(QUERY, 4, "extend", seed=0, policy=policy))
    # One batched call: the anchors' system prompt and q alone (no set), with room for ~100 words.
    assert policy.calls == [([build_extend_messages(QUERY)], 4, MAX_NEW_TOKENS)]
    assert [r.prompt for r in records] == [f"A detailed description number {i} of a dog with a ball on a sunny "
                                           "beach." for i in range(4)]
    assert "80 to 100 words" in build_extend_messages(QUERY)[0]["content"]
