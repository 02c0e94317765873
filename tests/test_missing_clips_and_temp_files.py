"""Issue 23: one clip gone from disk never stops a study (and an answer that was stored is never reported as
failed), and the app's temporary files live in private folders of its own that are cleaned up."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from dppgrpo_core.settings import Settings
from dppgrpo_core.study import item_order, pairwise
from dppgrpo_core.study.store import AnnotationStore
from pages import annotate


@pytest.fixture
def study(tmp_path):
    """A study of three items of two clips each (bytes named .mp4: the tab only copies them) and two pairs."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for n in range(10):
        (clips / f"{n}.mp4").write_bytes(b"clip %d" % n)
    store = AnnotationStore(tmp_path / "study.db")
    store.add_items([{"item_id": f"item-{i}", "prompt": f"prompt {i}", "method": "m",
                      "videos": [str(clips / f"{2 * i}.mp4"), str(clips / f"{2 * i + 1}.mp4")]} for i in range(3)])
    pairwise.add_pairs(store, [{"pair_id": f"pair-{i}", "prompt": f"pair prompt {i}",
                                "a": {"method": "x", "videos": [str(clips / f"{6 + 2 * i}.mp4")]},
                                "b": {"method": "y", "prompts": ["a dog"]}} for i in range(2)])
    ctx = SimpleNamespace(settings=Settings(annotations_db=str(tmp_path / "study.db")), auth=None, admins=set())
    return store, ctx, clips


def test_a_missing_clip_is_passed_over_and_comes_back_when_restored(study, capsys):
    from dppgrpo_core.study.command import main as study_command

    store, ctx, clips = study
    order = item_order(store.item_ids(), store.annotator_seed("ann1"))
    gone = Path(store.item(order[1])["videos"][0])
    view = annotate.sign_in(ctx, "ann1", "likert", None)
    assert view[0]["item_id"] == order[0]
    gone.rename(gone.with_suffix(".away"))  # the clip of the next item disappears while ann1 rates
    view = annotate.rate(ctx, view[0], 4, 3, "", None)
    assert store.rated_item_ids("ann1") == {order[0]}  # the rating is stored ...
    assert view[0]["item_id"] == order[2] and "1 item cannot be shown now" in view[1]  # ... and the study goes on
    view = annotate.rate(ctx, view[0], 2, 2, "", None)
    assert view[0]["item_id"] is None and "cannot be shown now" in view[1]
    assert study_command(["status", "--db", str(store.path)]) == 0 and order[1] in capsys.readouterr().out
    gone.with_suffix(".away").rename(gone)  # the organiser restores it: the item is back
    assert annotate.sign_in(ctx, "ann1", "likert", None)[0]["item_id"] == order[1]


def test_a_pair_with_a_missing_clip_is_passed_over(study):
    store, ctx, clips = study
    first, _, _ = pairwise.next_pair(store, "ann2")
    Path(first["a"]["videos"][0]).unlink()
    view = annotate.sign_in(ctx, "ann2", "pairwise", None)
    assert view[0]["pair_id"] not in (None, first["pair_id"]) and "1 pair cannot be shown now" in view[1]


def test_a_stored_rating_is_never_reported_as_failed(study, monkeypatch):
    store, ctx, _ = study
    view = annotate.sign_in(ctx, "ann3", "likert", None)

    def broken(*_args):
        raise gr.Error("The next item could not be read.")

    monkeypatch.setattr(annotate, "_view", broken)
    with pytest.raises(gr.Error, match="Your rating is stored. The next item could not be read."):
        annotate.rate(ctx, view[0], 5, 5, "", None)
    assert store.rated_item_ids("ann3") == {view[0]["item_id"]}


def test_temporary_files_are_private_to_the_process_and_pruned(tmp_path, monkeypatch):
    from pages import annotate_view, results
    from pages.expand_view import write_downloads

    for folder in (annotate_view.BLIND_FOLDER, results.EXPORTS_ROOT):  # a fixed name another user could take first
        assert folder.parent == Path(tempfile.gettempdir()) and folder.name not in ("dppgrpo-blind", "dppgrpo-ratings")
        assert folder.stat().st_mode & 0o777 == 0o700 and folder.stat().st_uid == os.getuid()
    from pages import scratch
    result = {"query": "a dog", "method": "iid", "seed": 0, "config": {}, "policy": None,
              "steps": [{"index": 1, "prompt": "a dog", "gain": 0.7, "relevance": 1.0, "reward": 0.8, "log_det": 0.7}]}
    first = Path(write_downloads(result)[0]).parent
    assert first.parent == scratch.private_folder("sets")
    an_hour_ago = time.time() - 3700
    os.utime(first, (an_hour_ago, an_hour_ago))
    second = Path(write_downloads(result)[0]).parent
    assert not first.exists() and second.is_dir(), "every expansion left a dppgrpo-set-* folder behind"

    old, new = tmp_path / "old.mp4", tmp_path / "new.mp4"
    old.write_bytes(b"old clip")
    new.write_bytes(b"new clip")
    copy = Path(annotate_view.blind_copy(str(old)))
    assert copy.parent == annotate_view.BLIND_FOLDER and copy.read_bytes() == b"old clip"
    monkeypatch.setitem(annotate_view._USED, copy.name, time.time() - annotate_view.BLIND_TTL_S - 60)  # unused
    monkeypatch.setitem(annotate_view._USED, "", 0.0)  # the last pruning was long ago
    kept = Path(annotate_view.blind_copy(str(new)))
    assert not copy.exists() and kept.exists() and old.exists()  # the copy goes; the clip stays
