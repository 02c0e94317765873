"""The offline variant dataset: seeded, faithful and diverse variants, no VBench overlap, a loadable dataset + card."""

import random

import pytest
import torch

from dppgrpo_core.maths.dpp import greedy_select
from dppgrpo_core.models.embedder import embed, load_embedder
from training import build_data
from training.architect import all_base_prompts, propose_variants
from training.critic import drop_near_duplicates, select_variants


@pytest.fixture(scope="module")
def embedder():
    return load_embedder("packaged:all-MiniLM-L6-v2", device="cpu")


def first_base_for_seed(seed):
    pool = all_base_prompts()
    random.Random(seed).shuffle(pool)
    return pool[0].text


def test_templates_make_thousands_of_distinct_base_prompts():
    texts = [b.text for b in all_base_prompts()]
    assert len(set(texts)) == len(texts) > 3000


def test_variants_keep_the_subject_and_action(embedder):
    base = all_base_prompts()[123]
    variants = propose_variants(base, 15, random.Random(1))
    assert len(set(variants)) == 15
    for v in variants:
        assert base.action.split()[0] in v
        assert base.subject.split()[-1] in v  # the noun survives an added detail ("a graceful tabby cat")


def test_critic_keeps_faithful_distinct_variants_in_greedy_order(embedder):
    base = all_base_prompts()[500]
    candidates = propose_variants(base, 30, random.Random(0)) + ["a bowl of soup on a kitchen table"]
    vectors = embed([base.text] + candidates, embedder)
    verdict = select_variants(vectors[0], candidates, vectors[1:], k=6, min_relevance=0.55, max_similarity=0.95)
    assert len(verdict.variants) == 6 and len(set(verdict.variants)) == 6
    assert "a bowl of soup on a kitchen table" not in verdict.variants and verdict.dropped_irrelevant >= 1
    assert min(verdict.relevances) >= 0.55
    kept = embed(verdict.variants, embedder)
    sims = kept @ kept.T - 2 * torch.eye(6)
    assert float(sims.max()) <= 0.95 + 1e-6
    # DPP pick order: re-running the greedy selection on the kept set gives the same order.
    assert greedy_select(kept, 6) == list(range(6))


def test_drop_near_duplicates_keeps_the_first_of_each_cluster():
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.999, 0.01], [0.0, 2.0]])
    assert drop_near_duplicates(e, 0.95) == [0, 1]


def test_build_is_seeded_and_excludes_vbench_prompts(embedder):
    blocked = first_base_for_seed(0)
    rows, stats = build_data.build(3, seed=0, k=4, n_candidates=12, embedder=embedder,
                                   vbench=[blocked.upper() + "."], progress=False)
    again, _ = build_data.build(3, seed=0, k=4, n_candidates=12, embedder=embedder,
                                vbench=[blocked.upper() + "."], progress=False)
    other, _ = build_data.build(3, seed=1, k=4, n_candidates=12, embedder=embedder, vbench=[], progress=False)
    assert rows == again and rows != other
    queries = [r["query"] for r in rows]
    assert blocked not in queries and stats["vbench_excluded"] >= 1
    assert stats["vbench_exact_overlap"] == 0 and stats["vbench_near_overlap"] == 0
    assert all(len(r["variants"]) == 4 for r in rows)
    assert sorted(r["split"] for r in rows) == ["test", "train", "train"]


def test_command_writes_a_loadable_dataset_with_a_card(tmp_path, capsys):
    out = tmp_path / "variants"
    assert build_data.main(["--n-base", "4", "--seed", "0", "--k", "3", "--candidates", "10", "--out", str(out),
                            "--device", "cpu"]) == 0
    from datasets import load_dataset

    data = load_dataset(str(out))
    assert set(data) == {"train", "test"}
    assert data["train"].column_names == ["query", "variants", "split"]
    assert data["train"].num_rows + data["test"].num_rows == 4
    assert all(len(v) == 3 for v in data["train"]["variants"])
    card = (out / "README.md").read_text()
    assert "| base prompts | 4 (train 3, test 1) |" in card
    assert "Remaining overlap: **0 exact, 0 near**" in card  # against the real VBench prompts of the vbench wheel
    assert "VBench overlap 0 exact" in capsys.readouterr().out


def test_command_rejects_impossible_sizes(tmp_path, capsys):
    assert build_data.main(["--n-base", "2", "--k", "5", "--candidates", "3", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
