"""Study items, manifests, blind order, the command line, and the pure results logic on toy ratings."""

import json

import numpy as np
import pandas as pd
import pytest

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study import (
    ATTENTION_METHOD,
    attention_check_for,
    clip_order,
    export_ratings,
    import_manifest,
    item_from_set,
    item_order,
    next_item,
    read_manifest,
    results,
)
from dppgrpo_core.study.command import main
from dppgrpo_core.study.store import AnnotationStore


@pytest.fixture
def manifest(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (clips / name).write_bytes(b"not really a video")
    lines = [
        {"item_id": "v1", "prompt": "a dog on a beach", "method": "dpp-grpo", "videos": ["clips/a.mp4", "clips/b.mp4"]},
        {"item_id": "t1", "prompt": "a dog on a beach", "method": "original", "prompts": ["x", "y", "z"]},
        {"item_id": "chk", "prompt": "a dog on a beach", "method": ATTENTION_METHOD,
         "videos": [str(clips / "c.mp4")] * 3, "attention_check": True},
    ]
    path = tmp_path / "manifest.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    return path


def test_manifest_import_resolves_paths_and_flags(tmp_path, manifest):
    store = AnnotationStore(tmp_path / "db" / "a.db")
    assert import_manifest(store, manifest) == 3
    assert store.item("v1")["videos"] == [str(manifest.parent / "clips" / n) for n in ("a.mp4", "b.mp4")]
    assert store.item("t1")["prompts"] == ["x", "y", "z"] and store.item("t1")["videos"] is None
    assert store.item("chk")["attention_check"] and not store.item("v1")["attention_check"]
    with pytest.raises(UserFacingError, match="already in the study"):
        import_manifest(store, manifest)


@pytest.mark.parametrize("line, pattern", [
    ("{not json", "line 2: not JSON"),
    ('["a list"]', "line 2: expected an object"),
    ('{"item_id": "x", "prompt": "p", "method": "m"}', "exactly one of"),
    ('{"item_id": "x", "prompt": "p", "method": "m", "videos": ["a.mp4"], "prompts": ["b"]}', "exactly one of"),
    ('{"item_id": "x", "prompt": "p", "method": "m", "videos": ["missing.mp4"]}', "line 2: video not found"),
])
def test_bad_manifest_lines_name_the_line(tmp_path, line, pattern):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"item_id": "ok", "prompt": "p", "method": "m", "prompts": ["a"]}\n' + line + "\n")
    with pytest.raises(UserFacingError, match=pattern):
        read_manifest(path)


def test_items_from_app_sets():
    expanded = {"query": "a cat", "method": "dpp-grpo", "prompts": ["p1", "p2"], "steps": []}
    rendered = {"query": "a cat", "method": "dpp-grpo", "prompts": ["p1", "p2"], "videos": ["/v/1.mp4", "/v/2.mp4"]}
    text_item, video_item = item_from_set(expanded), item_from_set(rendered)
    assert text_item["prompts"] == ["p1", "p2"] and "videos" not in text_item
    assert video_item["videos"] == ["/v/1.mp4", "/v/2.mp4"] and "prompts" not in video_item
    assert text_item["item_id"] != video_item["item_id"]
    assert item_from_set(dict(expanded))["item_id"] == text_item["item_id"]  # same set, same id
    check = attention_check_for(video_item)
    assert check["videos"] == ["/v/1.mp4", "/v/1.mp4"] and check["attention_check"]
    assert check["method"] == ATTENTION_METHOD
    with pytest.raises(UserFacingError, match="No current set"):
        item_from_set(None)


def test_order_is_seeded_per_annotator_and_stable():
    ids = [f"i{n}" for n in range(20)]
    assert item_order(ids, 1) == item_order(list(reversed(ids)), 1)
    assert item_order(ids, 1) != item_order(ids, 2) and sorted(item_order(ids, 1)) == sorted(ids)
    assert sorted(clip_order(6, 1, "i0")) == list(range(6))
    assert clip_order(6, 1, "i0") == clip_order(6, 1, "i0")
    assert len({tuple(clip_order(6, seed, "i0")) for seed in range(10)}) > 1


def test_next_item_resumes_and_visits_each_item_once(tmp_path):
    store = AnnotationStore(tmp_path / "a.db")
    store.add_items([{"item_id": f"i{n}", "prompt": "q", "method": "m", "prompts": [f"{n}-{k}" for k in range(4)]}
                     for n in range(6)])
    seen = []
    for step in range(6):
        if step == 3:
            store = AnnotationStore(store.path)  # restart half-way: same order continues
        item, done, total = next_item(store, "alice")
        assert (done, total) == (step, 6)
        assert sorted(item["shown"]) == sorted(item["prompts"])
        seen.append(item["item_id"])
        store.add_rating("alice", item["item_id"], 3, 3)
    assert next_item(store, "alice") == (None, 6, 6)
    assert sorted(seen) == [f"i{n}" for n in range(6)]
    assert seen == item_order(store.item_ids(), store.annotator_seed("alice"))
    assert set(store.ratings()["order_seed"]) == {store.annotator_seed("alice")}  # the seed travels with exports


