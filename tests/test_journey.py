"""The journey a person takes through the app (issue 16): handlers as plain functions. Each test names the
numbered point of the issue it covers. The walk in headless Chromium (issue 16's and issue 25's) is
tests/test_journey_browser.py."""

import json
import os
import time
from pathlib import Path

import gradio as gr
import pytest
import torch

from app import parse_args
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import StepRecord
from dppgrpo_core.settings import Settings
from pages import benchmark as bench_page
from pages import estimates
from pages import expand as page
from pages import expand_run as run_page
from pages import expand_sets as sets_page
from pages import render as render_page
from pages import render_view
from pages.expand_view import GAIN_AXIS_TITLE, gains_figure

QUERY = "a red car driving through a rainy city at night"
OPTIONS = (0, 0.5, 0.5)  # seed, λ_div, λ_rel
SERVER = next(iter(run_page.enabled_policies(Settings(device="cpu"))))


# -- 2: a refused action is refused before the handler runs ---------------------------------------------

def test_2_the_validator_names_the_input_at_fault_and_passes_good_input():
    check = run_page.validator(Settings(device="cpu"))
    good = check(QUERY, 6, "dpp-compose", 0, 0.5, 0.5, SERVER, 0.8, 4)
    assert len(good) == 9 and all(v["is_valid"] for v in good)
    for args, at, message in [
        (("  ", 6, "dpp-compose", 0, 0.5, 0.5, SERVER, 0.8, 4), 0, "empty"),
        ((QUERY, 0, "dpp-compose", 0, 0.5, 0.5, SERVER, 0.8, 4), 1, "K must"),
        ((QUERY, 6, "bogus", 0, 0.5, 0.5, SERVER, 0.8, 4), 2, "Unknown method"),
        ((QUERY, 6, "iid", float("nan"), 0.5, 0.5, SERVER, 0.8, 4), 3, "seed"),
        ((QUERY, 6, "iid", 0, 1.5, 0.5, SERVER, 0.8, 4), 4, "lambda_div"),
        ((QUERY, 6, "iid", 0, 0, 0, SERVER, 0.8, 4), 4, "both be 0"),
        ((QUERY, 6, "iid", 0, 0.5, 0.5, "/etc", 0.8, 4), 6, "Unknown policy"),
        ((QUERY, 6, "iid", 0, 0.5, 0.5, SERVER, float("inf"), 4), 7, "temperature"),
    ]:
        result = check(*args)
        assert [i for i, v in enumerate(result) if not v["is_valid"]] == [at], message
        assert message in result[at]["message"]
    # Compare: (prompt, method, second method, its K, options...)
    compare = run_page.compare_validator(Settings(device="cpu"))
    result = compare(QUERY, "iid", "nope", 99, 0, 0.5, 0.5, SERVER, 0.8, 4)
    assert [i for i, v in enumerate(result) if not v["is_valid"]] == [2, 3]


def test_2_benchmark_load_with_nothing_chosen_is_refused_by_its_validator(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_page, "SHIPPED", tmp_path / "no-shipped-evaluation")
    refused = bench_page.validate_choice(str(tmp_path), None)
    assert refused["is_valid"] is False and "there is none yet" in refused["message"]
    assert bench_page.validate_choice(str(tmp_path), "../etc")["is_valid"] is False


# -- 1: an estimate before the click, progress inside a long step --------------------------------------

def test_1_estimate_before_the_click_from_defaults_then_from_this_server():
    first = estimates.estimate_line("dpp-rerank", 6, 4, {}, "cpu")
    assert first.startswith("Estimated time for dpp-rerank, K = 6: about 55 s on this CPU")
    assert estimates.estimate_line("dpp-rerank", 10, 2, {"dpp-rerank": 2.0}, "cpu").startswith(
        "Estimated time for dpp-rerank, K = 10: about 40 s (measured on this machine")


