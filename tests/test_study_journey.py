"""The study part of the journey (issue 16, items 3, 5, 10 and the pairwise mode) in headless Chromium:
Results before any rating, a set loaded on Expand, rendered (a command model that writes clips in a blink),
made a study item in one click, rated with clips that play in sync, then two pairs voted on, and Results."""

import json
import os
import sys
import time

import pytest

from dppgrpo_core.settings import Settings
from dppgrpo_core.study import pairwise
from dppgrpo_core.study.store import AnnotationStore
from tests.app_testing import ARTIFACTS, chromium_page, launch_app
from tests.walk_helpers import considered

QUERY = "a lighthouse on a cliff at dusk"
SECRETS = ("method-alpha7", "method-beta9")  # appear nowhere else in the app: the page must not show them early

CLIP_SCRIPT = r'''
import sys, zlib
import numpy as np, imageio.v2 as imageio
prompt, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(zlib.crc32(prompt.encode()))
color = rng.integers(0, 255, 3).astype(np.uint8)
frames = []
for i in range(24):  # 3 s at 8 fps: a moving band
    frame = np.empty((64, 64, 3), np.uint8); frame[:] = color
    frame[(i * 2) % 64:(i * 2) % 64 + 8] = 255 - color
    frames.append(frame)
imageio.mimwrite(out, frames, fps=8, codec="libx264", pixelformat="yuv420p", macro_block_size=16)
'''


def write_clip(path, seed):
    import imageio.v2 as imageio
    import numpy as np

    color = np.array([(seed * 70) % 255, 90, 200 - seed * 30], np.uint8)
    frames = [np.full((64, 64, 3), color, np.uint8) for _ in range(24)]
    imageio.mimwrite(path, frames, fps=8, codec="libx264", pixelformat="yuv420p", macro_block_size=16)


def _shot(page, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, f"study_{name}.png"), full_page=True)


IN_SYNC = """() => {
  const v = Array.from(document.querySelectorAll('.study-clips video'));
  if (v.length < 3 || v.some(x => x.paused || x.readyState < 2 || !x.muted || !x.loop)) return false;
  const d = v[0].duration, t = v.map(x => x.currentTime);
  return t.every(x => { const gap = Math.abs(x - t[0]) % d; return Math.min(gap, d - gap) < 0.5; });
}"""


