"""Issue 25 ("the journey, second pass"), the study lead's side, handler by handler: an edited grid makes a study
item (2), pairs come from the app's own renders (3), results are honest about small samples (7), the study
dashboard with its targets (the extra), the quota capping ratings and votes alike, and the annotator page that
holds the annotation form alone (10). The browser walk is tests/test_study_browser.py."""

import json
from types import SimpleNamespace

import gradio as gr
import pandas as pd
import pytest

from dppgrpo_core.settings import Settings
from dppgrpo_core.study import pairwise
from dppgrpo_core.study.fields import QuotaReached
from dppgrpo_core.study.store import AnnotationStore
from dppgrpo_core.video import videos_dir
from pages import annotate_page, results_view, study_dashboard, study_pairs
from pages.annotate import cast_vote, rate, sign_in
from pages.annotate_setup import add_current_set, import_manifest_upload, setup_on_load
from pages.render_extras import set_origin


@pytest.fixture
def ctx(tmp_path):
    settings = Settings(device="cpu", cache_dir=str(tmp_path / "cache"), annotations_db=str(tmp_path / "study.db"))
    return SimpleNamespace(settings=settings, auth=None, admins=set(), allow_cpu=False, model_queue={})


def _clips(ctx, names):
    folder = videos_dir(ctx.settings.cache_dir)
    for name in names:
        (folder / name).write_bytes(b"mp4")
    return [str(folder / name) for name in names]


def _grid(ctx, query, method, names, model="tiny-random-wan"):
    videos = _clips(ctx, names)
    return {"query": query, "method": method, "prompts": [f"{query} {n}" for n in range(len(videos))],
            "videos": videos, "seeds": [0] * len(videos), "model": model}


# -- 2: an edited prompt keeps q, so the grid makes a study item --------------------------------------

def test_2_a_grid_with_an_edited_prompt_becomes_a_study_item(ctx):
    made = {"query": "a fox", "method": "dpp-compose", "prompts": ["a fox, wide", "a fox, close-up, sad clause"]}
    query, method, edited = set_origin(made, ["a fox, wide", "a fox, close-up"])
    assert (query, method, edited) == ("a fox", "dpp-compose (edited)", [2])
    grid = dict(_grid(ctx, "a fox", method, ["e1.mp4", "e2.mp4"]), query=query)
    assert "Added one item (2 clips" in add_current_set(ctx, grid, None, False, None)
    assert AnnotationStore(ctx.settings.annotations_db).items()[0]["method"] == "dpp-compose (edited)"


# -- 3: pairs from the page -----------------------------------------------------------------------------

def test_3_pair_these_two_grids(ctx):
    grids = study_pairs.remember_grid([], _grid(ctx, "a fox", "dpp-compose", ["a1.mp4", "a2.mp4"]))
    grids = study_pairs.remember_grid(grids, _grid(ctx, "a fox", "original", ["b1.mp4", "b2.mp4"]))
    assert len(study_pairs.remember_grid(grids, grids[0])) == 2  # the same grid twice is one grid
    first, second = study_pairs.grid_menus(grids)
    assert (first.value, second.value) == (0, 1) and "#2 original · “a fox” · 2 clips" in second.choices[1][0]
    assert "Added a pair for *a fox* (2 clips vs 2 clips). The study has 1 pairs." == \
        study_pairs.pair_grids(ctx, grids, 0, 1, None)
    store = AnnotationStore(ctx.settings.annotations_db)
    pair = pairwise.pair(store, pairwise.pair_ids(store)[0])
    assert pair["a"]["method"] == "dpp-compose" and pair["b"]["videos"] == grids[1]["videos"]
    # The same method twice is told apart by its model; other mistakes get one line that says what to do.
    grids.append(_grid(ctx, "a fox", "original", ["c1.mp4"], model="tiny-random-cogvideox"))
    assert "Added a pair" in study_pairs.pair_grids(ctx, grids, 1, 2, None)
    grids.append(_grid(ctx, "a boat", "iid", ["d1.mp4"]))
    for args, message in [((0, 3), "two sets for one prompt"), ((0, 0), "two different grids"),
                          ((0, 9), "Choose the second grid"), ((1, 1.5), "Choose the second grid")]:
        with pytest.raises(gr.Error, match=message):
            study_pairs.pair_grids(ctx, grids, *args, None)
    same = [_grid(ctx, "a cat", "iid", ["e1.mp4"]), _grid(ctx, "a cat", "iid", ["e2.mp4"])]
    with pytest.raises(gr.Error, match="a pair compares two methods. Render the prompt with another method"):
        study_pairs.pair_grids(ctx, same, 0, 1, None)


