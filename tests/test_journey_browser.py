"""Issue 25's walk as a video creator, in headless Chromium at desktop width and at 390 px: none of the ten
problems may appear (each check names its number). Issue 16's walk (refusals without red badges, Compare, Load a
set, edited prompts kept, a reload) is part of it. The handlers are tested one by one in test_second_pass*.py."""

import json
import threading

import pytest

from dppgrpo_core.expand import StepRecord
from pages import expand_run
from pages.activity import ACTIVITY
from pages.expand_view import GAIN_AXIS_TITLE
from tests.app_testing import free_port, launch_app
from tests.walk_helpers import (  # noqa: F401 - browser, walk_app and shots are fixtures
    WIDTHS,
    browser,
    choose,
    chromium_page,
    clips_per_row,
    no_error_badges,
    shot,
    shots,
    walk_app,
    walk_settings,
)

QUERY = "a lighthouse on a cliff at dusk"
QUERIES = {"desktop": QUERY, "phone": "a fishing boat in a storm at sea"}  # two study items, not one twice


def _expand(p, expect, k, text):
    p.locator("#expand-k input").fill(str(k))
    p.locator("#expand-prompt textarea").fill(QUERY)
    p.locator("#expand-prompt textarea").press("Enter")  # 10: Enter runs
    expect(p.locator("#expand-status")).to_contain_text(text, timeout=120_000)


