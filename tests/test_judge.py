"""The independent judge (eval/judge.py) and the set-quality harness (eval/set_quality.py); no mpnet, no Hub."""

import doctest
import json
import re
import zlib

import numpy as np
import pytest
import torch

from eval import judge, set_quality
from eval.written import content_text
from eval.judge import (
    is_video_prompt,
    keeps_subject_and_action,
    names_shot_camera_or_lens,
    story_markers,
)

Q = "a dog running on the beach"
FAITHFUL = [
    "A low-angle tracking shot of a dog running along the beach at golden hour, 35mm lens.",
    "Aerial drone footage: the dog runs across the wet sand of the beach as waves break, shallow depth of field.",
    "A dog running on the beach. A close-up at dusk, a handheld camera follows closely, soft golden backlight.",
]
DRIFTING = [
    "A wide shot of a cat sleeping on a sofa, warm practical lamps.",  # another subject and action
    "A close-up of a dog sleeping on the beach.",  # the action is gone
    "A tracking shot of a person running on the beach.",  # the subject is gone
]
STORY = [
    "I remember the day my dog ran along the beach; a wide shot would never capture it.",  # first person
    "Once upon a time a dog had been running on the beach, seen in a wide shot.",  # narration
    'A dog running on the beach, close-up, as its owner shouts "come back here right now".',  # dialogue
]


def test_docstring_examples():
    for module in (judge, set_quality):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__


@pytest.mark.parametrize("prompt", FAITHFUL)
def test_faithful_prompts_pass_every_check(prompt):
    assert keeps_subject_and_action(prompt, Q)
    assert names_shot_camera_or_lens(prompt)
    assert is_video_prompt(prompt)


@pytest.mark.parametrize("prompt", DRIFTING)
def test_drifting_prompts_lose_subject_or_action(prompt):
    assert not keeps_subject_and_action(prompt, Q)
    assert names_shot_camera_or_lens(prompt)  # cinematic, but not faithful


@pytest.mark.parametrize("prompt", STORY)
def test_story_prose_is_not_a_video_prompt(prompt):
    assert names_shot_camera_or_lens(prompt)
    assert story_markers(prompt)
    assert not is_video_prompt(prompt)


def test_stemming_and_the_one_miss_rule():
    assert keeps_subject_and_action("Dogs run on beaches, wide shot.", Q)
    assert keeps_subject_and_action("The dog ran along the beach.", Q)
    # q with 5+ content words may lose one of them, but not two.
    long_q = "a golden retriever chasing a red frisbee across a green park"
    assert judge.content_words(long_q) == ["golden", "retriever", "chas", "red", "frisbee", "green", "park"]
    assert keeps_subject_and_action("A golden retriever chases a frisbee across a green park, drone shot.", long_q)
    assert not keeps_subject_and_action("A golden retriever chases a frisbee across a park, drone shot.", long_q)
    # Generic words of q (still, frame) are not required.
    assert keeps_subject_and_action("A close-up of a stop sign at dusk.", "In a still frame, a stop sign")


def test_plain_prompts_and_lookalike_words_are_not_cinematic():
    for prompt in ("a dog running on the beach", "A crane stands in a pond under the overhead sun.",
                   "A drone flying over a field.", "A satellite orbiting the Earth.", "A panda eats bamboo.",
                   "A chef flips vegetables in a frying pan."):
        assert not names_shot_camera_or_lens(prompt), prompt
    for prompt in ("The camera slowly pans across a field.", "A slow pan sweeps across the scene.",
                   "A whip pan to a dancer.", "Panning over the city."):
        assert names_shot_camera_or_lens(prompt), prompt
    assert not is_video_prompt("Close-up, dog.")  # under 5 words
    assert not is_video_prompt("A wide shot of " + "a very long scene " * 40)  # over 120 words


def test_vendi_among_faithful_on_hand_made_vectors():
    v = np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    assert set_quality.faithful_vendi(v, [True] * 4) == pytest.approx(float(np.exp(-(0.5 * np.log(0.5) + 2 * 0.25 * np.log(0.25)))))
    assert set_quality.faithful_vendi(v, [True, True, False, False]) == pytest.approx(1.0)  # two copies: one mode
    assert set_quality.faithful_vendi(v, [False, False, True, True]) == pytest.approx(2.0)
    assert set_quality.faithful_vendi(v, [False, False, False, True]) == 1.0
    assert set_quality.faithful_vendi(v, [False] * 4) == 0.0


