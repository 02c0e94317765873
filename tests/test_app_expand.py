"""The Expand tab: handlers as plain functions, the /expand API through gradio_client, and a real browser."""

import html
import json
import os
from pathlib import Path

import gradio as gr
import pandas as pd
import pytest
from gradio_client import Client

from app import parse_args
from dppgrpo_core.settings import Settings
from pages.context import enabled_policies
from pages.expand_run import compare_stream, expand_stream
from pages.expand_view import gains_figure
from tests.app_testing import ARTIFACTS, chromium_page, launch_app

QUERY = "a dog playing with a ball at the beach"
OPTIONS = (0, 0.5, 0.5)  # seed, λ_div, λ_rel


def test_stream_updates_at_once_then_row_by_row_then_the_set():
    updates = list(expand_stream(Settings(device="cpu"), QUERY, 3, "original", *OPTIONS))
    first = updates[0]
    assert first.status.startswith("⏳") and len(first.table) == 0  # a visible update before any model runs
    assert [len(u.table) for u in updates[1:4]] == [1, 2, 3]  # the table grows row by row
    assert all(u.gains is not None for u in updates)  # the gains plot is redrawn each step
    final = updates[-1]  # a SetView: the tab's outputs by name
    assert final.heatmap is not None and "Vendi score" in final.summary and "log det" in final.summary
    assert json.load(open(final.json_file))["steps"][2]["index"] == 3
    assert pd.read_csv(final.csv_file)["prompt"].tolist() == [QUERY] * 3
    assert final.prompt_set["prompts"] == [QUERY] * 3 and final.prompt_set["method"] == "original"


@pytest.mark.parametrize(
    "prompt, k, message",
    [("   ", 3, "empty"), ("x" * 2001, 3, "2000"), (QUERY, 0, "K must"), (QUERY, 21, "K must"), (QUERY, "x", "K must"),
     (QUERY, float("nan"), "K must"), ("a dog \ud800", 3, "surrogate"), ("a dog\x00", 3, "control character"),
     (None, 3, "must be text")],
)
def test_bad_input_is_a_clear_gradio_error(prompt, k, message):
    with pytest.raises(gr.Error, match=message):
        next(expand_stream(Settings(device="cpu"), prompt, k, "original", *OPTIONS))


@pytest.mark.parametrize(
    "options, message",
    [((float("nan"), 0.5, 0.5), "seed must be"), ((2**64, 0.5, 0.5), "seed must be"), ((0, float("nan"), 0.5), "lambda_div"),
     ((0, 0.5, float("inf")), "lambda_rel"), ((0, 1.5, 0.5), "lambda_div"), ((0, 0, 0), "both be 0")],
)
def test_bad_options_are_a_clear_gradio_error(options, message):
    with pytest.raises(gr.Error, match=message):
        next(expand_stream(Settings(device="cpu"), QUERY, 3, "original", *options))
    with pytest.raises(gr.Error, match="temperature"):
        next(expand_stream(Settings(device="cpu"), QUERY, 3, "original", *OPTIONS, temperature=float("nan")))


def test_missing_policy_is_a_gradio_error_not_a_crash():
    stream = expand_stream(Settings(device="cpu", policy="/nonexistent/policy"), QUERY, 2, "dpp-grpo", *OPTIONS)
    next(stream)
    with pytest.raises(gr.Error, match="policy"):
        next(stream)


@pytest.mark.parametrize("policy", ["/nonexistent/policy", "/etc", "Qwen/Qwen2-7B-Instruct", "../policy", 7])
def test_a_policy_the_server_did_not_enable_is_refused_before_any_load(policy):
    stream = expand_stream(Settings(device="cpu"), QUERY, 2, "dpp-grpo", *OPTIONS, policy=policy)
    with pytest.raises(gr.Error, match="Unknown policy: choose one of packaged:SmolLM2-135M-DPP-GRPO, packaged:SmolLM2-135M-Instruct"):
        next(stream)