@pytest.mark.browser
def test_the_study_journey_in_a_browser(tmp_path, capfd):
    from playwright.sync_api import expect

    script = tmp_path / "clip.py"
    script.write_text(CLIP_SCRIPT)
    db = tmp_path / "study.db"
    clips = []
    for n in range(2):
        clips.append(tmp_path / f"{SECRETS[0]}-{n}.mp4")
        write_clip(clips[-1], n)
    store = AnnotationStore(db)
    pairwise.add_pairs(store, [
        {"pair_id": "pq1", "prompt": "a fox in the snow", "a": {"method": SECRETS[0], "videos": [str(c) for c in clips]},
         "b": {"method": SECRETS[1], "prompts": ["a fox in deep snow, wide shot", "a fox, close-up, snowing"]}},
        {"pair_id": "pq2", "prompt": "a boat at sea", "a": {"method": SECRETS[0], "prompts": ["a boat", "a ship"]},
         "b": {"method": SECRETS[1], "prompts": ["a sailing boat at dawn", "a fishing boat in a storm"]}}])
    settings = Settings(device="cpu", cache_dir=str(tmp_path / "cache"), annotations_db=str(db),
                        video_model=f"command:{sys.executable} {script} {{prompt}} {{out}}")
    demo, url = launch_app(settings)
    try:
        with chromium_page(viewport=(1280, 720)) as p:
            p.goto(url)
            # 10: Results before any rating: lines that say why, no empty tables with "1 2 3" headers.
            p.get_by_role("tab", name="Results").click()
            p.get_by_role("button", name="Load results").click()
            expect(p.get_by_text("No ratings yet")).to_be_visible(timeout=30_000)
            expect(p.get_by_text("no votes yet")).to_be_visible()
            assert p.locator("#results-summary").is_hidden() and p.locator("#results-pairwise").is_hidden()
            assert p.locator("th", has_text="1").count() == 0
            _shot(p, "results_empty")

            # 3: a set from the Expand tab, rendered, then one click makes the study item (with its check).
            p.get_by_role("tab", name="Expand").click()
            loaded = {"query": QUERY, "method": "composer", "seed": 0, "k": 3,
                      "steps": [{"prompt": f"{QUERY}, {shot}"} for shot in ("wide shot", "close-up", "from the sea")]}
            (tmp_path / "set.json").write_text(json.dumps(loaded))
            p.locator("#expand-load-set input[type=file]").set_input_files(str(tmp_path / "set.json"))
            expect(p.locator("#expand-status")).to_contain_text("Loaded from the file", timeout=120_000)
            p.get_by_role("tab", name="Render").click()
            expect(p.get_by_label("Prompts, one per line")).to_have_value(
                "\n".join(s["prompt"] for s in loaded["steps"]), timeout=30_000)
            p.get_by_role("button", name="Render", exact=True).click()
            p.wait_for_function("document.querySelectorAll('.dpp-grid video').length == 3", timeout=120_000)
            check = p.locator("#render-study-check input")
            expect(check).to_be_visible(timeout=30_000)
            assert check.is_checked()  # the attention-check choice, beside the button
            p.locator("#render-study-button").click()
            # The Annotate tab opens, and its status line is true: two items (the grid and its check).
            expect(p.locator("#study-top")).to_contain_text("The study has 2 items to rate and 2 pairs", timeout=30_000)
            assert p.get_by_role("tab", name="Annotate").get_attribute("aria-selected") == "true"

            # 5: the clips autoplay muted and looped, in sync, with one play/pause for all.
            p.get_by_label("Annotator id").fill("walker")
            p.get_by_role("button", name="Start / resume").click()
            expect(p.locator("#study-top")).to_contain_text("Item 1 of 2", timeout=30_000)
            shown_at = time.monotonic()
            p.wait_for_function(IN_SYNC, timeout=30_000)
            sources = p.eval_on_selector_all(".study-clips video", "v => v.map(x => x.getAttribute('src'))")
            assert all("dppgrpo-blind" in s and SECRETS[0] not in s for s in sources)
            p.get_by_role("button", name="Play / pause all clips").click()
            p.wait_for_function("Array.from(document.querySelectorAll('.study-clips video')).every(v => v.paused)",
                                timeout=10_000)
            p.get_by_role("button", name="Play / pause all clips").click()
            p.wait_for_function(IN_SYNC, timeout=10_000)
            _shot(p, "annotate_clips")

            # 2 and the terminal: a refused submit leaves the page as it was, and prints no traceback.
            p.get_by_role("button", name="Submit and next").click()
            expect(p.get_by_text("Choose a score on both scales").first).to_be_visible(timeout=30_000)
            assert p.locator("span.error", has_text="Error").count() == 0

            # 5: after "Submit and next" the page scrolls to the new item.
            p.get_by_label("3: some variety").check()
            p.get_by_label("4: most clips faithful").check()
            p.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            assert p.evaluate("document.getElementById('study-top').getBoundingClientRect().top") < 0
            considered(shown_at)  # a considered rating (a too-fast one counts nowhere)
            p.get_by_role("button", name="Submit and next").click()
            expect(p.locator("#study-top")).to_contain_text("Item 2 of 2", timeout=30_000)
            shown_at = time.monotonic()
            p.wait_for_function("(() => { const t = document.getElementById('study-top').getBoundingClientRect().top;"
                                " return t > -5 && t < 150; })()", timeout=10_000)
            p.wait_for_function(IN_SYNC, timeout=30_000)  # the next item's clips start together too
            p.get_by_label("1: near-identical clips").check()
            p.get_by_label("5: every clip faithful").check()
            considered(shown_at)
            p.get_by_role("button", name="Submit and next").click()
            expect(p.locator("#study-top")).to_contain_text("All 2 items rated", timeout=30_000)
            expect(p.locator("#study-top")).to_contain_text("Your last answer took")  # time per item, shown

            # Pairwise: vote on two pairs; the methods are named only after each vote.
            p.get_by_label("Compare two sets (pairwise)").check()
            p.get_by_role("button", name="Start / resume").click()
            expect(p.locator("#study-top")).to_contain_text("Pair 1 of 2", timeout=30_000)
            shown_at = time.monotonic()
            for n in range(2):
                # Blind until the vote: the whole page before the first; then the pair on screen (the line above
                # it names the methods of the pair just voted on, as arena studies do).
                body = p.content() if n == 0 else p.locator("#study-pair").inner_html()
                assert not any(secret in body for secret in SECRETS), "a method was shown before the vote"
                expect(p.locator("#study-left")).to_be_visible()
                p.get_by_label("A (left) is more diverse" if n == 0 else "Tie").check()
                voted_on = p.locator("#study-pair").locator("blockquote").inner_text().strip()
                considered(shown_at)  # a considered vote: a too-fast one counts in no result
                p.get_by_role("button", name="Vote and next").click()
                expect(p.locator("#study-reveal")).to_contain_text(f"For “{voted_on}” you voted", timeout=30_000)
                shown_at = time.monotonic()
                revealed = p.locator("#study-reveal").inner_text()
                assert all(secret in revealed for secret in SECRETS) and "A (left) was method" in revealed
                if n == 0:
                    expect(p.locator("#study-top")).to_contain_text("Pair 2 of 2")
                    _shot(p, "annotate_pairwise")
            expect(p.locator("#study-top")).to_contain_text("All 2 pairs compared")

            # Results: the pairwise ranking with win rates, and time per answer.
            p.get_by_role("tab", name="Results").click()
            p.get_by_role("button", name="Load results").click()
            expect(p.locator("#results-pairwise")).to_be_visible(timeout=30_000)
            expect(p.locator("#results-pairwise")).to_contain_text(SECRETS[0])
            expect(p.locator("#results-summary")).to_contain_text("composer")
            _shot(p, "results")
    finally:
        demo.close()
    votes = pairwise.votes(store)
    assert len(votes) == 2 and list(votes["choice"]) == ["left", "tie"] and (votes["seconds"] > 0).all()
    assert set(votes["left_method"]) <= set(SECRETS) and votes["annotator"].eq("walker").all()
    ratings = store.ratings()
    assert list(ratings["annotator"]) == ["walker"] * 2 and len(store.item_ids()) == 2
    err = capfd.readouterr().err
    assert "Traceback" not in err, err[-3000:]