def test_score_set_uses_the_checks_for_the_faithful_subset():
    texts = FAITHFUL[:2] + DRIFTING[:2] + [Q]
    basis = {p: np.eye(8)[i] for i, p in enumerate(texts)}
    # The content Vendi encodes the prompts masked of their camera words: here both faithful ones map to one vector.
    masked = {content_text(p): np.eye(8)[5] for p in FAITHFUL[:2]}
    masked.update({content_text(p): np.eye(8)[6 + i] for i, p in enumerate(DRIFTING[:2])})
    row = set_quality.score_set(Q, FAITHFUL[:2] + DRIFTING[:2],
                                {"fake": lambda texts: np.stack([basis.get(t, masked.get(t)) for t in texts])})
    assert row["n_faithful"] == 2
    assert row["vendi_fake"] == pytest.approx(4.0) and row["vendi_fake_faithful"] == pytest.approx(2.0)
    assert row["vendi_fake_content"] == pytest.approx(1.0)
    assert row["rel_fake"] == pytest.approx(0.0)


@pytest.mark.parametrize("argv, words", [
    (["--methods", "original,bogus"], "Unknown method"),
    (["--methods", "dpp-rerank@nan/0.2"], "λ_div"),
    (["--methods", "dpp-rerank@0.5/2"], "λ_rel"),
    (["--methods", "dpp-rerank@0/0"], "cannot both be 0"),
    (["--n", "0"], "--n"),
    (["--n", "5000"], "--n"),
    (["--k", "0"], "--k"),
    (["--k", "51"], "--k"),
    (["--lambda-div", "nan"], "--lambda-div"),
])
def test_cli_refuses_bad_input_in_one_line(argv, words, capsys, tmp_path):
    assert set_quality.main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_missing_judge_names_make_judge(capsys, tmp_path):
    argv = ["--methods", "original", "--n", "1", "--k", "2", "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path)]
    assert set_quality.main(argv) == 2
    err = capsys.readouterr().err
    assert "make judge" in err and err.count("\n") == 1
    assert judge.main(["prepare", "--bogus"]) == 2


def bag_of_words(texts, dim=64, salt=""):
    """A deterministic hashed bag of words: no model, no Hub."""
    rows = np.full((len(texts), dim), 1e-3)
    for i, text in enumerate(texts):
        for word in re.findall(r"[a-z]+", text.lower()):
            rows[i, zlib.crc32((salt + word).encode()) % dim] += 1
    return rows


def fake_judge(texts):
    return bag_of_words(texts, 96, salt="judge")


class FakeEmbedder:
    """What `dppgrpo_core.models.embedder.embed` needs of a SentenceTransformer, so the test loads no MiniLM."""

    def get_sentence_embedding_dimension(self):
        return 64

    def encode(self, texts, convert_to_tensor=True, normalize_embeddings=True, **_):
        rows = torch.as_tensor(bag_of_words(texts), dtype=torch.float32)
        return rows / rows.norm(dim=1, keepdim=True)


FAKE_EMBEDDER = FakeEmbedder()


def test_end_to_end_original_and_composer_with_fake_embedders(tmp_path):
    out = tmp_path / "sq"
    argv = ["--methods", "original,composer", "--n", "2", "--k", "3", "--seed", "0", "--out", str(out)]
    assert set_quality.main(argv, judge_encode=fake_judge, embedder=FAKE_EMBEDDER) == 0
    results = json.loads((out / "results.json").read_text())
    original, composer = results["rows"]["original"], results["rows"]["composer"]
    assert original["sets"] == composer["sets"] == 2 and original["prompts"] == 6
    # q three times: one mode on both embedders, fully relevant, faithful by definition, not cinematic.
    assert original["vendi_minilm"] == pytest.approx(1.0) and original["vendi_mpnet"] == pytest.approx(1.0)
    assert original["rel_minilm"] == pytest.approx(1.0, abs=1e-5) and original["keeps_pct"] == 100
    assert original["cinematic_pct"] == 0 and original["vendi_mpnet_faithful"] == pytest.approx(1.0)
    # The composer keeps q verbatim and adds a shot, camera and lens to every prompt.
    assert composer["keeps_pct"] == 100 and composer["cinematic_pct"] == 100
    assert composer["vendi_minilm"] > 1.5 and composer["vendi_mpnet"] > 1.5 and composer["vendi_minilm_faithful"] == pytest.approx(composer["vendi_minilm"])
    md = (out / "results.md").read_text()
    assert "| composer |" in md and "python -m eval.set_quality --methods original,composer" in md and "Machine:" in md
    sets_md = (out / "sets.md").read_text()
    assert all(s["prompts"][0] in sets_md for s in results["sets"])
    # A rerun takes every set from the cache: same prompts, no new expansion.
    cached = sorted(p.stat().st_mtime_ns for p in (out / "cache").rglob("*.json"))
    assert len(cached) == 4
    assert set_quality.main(argv, judge_encode=fake_judge, embedder=FAKE_EMBEDDER) == 0
    assert sorted(p.stat().st_mtime_ns for p in (out / "cache").rglob("*.json")) == cached
    assert json.loads((out / "results.json").read_text())["sets"] == results["sets"]