def test_prompts_are_escaped_in_plot_labels():
    fig = gains_figure([{"index": 1, "prompt": "<img src=x onerror=alert(1)>", "gain": 0.5, "relevance": 1.0,
                         "reward": 0.75, "log_det": 0.5}])
    assert "<img" not in fig.data[0].hovertext[0] and html.escape("<img") in fig.data[0].hovertext[0]


def test_compare_plots_both_methods():
    updates = list(compare_stream(Settings(device="cpu"), QUERY, 2, "original", "original", *OPTIONS))
    assert updates[-1].status.startswith("✅") and len(updates[-1].figure.data) == 1
    with pytest.raises(gr.Error):
        next(compare_stream(Settings(device="cpu"), QUERY, 2, "original", "bogus", *OPTIONS))


@pytest.mark.parametrize("port", ["abc", "0", "70000", "80.0"])
def test_a_bad_port_environment_is_one_line_before_gradio_reads_it(port):
    import os
    import subprocess
    import sys

    app = Path(__file__).resolve().parent.parent / "app.py"
    done = subprocess.run([sys.executable, str(app), "--help"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GRADIO_SERVER_PORT": port})
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "GRADIO_SERVER_PORT" in done.stderr


def test_app_flags_and_port_environment(monkeypatch):
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    args = parse_args(["--host", "0.0.0.0", "--share", "--policy", "/p"])
    assert args.port == 7999 and args.host == "0.0.0.0" and args.share and args.policy == "/p"


def server_policy(folder) -> str:
    """The name under which clients pick the app's own policy (a client never sends the folder)."""
    return next(iter(enabled_policies(Settings(policy=str(folder), device="cpu"))))


@pytest.fixture(scope="module")
def app_url(tiny_policy_dir):
    demo, url = launch_app(Settings(policy=str(tiny_policy_dir), device="cpu"))
    yield url
    demo.close()


def test_api_expand_streams_updates_and_the_final_set(app_url, tiny_policy_dir):
    client = Client(app_url, verbose=False)
    job = client.submit(QUERY, 3, "dpp-grpo", 1, 0.5, 0.5, server_policy(tiny_policy_dir), 0.8, 2,
                        api_name="/expand")
    updates = list(job)
    assert len(updates) >= 5  # the instant update, one per step, the final set
    assert updates[0][0].startswith("⏳")
    final = job.outputs()[-1]
    rows = final[1]["data"]
    assert [r[0] for r in rows] == [1, 2, 3] and all(r[1] for r in rows)
    assert "Vendi score" in final[4]
    with pytest.raises(Exception, match="empty"):
        client.predict("", 3, "original", 0, 0.5, 0.5, server_policy(tiny_policy_dir), 0.8, 2, api_name="/expand")
    # The app is still up after the bad request.
    assert client.predict(QUERY, 1, "original", 0, 0.5, 0.5, server_policy(tiny_policy_dir), 0.8, 2,
                          api_name="/expand")[0].startswith("✅")


@pytest.mark.browser
def test_browser_runs_one_expansion(app_url):
    with chromium_page() as page:
        page.goto(app_url)
        page.get_by_label("Prompt", exact=True).fill("a <b>red</b> car in the rain")
        page.get_by_role("button", name="Expand", exact=True).click()
        page.get_by_text("✅ dpp-compose: 6 prompts in").wait_for(timeout=120_000)
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, "expand_tab.png"), full_page=True)
        table = page.locator(".virtual-table-viewport").first
        assert table.locator("[role=row]").count() == 7  # the header and one row per prompt
        assert "0.6931" in table.inner_text()  # the first prompt's gain on an empty set, log 2
        assert page.locator(".js-plotly-plot").count() >= 2  # gains chart and heatmap drawn
        assert page.locator("b", has_text="red").count() == 0  # the user's markup is shown, not rendered


@pytest.mark.browser
def test_browser_shows_every_tab_by_its_label(app_url):
    from pages import TABS

    with chromium_page() as page:
        page.goto(app_url)
        page.get_by_role("tab").first.wait_for()
        labels = [t.inner_text().strip() for t in page.get_by_role("tab").all()]
        assert labels == [label for label, _ in TABS]
        page.get_by_role("tab", name="Results").click()
        assert page.get_by_role("tab", name="Results").get_attribute("aria-selected") == "true"
