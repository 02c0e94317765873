"""Issue 25 ("the journey, second pass"), the creator's side, handler by handler: each test names the numbered
problem it covers. The same walk runs in a real browser in tests/test_journey_browser.py."""

import sys
import zipfile
from types import SimpleNamespace

import gradio as gr
import pytest

from app import build_app
from dppgrpo_core.settings import Settings
from pages import benchmark as bench_page
from pages import benchmark_run, estimates, expand_queue, layout, render_extras
from pages.activity import Activity
from pages.context import browser_secret

QUERY = "a red car driving through a rainy city at night"
SERVER = "packaged:SmolLM2-135M-DPP-GRPO"
REQUEST = (QUERY, 4, "dpp-compose", 0, 0.5, 0.5, None, 0.8, 4)


def _session(name):
    return SimpleNamespace(session_hash=name, username=None, query_params={})


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_app(Settings(device="cpu", cache_dir=str(tmp_path_factory.mktemp("cache"))))


def _dependency(demo, api_name):
    return next(d for d in demo.config["dependencies"] if d.get("api_name") == api_name)


# -- 1: a queued person sees why, for how long, and can withdraw -------------------------------------

def test_1_a_waiting_run_says_what_it_waits_behind_its_place_and_time_left():
    clock = [100.0]
    activity = Activity(clock=lambda: clock[0])
    activity.start("alice", "dpp-rerank", 8, expected_s=40)
    activity.queue("carol", "iid", 6, expected_s=20)
    clock[0] += 1
    activity.queue("bob", "dpp-compose", 4, expected_s=5)
    clock[0] += 9
    line = activity.waiting_line("bob")
    assert "place 2" in line and "another user's policy run (dpp-rerank, K = 8)" in line
    assert "1 earlier request" in line and "about 50 s left" in line and "Stop" in line  # 30 + 20
    assert activity.waiting_line("alice") == ""  # running: its own status line speaks
    activity.start("carol", "iid", 6, expected_s=20)  # two policy runs at once share the engine, and say so
    assert "Sharing the language policy with another user's policy run (dpp-rerank" in activity.sharing_line("carol")
    activity.finish("bob")
    assert not activity.busy("bob") and activity.waiting_line("bob") == ""


def test_1_stop_withdraws_a_queued_run_and_cancels_the_runs(demo, monkeypatch):
    activity = Activity()
    monkeypatch.setattr(expand_queue, "ACTIVITY", activity)
    activity.start("other", "dpp-rerank", 8, expected_s=60)
    activity.queue("me", "dpp-grpo", 4, expected_s=30)
    line, timer, over = expand_queue.queue_tick(_session("me"))
    assert "waiting behind another user's policy run" in line and timer.active and over == gr.skip()
    line, stop, compare_stop, timer, run, compare, over = expand_queue.on_stop(_session("me"))
    assert line.startswith("⏹ Withdrawn from the queue") and not stop.visible and not timer.active and over
    assert run.interactive and compare.interactive
    assert not activity.busy("me")
    # The Stop buttons cancel both runs of the tab (gradio's `cancels`): a queued run leaves the queue.
    runs = {_dependency(demo, "expand")["id"], _dependency(demo, "compare")["id"]}
    assert sum(set(d["cancels"]) == runs for d in demo.config["dependencies"]) == 2


# -- 4 and 6: K out of range is refused on the field; a second click is refused with a line --------------

def test_4_k_out_of_range_is_refused_never_clamped(demo, monkeypatch):
    monkeypatch.setattr(expand_queue, "ACTIVITY", Activity())
    settings = Settings(device="cpu")
    for k in (0, 100, -3, 2.5):
        results = expand_queue.expand_gate(settings, QUERY, k, "dpp-compose", *REQUEST[3:], _session("k"))
        assert [i for i, r in enumerate(results) if not r["is_valid"]] == [1]
        assert results[1]["message"].startswith("K must be a whole number from 1 to 20")
        assert estimates.estimate_line("dpp-compose", k, 4, {}, "cpu").startswith("K must be")  # not "Error"
    # The K field is a plain number field: gradio neither clamps a typed value nor raises while reading it.
    field = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "expand-k")
    assert isinstance(field, gr.Number) and field.preprocess(0) == 0 and field.preprocess(100) == 100


