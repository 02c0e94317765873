"""Issue 25's walk as a study lead, in headless Chromium: two grids rendered here become a pair from the page (3),
rating and voting with the clips in a compact grid and the vote bar always in view, at desktop width and at 390 px
(8), Results honest about small samples with the study dashboard on top (7 and the extra), the Benchmark tab on the
shipped evaluation and a run started from the page (9), and the annotator page, which holds the annotation form
alone (10)."""

import time

import pytest

from tests.walk_helpers import (  # noqa: F401 - browser, walk_app and shots are fixtures
    WIDTHS,
    browser,
    choose,
    chromium_page,
    clips_per_row,
    considered,
    in_view,
    no_error_badges,
    shot,
    shots,
    walk_app,
)

QUERY = "a red kite over a windy beach"
SET_UP = ("Study set-up", "Add current set to study", "Import manifest", "Pair these two grids", "Save targets",
          "Load results", "Run a small benchmark here")  # the lead's controls: none on the annotator page


def _expand_and_render(p, expect, method):
    p.get_by_role("tab", name="Expand").click()
    choose(p, "Method", method)
    p.locator("#expand-k input").fill("3")
    p.locator("#expand-prompt textarea").fill(QUERY)
    p.locator("#expand-prompt textarea").press("Enter")
    expect(p.locator("#expand-status")).to_contain_text(f"✅ {method}: 3 prompts", timeout=120_000)
    p.get_by_role("tab", name="Render").click()
    expect(p.get_by_text(f"3 prompts** ({method})").or_(p.get_by_text(f"({method}) for the query"))).to_be_visible(
        timeout=30_000)
    p.get_by_role("button", name="Render", exact=True).click()
    expect(p.locator("#render-status")).to_contain_text("3 of 3 videos", timeout=120_000)


def _answer(p, label, button, shown_at):
    p.get_by_label(label).first.check()
    considered(shown_at)
    p.get_by_role("button", name=button).click()


@pytest.mark.browser
def test_the_study_lead_walk(walk_app, browser, shots):
    from playwright.sync_api import expect

    settings, url = walk_app
    with chromium_page(WIDTHS["desktop"], browser) as p:
        p.goto(url)
        # 9: the shipped evaluation, and a small run started here: it shows its progress and runs on (a child
        # process) while the walk goes on in the other tabs.
        p.get_by_role("tab", name="Benchmark").click()
        expect(p.locator("#benchmark-curves .js-plotly-plot")).to_be_visible(timeout=30_000)
        p.get_by_text("Run a small benchmark here").click()
        p.get_by_label("Prompts (1 to 10)").fill("1")
        p.get_by_label("K (2 to 8)").fill("2")
        for method in ("composer", "dpp-compose"):
            p.locator("#benchmark-run-panel").get_by_label(method, exact=True).uncheck()
        p.locator("#benchmark-run").click()
        expect(p.locator("#benchmark-run-status")).to_contain_text("⏳", timeout=30_000)

        # 3: two grids of one prompt rendered here, paired from the page.
        _expand_and_render(p, expect, "dpp-compose")
        _expand_and_render(p, expect, "original")
        p.locator("#render-study-button").click()  # and the grid as a rating item, with its attention check
        expect(p.locator("#study-top")).to_contain_text("The study has 2 items to rate", timeout=30_000)
        p.get_by_text("Study set-up").click()
        expect(p.get_by_label("Second grid (B)")).to_have_value("#2 original · “a red kite over a windy beach” · 3 "
                                                                "clips · configured", timeout=30_000)
        p.locator("#pair-grids").click()
        expect(p.locator("#pair-status")).to_contain_text("Added a pair for", timeout=30_000)
        assert no_error_badges(p)

        # 8: rating with the clips in one row and Submit in view; then the pair, the vote bar in view.
        p.get_by_label("Annotator id").fill("lead-walker")
        p.get_by_role("button", name="Start / resume").click()
        expect(p.locator("#study-top")).to_contain_text("Item 1 of 2", timeout=30_000)
        shown_at = time.monotonic()
        p.wait_for_function("document.querySelectorAll('.study-clips video').length == 3", timeout=30_000)
        assert clips_per_row(p, ".study-clips video") == 3 and in_view(p, "#study-submit-bar")
        shot(p, shots, "desktop", "annotate")
        p.get_by_label("3: some variety").check()
        _answer(p, "4: most clips faithful", "Submit and next", shown_at)
        expect(p.locator("#study-top")).to_contain_text("Item 2 of 2", timeout=30_000)
        shown_at = time.monotonic()
        p.get_by_label("1: near-identical clips").check()
        _answer(p, "5: every clip faithful", "Submit and next", shown_at)
        expect(p.locator("#study-top")).to_contain_text("All 2 items rated", timeout=30_000)
        p.get_by_label("Compare two sets (pairwise)").check()
        p.get_by_role("button", name="Start / resume").click()
        expect(p.locator("#study-top")).to_contain_text("Pair 1 of 1", timeout=30_000)
        shown_at = time.monotonic()
        p.wait_for_function("document.querySelectorAll('#study-pair video').length == 6", timeout=30_000)
        assert in_view(p, "#study-vote-bar")
        shot(p, shots, "desktop", "annotate_pairwise")
        _answer(p, "A (left) is more diverse", "Vote and next", shown_at)
        expect(p.locator("#study-reveal")).to_contain_text("A (left) was", timeout=30_000)

        # 7 and the dashboard: one item per method says it is too few for an interval; coverage and progress.
        p.get_by_role("tab", name="Results").click()
        p.get_by_role("button", name="Load results").click()
        expect(p.locator("#results-summary")).to_contain_text("(1 item: an interval needs 5)", timeout=30_000)
        expect(p.locator("#results-pairwise")).to_contain_text("pairs of clips")
        expect(p.locator("#results-pairwise")).to_contain_text("(1 pair: an interval needs 5)")
        expect(p.locator("#dashboard-coverage .js-plotly-plot")).to_be_visible()
        expect(p.locator("#dashboard-progress")).to_contain_text("lead-walker")
        assert "[1.00, 1.00]" not in p.locator("body").inner_text()
        shot(p, shots, "desktop", "results")

        # 9: the run started at the beginning ends, and the tab shows it.
        p.get_by_role("tab", name="Benchmark").click()
        expect(p.locator("#benchmark-run-status")).to_contain_text("✅ Done: run", timeout=180_000)
        expect(p.locator("#benchmark-note")).to_contain_text("Showing page-", timeout=30_000)
        p.get_by_text("Run a small benchmark here").click()
        shot(p, shots, "desktop", "benchmark")