def test_command_line_import_export(tmp_path, manifest, capsys):
    db = tmp_path / "cli.db"
    assert main(["import", str(manifest), "--db", str(db)]) == 0
    assert "added 3 items" in capsys.readouterr().out
    AnnotationStore(db).add_rating("alice", "v1", 4, 5, comment="nice, varied")
    assert main(["export", "--db", str(db), "--out", str(tmp_path / "r.csv")]) == 0
    csv = pd.read_csv(tmp_path / "r.csv")
    assert csv.loc[0, ["annotator", "item_id", "method", "diversity", "alignment", "comment"]].tolist() == [
        "alice", "v1", "dpp-grpo", 4, 5, "nice, varied"]
    assert main(["export", "--db", str(db), "--out", str(tmp_path / "r.jsonl")]) == 0
    record = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])
    assert record["diversity"] == 4 and record["attention_check"] is False
    assert main(["import", str(manifest), "--db", str(db)]) == 2  # already there: one line, status 2
    assert "error: already in the study" in capsys.readouterr().err
    assert main(["export", "--db", str(db), "--out", str(tmp_path / "r.xlsx")]) == 2


# ----- results on toy data -----
def toy_ratings(rows):
    frame = pd.DataFrame(rows, columns=["annotator", "item_id", "method", "attention_check", "diversity", "alignment"])
    frame["attention_check"] = frame["attention_check"].astype(bool)
    return frame


def test_bootstrap_ci_covers_the_mean_and_narrows_with_more_items():
    rng = np.random.default_rng(0)
    small = rng.integers(1, 6, 10)
    mean, low, high = results.bootstrap_ci(small, np.arange(10))
    assert mean == pytest.approx(small.mean()) and low < mean < high
    big = rng.integers(1, 6, 1000)
    _, big_low, big_high = results.bootstrap_ci(big, np.arange(1000))
    assert big_high - big_low < (high - low) / 3
    constant = results.bootstrap_ci(np.full(8, 4), np.arange(8))
    assert constant == (4.0, 4.0, 4.0)
    # one item rated 1 and 5 by two raters: resampling items cannot split them, so the CI stays at 3
    assert results.bootstrap_ci(np.array([1, 5]), np.array(["a", "a"])) == (3.0, 3.0, 3.0)


def test_method_summary_distributions_and_checks():
    rows = []
    for annotator in ("a1", "a2", "a3"):
        for item in range(4):
            rows.append((annotator, f"dpp{item}", "dpp-grpo", False, 5 if item % 2 else 4, 4))
            rows.append((annotator, f"orig{item}", "original", False, 1 if item % 2 else 2, 5))
    rows += [("a1", "chk", ATTENTION_METHOD, True, 1, 5), ("a2", "chk", ATTENTION_METHOD, True, 4, 5)]
    frame = toy_ratings(rows)
    summary = results.method_summary(frame).set_index("method")
    assert list(summary.index) == ["dpp-grpo", "original"]  # the attention check is not a method
    assert summary.loc["dpp-grpo", "diversity_mean"] == pytest.approx(4.5)
    assert summary.loc["original", "diversity_mean"] == pytest.approx(1.5)
    assert summary.loc["original", "alignment_ci_low"] == summary.loc["original", "alignment_ci_high"] == 5
    assert summary.loc["dpp-grpo", "diversity_ci_low"] < 4.5 < summary.loc["dpp-grpo", "diversity_ci_high"]
    assert summary.loc["dpp-grpo", ["n_items", "n_annotators", "n_ratings"]].tolist() == [4, 3, 12]

    dist = results.distributions(frame).set_index(["method", "scale", "score"])
    assert dist.loc[("dpp-grpo", "diversity", 5), "count"] == 6
    assert dist.loc[("dpp-grpo", "diversity", 1), "count"] == 0
    assert dist.groupby(["method", "scale"])["share"].sum().to_numpy() == pytest.approx(np.ones(4))

    failures = results.attention_failures(frame).set_index("annotator")
    assert failures.loc["a1", "failed"] == 0 and failures.loc["a2", "failed"] == 1
    assert failures.loc["a2", "failed_items"] == "chk" and "a3" not in failures.index
    overview = results.study_overview(frame, n_items=9)
    assert overview == {"items": 9, "items_rated": 9, "annotators": 3, "ratings": 26,
                        "attention_checks": 2, "attention_failed": 1}
    figure = results.distribution_figure(frame)
    assert {trace.name for trace in figure.data} == {"dpp-grpo", "original"} and len(figure.data) == 4


