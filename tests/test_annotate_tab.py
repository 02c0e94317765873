"""The Annotate and Results tabs, driven like users do: gradio_client against the app launched in-process,
and headless Chromium completing one item with synthetic clips. No model is loaded (no Expand event runs)."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import imageio.v2 as imageio
import numpy as np
import pandas as pd
import pytest
from gradio_client import Client

from dppgrpo_core.settings import Settings
from dppgrpo_core.study.store import AnnotationStore
from tests.app_testing import CHROMIUM, CHROMIUM_ARGS, chromium, chromium_page
from tests.app_testing import launch_app as launch

ARTIFACTS = Path(__file__).parent / "artifacts"
USERS = [("alice", "pw-alice"), ("bob", "pw-bob"), ("lead", "pw-lead")]
METHODS = ("dpp-grpo", "original")
SECRET_METHOD = "method-x7q"  # a method name that appears nowhere else in the app, so the page must not show it


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory):
    db = tmp_path_factory.mktemp("study") / "annotations.db"
    store = AnnotationStore(db)
    store.add_items([{"item_id": f"{m}-{q}", "prompt": f"prompt number {q}", "method": m,
                      "prompts": [f"rewrite {k} of {q}, style {'AB'[j]}" for k in range(3)]}
                     for q in range(2) for j, m in enumerate(METHODS)]
                    + [{"item_id": "check", "prompt": "prompt number 0", "method": "attention-check",
                        "prompts": ["same"] * 3, "attention_check": True}])
    demo, url = launch(Settings(annotations_db=str(db)), auth=USERS, admins=["lead"])
    yield store, url
    demo.close()


def client_for(url, user):
    return Client(url, auth=(user, dict(USERS)[user]), verbose=False, analytics_enabled=False)


def table(value) -> pd.DataFrame:
    value = value.get("value", value) if "data" not in value else value  # an update (visible + value) or a value
    return pd.DataFrame(value["data"], columns=value["headers"])  # a Dataframe output as the client gets it


def progress_of(outputs) -> str:
    return outputs[0]  # (progress, panel, prompt, clips, text, ..., pair fields, play/pause): State is skipped


def test_client_completes_the_study_blind(auth_app):
    store, url = auth_app
    alice = client_for(url, "alice")
    outputs = alice.predict("mallory", api_name="/start")  # under sign-in the typed id is ignored
    assert "Signed in as **alice**" in progress_of(outputs) and "Item 1 of 5" in progress_of(outputs)
    shown_sets = set()
    for step in range(5):
        text = json.dumps(outputs, default=str)
        assert "prompt number" in text and "1. " in text  # the prompt and the set, as text
        assert not any(m in text for m in (*METHODS, "attention-check")), "the method reached the annotator"
        shown_sets.add(text.split("### The set")[1])
        outputs = alice.predict(1 + step % 5, 4, f"note {step}", api_name="/submit")
    assert "All 5 items rated" in progress_of(outputs) and len(shown_sets) == 5
    frame = store.ratings()
    assert sorted(frame["annotator"]) == ["alice"] * 5  # not "mallory"
    assert set(frame["item_id"]) == set(store.item_ids())
    assert (frame["seconds"] > 0).all() and frame["comment"].str.startswith("note ").all()
    # rating again is refused without touching the store
    with pytest.raises(Exception, match="No item to rate"):
        alice.predict(3, 3, "", api_name="/submit")
    assert len(store.ratings()) == 5


def test_missing_score_is_an_error_and_bob_resumes(auth_app):
    store, url = auth_app
    bob = client_for(url, "bob")
    bob.predict("", api_name="/start")
    with pytest.raises(Exception, match="Choose a score on both scales"):
        bob.predict(None, 4, "", api_name="/submit")
    bob.predict(2, 5, "", api_name="/submit")
    bob.predict(2, 5, "", api_name="/submit")
    rated_first = set(store.ratings().query("annotator == 'bob'")["item_id"])
    again = client_for(url, "bob").predict("", api_name="/start")  # a new session: resume
    assert "Item 3 of 5 (2 rated)" in progress_of(again)
    seed = store.annotator_seed("bob")
    from dppgrpo_core.study import item_order

    assert rated_first == set(item_order(store.item_ids(), seed)[:2])  # his seeded order, logged in the store


def test_results_are_for_admins_only(auth_app, capfd):
    store, url = auth_app
    capfd.readouterr()
    with pytest.raises(Exception, match="Only study admins"):
        client_for(url, "alice").predict(api_name="/results")
    with pytest.raises(Exception, match="No item to rate|Sign in with your annotator id|Press Start"):
        client_for(url, "alice").predict(3, 3, "", api_name="/submit")
    # 10: expected refusals are the user's business: no traceback in the server's terminal
    assert "Traceback" not in capfd.readouterr().err
    # 7 (issue 25): a script's answers take well under 4 s each: too fast to count, and said so.
    ratings = store.ratings()
    overview, summary_note = client_for(url, "lead").predict(api_name="/results")[:2]
    assert f"{len(ratings)} answers under 4 s are left out" in overview and "No ratings yet" in summary_note
    with store._write() as conn:  # as if each answer had taken the time to watch the set
        conn.execute("UPDATE ratings SET seconds = seconds + 10")
    (overview, _, summary, _figure, _, failures, pair_overview, _, _, times, csv_path, jsonl_path,
     pair_files) = client_for(url, "lead").predict(api_name="/results")
    ratings = store.ratings()
    assert f"**{ratings['annotator'].nunique()}** annotators, **{len(ratings)}** ratings" in overview
    assert "left out" not in overview
    assert set(table(summary)["method"]) == set(METHODS)
    # Two items per method: a mean, and the line that an interval needs more items, never "[x, x]".
    assert table(summary)["diversity mean [95% CI]"].str.contains(r"\(2 items: an interval needs 5\)").all()
    exported = pd.read_csv(csv_path)
    assert len(exported) == len(ratings) and set(exported["annotator"]) == set(ratings["annotator"])
    assert len(Path(jsonl_path).read_text().splitlines()) == len(ratings)
    alice_check = ratings.query("annotator == 'alice' and item_id == 'check'")["diversity"].iloc[0]
    failed = table(failures).set_index("annotator").loc["alice", "failed"]
    assert failed == int(alice_check > 2)
    assert "no votes yet" in pair_overview and not pair_files.get("value")  # no pairs in this study: no pairwise downloads
    assert set(table(times)["annotator"]) >= {"alice", "bob"} and set(table(times)["mode"]) == {"likert"}
    assert "rated_at" in exported and exported["rated_at"].str.match(r"\d{4}-\d\d-\d\dT.*\+00:00$").all()


# ----- the browser -----
def write_clip(path: Path, color) -> None:
    frames = [np.full((64, 64, 3), color, np.uint8) for _ in range(6)]
    for i, frame in enumerate(frames):
        frame[8 * i: 8 * i + 8, :, :] = 255 - np.asarray(color, np.uint8)  # a moving band: motion
    imageio.mimwrite(path, frames, fps=6, codec="libx264", pixelformat="yuv420p", macro_block_size=16)


def open_tab(page, label: str) -> None:
    page.get_by_role("tab").first.wait_for(timeout=20000)
    tab = page.get_by_role("tab", name=label)
    # Gradio mislabels tab buttons (and the tab cannot be opened) when gr.State components sit directly
    # inside gr.Tabs: app.build_app must create the shared States before `with gr.Tabs()`.
    assert tab.count() == 1, f"no {label!r} tab button; tab buttons: {page.get_by_role('tab').all_inner_texts()}"
    tab.click()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"headless Chromium not installed at {CHROMIUM}")
def test_browser_completes_one_item_with_videos(tmp_path):
    from playwright.sync_api import sync_playwright

    clips = []
    for i, color in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        clips.append(tmp_path / f"{SECRET_METHOD}-clip-{i}.mp4")  # a name that gives the method away
        write_clip(clips[-1], color)
    db = tmp_path / "annotations.db"
    store = AnnotationStore(db)
    store.add_items([{"item_id": "v1", "prompt": "a ball <b>rolling</b> `<i>fast</i>`", "method": SECRET_METHOD,
                      "videos": [str(c) for c in clips]}])
    demo, url = launch(Settings(annotations_db=str(db)))  # no sign-in: the annotator types an id
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(url)
            open_tab(page, "Annotate")
            page.get_by_label("Annotator id").fill("walker")
            page.get_by_role("button", name="Start / resume").click()
            page.get_by_text("Item 1 of 1").wait_for(timeout=20000)
            # escaped, not rendered as HTML; backticks show as themselves, not as a code span of "&lt;i&gt;"
            assert page.get_by_text("a ball <b>rolling</b> `<i>fast</i>`").count() >= 1
            assert "&lt;" not in page.inner_text("body")
            videos = page.locator("video")
            videos.first.wait_for(timeout=20000)
            page.wait_for_function("Array.from(document.querySelectorAll('video')).filter(v => v.readyState >= 1)"
                                   ".length >= 3", timeout=20000)
            sources = [videos.nth(i).get_attribute("src") for i in range(videos.count())]
            assert len(sources) == 3 and not any(SECRET_METHOD in (s or "") for s in sources)  # blind file names
            assert SECRET_METHOD not in page.content()
            page.get_by_label("4: clearly different in most of camera, scene, composition and motion").check()
            page.get_by_label("5: every clip faithful to it").check()
            page.get_by_label("Comment (optional)").fill("the blue one is dark")
            page.screenshot(path=str(ARTIFACTS / "annotate_tab.png"), full_page=True)
            page.get_by_role("button", name="Submit and next").click()
            page.get_by_text("All 1 items rated").wait_for(timeout=20000)
            browser.close()
    finally:
        demo.close()
    row = store.ratings().iloc[0]
    assert (row["annotator"], row["item_id"], row["diversity"], row["alignment"]) == ("walker", "v1", 4, 5)
    assert row["comment"] == "the blue one is dark" and row["seconds"] > 0
    assert (ARTIFACTS / "annotate_tab.png").stat().st_size > 10_000
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.mark.browser
def test_with_sign_in_only_the_admins_pages_hold_the_set_up_and_the_dashboard(auth_app):
    """Issue 25, 10: hidden from others by the server (their page has no such element), not by a script."""
    from playwright.sync_api import expect

    _, url = auth_app
    with chromium() as browser:
        for user, lead in (("alice", False), ("lead", True)):
            with chromium_page((1280, 900), browser) as page:
                page.request.post(url + "login", form={"username": user, "password": dict(USERS)[user]})
                page.goto(url)
                open_tab(page, "Annotate")
                expect(page.get_by_label("Annotator id")).to_have_value(user)  # the page-load event has run
                expect(page.get_by_role("button", name="Study set-up")).to_have_count(1 if lead else 0)
                page.get_by_role("tab", name="Results").click()
                expect(page.get_by_role("button", name="Load results")).to_be_visible()
                for element in (page.locator("#study-dashboard"), page.get_by_role("button", name="Save targets")):
                    expect(element).to_have_count(1 if lead else 0)


# ----- study set-up handlers, called directly (they are not exposed to the API) -----
def test_add_current_set_and_import_upload(tmp_path, monkeypatch):
    import gradio as gr

    from pages.annotate_setup import add_current_set, import_manifest_upload

    open_ctx = SimpleNamespace(settings=Settings(annotations_db=str(tmp_path / "a.db")), auth=None, admins=set())
    expanded = {"query": "a fox", "method": "dpp-grpo", "prompts": ["fox in snow", "fox at dusk"], "steps": []}
    message = add_current_set(open_ctx, None, expanded, True, None)
    assert "2 prompts as text" in message and "attention check" in message and "has 2 items" in message
    assert "dpp-grpo" not in message  # 10: without sign-in annotators share this page: the method stays unnamed
    rendered = dict(expanded, videos=[str(tmp_path / "1.mp4"), str(tmp_path / "2.mp4")])
    assert "2 clips" in add_current_set(open_ctx, rendered, expanded, False, None)  # the grid wins over the text
    with pytest.raises(gr.Error, match="already in the study"):
        add_current_set(open_ctx, None, expanded, False, None)
    with pytest.raises(gr.Error, match="No current set"):
        add_current_set(open_ctx, None, None, False, None)

    (tmp_path / "clip.mp4").write_bytes(b"x")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"item_id": "m1", "prompt": "p", "method": "m", "videos": ["clip.mp4"]}) + "\n")
    monkeypatch.chdir(tmp_path)  # relative clip paths of an upload are read from the working folder
    assert "Imported 1 items" in import_manifest_upload(open_ctx, str(manifest), None)
    store = AnnotationStore(tmp_path / "a.db")
    assert store.item("m1")["videos"] == [str((tmp_path / "clip.mp4").resolve())]
    assert sum(item["attention_check"] for item in store.items()) == 1

    signed_in = SimpleNamespace(settings=open_ctx.settings, auth=USERS, admins={"lead"})
    with pytest.raises(gr.Error, match="Only study admins"):
        add_current_set(signed_in, None, dict(expanded, query="another"), False, SimpleNamespace(username="alice"))
    assert "has 5 items" in add_current_set(signed_in, None, dict(expanded, query="another"), False,
                                            SimpleNamespace(username="lead"))


# ----- issue 12: the admin upload refuses server files; user text shows as itself -----
@pytest.mark.parametrize("clip, message", [
    # The refusal says what to do instead (issue 25, item 3): the app's own pairing, or --media-root.
    ("{tmp}/secret.mp4", "not a clip this app may show.*Pair these two grids.*--media-root"),
    ("/etc/hostname", "not a clip this app may show"),
    ("../secret.mp4", "not a clip this app may show"), ("clips/link.mp4", "not a clip this app may show"),
    ("clips/notes.txt", "is not a video file"), ("annotations.db", "is not a video file"),
])
def test_upload_refuses_a_manifest_naming_a_server_file(tmp_path, clip, message):
    import gradio as gr

    from pages.annotate_setup import import_manifest_upload

    (tmp_path / "secret.mp4").write_bytes(b"a server file")
    media = tmp_path / "media"
    (media / "clips").mkdir(parents=True)
    (media / "clips" / "a.mp4").write_bytes(b"clip")
    (media / "clips" / "notes.txt").write_text("notes")
    (media / "clips" / "link.mp4").symlink_to(tmp_path / "secret.mp4")
    db = media / "annotations.db"
    AnnotationStore(db).add_items([{"item_id": "before", "prompt": "p", "method": "m", "prompts": ["a"]}])
    before = db.read_bytes()
    upload = tmp_path / "upload" / "m.jsonl"  # Gradio's upload folder: not where clips are read from
    upload.parent.mkdir()
    good = {"item_id": "ok", "prompt": "p", "method": "m", "videos": ["clips/a.mp4"]}
    upload.write_text(json.dumps(good) + "\n" + json.dumps(dict(good, item_id="bad", videos=[
        "clips/a.mp4", clip.format(tmp=tmp_path)])) + "\n")
    ctx = SimpleNamespace(settings=Settings(annotations_db=str(db), media_root=str(media)), auth=None, admins=set())
    with pytest.raises(gr.Error, match=message):
        import_manifest_upload(ctx, str(upload), None)
    assert AnnotationStore(db).item_ids() == ["before"] and db.read_bytes() == before  # refused whole
    upload.write_text(json.dumps(good) + "\n")
    assert "Imported 1 items" in import_manifest_upload(ctx, str(upload), None)
    assert AnnotationStore(db).item("ok")["videos"] == [str((media / "clips" / "a.mp4").resolve())]


def visible_text(markdown: str) -> str:
    """What gr.Markdown shows for `markdown`: rendered as CommonMark, tags dropped, entities decoded."""
    import html
    import re

    from markdown_it import MarkdownIt

    return html.unescape(re.sub(r"<[^>]+>", "", MarkdownIt("commonmark").render(markdown))).strip()


def test_backticks_and_markup_in_prompts_show_literally(tmp_path):
    from pages.annotate import _view

    prompt = "a `<b>dog</b>` *running* [link](x) C:\\new_folder # 1"
    store = AnnotationStore(tmp_path / "a.db")
    store.add_items([{"item_id": "i", "prompt": prompt, "method": "m", "prompts": ["use `code` & <i>tags</i>", "_b_"]}])
    outputs = _view(store, "ann_1")
    progress, prompt_md, text_md = outputs[1], outputs[3], outputs[5]
    assert visible_text(prompt_md).split() == ["Prompt", *prompt.split()]
    shown = visible_text(text_md)
    assert "use `code` & <i>tags</i>" in shown and "_b_" in shown and "&lt;" not in shown
    assert "Signed in as ann_1." in visible_text(progress)  # the underscore shows, no emphasis


# ----- issue 12: "Load results" leaves no copy of the ratings per click -----
def _gradio_cache() -> Path:
    import os
    import tempfile

    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


def test_load_results_keeps_one_export_per_session(auth_app, tmp_path):
    from pages.results import EXPORTS_ROOT

    store, url = auth_app

    def cached_copies():
        return sorted(_gradio_cache().rglob("ratings.*")) if _gradio_cache().exists() else []

    copies_before, exports_before = cached_copies(), set(EXPORTS_ROOT.iterdir())
    # The client downloads into its own folder (by default it shares Gradio's, on this one machine).
    lead = Client(url, auth=("lead", "pw-lead"), verbose=False, download_files=str(tmp_path / "client"))
    for n in range(3):
        store.add_rating(f"extra{n}", "check", 1, 1)  # every click exports different ratings
        *_, csv_path, jsonl_path, _pairs = lead.predict(api_name="/results")
        assert len(pd.read_csv(csv_path)) == len(store.ratings()) == len(Path(jsonl_path).read_text().splitlines())
    new = set(EXPORTS_ROOT.iterdir()) - exports_before
    assert len(new) == 1, "one export folder per session, replaced on each click"
    assert sorted(p.name for p in new.pop().iterdir()) == ["ratings.csv", "ratings.jsonl"]
    assert cached_copies() == copies_before, "Gradio's cache got a copy of the ratings"
    assert oct(EXPORTS_ROOT.stat().st_mode & 0o777) == "0o700"


def test_export_folders_are_replaced_and_pruned(tmp_path, monkeypatch):
    import os
    import time

    from pages import results

    monkeypatch.setattr(results, "EXPORTS_ROOT", tmp_path / "exports")
    first = results.export_folder(None)
    second = results.export_folder(str(first))
    assert not first.exists() and second.is_dir() and second.parent == tmp_path / "exports"
    results._remove(str(tmp_path))  # only ever a folder of EXPORTS_ROOT
    assert tmp_path.is_dir()
    old = time.time() - results.EXPORT_TTL_S - 60
    os.utime(second, (old, old))  # a session that never ended (an API client) or a server that stopped
    third = results.export_folder(None)
    assert not second.exists() and third.is_dir()


# ----- issue 16, item 3: the Annotate status line counts what was added elsewhere -----
def test_status_line_counts_items_added_after_the_tab_was_opened(tmp_path):
    from pages.annotate import study_counts_line
    from pages.annotate_setup import add_current_set

    assert "no items yet" in study_counts_line(None, None)
    ctx = SimpleNamespace(settings=Settings(annotations_db=str(tmp_path / "a.db")), auth=None, admins=set())
    grid = {"query": "a fox", "method": "dpp-grpo", "prompts": ["a", "b"], "videos": ["/v/1.mp4", "/v/2.mp4"]}
    add_current_set(ctx, grid, None, True, None)  # what the Render tab's one click does
    store = AnnotationStore(tmp_path / "a.db")
    assert "**2** items to rate" in study_counts_line(store, None)
    waiting = {"annotator": "ann", "mode": "likert", "item_id": None}  # signed in before the items came
    assert "Item 1 of 2 (0 rated)" in study_counts_line(store, waiting) and "Start / resume" in study_counts_line(
        store, waiting)
    with pytest.raises(Exception, match="typed by hand"):  # a grid of hand-typed prompts: a clear refusal
        add_current_set(ctx, dict(grid, query=None), None, False, None)