def _slow_expand(query, k, method, seed, settings=None, config=None):
    for i in range(1, k + 1):
        time.sleep(0.5)
        vector = torch.nn.functional.normalize(torch.eye(8)[i - 1] + 0.1, dim=0)
        yield StepRecord(index=i, prompt=f"{query} {i}", gain=0.5, relevance=0.9, reward=0.7, log_det=0.5 * i,
                         generate_s=0.5, score_s=0.0, embedding=vector)


def test_1_a_long_step_reports_its_elapsed_time_and_the_time_left(monkeypatch):
    monkeypatch.setattr(run_page, "expand", _slow_expand)
    updates = list(run_page.expand_stream(Settings(device="cpu"), QUERY, 2, "dpp-rerank", *OPTIONS, tick=0.1))
    ticks = [u for u in updates if isinstance(u[1], dict)]  # status-only updates: the rest is gr.skip()
    assert len(ticks) >= 4 and all(u[1:] == (gr.skip(),) * 7 for u in ticks)
    assert "prompt 1 of 2 ·" in ticks[0][0] and "candidates drawn in one batch" in ticks[0][0]
    assert any("prompt 2 of 2" in u[0] and "left" in u[0] for u in ticks)
    assert updates[-1][0].startswith("✅") and updates[-1][7]["prompts"] == [f"{QUERY} 1", f"{QUERY} 2"]
    # Without tick (the plain handler), no extra updates.
    assert len(list(run_page.expand_stream(Settings(device="cpu"), QUERY, 2, "dpp-rerank", *OPTIONS))) == 4

    def failing(*args, **kwargs):
        time.sleep(0.3)
        raise UserFacingError("The policy produced no usable prompt at step 1")
        yield

    monkeypatch.setattr(run_page, "expand", failing)  # an error in the worker thread is the user's one-line message
    with pytest.raises(gr.Error, match="no usable prompt"):
        list(run_page.expand_stream(Settings(device="cpu"), QUERY, 2, "dpp-rerank", *OPTIONS, tick=0.1))


# -- 8: Compare has its own K and shows both sets ------------------------------------------------------

def test_8_compare_shows_both_sets_with_their_vendi_relevance_and_curves():
    updates = list(run_page.compare_stream(Settings(device="cpu"), QUERY, 3, "original", "composer", *OPTIONS))
    status, figure, sets = updates[-1]
    assert status.startswith("✅ K = 3") and "original: Vendi 1.000" in status and "composer: Vendi" in status
    assert [t.name for t in figure.data] == ["original Δ", "composer Δ"] and len(figure.data[1].x) == 3
    assert sets.count("class='dpp-compare-set'") == 2 and sets.count("<li>") == 6
    assert "mean relevance <b>1.000</b>" in sets  # q itself is fully relevant
    assert sets.count("Vendi <b>") == 2 and "Vendi <b>…" not in sets


# -- 9: a download reproduces the run and loads back ---------------------------------------------------