def test_krippendorff_alpha_ordinal():
    perfect = toy_ratings([(a, f"i{i}", "m", False, 1 + i % 5, 3) for a in ("a", "b", "c") for i in range(10)])
    assert results.krippendorff_alpha(perfect, "diversity") == pytest.approx(1.0)
    assert np.isnan(results.krippendorff_alpha(perfect, "alignment"))  # every rating 3: undefined
    # Ordinal: disagreeing by one step costs less than by four.
    near = toy_ratings([(a, f"i{i}", "m", False, (1 + i % 5) if a == "a" else min(5, 2 + i % 5), 3)
                        for a in ("a", "b") for i in range(10)])
    far = toy_ratings([(a, f"i{i}", "m", False, (1 + i % 5) if a == "a" else 5 - i % 5, 3)
                       for a in ("a", "b") for i in range(10)])
    assert results.krippendorff_alpha(near, "diversity") > 0.5 > results.krippendorff_alpha(far, "diversity")
    single = toy_ratings([("a", f"i{i}", "m", False, 1 + i % 5, 3) for i in range(5)])
    assert np.isnan(results.agreement(single)["diversity"])  # one rater: no agreement to measure


def test_export_from_store_has_item_columns(tmp_path):
    store = AnnotationStore(tmp_path / "a.db")
    store.add_items([{"item_id": "x", "prompt": "p, with comma", "method": "m", "prompts": ["a", "b"]}])
    store.add_rating("bob", "x", 2, 3, comment='said "hi"', seconds=4.0)
    back = pd.read_csv(export_ratings(store, tmp_path / "out" / "r.csv"))
    assert back.loc[0, "prompt"] == "p, with comma" and back.loc[0, "comment"] == 'said "hi"'
    assert back.loc[0, "seconds"] == 4.0


@pytest.mark.parametrize("name", ["dppgrpo_core.study.manifest", "dppgrpo_core.study.order", "dppgrpo_core.study.results"])
def test_docstring_examples(name):
    import doctest
    import importlib

    outcome = doctest.testmod(importlib.import_module(name))
    assert outcome.attempted > 0 and outcome.failed == 0


# ----- issue 12: a manifest names only video clips inside its folder (or the media root), refused whole -----
def study_folder(tmp_path):
    """tmp/secret.mp4 (outside), tmp/study/{clips/a.mp4, clips/link.mp4 -> ../../secret.mp4, clips/notes.txt,
    annotations.db}: the places a manifest may (a.mp4) and may not name."""
    (tmp_path / "secret.mp4").write_bytes(b"a server file outside the study")
    study = tmp_path / "study"
    (study / "clips").mkdir(parents=True)
    (study / "clips" / "a.mp4").write_bytes(b"clip")
    (study / "clips" / "notes.txt").write_text("not a video")
    (study / "clips" / "link.mp4").symlink_to(tmp_path / "secret.mp4")
    AnnotationStore(study / "annotations.db")
    return study


BAD_CLIPS = {  # clip as written in the manifest -> what the one line says
    "absolute path outside": ("{tmp}/secret.mp4", "outside the manifest's folder"),
    "system file": ("/etc/hostname", "outside the manifest's folder"),
    "dot-dot": ("../secret.mp4", "outside the manifest's folder"),
    "symlink out": ("clips/link.mp4", "outside the manifest's folder"),
    "not a video": ("clips/notes.txt", "is not a video file"),
    "the database": ("annotations.db", "is not a video file"),
}


def write_manifest(path, *items):
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def good_item(item_id="ok", clips=("clips/a.mp4",)):
    return {"item_id": item_id, "prompt": "a dog", "method": "dpp-grpo", "videos": list(clips)}