@pytest.mark.browser
def test_the_annotator_page_at_phone_width(walk_app, browser, shots):
    """10: the link a lead sends (`/annotate?annotator=...`) is a page of its own: the annotation form, with no
    set-up control and no other tab anywhere in its DOM. 8: at 390 px a set of clips is a compact grid (three a row)
    and the bars stay in view. Runs after the lead's walk, which made the items and the pair."""
    from playwright.sync_api import expect

    settings, url = walk_app
    with chromium_page(WIDTHS["phone"], browser) as p:
        p.goto(url + "annotate?annotator=phone-walker")
        expect(p.locator("#study-top")).to_contain_text("The study has 2 items to rate and 1 pairs to compare. "
                                                        "Press Start / resume", timeout=30_000)
        expect(p.locator("#study-annotator input, #study-annotator textarea")).to_have_value("phone-walker")
        expect(p.locator("#study-annotator input, #study-annotator textarea")).to_be_disabled()  # from the link
        html = p.content()
        assert not [label for label in SET_UP if label in html], [label for label in SET_UP if label in html]
        assert p.get_by_role("tab").count() == 0 and p.locator("input[type=file]").count() == 0
        p.get_by_role("button", name="Start / resume").click()
        expect(p.locator("#study-top")).to_contain_text("Item 1 of 2", timeout=30_000)
        p.wait_for_function("document.querySelectorAll('.study-clips video').length == 3", timeout=30_000)
        assert clips_per_row(p, ".study-clips video") == 3 and in_view(p, "#study-submit-bar")
        shot(p, shots, "phone", "annotate")
        p.get_by_label("Compare two sets (pairwise)").check()
        p.get_by_role("button", name="Start / resume").click()
        expect(p.locator("#study-top")).to_contain_text("Pair 1 of 1", timeout=30_000)
        p.wait_for_function("document.querySelectorAll('#study-pair video').length == 6", timeout=30_000)
        assert clips_per_row(p, "#study-left video") == 3 and in_view(p, "#study-vote-bar")
        p.evaluate("window.scrollTo(0, document.body.scrollHeight / 3)")
        assert in_view(p, "#study-vote-bar")  # still there while scrolling through the clips
        shot(p, shots, "phone", "annotate_pairwise")
        assert not [label for label in SET_UP if label in p.content()]  # nor after the events that followed

        # The lead's own page at phone width: Results and Benchmark are tabs in view (8), not behind a menu.
        p.goto(url)
        for tab, ready in (("Results", "#dashboard-coverage"), ("Benchmark", "#benchmark-curves")):
            p.get_by_role("tab", name=tab).click()
            if tab == "Results":
                p.get_by_role("button", name="Load results").click()
            expect(p.locator(f"{ready} .js-plotly-plot")).to_be_visible(timeout=30_000)
            shot(p, shots, "phone", tab.lower())
