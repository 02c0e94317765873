"""The annotation store: concurrent writers, a writer killed mid-write, bad ratings refused, restart."""

import multiprocessing
import os
import signal
import sqlite3

import pytest

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study.store import SCHEMA_VERSION, AnnotationError, AnnotationStore

# fork: children inherit the imports, so 8 writers start in milliseconds (no connection is open at fork)
FORK = multiprocessing.get_context("fork")


def text_items(n, method="dpp-grpo"):
    return [{"item_id": f"item-{i:04d}", "prompt": f"prompt {i}", "method": method, "prompts": [f"a{i}", f"b{i}"]}
            for i in range(n)]


@pytest.fixture
def store(tmp_path):
    s = AnnotationStore(tmp_path / "sub" / "annotations.db")
    s.add_items(text_items(3) + [{"item_id": "video-item", "prompt": "a dog", "method": "original",
                                  "videos": ["/x/0.mp4", "/x/1.mp4"], "attention_check": True}])
    return s


def test_store_is_wal_with_a_schema_version(store):
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == SCHEMA_VERSION
    assert store.item("video-item")["videos"] == ["/x/0.mp4", "/x/1.mp4"]
    assert store.item("video-item")["attention_check"] is True
    assert store.item("item-0001")["prompts"] == ["a1", "b1"]


def test_other_schema_version_is_refused(store):
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(UserFacingError, match="schema 99"):
        AnnotationStore(store.path)


def test_rating_round_trip_survives_reopening(store):
    store.add_rating("alice", "item-0001", 4, 2, comment="  shaky camera  ", seconds=12.5)
    store.add_rating("bob", "item-0001", "5", 3.0)
    frame = AnnotationStore(store.path).ratings()  # a fresh object over the same file: a restart
    assert list(frame["annotator"]) == ["alice", "bob"]
    first = frame.iloc[0]
    assert (first["item_id"], first["diversity"], first["alignment"]) == ("item-0001", 4, 2)
    assert first["comment"] == "shaky camera" and first["seconds"] == 12.5
    assert first["method"] == "dpp-grpo" and first["prompt"] == "prompt 1" and not first["attention_check"]
    assert frame.iloc[1]["diversity"] == 5 and frame.iloc[1]["alignment"] == 3


@pytest.mark.parametrize("diversity, alignment, pattern", [
    (0, 3, "diversity must be from 1 to 5"), (6, 3, "diversity must be from 1 to 5"),
    (3, -1, "alignment must be from 1 to 5"), (3, 2.5, "alignment must be a whole number"),
    (None, 3, "diversity must be a whole number"), ("five", 3, "diversity must be a whole number"),
    (True, 3, "diversity must be a whole number"), (float("nan"), 3, "diversity must be a whole number"),
])
def test_bad_scores_are_refused(store, diversity, alignment, pattern):
    with pytest.raises(AnnotationError, match=pattern):
        store.add_rating("alice", "item-0000", diversity, alignment)
    assert store.ratings().empty


def test_unknown_item_duplicate_and_bad_annotator_are_refused(store):
    with pytest.raises(AnnotationError, match="unknown item 'nope'"):
        store.add_rating("alice", "nope", 3, 3)
    store.add_rating("alice", "item-0000", 3, 3)
    with pytest.raises(AnnotationError, match="already rated item 'item-0000'"):
        store.add_rating("alice", "item-0000", 4, 4)
    with pytest.raises(AnnotationError, match="annotator id"):
        store.add_rating("  ", "item-0001", 4, 4)
    with pytest.raises(AnnotationError, match="seconds on item must be a number ≥ 0"):
        store.add_rating("alice", "item-0001", 4, 4, seconds=-1)
    assert len(store.ratings()) == 1
    assert issubclass(AnnotationError, UserFacingError)


def test_bad_items_are_refused_all_or_none(store):
    with pytest.raises(AnnotationError, match="already in the study: item-0000"):
        store.add_items(text_items(5))
    with pytest.raises(AnnotationError, match="needs videos or prompts"):
        store.add_items([{"item_id": "x", "prompt": "p", "method": "m"}])
    with pytest.raises(AnnotationError, match="non-empty list"):
        store.add_items([{"item_id": "x", "prompt": "p", "method": "m", "videos": []}])
    with pytest.raises(AnnotationError, match="appears twice"):
        store.add_items([{"item_id": "y", "prompt": "p", "method": "m", "prompts": ["a"]}] * 2)
    assert len(store.item_ids()) == 4  # nothing of the refused batches went in


def test_annotator_seed_is_drawn_once(store):
    seed = store.annotator_seed("alice")
    assert AnnotationStore(store.path).annotator_seed("alice") == seed
    assert store.annotator_seeds() == {"alice": seed}


def _rate_all(path, annotator, item_ids, start):
    store = AnnotationStore(path)
    start.wait()
    for item_id in item_ids:
        store.add_rating(annotator, item_id, 1 + len(item_id) % 5, 3, seconds=0.1)


def test_eight_processes_writing_at_once_give_exactly_800_rows(tmp_path):
    store = AnnotationStore(tmp_path / "a.db")
    store.add_items(text_items(100))
    ids = store.item_ids()
    start = FORK.Event()
    workers = [FORK.Process(target=_rate_all, args=(store.path, f"annotator-{w}", ids, start)) for w in range(8)]
    for w in workers:
        w.start()
    start.set()  # all eight begin together
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * 8
    frame = store.ratings()
    assert len(frame) == 800
    assert not frame.duplicated(["annotator", "item_id"]).any()
    assert frame.groupby("annotator").size().to_dict() == {f"annotator-{w}": 100 for w in range(8)}
    assert store.integrity_ok()