def test_6_a_second_click_during_a_run_is_refused_with_a_line(demo, monkeypatch):
    monkeypatch.setattr(expand_queue, "ACTIVITY", Activity())
    settings = Settings(device="cpu")
    first = expand_queue.expand_gate(settings, *REQUEST, _session("s1"))
    assert all(r["is_valid"] for r in first)
    again = expand_queue.expand_gate(settings, *REQUEST, _session("s1"))
    assert again[0]["is_valid"] is False and "already queued or running" in again[0]["message"]
    assert all(r["is_valid"] for r in expand_queue.expand_gate(settings, *REQUEST, _session("s2")))
    # "multiple": the browser sends the second click to the gate instead of dropping it silently.
    assert _dependency(demo, "expand")["trigger_mode"] == "multiple"


def test_6_estimates_count_the_loading_and_compare_has_one():
    first = estimates.estimate_line("dpp-compose", 6, 4, {}, "cpu", to_load=estimates.EMBEDDER_LOAD_S)
    assert "a few seconds" not in first and "about 20 s" in first and "to load the models" in first
    warm = estimates.estimate_line("dpp-compose", 6, 4, {"dpp-compose": 0.5}, "cpu")
    assert warm == "Estimated time for dpp-compose, K = 6: about 3 s (measured on this machine)."
    assert estimates.to_load("dpp-grpo", True, False) == estimates.POLICY_LOAD_S
    line = estimates.compare_line("dpp-compose", "iid", 4, 4, {}, "cpu", to_load=10)
    assert line.startswith("Estimated time for the comparison (dpp-compose then iid, K = 4): about 29 s")


# -- 5: a kept set survives a server restart -----------------------------------------------------------

def test_5_the_browser_key_is_the_same_after_a_restart(tmp_path):
    def secrets(app):
        return {b.storage_key: b.secret for b in app.blocks.values() if isinstance(b, gr.BrowserState)}

    settings = Settings(device="cpu", cache_dir=str(tmp_path))
    first, second = secrets(build_app(settings)), secrets(build_app(settings))
    assert set(first) == {"dppgrpo-last-set", "dppgrpo-last-grid"} and first == second
    assert first["dppgrpo-last-set"] == browser_secret(tmp_path)
    assert (tmp_path / "browser-state.key").stat().st_mode & 0o777 == 0o600


# -- 8 and 10: tabs, keyboard, screen readers ----------------------------------------------------------

def test_8_and_10_tabs_wrap_enter_runs_and_status_lines_are_live(demo):
    tabs = next(b for b in demo.blocks.values() if isinstance(b, gr.Tabs))
    assert tabs.overflow_behavior == "wrap"  # no tab behind a menu on a phone
    prompt = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "expand-prompt")
    assert prompt.lines == 1  # gradio submits a one-line box on Enter (Shift+Enter adds a line)
    live = {b.elem_id for b in demo.blocks.values() if "dpp-live" in (getattr(b, "elem_classes", None) or [])}
    assert {"expand-status", "expand-estimate", "expand-queue", "render-status", "benchmark-note"} <= live
    assert "aria-live" in layout.launch_options()["head"]


# -- 10: the Render tab's menu, negative prompt and zip ----------------------------------------------------

