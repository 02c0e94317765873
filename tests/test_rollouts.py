"""On-policy GRPO contexts (issue 14): the policy's own sets, written as inference writes them, bounded by K."""


import pandas as pd
import pytest

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.models.chat import build_messages
from dppgrpo_core.models.policy import Policy
from tests.fakes import HashingEmbedder
from training import rollouts
from training.examples import grpo_examples, load_rows


class RecordingPolicy(Policy):
    """Answers each call with a new numbered prompt and records the messages it was shown."""

    def __init__(self):
        self.seen = []

    def generate(self, messages_batch, **kwargs):
        self.seen.append(messages_batch[0])
        return [f"A wide shot of a red fox running, take {len(self.seen)} with its own light."]


def test_a_rollout_is_the_policy_writing_each_prompt_after_its_own_earlier_ones():
    policy = RecordingPolicy()
    prompts = rollouts.rollout("a red fox running", 4, policy, HashingEmbedder(), seed=3)
    assert prompts == [f"A wide shot of a red fox running, take {i} with its own light." for i in (1, 2, 3, 4)]
    # Step i saw q and exactly the policy's own prompts 1 … i-1, in the one chat format.
    assert policy.seen == [build_messages("a red fox running", prompts[:i]) for i in range(4)]


def test_policy_contexts_are_prefixes_of_the_rollout_and_respect_k_and_max_previous():
    rows = [{"query": "q", "variants": ["R1.", "R2.", "R3.", "R4."], "rollout": ["P1.", "P2.", "P3.", "P4."]}] * 3
    examples = grpo_examples(rows, contexts_per_query=3, seed=0, max_previous=2, contexts="policy")
    for e in examples:
        assert 1 <= len(e["previous"]) <= 2 and e["previous"] == ["P1.", "P2.", "P3."][: len(e["previous"])]
        assert e["variants"] == ["R1.", "R2.", "R3.", "R4."]  # relevance still scores against R_q
    full = grpo_examples(rows[:1], contexts_per_query=9, seed=0, contexts="policy")
    assert max(len(e["previous"]) for e in full) == 3  # K − 1: the last rollout prompt is never context
    reference = grpo_examples(rows[:1], contexts_per_query=3, seed=0)
    assert all(p.startswith("R") for e in reference for p in e["previous"])


def test_policy_contexts_without_rollouts_or_an_unknown_source_are_one_line():
    with pytest.raises(UserFacingError, match="training.rollouts"):
        grpo_examples([{"query": "q", "variants": ["A.", "B."]}], contexts="policy")
    with pytest.raises(UserFacingError, match="reference, policy"):
        grpo_examples([{"query": "q", "variants": ["A.", "B."]}], contexts="mine")


def test_the_command_writes_rollouts_that_load_rows_reads(tmp_path, tiny_policy_dir, monkeypatch, capsys):
    monkeypatch.setattr("dppgrpo_core.models.embedder._load", lambda name, device: HashingEmbedder())
    data = tmp_path / "data"
    rows = [{"query": q, "variants": [f"A wide shot of {q}.", f"A close-up of {q}."], "split": "train"}
            for q in ("a red fox running", "a chef sipping tea", "a kite in the wind")]
    _write(rows, data)
    out = tmp_path / "rollouts"
    argv = ["--dataset", str(data), "--policy", str(tiny_policy_dir), "--device", "cpu", "--n-queries", "2",
            "--k", "3", "--seed", "0", "--out", str(out)]
    assert rollouts.main(argv) == 0
    loaded = load_rows(str(out))
    assert [r["query"] for r in loaded] == ["a red fox running", "a chef sipping tea"]
    assert all(len(r["rollout"]) == 3 and all(p.strip() for p in r["rollout"]) for r in loaded)
    assert loaded[0]["variants"] == rows[0]["variants"]
    assert "2 rollouts of 3 prompts" in capsys.readouterr().out


def _write(rows, folder):
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(folder / "train.parquet")


def test_the_command_refuses_a_missing_dataset_in_one_line(tmp_path, capsys):
    assert rollouts.main(["--dataset", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no train.parquet" in err and "\n" not in err


def test_the_command_refuses_a_dataset_without_training_rows_in_one_line(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    pd.DataFrame({"query": [], "variants": [], "split": []}).to_parquet(tmp_path / "data" / "train.parquet")
    assert rollouts.main(["--dataset", str(tmp_path / "data"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no training rows" in err and "\n" not in err