def test_3_pair_two_methods_over_prompts(ctx):
    lines = list(study_pairs.pair_methods(ctx, "a fox in the snow\n\na boat at sea", "composer", "original", 3, "text",
                                          None, progress=lambda *a, **k: None))
    assert lines[-1].startswith("✅ Added 2 pairs (composer vs original, K = 3, text)")
    store = AnnotationStore(ctx.settings.annotations_db)
    pairs = [pairwise.pair(store, p) for p in pairwise.pair_ids(store)]
    assert sorted(p["prompt"] for p in pairs) == ["a boat at sea", "a fox in the snow"]
    assert all(len(p["a"]["prompts"]) == 3 and p["b"]["prompts"] == [p["prompt"]] * 3 for p in pairs)
    with pytest.raises(gr.Error, match="two different methods"):
        list(study_pairs.pair_methods(ctx, "a fox", "iid", "iid", 3, "text", None))


def test_3_a_manifest_may_name_clips_the_app_rendered(ctx, tmp_path):
    clip = _clips(ctx, ["f" * 24 + ".mp4"])[0]
    manifest = tmp_path / "upload" / "pairs.jsonl"
    manifest.parent.mkdir()
    manifest.write_text(json.dumps({"pair_id": "p", "prompt": "a fox", "a": {"method": "x", "videos": [clip]},
                                    "b": {"method": "y", "prompts": ["a fox"]}}) + "\n")
    assert "Imported 0 items and 1 pairs" in import_manifest_upload(ctx, str(manifest), None)


# -- 7: small samples, fast answers, two kinds of pairs ----------------------------------------------------

def _ratings(rows):
    frame = pd.DataFrame(rows, columns=["annotator", "item_id", "method", "diversity", "alignment", "seconds"])
    return frame.assign(prompt="p", attention_check=False, comment=None)


def test_7_results_say_when_a_sample_is_too_small():
    one_item = _ratings([("a", "i1", "m", 3, 4, 9.0), ("b", "i1", "m", 4, 4, 9.0)])
    cell = results_view.summary_table(one_item)["diversity mean [95% CI]"][0]
    assert cell == "3.50 (1 item: an interval needs 5)" and "[3.50" not in cell
    two_items = _ratings([("a", "i1", "m", 1, 1, 9.0), ("b", "i1", "m", 5, 5, 9.0), ("a", "i2", "m", 5, 5, 9.0),
                          ("b", "i2", "m", 1, 1, 9.0)])
    assert "diversity not yet readable" in results_view.overview_markdown(two_items, 2)
    votes = pd.DataFrame({"annotator": list("abcd"), "pair_id": ["p1"] * 4, "a_method": "x", "b_method": "y",
                          "choice": "left", "winner": "x", "seconds": 9.0})
    table = results_view.pairwise_table(votes)
    assert table.loc[table["method"] == "x", "win rate [95% CI]"].item() == "1.00 (1 pair: an interval needs 5)"


def test_7_fast_answers_are_left_out_and_text_and_clip_pairs_ranked_apart():
    ratings = _ratings([("a", "i1", "m", 3, 4, 1.5), ("a", "i2", "m", 3, 4, 12.0)])
    kept, left_out = results_view.without_fast(ratings)
    assert left_out == 1 and kept["item_id"].tolist() == ["i2"]
    votes = pd.DataFrame({"annotator": ["a", "b"], "pair_id": ["clip-pair", "text-pair"], "a_method": "x",
                          "b_method": "y", "choice": "left", "winner": "x", "seconds": 9.0})
    table = results_view.pairwise_table(votes, {"clip-pair": "clips", "text-pair": "text"})
    assert table["pairs of"].tolist() == ["pairs of clips"] * 2 + ["pairs of prompt sets (text)"] * 2
    assert results_view.pair_kind({"a": {"videos": ["v"]}, "b": {"videos": ["w"]}}) == "clips"


# -- the study dashboard and its targets -----------------------------------------------------------------