def test_10_no_full_size_model_on_a_cpu_a_negative_prompt_and_a_zip_of_the_clips(tmp_path):
    cpu = Settings(device="cpu", video_model="wan2.1", cache_dir=str(tmp_path))
    assert [name for _, name in render_extras.model_menu(cpu, False)] == ["tiny-random-wan", "tiny-random-cogvideox"]
    assert "wan2.1" in [name for _, name in render_extras.model_menu(cpu, True)]  # --allow-cpu
    from pages.render import on_render

    script = tmp_path / "clip.py"
    script.write_text("import shutil, sys\nopen(sys.argv[3], 'w').write(sys.argv[2])\n"
                      f"shutil.copy({str(tmp_path / 'seed.mp4')!r}, sys.argv[1])\n")
    (tmp_path / "seed.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    cpu.video_model = f"command:{sys.executable} {script} {{out}} {{negative_prompt}} {tmp_path / 'neg.txt'} {{prompt}}"
    _, _, rendered = on_render(cpu, False, "a fox\na fox at dusk", "configured", *[None] * 6, "0", 4, "auto",
                               False, False, False, {"query": "a fox", "method": "iid", "prompts": ["a fox"]},
                               "blurry, text")
    assert (tmp_path / "neg.txt").read_text() == "blurry, text" and rendered["query"] == "a fox"
    with zipfile.ZipFile(render_extras.zip_grid(rendered)) as archive:
        assert archive.namelist() == ["01-a-fox.mp4", "02-a-fox-at-dusk.mp4", "prompts.txt", "set.json"]
        assert archive.read("prompts.txt").decode() == "a fox\na fox at dusk\n"
    assert render_extras.zip_grid({"prompts": ["a"], "videos": []}) is None


# -- 9: the Benchmark tab shows the shipped evaluation and runs a small benchmark ------------------------

def test_9_the_shipped_evaluation_is_listed_and_shown(tmp_path):
    keys = [key for _, key in bench_page.choices(str(tmp_path))]
    assert keys[0] == "shipped:training-v2/k16" and "shipped:training-v2/sq-grpo2-full" in keys
    note, report, plot, prompts, efficiency, videos, sets_box, sets = bench_page.show_run(str(tmp_path), keys[0])
    assert plot.visible and prompts.visible and efficiency.visible and not videos.visible and not sets_box.visible
    assert "K = 16" in report and "no video-level table" in note
    note, report, plot, prompts, *_, sets_box, sets = bench_page.show_run(str(tmp_path),
                                                                        "shipped:training-v2/sq-grpo2-full")
    assert not plot.visible and not prompts.visible and sets_box.visible and "Set quality" in report and sets
    with pytest.raises(gr.Error):
        bench_page.show_run(str(tmp_path), "shipped:../../etc")


FAKE_BENCHMARK = r"""
import sys, time, pathlib
out = pathlib.Path(sys.argv[sys.argv.index("--out") + 1]); out.mkdir(parents=True)
for i in range(4):
    sys.stderr.write(f"\rexpanding: {i}/3 [00:0{i}]"); sys.stderr.flush(); time.sleep(0.3)
(out / "results.md").write_text("# Benchmark: fake")
"""


def test_9_a_run_started_from_the_page_streams_its_progress(tmp_path, monkeypatch):
    script = tmp_path / "bench.py"
    script.write_text(FAKE_BENCHMARK)
    monkeypatch.setattr(benchmark_run, "run_command", lambda settings, n, k, methods, out: [
        sys.executable, str(script), "--out", str(out)])
    ctx = SimpleNamespace(settings=Settings(device="cpu", cache_dir=str(tmp_path)), auth=None, admins=set())
    seen = []
    updates = list(benchmark_run.start_run(ctx, 3, 4, ["original"], _session("b"),
                                           progress=lambda value, desc=None: seen.append(value)))
    assert any("2 of 3 sets made" in status for status, _ in updates) and (3, 3) in seen
    status, name = updates[-1]
    assert status.startswith("✅ Done: run **page-") and name in bench_page.list_runs(str(tmp_path))
    with pytest.raises(gr.Error, match="Choose one or more methods"):
        list(benchmark_run.start_run(ctx, 3, 4, ["rm -rf"], _session("b")))
    with pytest.raises(gr.Error, match="Prompts must be"):
        list(benchmark_run.start_run(ctx, 50, 4, ["original"], _session("b")))
