"""Pairwise mode (issue 16, "Beyond"): the store (schema upgrade, one vote per annotator per pair under
concurrency, seeded and recorded left/right order), manifests, and the results on toy votes."""

import json
import multiprocessing
import sqlite3
import threading

import numpy as np
import pandas as pd
import pytest

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study import export_ratings, pairwise, read_manifest, votes_path
from dppgrpo_core.study import results as study_results
from dppgrpo_core.study.command import main
from dppgrpo_core.study.store import SCHEMA_VERSION, AnnotationError, AnnotationStore

FORK = multiprocessing.get_context("fork")


def toy_pairs(n, a="dpp-grpo", b="original"):
    return [{"pair_id": f"p{i:03d}", "prompt": f"prompt {i}", "a": {"method": a, "prompts": [f"a{i}", f"a{i}'"]},
             "b": {"method": b, "prompts": [f"b{i}", f"b{i}'"]}} for i in range(n)]


@pytest.fixture
def store(tmp_path):
    s = AnnotationStore(tmp_path / "study.db")
    pairwise.add_pairs(s, toy_pairs(4))
    return s


# ----- schema -----
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (item_id TEXT PRIMARY KEY, prompt TEXT NOT NULL, method TEXT NOT NULL, videos TEXT,
    prompts TEXT, attention_check INTEGER NOT NULL DEFAULT 0, added_at REAL NOT NULL);
CREATE TABLE annotators (annotator TEXT PRIMARY KEY, seed INTEGER NOT NULL, started_at REAL NOT NULL);
CREATE TABLE ratings (rating_id INTEGER PRIMARY KEY AUTOINCREMENT, annotator TEXT NOT NULL,
    item_id TEXT NOT NULL REFERENCES items(item_id), diversity INTEGER NOT NULL CHECK (diversity BETWEEN 1 AND 5),
    alignment INTEGER NOT NULL CHECK (alignment BETWEEN 1 AND 5), comment TEXT, seconds REAL,
    rated_at REAL NOT NULL, UNIQUE (annotator, item_id));
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO items VALUES ('old', 'a dog', 'dpp-grpo', NULL, '["x", "y"]', 0, 0);
INSERT INTO annotators VALUES ('alice', 42, 0);
INSERT INTO ratings (annotator, item_id, diversity, alignment, comment, seconds, rated_at)
    VALUES ('alice', 'old', 4, 3, 'kept', 7.5, 1700000000.25);
