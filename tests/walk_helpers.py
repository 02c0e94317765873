"""What the browser walks of issue 25 share: a command video model that writes a short clip in a blink, the two
screen widths, one launched app and one Chromium per module, screenshots outside the repository, and small page
checks."""

from __future__ import annotations

import os
import sys
import time

import pytest

from dppgrpo_core.settings import Settings
from dppgrpo_core.study.results import FAST_ANSWER_S
from tests.app_testing import chromium, chromium_page, launch_app, screenshots_folder

WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}

# A video model for the walk: a 2 s clip whose colour follows the prompt (imageio's ffmpeg, H.264: browsers play it).
CLIP_SCRIPT = r'''
import sys, zlib
import numpy as np, imageio.v2 as imageio
prompt, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(zlib.crc32(prompt.encode()))
color = rng.integers(0, 255, 3).astype(np.uint8)
frames = []
for i in range(16):
    frame = np.empty((48, 80, 3), np.uint8); frame[:] = color
    frame[:, (i * 5) % 80:(i * 5) % 80 + 8] = 255 - color
    frames.append(frame)
imageio.mimwrite(out, frames, fps=8, codec="libx264", pixelformat="yuv420p", macro_block_size=16)
'''


def walk_settings(folder) -> Settings:
    script = folder / "clip.py"
    script.write_text(CLIP_SCRIPT)
    return Settings(device="cpu", cache_dir=str(folder / "cache"), annotations_db=str(folder / "study.db"),
                    video_model=f"command:{sys.executable} {script} {{prompt}} {{out}}")


@pytest.fixture(scope="module")
def walk_app(tmp_path_factory):
    """One app for the module's walks: (settings, url)."""
    settings = walk_settings(tmp_path_factory.mktemp("walk"))
    demo, url = launch_app(settings)
    yield settings, url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module's walks; each walk opens its page in a fresh context
    (`chromium_page(viewport, browser)`), so no walk sees another's storage."""
    with chromium() as shared:
        yield shared


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """The screenshots folder: $DPPGRPO_SCREENSHOTS (to refresh the README's) or a temporary one."""
    return screenshots_folder(tmp_path_factory)


def shot(page, folder: str, width: str, name: str) -> None:
    """tab_<name>.png at desktop width (the README's pictures), phone_<name>.png at 390 px."""
    prefix = "tab" if width == "desktop" else "phone"
    page.screenshot(path=os.path.join(folder, f"{prefix}_{name}.png"), full_page=True)


def no_error_badges(page) -> bool:
    """Gradio paints a failed event's outputs with a red "Error" badge (span.error); a refused action must not."""
    return page.locator("span.error", has_text="Error").count() == 0


def in_view(page, selector: str) -> bool:
    """Whether the element is wholly inside the screen as it is now (not below the fold)."""
    return page.evaluate("""(sel) => { const e = document.querySelector(sel); if (!e) return false;
      const r = e.getBoundingClientRect();
      return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight + 1; }""", selector)


def clips_per_row(page, selector: str) -> int:
    """How many clips share the first row of a clip grid."""
    tops = page.eval_on_selector_all(selector, "v => v.map(x => Math.round(x.getBoundingClientRect().top))")
    return sum(top == tops[0] for top in tops) if tops else 0


def considered(shown_at: float) -> None:
    """Let FAST_ANSWER_S pass since an item appeared (`time.monotonic()` then): a faster answer counts in no
    result. The study's rule, not a wait for the page; whatever the walk checked meanwhile counts towards it."""
    time.sleep(max(0.0, FAST_ANSWER_S + 0.2 - (time.monotonic() - shown_at)))


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the dropdown labelled `label`."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


__all__ = ["WIDTHS", "browser", "chromium_page", "choose", "clips_per_row", "considered", "in_view", "no_error_badges", "shot", "shots",
           "walk_app", "walk_settings"]