@pytest.mark.parametrize("case", list(BAD_CLIPS))
def test_import_refuses_a_manifest_naming_a_server_file(tmp_path, capsys, case):
    study = study_folder(tmp_path)
    clip, message = BAD_CLIPS[case]
    manifest = write_manifest(study / "manifest.jsonl", good_item(),
                              good_item("bad", ["clips/a.mp4", clip.format(tmp=tmp_path)]))
    db = tmp_path / "out" / "study.db"
    assert main(["import", str(manifest), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: manifest.jsonl line 2: clip ") and message in err and err.count("\n") == 1
    assert not db.exists() and not db.parent.exists()  # refused whole: nothing written, not even line 1
    with pytest.raises(UserFacingError, match=message):
        read_manifest(manifest)


def test_import_command_line_refuses_a_system_file_in_one_line(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    study = study_folder(tmp_path)
    manifest = write_manifest(study / "m.jsonl", good_item("x", ["/etc/hostname"]))
    done = subprocess.run([sys.executable, "-m", "dppgrpo_core.study", "import", str(manifest), "--db",
                           str(tmp_path / "s.db")], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: m.jsonl line 1: clip '/etc/hostname' is outside") and \
        done.stderr.count("\n") == 1
    assert not (tmp_path / "s.db").exists()


def test_a_clip_under_the_media_root_is_accepted_and_nothing_else(tmp_path, capsys):
    study = study_folder(tmp_path)
    media = tmp_path / "media"
    media.mkdir()
    (media / "m.mp4").write_bytes(b"clip")
    (tmp_path / "manifests").mkdir()
    manifest = write_manifest(tmp_path / "manifests" / "m.jsonl", good_item("m", [str(media / "m.mp4")]))
    db = tmp_path / "s.db"
    assert main(["import", str(manifest), "--db", str(db)]) == 2  # outside the manifest's folder
    assert "is outside the manifest's folder; a study" in capsys.readouterr().err
    assert main(["import", str(manifest), "--db", str(db), "--media-root", str(media)]) == 0
    assert AnnotationStore(db).item("m")["videos"] == [str((media / "m.mp4").resolve())]
    write_manifest(manifest, good_item("n", [str(study / "clips" / "a.mp4")]))
    assert main(["import", str(manifest), "--db", str(db), "--media-root", str(media)]) == 2
    assert "outside the manifest's folder or the media root" in capsys.readouterr().err


def test_import_refuses_an_item_with_more_clips_than_the_annotate_tab_shows(tmp_path, capsys):
    from dppgrpo_core.study.fields import MAX_CLIPS

    study = study_folder(tmp_path)
    clips = []
    for n in range(MAX_CLIPS + 1):
        (study / "clips" / f"{n}.mp4").write_bytes(b"clip")
        clips.append(f"clips/{n}.mp4")
    db = tmp_path / "s.db"
    manifest = write_manifest(study / "m.jsonl", good_item("big", clips))
    assert main(["import", str(manifest), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert f"{MAX_CLIPS + 1} clips; the Annotate tab shows at most {MAX_CLIPS}" in err and err.count("\n") == 1
    assert not db.exists()
    write_manifest(manifest, good_item("fits", clips[:MAX_CLIPS]))
    assert main(["import", str(manifest), "--db", str(db)]) == 0


@pytest.mark.parametrize("value", ["false", "true", 0, 1, None, "no"])
def test_attention_check_must_be_a_json_boolean(tmp_path, capsys, value):
    study = study_folder(tmp_path)
    manifest = write_manifest(study / "m.jsonl", {"item_id": "t", "prompt": "p", "method": "m", "prompts": ["a", "b"],
                                                  "attention_check": value})
    db = tmp_path / "s.db"
    assert main(["import", str(manifest), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert f"attention_check must be true or false, got {value!r}" in err and err.count("\n") == 1
    assert not db.exists()


@pytest.mark.parametrize("command", [["status"], ["export", "--out", "{tmp}/r.csv"]])
def test_status_and_export_never_create_a_database(tmp_path, capsys, command):
    typo = tmp_path / "typo" / "x.db"
    argv = [part.format(tmp=tmp_path) for part in command] + ["--db", str(typo)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No study database at") and err.count("\n") == 1
    assert not (tmp_path / "typo").exists() and not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize("command", [["status"], ["export", "--out", "{tmp}/r.csv"], ["import", "{manifest}"]])
@pytest.mark.parametrize("db_kind, message", [("folder", "is a folder, not a study database file"),
                                              ("not sqlite", "is not a study database"),
                                              ("under a file", "Cannot create the study database")])
def test_a_db_that_is_a_folder_or_not_sqlite_is_one_line(tmp_path, capsys, command, db_kind, message):
    study = study_folder(tmp_path)
    manifest = write_manifest(study / "m.jsonl", good_item())
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not an SQLite file\n" * 200)
    db = {"folder": tmp_path / "afolder", "not sqlite": junk, "under a file": junk / "x.db"}[db_kind]
    if db_kind == "folder":
        db.mkdir()
    if db_kind == "under a file" and command[0] != "import":
        message = "No study database"
    argv = [part.format(tmp=tmp_path, manifest=manifest) for part in command] + ["--db", str(db)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert junk.read_bytes() == b"this is not an SQLite file\n" * 200  # never written to
    assert not (tmp_path / "r.csv").exists()