@pytest.mark.browser
@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_creator_walk(walk_app, browser, shots, width, tmp_path):
    from playwright.sync_api import expect

    settings, url = walk_app
    desktop, query = width == "desktop", QUERIES[width]
    with chromium_page(WIDTHS[width], browser) as p:
        p.goto(url)
        p.locator("#expand-prompt textarea").wait_for()
        # 8: every tab in view, none behind a menu; 10: status lines are live regions.
        tabs = p.get_by_role("tab")
        assert tabs.count() == 5 and all(t.is_visible() for t in tabs.all())
        assert p.locator(".overflow-menu:not(.hide)").count() == 0
        for line in ("#expand-status", "#expand-estimate", "#expand-queue"):
            assert p.locator(line).get_attribute("aria-live") == "polite", line
        if desktop:  # issue 16: the examples are whole VBench prompts
            p.locator("button.gallery-item").first.wait_for()
            chips = [c.inner_text().strip() for c in p.locator("button.gallery-item").all()]
            assert len(chips) == 6 and all(len(c.split()) >= 4 for c in chips), chips
        if desktop:  # 10: a few Tab presses from the top reach the Expand button
            p.locator("body").click(position={"x": 5, "y": 5})
            for presses in range(1, 12):
                p.keyboard.press("Tab")
                if p.evaluate("document.activeElement.id") == "expand-run":
                    break
            assert presses <= 8, presses
            # Issue 16: an empty prompt is refused on its field, nothing turns red.
            p.locator("#expand-run").click()
            expect(p.get_by_text("The prompt is empty")).to_be_visible(timeout=30_000)
            assert no_error_badges(p) and p.locator("#expand-status").inner_text().strip() == ""

        # 4: K out of range is refused with one line on the field (the estimate says it too), and nothing runs.
        for k in ("0", "100"):
            p.locator("#expand-k input").fill(k)
            p.locator("#expand-prompt textarea").fill(query)
            expect(p.locator("#expand-estimate")).to_contain_text(f"K must be a whole number from 1 to 20, got {k}")
            p.locator("#expand-prompt textarea").press("Enter")
            # The refusal comes from the run's validator, so once it shows, the event is over: nothing ran.
            expect(p.locator("#expand-k")).to_contain_text("K must be a whole number", timeout=30_000)
            assert p.locator("#expand-status").inner_text().strip() == "" and no_error_badges(p)
        assert p.locator("#expand-k input").input_value() == "100"  # kept as typed, never clamped

        # 6: the estimate counts what a first run loads; during the run Expand reads "Running…" and cannot be
        # clicked (Enter during a run: the queue test below).
        p.locator("#expand-k input").fill("3")
        if not ACTIVITY.loaded("embedder", settings.embedder):  # this server's first run (other tests may have run)
            expect(p.locator("#expand-estimate")).to_contain_text("to load the models")
        p.locator("#expand-prompt textarea").press("Enter")
        expect(p.locator("#expand-stop")).to_be_visible(timeout=10_000)
        expect(p.locator("#expand-run")).to_be_disabled()
        expect(p.locator("#expand-run")).to_have_text("Running…")
        expect(p.locator("#expand-status")).to_contain_text("✅ dpp-compose: 3 prompts", timeout=120_000)
        expect(p.locator("#expand-stop")).to_be_hidden(timeout=10_000)
        expect(p.locator("#expand-estimate")).to_contain_text("measured on this machine")
        assert p.locator(".js-plotly-plot .g-ytitle").first.text_content() == GAIN_AXIS_TITLE
        if desktop:  # 6: Compare has its own estimate; issue 16: both sets side by side
            p.get_by_text("Compare two methods on this prompt").click()
            expect(p.get_by_text("Estimated time for the comparison")).to_be_visible()
            choose(p, "Second method", "original")
            p.get_by_role("button", name="Compare", exact=True).click()
            expect(p.get_by_text("✅ K = 4")).to_be_visible(timeout=120_000)
            assert p.locator(".dpp-compare-set").count() == 2 and p.locator(".dpp-compare-set li").count() == 8
        shot(p, shots, width, "expand")

        # 2 and 10: the Render tab offers no model this CPU cannot run; a prompt with a clause removed keeps q.
        p.get_by_role("tab", name="Render").click()
        box = p.get_by_label("Prompts, one per line")
        expect(box).not_to_have_value("", timeout=30_000)
        p.get_by_label("Video model").click()
        offered = p.get_by_role("option").all_inner_texts()
        assert "wan2.1" not in offered and "cogvideox" not in offered and "tiny-random-wan" in offered
        p.keyboard.press("Escape")
        assert p.get_by_label("Video model").input_value() == "configured on the server (command)"  # the default
        lines = box.input_value().splitlines()
        lines[1] = lines[1].rsplit(",", 1)[0]  # remove its last clause
        box.fill("\n".join(lines))
        p.get_by_role("button", name="Render", exact=True).click()
        p.wait_for_function("document.querySelectorAll('.dpp-grid video').length == 3", timeout=120_000)
        expect(p.locator("#render-status")).to_contain_text("Prompt 2 was edited from the dpp-compose set")
        expect(p.locator("#render-zip")).to_be_visible()  # 10: all clips in one download
        p.get_by_text("Settings (blank = the model's default)").click()
        expect(p.locator("#render-negative textarea")).to_be_visible()  # 10: a negative prompt
        if not desktop:  # 8: a set of clips in a compact grid at phone width
            assert clips_per_row(p, ".dpp-grid video") >= 3
        p.locator("#render-study-button").click()
        expect(p.locator("#study-top")).to_contain_text("items to rate", timeout=30_000)
        assert "typed by hand" not in p.locator("body").inner_text()
        p.get_by_role("tab", name="Render").click()
        shot(p, shots, width, "render")

        if desktop:  # issue 16: Load a set; a reload keeps the last set and grid
            loaded = {"query": "a cat on a sunny windowsill", "method": "composer", "seed": 3, "k": 2,
                      "steps": [{"prompt": "a cat on a sunny windowsill, wide"},
                                {"prompt": "a cat on a sunny windowsill, close-up"}]}
            (tmp_path / "set.json").write_text(json.dumps(loaded))
            p.get_by_role("tab", name="Expand").click()
            p.locator("#expand-load-set input[type=file]").set_input_files(str(tmp_path / "set.json"))
            expect(p.locator("#expand-status")).to_contain_text("Loaded from the file", timeout=60_000)
            p.get_by_role("tab", name="Render").click()
            expect(p.get_by_text("your edited prompts are kept")).to_be_visible(timeout=30_000)
            expect(p.get_by_role("button", name="Use the new set from the Expand tab")).to_be_visible()
            p.reload()
            expect(p.locator("#expand-status")).to_contain_text("Restored after the reload", timeout=60_000)
            assert p.locator("#expand-prompt textarea").input_value() == loaded["query"]
            p.get_by_role("tab", name="Render").click()
            expect(p.get_by_text("Restored after the reload: the last grid")).to_be_visible(timeout=30_000)
            assert p.locator(".dpp-grid video").count() == 3