def _upload(tmp_path, content, name="set.json"):
    """A file where gradio keeps uploads (the only place the handler reads from)."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()) / f"test-journey-{os.getpid()}-{time.monotonic_ns()}"
    folder.mkdir(parents=True)
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def test_9_the_json_holds_everything_to_rerun_and_loads_back(tmp_path):
    settings = Settings(device="cpu")
    final = list(run_page.expand_stream(settings, QUERY, 3, "composer", 5, 0.7, 0.3, SERVER, 0.6, 3))[-1]
    saved = json.load(open(final[5]))
    assert saved["config"]["lambda_div"] == 0.7 and saved["config"]["temperature"] == 0.6
    assert saved["config"]["n_candidates"] == 3 and saved["seed"] == 5 and saved["k"] == 3
    assert saved["policy"] == SERVER and saved["embedder"] == settings.embedder
    assert saved["rerun"].startswith("python -m dppgrpo_core.expand") and "--lambda-div 0.7" in saved["rerun"]
    header = open(final[6]).readline()
    assert "lambda_div" in header and "temperature" in header and "policy" in header

    restored = sets_page.load_set_upload(settings, _upload(tmp_path, Path(final[5]).read_text()))
    status, table, _, heatmap, summary, _, _, prompt_set, *form = restored
    assert status.startswith("↩ Loaded from the file") and heatmap is not None and "Vendi score" in summary
    assert prompt_set["prompts"] == [s["prompt"] for s in saved["steps"]]
    assert table["prompt"].tolist() == prompt_set["prompts"]
    # Scored again from the prompts alone: the same gains as the run (up to batching noise in the embedder).
    assert all(abs(g - s["gain"]) < 1e-3 for g, s in zip(table["Δ gain"], saved["steps"]))
    assert form == [QUERY, 3, "composer", 5, 0.7, 0.3, SERVER, 0.6, 3]


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "one JSON object"),
    (json.dumps({"query": "a dog", "method": "rm -rf", "steps": [{"prompt": "x"}]}), "method must be one of"),
    (json.dumps({"query": "a dog", "method": "iid", "steps": []}), "1 to 20 steps"),
    (json.dumps({"query": "a dog", "method": "iid", "steps": [{"prompt": "a\x00dog"}]}), "control character"),
    (json.dumps({"query": "a dog", "method": "iid", "k": 2, "steps": [{"prompt": "a dog"}]}), "k = 2"),
    (json.dumps({"query": "a dog", "method": "iid", "config": {"device": "cuda"}, "steps": [{"prompt": "a"}]}),
     "config may hold only"),
    (json.dumps({"query": "a dog", "method": "iid", "config": {"lambda_div": "nan"}, "steps": [{"prompt": "a"}]}),
     "lambda_div"),
    (b" " * (sets_page.MAX_UPLOADED_SET_BYTES + 1), "too large"),
])
def test_9_a_bad_set_file_is_one_line_and_changes_nothing(tmp_path, content, message):
    path = _upload(tmp_path, content)
    assert sets_page.upload_problem(Settings(device="cpu"), path)["is_valid"] is False
    with pytest.raises(gr.Error, match=message) as caught:
        sets_page.load_set_upload(Settings(device="cpu"), path)
    assert "\n" not in caught.value.message


def test_9_a_server_path_from_the_client_is_never_read(tmp_path):
    outside = tmp_path / "set.json"
    outside.write_text(json.dumps({"query": "a dog", "method": "iid", "steps": [{"prompt": "a dog"}]}))
    for path in (str(outside), "/etc/passwd", None, 7, ""):
        with pytest.raises(gr.Error):
            sets_page.load_set_upload(Settings(device="cpu"), path)


# -- 4: what the browser keeps across a reload is checked like an upload ------------------------------

def test_4_a_kept_set_and_grid_restore_and_a_forged_one_is_ignored(tmp_path):
    settings = Settings(device="cpu", cache_dir=str(tmp_path / "cache"))
    kept = sets_page.saved_copy({"query": QUERY, "method": "original", "seed": 0, "k": 2, "config": {"lambda_div": 0.5},
                            "policy": SERVER, "prompts": [QUERY, QUERY], "steps": [{"candidates": ["x"] * 50}] * 2})
    assert "candidates" not in json.dumps(kept)  # small: the request and the prompts only
    restored = sets_page.restore_saved(settings, kept)
    assert restored[0].startswith("↩ Restored after the reload") and restored[7]["prompts"] == [QUERY, QUERY]
    assert sets_page.restore_saved(settings, None) == (gr.skip(),) * 17
    assert sets_page.restore_saved(settings, {"query": "q", "method": "iid", "steps": "x"}) == (gr.skip(),) * 17

    videos = render_page.videos_dir(settings.cache_dir)
    (videos / ("a" * 24 + ".mp4")).write_bytes(b"mp4")
    good = {"prompts": ["a dog"], "videos": ["a" * 24 + ".mp4"], "seeds": [3], "model": "tiny-random-wan"}
    grid, status, rendered, text, filled = render_view.restore_grid(settings, good)
    assert rendered["videos"] == [str(videos.resolve() / ("a" * 24 + ".mp4"))] and text == filled == "a dog"
    assert "Restored" in status and "<video" in grid
    for forged in ({**good, "videos": ["../../etc/passwd"]}, {**good, "videos": ["b" * 24 + ".mp4"]},
                   {**good, "prompts": ["a", "b"]}, {**good, "seeds": ["x"]}, [], "x"):
        assert render_view.restore_grid(settings, forged) == (gr.skip(),) * 5


# -- 6: rendering on a CPU-only machine ---------------------------------------------------------------

@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only defaults")
def test_6_a_cpu_machine_defaults_to_a_model_it_can_run_and_every_suggested_option_exists(tmp_path):
    settings = Settings(device="auto", video_model="wan2.1", cache_dir=str(tmp_path))
    assert render_view.default_model(settings) == "tiny-random-wan"
    assert render_view.default_model(settings, allow_cpu=True) == "wan2.1"
    assert render_view.default_model(Settings(device="cpu", video_model="command:x {prompt} {out}")) == "configured"
    note = render_view.hardware_note(settings)
    assert "needs a CUDA GPU" not in note and "need a CUDA GPU" in note and "--allow-cpu" in note
    with pytest.raises(gr.Error) as refused:
        render_page.on_render(settings, False, "a dog", "wan2.1", *[None] * 6, "0", 1, "auto", False, False, False, None)
    # The message suggests tiny-random-wan and --allow-cpu: both exist, in the model list and as an app flag.
    assert "tiny-random-wan" in refused.value.message and "--allow-cpu" in refused.value.message
    assert "tiny-random-wan" in [name for _, name in render_view.model_choices(settings.video_model)]
    assert parse_args(["--allow-cpu"]).allow_cpu and not parse_args([]).allow_cpu
    with pytest.raises(gr.Error) as allowed:  # allowed on CPU: it gets past the GPU check (then the Hub is closed)
        render_page.on_render(settings, True, "a dog", "wan2.1", *[None] * 6, "0", 1, "auto", False, False, False, None)
    assert "needs a CUDA GPU" not in allowed.value.message


# -- 7: a fresh Benchmark tab says how to make a run ---------------------------------------------------

def test_7_a_fresh_benchmark_tab_gives_the_one_command(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_page, "SHIPPED", tmp_path / "no-shipped-evaluation")  # a copy without docs/
    note = bench_page.empty_note(str(tmp_path))
    command = bench_page.small_run_command(str(tmp_path))
    assert command in note and "Refresh list" in note
    from eval.benchmark import parse_args as benchmark_args

    args = benchmark_args(command.split()[3:])  # the flags are the benchmark's own
    assert (args.n_prompts, args.k) == (3, 4) and Path(args.out) == bench_page.runs_folder(str(tmp_path)) / "small"
    run = bench_page.runs_folder(str(tmp_path)) / "small"
    run.mkdir(parents=True)
    (run / "results.md").write_text("# results")
    assert "Choose a run" in bench_page.empty_note(str(tmp_path))


# -- 10: smaller things -------------------------------------------------------------------------------

def test_10_plain_axis_title_full_example_prompts_and_edited_render_prompts_kept():
    title = gains_figure([]).layout.yaxis.title.text
    assert title == GAIN_AXIS_TITLE and "_{" not in title and "\\" not in title
    examples = page.example_prompts()
    assert len(examples) == 6 and all(len(p.split()) >= page.MIN_EXAMPLE_WORDS for p in examples)

    new_set = {"query": "q", "method": "iid", "prompts": ["p1", "p2"]}
    box, _, filled, button = render_page.prompts_on_new_set(new_set, "", "")
    assert box == filled == "p1\np2" and button.visible is False
    box, _, filled, _ = render_page.prompts_on_new_set(new_set, "old\nset", "old\nset")  # untouched fill: replaced
    assert box == filled == "p1\np2"
    box, note, filled, button = render_page.prompts_on_new_set(new_set, "my own edit", "p0")
    assert box == gr.skip() and filled == gr.skip() and "your edited prompts are kept" in note and button.visible
    box, _, filled, button = render_page.use_new_set(new_set)
    assert box == filled == "p1\np2" and button.visible is False