def test_the_dashboard_shows_coverage_progress_per_item_and_flagged_answers(ctx):
    store = AnnotationStore(ctx.settings.annotations_db)
    store.add_items([{"item_id": f"i{n}", "prompt": f"prompt {n}", "method": "m", "prompts": ["a", "b"]}
                     for n in range(3)] + [{"item_id": "check", "prompt": "prompt 0", "method": "attention-check",
                                            "prompts": ["a", "a"], "attention_check": True}])
    store.annotator_seed("ann1"), store.annotator_seed("ann2"), store.annotator_seed("idle")
    store.add_rating("ann1", "i0", 3, 4, "the clips stutter", seconds=12.0)
    store.add_rating("ann1", "i1", 2, 4, None, seconds=1.0)  # too fast
    store.add_rating("ann2", "i0", 4, 4, None, seconds=15.0)
    store.add_rating("ann2", "check", 5, 3, None, seconds=15.0)  # fails the attention check
    assert "Saved: 2 ratings wanted per item, at most 2 items rated and 2 pairs voted on per annotator." == \
        study_dashboard.save_targets(ctx, 2, 2, None)
    (headline, coverage, progress, _, per_item, _, flagged, _, overlap, quota) = study_dashboard.load_dashboard(ctx)
    assert headline.startswith("**1 of 4** items have their 2 ratings") and (overlap, quota) == (2, 2)
    heatmap = json.loads(coverage.value["plot"])["data"][0]
    assert heatmap["x"] == ["ann1", "ann2", "idle"] and coverage.visible
    table = pd.DataFrame(progress.value["data"], columns=progress.value["headers"]).set_index("annotator")
    assert table.loc["ann1", "items rated"] == "2 of 2" and table.loc["ann1", "quota"] == "reached"
    assert table.loc["idle", "items rated"] == "0 of 2" and table.loc["ann1", "flagged"] == 2
    items = pd.DataFrame(per_item.value["data"], columns=per_item.value["headers"])
    assert items["item"].tolist()[0] == "i2" and items.set_index("item").loc["i0", "ratings"] == 2
    reasons = pd.DataFrame(flagged.value["data"], columns=flagged.value["headers"])["reason"].tolist()
    assert any("too fast (1 s)" in r for r in reasons) and any("failed attention check" in r for r in reasons)
    assert any("comment: the clips stutter" in r for r in reasons)
    # The quota stops an annotator in the Annotate tab.
    view = sign_in(ctx, "ann1", "likert", SimpleNamespace(username=None, query_params={}))
    assert "**Quota reached**: you have rated your 2 items" in view[1] and view[0]["item_id"] is None
    with pytest.raises(gr.Error, match="Quota per annotator"):
        study_dashboard.save_targets(ctx, 2, -1, None)
    signed = SimpleNamespace(settings=ctx.settings, auth=[("a", "b")], admins={"lead"})
    with pytest.raises(gr.Error, match="Only study admins"):
        study_dashboard.load_dashboard(signed, SimpleNamespace(username="ann1"))


# -- the quota caps both modes ---------------------------------------------------------------------------

ANONYMOUS = SimpleNamespace(username=None, query_params={})