RELEASE = threading.Event()  # the policy runs of the queue test go on until the test lets them end


def _held_policy(query, k, method, seed, settings=None, config=None):
    """A policy run with no model that goes on until RELEASE is set (a minute at most): what another user's
    dpp-grpo run looks like to the queue, held as long as the test needs it, whatever the machine's load."""
    import torch

    for i in range(1, k + 1):
        if i > 1:
            RELEASE.wait(60)
        vector = torch.nn.functional.normalize(torch.eye(32)[i - 1] + 0.1, dim=0)
        yield StepRecord(index=i, prompt=f"{query}, take {i}", gain=0.5, relevance=0.9, reward=0.7, log_det=0.5 * i,
                         generate_s=1.5, score_s=0.0, embedding=vector)


@pytest.mark.browser
def test_1_and_6_a_request_beside_another_users_policy_run_says_why_and_stops(walk_app, browser, monkeypatch):
    from gradio_client import Client
    from playwright.sync_api import expect

    settings, url = walk_app
    monkeypatch.setattr(expand_run, "expand", _held_policy)
    RELEASE.clear()
    other = Client(url, verbose=False).submit(QUERY, 20, "dpp-grpo", 0, 0.5, 0.5, "packaged:SmolLM2-135M-Instruct",
                                              0.8, 4, api_name="/expand")
    try:
        next(iter(other))  # the other user's run has started, and goes on until RELEASE
        with chromium_page(WIDTHS["desktop"], browser) as p:
            p.goto(url)
            p.locator("#expand-prompt textarea").fill(QUERY)
            p.locator("#expand-k input").fill("12")
            choose(p, "Method", "dpp-grpo")
            p.locator("#expand-run").click()
            expect(p.locator("#expand-run")).to_have_text("Running…")
            # 1: running beside it, taking turns at the engine (or queued behind it): either way the line says why.
            expect(p.locator("#expand-queue")).to_contain_text("another user's policy run (dpp-grpo, K = 20)",
                                                                timeout=30_000)
            # 6: Enter during one's own run is not dropped silently: the page says why nothing new starts (on the
            # line under the buttons, or on the prompt when the click comes within a second of the run's start).
            p.locator("#expand-prompt textarea").press("Enter")
            said = p.locator("#expand-queue, #expand-prompt").filter(has_text="already queued or running")
            expect(said.first).to_be_visible(timeout=10_000)
            p.locator("#expand-stop").click()
            expect(p.locator("#expand-queue")).to_contain_text("⏹", timeout=10_000)
            expect(p.locator("#expand-stop")).to_be_hidden()
            expect(p.locator("#expand-run")).to_have_text("Expand")
    finally:
        RELEASE.set()
        other.result(timeout=60)  # the other user's run ends: the next walk finds the server idle


@pytest.mark.browser
def test_5_a_kept_set_survives_a_server_restart(browser, tmp_path):
    from playwright.sync_api import expect

    settings, port = walk_settings(tmp_path), free_port()
    demo, url = launch_app(settings, port=port)
    try:
        with chromium_page(WIDTHS["desktop"], browser) as p:
            p.goto(url)
            _expand(p, expect, 2, "✅ dpp-compose: 2 prompts")
            p.wait_for_function("localStorage.getItem('dppgrpo-last-set') !== null", timeout=10_000)
            demo.close()  # the Space sleeps
            demo, url = launch_app(settings, port=port)  # and wakes: a new process key, the same kept copy
            p.goto(url)
            expect(p.locator("#expand-status")).to_contain_text("Restored after the reload", timeout=60_000)
            assert p.locator("#expand-prompt textarea").input_value() == QUERY
    finally:
        demo.close()