"""


def test_a_schema_1_study_is_upgraded_in_place_and_keeps_its_ratings(tmp_path):
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
    store = AnnotationStore(path, create=False)
    assert SCHEMA_VERSION == 2 and store.schema_version == 2
    row = store.ratings().iloc[0]
    assert (row["annotator"], row["item_id"], row["diversity"], row["comment"], row["order_seed"]) == (
        "alice", "old", 4, "kept", 42)
    assert row["rated_at"] == "2023-11-14T22:13:20+00:00"  # ISO 8601 with its zone, not a Unix float
    pairwise.add_pairs(store, toy_pairs(1))  # the new tables exist
    assert pairwise.pair_ids(AnnotationStore(path)) == ["p000"] and store.integrity_ok()


# ----- the store -----
def test_left_right_order_is_seeded_per_annotator_recorded_and_balanced(tmp_path):
    store = AnnotationStore(tmp_path / "s.db")
    pairwise.add_pairs(store, toy_pairs(200))
    seed = store.annotator_seed("alice")
    first, _, total = pairwise.next_pair(store, "alice")
    assert total == 200 and first == pairwise.next_pair(store, "alice")[0]  # the same on resume
    assert first["left_side"] == pairwise.left_side(seed, first["pair_id"])
    sides = [pairwise.left_side(seed, pid) for pid in pairwise.pair_ids(store)]
    assert 70 < sides.count("a") < 130  # a coin per pair, not one layout for all
    assert sides != [pairwise.left_side(seed + 1, pid) for pid in pairwise.pair_ids(store)]  # per annotator
    left = first[first["left_side"]]
    assert first["left"]["prompts"] and sorted(first["left"]["prompts"]) == sorted(left["prompts"])
    assert "method" not in first["left"] and "method" not in first["right"]
    pairwise.add_vote(store, "alice", first["pair_id"], "left", first["left_side"], seconds=9.0)
    vote = pairwise.votes(store).iloc[0]
    assert vote["left_method"] == left["method"] and vote["winner"] == left["method"]
    assert vote["order_seed"] == seed and vote["voted_at"].endswith("+00:00")
    assert pairwise.next_pair(store, "alice")[0]["pair_id"] != first["pair_id"]
    assert "A (left) was " + left["method"] in pairwise.reveal(first, "left")


def test_bad_votes_and_a_second_vote_are_refused(store):
    pairwise.add_vote(store, "bob", "p000", "tie", "a")
    for args, message in [(("bob", "p000", "left", "a"), "already voted"), (("bob", "nope", "left", "a"), "unknown pair"),
                          (("bob", "p001", "A", "a"), "a vote is one of"), (("bob", "p001", "left", "c"), "left side"),
                          (("../x", "p001", "left", "a"), "annotator id")]:
        with pytest.raises(AnnotationError, match=message):
            pairwise.add_vote(store, *args)
    assert len(pairwise.votes(store)) == 1


def _vote_many(path, annotator, start, results):
    store = AnnotationStore(path)
    start.wait()
    for pair_id in pairwise.pair_ids(store):
        try:
            pairwise.add_vote(store, annotator, pair_id, "left", "a", seconds=1.0)
            results.put(("ok", pair_id))
        except AnnotationError:
            results.put(("refused", pair_id))


def test_one_vote_per_annotator_per_pair_under_concurrency(store):
    """Six processes and six threads, two annotators, all voting every pair at once: one vote each."""
    start, results = FORK.Event(), FORK.Queue()
    workers = [FORK.Process(target=_vote_many, args=(store.path, f"ann{w % 2}", start, results)) for w in range(6)]
    threads = [threading.Thread(target=_vote_many, args=(store.path, f"ann{w % 2}", start, results)) for w in range(6)]
    for w in workers + threads:
        w.start()
    start.set()
    outcomes = [results.get(timeout=120) for _ in range(12 * 4)]
    for w in workers:
        w.join(timeout=60)
    for t in threads:
        t.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * 6
    assert sum(kind == "ok" for kind, _ in outcomes) == 2 * 4  # each annotator once per pair
    frame = pairwise.votes(store)
    assert len(frame) == 8 and not frame.duplicated(["annotator", "pair_id"]).any() and store.integrity_ok()


# ----- manifests -----
def test_a_manifest_pair_line_is_confined_like_an_item(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.mp4").write_bytes(b"x")
    (tmp_path / "secret.mp4").write_bytes(b"x")
    good = {"pair_id": "q1", "prompt": "a dog", "a": {"method": "m1", "videos": ["clips/a.mp4"]},
            "b": {"method": "m2", "prompts": ["x", "y"]}}
    manifest = tmp_path / "sub" / "m.jsonl"
    manifest.parent.mkdir()
    (manifest.parent / "clips").symlink_to(tmp_path / "clips")
    manifest.write_text(json.dumps(good) + "\n" + json.dumps({"item_id": "i", "prompt": "p", "method": "m",
                                                               "prompts": ["a"]}) + "\n")
    db = tmp_path / "s.db"
    assert main(["import", str(manifest), "--db", str(db)]) == 2  # the symlinked folder is outside
    (manifest.parent / "clips").unlink()
    (manifest.parent / "clips").mkdir()
    (manifest.parent / "clips" / "a.mp4").write_bytes(b"x")
    assert main(["import", str(manifest), "--db", str(db)]) == 0
    store = AnnotationStore(db)
    assert pairwise.pair(store, "q1")["a"]["videos"] == [str((manifest.parent / "clips" / "a.mp4").resolve())]
    assert store.item_ids() == ["i"]
    for bad, message in [({**good, "a": {"method": "m1", "videos": ["../../secret.mp4"]}}, "outside"),
                         ({**good, "b": {"method": "m1", "prompts": ["x"]}}, "two different methods"),
                         ({**good, "c": 1}, "unknown field"), ({**good, "a": "m1"}, "an object"),
                         ({**good, "a": {"method": "m1", "videos": ["clips/a.mp4"], "prompts": ["x"]}}, "exactly one")]:
        manifest.write_text(json.dumps(bad) + "\n")
        with pytest.raises(UserFacingError, match=message):
            read_manifest(manifest)


# ----- results on toy votes -----
def planted_votes(strengths: dict, n_per_pair=150, seed=0, tie_share=0.1):
    rng = np.random.default_rng(seed)
    methods, rows = list(strengths), []
    for i, a in enumerate(methods):
        for b in methods[i + 1:]:
            for k in range(n_per_pair):
                p_a = strengths[a] / (strengths[a] + strengths[b])
                left = "a" if rng.random() < 0.5 else "b"
                if rng.random() < tie_share:
                    choice = "tie"
                else:
                    won = "a" if rng.random() < p_a else "b"
                    choice = "left" if won == left else "right"
                left_method, right_method = (a, b) if left == "a" else (b, a)
                winner = {"left": left_method, "right": right_method}.get(choice, choice)
                rows.append({"annotator": f"r{k % 5}", "pair_id": f"{a}-{b}-{k}", "a_method": a, "b_method": b,
                             "left_method": left_method, "right_method": right_method, "choice": choice,
                             "winner": winner, "seconds": 10.0})
    return pd.DataFrame(rows)


def test_bradley_terry_recovers_a_planted_order_of_three_methods():
    votes = planted_votes({"weak": 1.0, "strong": 4.0, "middle": 2.0})
    ranking = study_results.bradley_terry(votes)
    assert list(ranking["method"]) == ["strong", "middle", "weak"] and list(ranking["rank"]) == [1, 2, 3]
    strength = ranking.set_index("method")["strength"]
    assert abs(strength.sum() - 1) < 1e-9 and 1.4 < strength["strong"] / strength["middle"] < 2.8


def test_win_rates_with_ties_both_bad_and_bootstrap_cis():
    rows = [("p1", "left", "a"), ("p2", "left", "a"), ("p3", "right", "a"), ("p4", "tie", "b"), ("p5", "both_bad", "a")]
    votes = pd.DataFrame([{"annotator": "x", "pair_id": pid, "a_method": "m1", "b_method": "m2", "choice": choice,
                           "left_method": "m1" if left == "a" else "m2", "right_method": "m2" if left == "a" else "m1",
                           "seconds": 5.0} for pid, choice, left in rows])
    votes["winner"] = [{"left": r.left_method, "right": r.right_method}.get(r.choice, r.choice) for r in votes.itertuples()]
    table = study_results.win_rates(votes).set_index("method")
    assert (table.loc["m1", "wins"], table.loc["m1", "losses"], table.loc["m1", "ties"]) == (2, 1, 1)
    assert table.loc["m1", "win_rate"] == pytest.approx(2.5 / 4) and table.loc["m2", "win_rate"] == pytest.approx(1.5 / 4)
    assert table.loc["m1", "both_bad"] == 1 and table.loc["m1", "votes"] == 5
    assert table.loc["m1", "ci_low"] <= 0.625 <= table.loc["m1", "ci_high"] and table.loc["m1", "ci_high"] <= 1
    bias = study_results.position_bias(votes)
    assert bias["decisive"] == 3 and bias["left_share"] == pytest.approx(2 / 3) and bias["ci_low"] < 2 / 3 < bias["ci_high"]


def test_too_fast_answers_are_flagged_per_annotator_and_exported(store, tmp_path):
    pairwise.add_vote(store, "quick", "p000", "left", "a", seconds=1.0)
    pairwise.add_vote(store, "quick", "p001", "right", "b", seconds=12.0)
    store.add_items([{"item_id": "i", "prompt": "p", "method": "m", "prompts": ["a", "b"]}])
    seed = store.annotator_seed("quick")  # drawn when the tab first shows them an item
    store.add_rating("quick", "i", 3, 3, seconds=2.0)
    times = study_results.answer_times(store.ratings(), pairwise.votes(store)).set_index(["annotator", "mode"])
    assert times.loc[("quick", "pairwise"), "too_fast"] == 1 and times.loc[("quick", "likert"), "too_fast"] == 1
    assert times.loc[("quick", "pairwise"), "median_s"] == 6.5
    out = export_ratings(store, tmp_path / "out" / "ratings.csv")
    exported = pd.read_csv(votes_path(out))
    assert list(exported["too_fast"]) == [True, False] and set(exported["left_method"]) <= {"dpp-grpo", "original"}
    assert pd.read_csv(out)["too_fast"].tolist() == [True]
    assert list(exported["position"]) == [1, 2]  # the presentation order, for position-bias checks
    from dppgrpo_core.study import clip_order

    assert json.loads(pd.read_csv(out)["clip_order"].iloc[0]) == clip_order(2, seed, "i")
