"""The composed warm start (issue 14): composer-taught SFT targets in the shared chat format."""


import pandas as pd
import pytest

from dppgrpo_core.expand import composer
from dppgrpo_core.models.chat import build_messages
from eval.judge import keeps_subject_and_action, names_shot_camera_or_lens
from tests.fakes import HashingEmbedder
from training import compose_data
from training.examples import (
    composed_rows,
    composed_set,
    fits,
    grpo_examples,
    sft_examples,
)

QUERIES = ["a red fox running on a quiet beach", "a chef sipping hot tea in an old library",
           "two kids flying a kite"]


@pytest.mark.parametrize("query", QUERIES)
def test_composed_targets_are_faithful_cinematic_and_distinct(query):
    targets = composed_set(query, 8, seed=0)
    assert len(targets) == len(set(targets)) == 8
    for t in targets:
        assert query in t.lower()
        assert keeps_subject_and_action(t, query) and names_shot_camera_or_lens(t)
        assert 8 <= len(t.split()) <= 60
    assert composed_set(query, 8, seed=0) == targets  # seeded
    assert composed_set(query, 8, seed=1) != targets


def test_each_target_takes_axis_values_the_earlier_targets_left_unused():
    """The camera axis is always drawn: 8 targets over 16 moves must use 8 different ones."""
    targets = composed_set("a red fox running on a quiet beach", 8, seed=0)
    moves = [next((c for c in composer.CAMERAS if c in t.lower()), None) for t in targets]
    moves = [m for m in moves if m]
    assert len(moves) >= 6 and len(set(moves)) == len(moves)


def test_sft_examples_from_composed_rows_are_set_conditioned_in_the_shared_format():
    rows = composed_rows(QUERIES[:2], k=5, seed=0)
    examples = sft_examples(rows, max_previous=3)
    assert len(examples) == 10
    variants = rows[0]["variants"]
    # Target i+1 is shown the (at most 3) targets before it, in build_messages' format.
    assert examples[4]["prompt"] == build_messages(rows[0]["query"], variants[1:4])
    assert examples[4]["completion"] == [{"role": "assistant", "content": variants[4]}]
    assert examples[0]["prompt"] == build_messages(rows[0]["query"], [])
    # GRPO rows from the same data: S is a prefix of the composed set, R_q the whole set.
    row = grpo_examples(rows, contexts_per_query=2, seed=0, max_previous=3)[0]
    assert row["previous"] == next(r for r in rows if r["query"] == row["query"])["variants"][: len(row["previous"])]


def test_fits_drops_examples_over_max_length_instead_of_cutting_them():
    class WordTokenizer:
        def apply_chat_template(self, messages, tokenize=False):
            return " ".join(m["content"] for m in messages)

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": text.split()}

    examples = sft_examples(composed_rows(QUERIES[:1], k=4, seed=0), max_previous=3)
    lengths = [len(WordTokenizer().apply_chat_template(e["prompt"] + e["completion"]).split()) for e in examples]
    limit = sorted(lengths)[1]
    kept = fits(examples, WordTokenizer(), limit)
    assert kept == [e for e, n in zip(examples, lengths) if n <= limit] and 0 < len(kept) < len(examples)


def test_compose_data_writes_the_build_data_schema_and_leaves_out_vbench(tmp_path, monkeypatch):
    from training import architect

    pool = architect.all_base_prompts()[:40]
    monkeypatch.setattr(compose_data, "all_base_prompts", lambda: pool)
    texts = [b.text for b in pool]
    import random

    random.Random(0).shuffle(texts)
    rows, stats = compose_data.build(6, seed=0, k=4, test_fraction=0.2, embedder=HashingEmbedder(),
                                     vbench=[texts[0]])
    assert texts[0] not in [r["query"] for r in rows] and stats["vbench_excluded"] == 1
    assert stats["train"] + stats["test"] == 6 and stats["test"] == 1
    compose_data.write(rows, stats, tmp_path)
    train = pd.read_parquet(tmp_path / "train.parquet")
    assert list(train.columns) == ["query", "variants", "split"] and len(train) == 5
    assert all(len(v) == 4 and all(q in p.lower() for p in v) for q, v in zip(train["query"], train["variants"]))
    assert "composed" in (tmp_path / "README.md").read_text()


def test_suffixed_base_prompts_keep_their_look_or_camera_instruction_in_every_target(monkeypatch):
    from training import architect

    pool = architect.all_base_prompts()[:30]
    monkeypatch.setattr(compose_data, "all_base_prompts", lambda: pool)
    rows, stats = compose_data.build(10, seed=0, k=3, test_fraction=0.0, embedder=HashingEmbedder(), vbench=[],
                                     suffix_fraction=1.0)
    assert stats["with_suffix"] == 10
    for row in rows:
        base, suffix = row["query"].rsplit(", ", 1)
        assert suffix in architect.QUERY_SUFFIXES and base in {b.text for b in pool}
        assert all(row["query"].lower() in p.lower() for p in row["variants"])  # "…, pixel art" kept whole
    plain, _ = compose_data.build(10, seed=0, k=3, test_fraction=0.0, embedder=HashingEmbedder(), vbench=[])
    assert not any("," in r["query"] for r in plain)
