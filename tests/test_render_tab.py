"""Render tab: its handler as a plain function, and the video files served by the built app."""

import re
import shlex
import sys
import urllib.request
from pathlib import Path
from urllib.parse import unquote

import gradio as gr
import pytest
import torch

from dppgrpo_core.settings import Settings
from dppgrpo_core.video import read_mp4
from pages.context import AppContext
from pages.render import build, on_render, prompts_from_set
from pages.render_view import model_defaults
from tests.app_testing import CHROMIUM, CHROMIUM_ARGS


def _render(settings, prompts_text, model="tiny-random-wan", seeds="0", prompt_set=None, **numbers):
    values = [numbers.get(name) for name in ("steps", "frames", "guidance", "height", "width", "fps")]
    return on_render(settings, False, prompts_text, model, *values, seeds, 4, "auto", False, False, False, prompt_set)


@pytest.fixture
def settings(tmp_path):
    return Settings(cache_dir=str(tmp_path / "cache"), device="cpu")


def test_render_builds_an_autoplaying_grid_with_escaped_captions(settings):
    prompt_set = {"query": "a dog", "method": "dpp-grpo", "prompts": ["a dog <script>x</script>", "a dog & cat"],
                  "steps": []}
    seen = []
    html, status, rendered = on_render(settings, False, "\n".join(prompt_set["prompts"]) + "\n\n", "tiny-random-wan",
                                       None, 5, None, None, None, None, "1,2", 4, "auto", False, False, False,
                                       prompt_set, progress=lambda fraction, desc: seen.append(fraction))
    assert "<script>" not in html and "a dog &lt;script&gt;x&lt;/script&gt;" in html and "a dog &amp; cat" in html
    videos = re.findall(r'<video src="gradio_api/file=([^"]+)" autoplay loop muted', html)
    assert len(videos) == 2
    assert [unquote(v) for v in videos] == rendered["videos"]
    assert all(len(read_mp4(v)[0]) == 5 for v in rendered["videos"])
    assert rendered["query"] == "a dog" and rendered["method"] == "dpp-grpo"
    assert rendered["prompts"] == prompt_set["prompts"] and rendered["seeds"] == [1, 2]
    assert "2 of 2 videos" in status and seen and seen[-1] == 1.0
    _, status_again, _ = _render(settings, "a dog <script>x</script>\na dog & cat", seeds="1,2", frames=5)
    assert "2 from the cache" in status_again


def test_edited_prompts_keep_the_query_and_are_marked(settings):
    # Issue 25, item 2: fixing a clause keeps q; the method is marked edited, so the study can use the grid.
    prompt_set = {"query": "a fox", "method": "iid", "prompts": ["a fox in snow", "a fox, sad and lonely, at dusk"]}
    _, status, rendered = _render(settings, "a fox in snow\na fox at dusk", prompt_set=prompt_set)
    assert rendered["query"] == "a fox" and rendered["method"] == "iid (edited)"
    assert "Prompt 2 was edited from the iid set" in status
    _, _, typed = _render(settings, "a fox")  # typed by hand, no Expand set: no query to rate alignment against
    assert typed["method"] == "manual" and typed["query"] is None


def test_a_failed_video_is_shown_as_an_error_card(settings, tmp_path):
    script = tmp_path / "api.py"
    script.write_text("import sys\nsys.exit('quota <exceeded>')\n")
    # A command backend is the server's choice (flag, environment); the client picks it by name only.
    settings.video_model = f"command:{shlex.quote(sys.executable)} {script} {{prompt}} {{out}}"
    html, status, rendered = _render(settings, "a dog", model="configured")
    assert re.search(r"not rendered: [^<]*quota &lt;exceeded&gt;", html) and "<video" not in html
    assert rendered["videos"] == [] and rendered["failed"][0]["prompt"] == "a dog"
    assert "0 of 1 videos" in status


@pytest.mark.parametrize("prompts, model, seeds, numbers, message", [
    ("", "tiny-random-wan", "0", {}, "one per line"),
    ("a dog\na cat", "tiny-random-wan", "1,2,3", {}, "one per prompt"),
    ("a dog", "tiny-random-wan", "zero", {}, "whole numbers"),
    ("a dog", "no-such-model", "0", {}, "Unknown video model"),
    ("a dog", "tiny-random-wan", "0", {"steps": 2.5}, "whole number"),
    ("a dog", "tiny-random-wan", "0", {"frames": 8}, "4k\\+1"),
])
def test_bad_input_is_a_gradio_error(settings, prompts, model, seeds, numbers, message):
    with pytest.raises(gr.Error, match=message):
        _render(settings, prompts, model=model, seeds=seeds, **numbers)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_full_size_model_on_cpu_points_to_the_plumbing_check(settings):
    with pytest.raises(gr.Error, match="needs a CUDA GPU.*tiny-random-wan"):
        _render(settings, "a dog", model="wan2.1")


def test_set_from_the_expand_tab_fills_the_prompts(settings):
    text, note = prompts_from_set({"query": "a <b>dog</b>", "method": "dpp-grpo", "prompts": ["p1", "p2"]})
    assert text == "p1\np2" and "2 prompts" in note and "&lt;b&gt;" in note
    assert model_defaults(settings, "wan2.1") == [40, 81, 6.0, 480, 832, 16]
    assert model_defaults(settings, "cogvideox") == [50, 49, 6.0, 480, 720, 8]


def test_the_built_tab_serves_rendered_videos(settings):
    with gr.Blocks() as demo:
        with gr.Tabs() as tabs:
            ctx = AppContext(settings=settings, tabs=tabs, prompt_set=gr.State(None), rendered_set=gr.State(None))
            with gr.Tab("Render", id="render"):
                build(ctx)
    html, _, rendered = _render(settings, "a lighthouse at night")
    url = re.search(r'<video src="([^"]+)"', html).group(1)
    _, local_url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None)
    try:
        with urllib.request.urlopen(local_url + url, timeout=30) as response:
            body = response.read()
        assert response.status == 200 and body == Path(rendered["videos"][0]).read_bytes()
    finally:
        demo.close()


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
def test_the_grid_autoplays_muted_and_looping_in_a_browser(settings):
    from playwright.sync_api import sync_playwright

    settings.video_model = "tiny-random-wan"
    with gr.Blocks() as demo:
        with gr.Tabs() as tabs:
            ctx = AppContext(settings=settings, tabs=tabs, prompt_set=gr.State(None), rendered_set=gr.State(None))
            with gr.Tab("Render", id="render"):
                build(ctx)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            page.get_by_label("Prompts, one per line").fill("a dog <b>bold</b>\na cat")
            page.get_by_role("button", name="Render").click()
            page.wait_for_function("document.querySelectorAll('video').length == 2 && "
                                   "[...document.querySelectorAll('video')].every(v => v.currentTime > 0.2)",
                                   timeout=120_000)
            state = page.evaluate("[...document.querySelectorAll('video')].map(v => [v.paused, v.muted, v.loop, "
                                  "v.videoWidth])")
            captions = page.evaluate("[...document.querySelectorAll('figcaption')].map(f => f.textContent)")
            browser.close()
    finally:
        demo.close()
    assert state == [[False, True, True, 16]] * 2
    assert captions == ["#1 a dog <b>bold</b>", "#2 a cat"]