def _rate_and_report(path, item_ids, committed):
    store = AnnotationStore(path)
    for item_id in item_ids:
        store.add_rating("victim", item_id, 2, 4, comment="x" * 2000)  # a bigger write: more time inside it
        committed.send(item_id)  # only after add_rating returned, i.e. after COMMIT (a pipe: unbuffered)


def test_writer_killed_mid_write_loses_nothing_committed(tmp_path):
    store = AnnotationStore(tmp_path / "a.db")
    store.add_items(text_items(2000))
    committed, child_end = FORK.Pipe(duplex=False)
    writer = FORK.Process(target=_rate_and_report, args=(store.path, store.item_ids(), child_end))
    writer.start()
    child_end.close()
    reported = []
    while len(reported) < 40:
        assert committed.poll(60), "the writer stalled"
        reported.append(committed.recv())
    os.kill(writer.pid, signal.SIGKILL)  # while it is busy writing the next ones
    writer.join(timeout=30)
    assert writer.exitcode == -signal.SIGKILL
    while True:
        try:
            reported.append(committed.recv())
        except EOFError:
            break

    reopened = AnnotationStore(store.path)
    assert reopened.integrity_ok()
    rated = set(reopened.ratings()["item_id"])
    assert set(reported) <= rated
    assert len(rated) <= len(reported) + 1  # at most the one it committed but had not reported yet
    reopened.add_rating("survivor", "item-0000", 5, 5)  # the lock died with the writer
    assert len(reopened.ratings()) == len(rated) + 1


# ----- issue 12: what import and the tab agree on, strict booleans, no database made by a typo -----
def test_an_item_with_more_clips_than_the_tab_shows_is_refused(store):
    from dppgrpo_core.study.fields import MAX_CLIPS

    big = {"item_id": "big", "prompt": "p", "method": "m", "videos": [f"/x/{n}.mp4" for n in range(MAX_CLIPS + 1)]}
    with pytest.raises(AnnotationError, match=f"{MAX_CLIPS + 1} clips; the Annotate tab shows at most {MAX_CLIPS}"):
        store.add_items([big])
    store.add_items([dict(big, videos=big["videos"][:MAX_CLIPS])])
    assert len(store.item("big")["videos"]) == MAX_CLIPS


@pytest.mark.parametrize("value", ["false", "true", 0, 1, "", None])
def test_attention_check_is_a_strict_boolean(store, value):
    with pytest.raises(AnnotationError, match="attention_check must be true or false"):
        store.add_items([{"item_id": "x", "prompt": "p", "method": "m", "prompts": ["a"], "attention_check": value}])
    assert "x" not in store.item_ids()


@pytest.mark.parametrize("field, value, message", [
    ("item_id", "a\ud800", "lone surrogate"), ("prompt", "a\x00dog", "control character"),
    ("method", "x" * 101, "too long"), ("prompts", ["fine", "bad\udfff"], "lone surrogate"),
])
def test_item_text_is_checked(store, field, value, message):
    item = {"item_id": "x", "prompt": "p", "method": "m", "prompts": ["a"], field: value}
    with pytest.raises(AnnotationError, match=message):
        store.add_items([item])
    assert "x" not in store.item_ids()


@pytest.mark.parametrize("annotator, comment, message", [
    ("ann\ud800", None, "lone surrogate"), ("ann\x1b[31m", None, "control character"),
    ("alice", "nice\udc00", "lone surrogate"), ("alice", "x" * 5000, "too long"),
    ("alice", "nice\x07", "control character"),
])
def test_annotator_and_comment_text_is_checked(store, annotator, comment, message):
    with pytest.raises(AnnotationError, match=message):
        store.add_rating(annotator, "item-0000", 3, 3, comment=comment)
    assert store.ratings().empty
    store.add_rating("alice", "item-0000", 3, 3, comment="two\nlines are fine")
    assert store.ratings()["comment"].tolist() == ["two\nlines are fine"]


def test_opening_without_create_writes_nothing(tmp_path):
    missing = tmp_path / "typo" / "x.db"
    with pytest.raises(AnnotationError, match="No study database at"):
        AnnotationStore(missing, create=False)
    assert not (tmp_path / "typo").exists()
    with pytest.raises(AnnotationError, match="is a folder"):
        AnnotationStore(tmp_path, create=False)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00not sqlite" * 100)
    for create in (True, False):
        with pytest.raises(AnnotationError, match="is not a study database"):
            AnnotationStore(junk, create=create)
    assert junk.read_bytes() == b"\x00not sqlite" * 100
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(AnnotationError, match="is not a study database"):
        AnnotationStore(other)


def test_annotator_ids_are_plain_names():
    import doctest

    from dppgrpo_core.study import store as annotations
    from dppgrpo_core.study.fields import check_annotator

    assert doctest.testmod(annotations).failed == 0
    for name in ("ann07", "Zoë Müller", "o'brien", "lead@lab.org", "a-b_c.d+e"):
        assert check_annotator(f" {name} ") == name
    for name in ("<b>x</b>", "../x", "a/b", "x;rm", "`id`", "a\tb"):
        with pytest.raises(AnnotationError):
            check_annotator(name)