def test_the_quota_caps_pairwise_votes_as_it_caps_ratings(ctx):
    store = AnnotationStore(ctx.settings.annotations_db)
    store.add_items([{"item_id": f"i{n}", "prompt": "a fox", "method": "m", "prompts": ["a", "b"]} for n in range(3)])
    pairwise.add_pairs(store, [{"pair_id": f"p{n}", "prompt": "a fox", "a": {"method": "x", "prompts": ["a", "b"]},
                                "b": {"method": "y", "prompts": ["c", "d"]}} for n in range(4)])
    study_dashboard.save_targets(ctx, 2, 2, None)
    # The store: the third vote is refused in one line, like the third rating.
    pairwise.add_vote(store, "ann1", "p0", "left", "a")
    pairwise.add_vote(store, "ann1", "p1", "tie", "b")
    with pytest.raises(QuotaReached, match=r"^'ann1' has voted on 2 pairs, the study's quota per annotator: no more"):
        pairwise.add_vote(store, "ann1", "p2", "left", "a")
    store.add_rating("ann1", "i0", 3, 3), store.add_rating("ann1", "i1", 3, 3)
    with pytest.raises(QuotaReached, match=r"^'ann1' has rated 2 items, the study's quota per annotator"):
        store.add_rating("ann1", "i2", 3, 3)
    with pytest.raises(pairwise.AnnotationError, match="already voted on pair 'p0'"):  # the clearer reason first
        pairwise.add_vote(store, "ann1", "p0", "left", "a")
    assert len(pairwise.votes(store)) == 2 and len(store.ratings()) == 2
    # The page: no third pair, and the line says the quota is reached.
    view = sign_in(ctx, "ann1", "pairwise", ANONYMOUS)
    assert view[0]["pair_id"] is None and "**Quota reached**: you have voted on your 2 pairs" in view[1]
    # A tab that still shows a pair when the quota was reached elsewhere: the vote is not taken, the line says why.
    shown = sign_in(ctx, "ann2", "pairwise", ANONYMOUS)[0]
    for other in sorted({"p0", "p1", "p2", "p3"} - {shown["pair_id"]})[:2]:
        pairwise.add_vote(store, "ann2", other, "right", "a")
    view = cast_vote(ctx, shown, "left", ANONYMOUS)
    assert "Quota reached" in view[1] and view[0]["pair_id"] is None
    assert shown["pair_id"] not in pairwise.voted_pair_ids(store, "ann2")
    shown = sign_in(ctx, "ann2", "likert", ANONYMOUS)[0]  # and the same for a rating
    for other in sorted({"i0", "i1", "i2"} - {shown["item_id"]}):
        store.add_rating("ann2", other, 4, 4)
    view = rate(ctx, shown, 3, 3, "", ANONYMOUS)
    assert "**Quota reached**: you have rated your 2 items" in view[1] and shown["item_id"] not in \
        store.rated_item_ids("ann2")
    table = study_dashboard.load_dashboard(ctx)[2]
    progress = pd.DataFrame(table.value["data"], columns=table.value["headers"]).set_index("annotator")
    assert progress.loc["ann1", "pairs voted"] == "2 of 2" and progress.loc["ann1", "quota"] == "reached"


# -- 10: the annotator page is built on the server, with the annotation form alone ---------------------------

SET_UP = ("Study set-up", "Add current set to study", "JSONL manifest", "Import manifest", "Pair these two grids",
          "Save targets", "Load results", "Expand", "Render")


def _labels(config, page):
    ids = set(config["page"][page]["components"])
    props = [c.get("props", {}) for c in config["components"] if c["id"] in ids]
    return {str(p.get(key)) for p in props for key in ("label", "value") if isinstance(p.get(key), str)}, \
        {c["type"] for c in config["components"] if c["id"] in ids}


def test_10_the_annotator_page_holds_the_annotation_form_alone(tmp_path):
    from app import build_app

    demo = build_app(Settings(device="cpu", cache_dir=str(tmp_path / "cache"), annotations_db=str(tmp_path / "s.db")))
    config = demo.get_config_file()
    labels, types = _labels(config, "annotate")
    assert {"Annotator id", "Start / resume", "Submit and next", "Vote and next"} <= labels
    assert not labels & set(SET_UP) and not types & {"tabs", "tabitem", "file"}, labels & set(SET_UP)
    main_labels, _ = _labels(config, "")
    assert "Study set-up" in main_labels and "Save targets" in main_labels  # the lead's page keeps them
    annotate_events = [d for d in config["dependencies"] if d["id"] in set(config["page"]["annotate"]["dependencies"])]
    assert annotate_events and all(d.get("api_visibility") == "private" for d in annotate_events)  # /start stays one


def test_10_the_annotator_link_names_the_annotator(ctx):
    link = SimpleNamespace(username=None, query_params={"annotator": "ann07"})
    box, line = annotate_page.open_page(ctx, link)
    assert box.value == "ann07" and box.interactive is False and "no items yet" in line
    box, line = annotate_page.open_page(ctx, SimpleNamespace(username=None, query_params={"annotator": "<b>x"}))
    assert box.value is None and line.startswith("This link's annotator id cannot be used") and "<b>" not in line
    signed = SimpleNamespace(settings=ctx.settings, auth=[("ann1", "pw")], admins=set())
    assert annotate_page.open_page(signed, SimpleNamespace(username="ann1", query_params={"annotator": "x"}))[0] \
        .value == "ann1"  # with sign-in the user name, never the link


def test_with_sign_in_only_admins_get_the_set_up_panel_and_the_dashboard(ctx):
    signed = SimpleNamespace(settings=ctx.settings, auth=[("ann1", "pw"), ("lead", "pw")], admins={"lead"})
    for user, shown in (("ann1", False), ("lead", True)):
        request = SimpleNamespace(username=user, query_params={})
        assert setup_on_load(signed, request)[1].visible is shown
        assert study_dashboard.dashboard_on_load(signed, request).visible is shown
