"""The trust boundary: nothing a browser or API client sends names a program, a server path or a model folder.

Each test drives the launched app through its public API (gradio_client), as an anonymous client
and as a signed-in annotator who is not an admin, and asserts that nothing ran and nothing leaked.
"""

from __future__ import annotations

import json
import re
import shlex
import sys

import pytest
from gradio_client import Client

from dppgrpo_core.settings import Settings
from tests.app_testing import launch_app

RENDER_NUMBERS = [None] * 6  # steps, frames, guidance, height, width, fps: the model's defaults


def _render_call(client: Client, model: str):
    return client.predict("a dog", model, *RENDER_NUMBERS, "0", 1, "auto", False, False, False,
                          api_name="/on_render")


def _evil_commands(marker) -> list[str]:
    return [
        f"command:sh -c 'id > {marker}' {{prompt}} {{out}}",
        f"command:{shlex.quote(sys.executable)} -c 'open(\"{marker}\", \"w\")' {{prompt}} {{out}}",
        "configured",  # the opaque name of a server model: refused when the server configured none
        "wan2.1:/etc", "cogvideox:../../secret", "",
    ]


@pytest.fixture(scope="module")
def open_app(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    settings = Settings(device="cpu", cache_dir=str(cache), annotations_db=str(cache / "secret-study.db"))
    demo, url = launch_app(settings)
    yield url, settings
    demo.close()


@pytest.fixture(scope="module")
def signed_in_app(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache-auth")
    settings = Settings(device="cpu", cache_dir=str(cache), annotations_db=str(cache / "secret-study.db"))
    demo, url = launch_app(settings, auth=[("lead", "pw1"), ("ann", "pw2")], admins=["lead"])
    yield url, settings
    demo.close()


@pytest.mark.parametrize("who", ["anonymous", "annotator"])
def test_a_client_cannot_run_a_program_through_the_render_endpoint(who, open_app, signed_in_app, tmp_path):
    url, settings = open_app if who == "anonymous" else signed_in_app
    client = Client(url, verbose=False, auth=("ann", "pw2") if who == "annotator" else None)
    marker = tmp_path / "ran"
    for model in _evil_commands(marker):
        with pytest.raises(Exception) as info:
            _render_call(client, model)
        assert "Unknown video model" in str(info.value) or "not in the list of choices" in str(info.value)
    assert not marker.exists()


def test_a_server_configured_command_is_picked_by_name_and_its_template_stays_on_the_server(tmp_path):
    script = tmp_path / "api.py"
    script.write_text("import sys\nsys.exit('quota')\n")
    template = f"command:{shlex.quote(sys.executable)} {script} {{prompt}} {{out}}"
    settings = Settings(device="cpu", cache_dir=str(tmp_path / "cache"), video_model=template)
    demo, url = launch_app(settings)
    try:
        client = Client(url, verbose=False)
        config = json.dumps(client.config)
        assert str(script) not in config and "configured on the server (command)" in config
        # Picked by its name, the server's own command runs (and fails as the script says).
        html_grid = _render_call(client, "configured")[0]
        assert "quota" in html_grid
    finally:
        demo.close()


@pytest.mark.parametrize("policy", ["/etc", "/nonexistent/model", "Qwen/Qwen2-7B-Instruct", "../../models/x"])
def test_a_client_cannot_name_a_policy_or_adapter_folder(policy, open_app):
    url, _ = open_app
    client = Client(url, verbose=False)
    # Refused before the queue by the event's validator (its input check); gradio_client shows only the status.
    with pytest.raises(Exception, match="Unknown policy|not in the list of choices|400 Bad Request"):
        client.predict("a dog", 2, "original", 0, 0.5, 0.5, policy, 0.8, 2, api_name="/expand")
    answer = _join(client, url, "expand", ["a dog", 2, "original", 0, 0.5, 0.5, policy, 0.8, 2])
    assert answer.status_code in (400, 422) and re.search("Unknown policy|not in the list of choices", answer.text)


def _join(client, url, api_name, data):
    """The server's own answer to a queued call (its refusal reason is in the body; gradio_client drops it)."""
    import httpx

    fn_index = next(d["id"] for d in client.config["dependencies"] if d.get("api_name") == api_name)
    return httpx.post(url.rstrip("/") + "/gradio_api/queue/join", timeout=30, json={
        "data": data, "fn_index": fn_index, "session_hash": "security-test", "event_data": None,
        "trigger_id": None})


@pytest.mark.parametrize("run", ["/etc", "../..", "/tmp", "no-such-run"])
def test_a_client_cannot_read_a_benchmark_folder_outside_the_listed_runs(run, open_app):
    url, _ = open_app
    client = Client(url, verbose=False)
    # Refused before the queue by the Load button's validator (its input check); the reason is in the answer.
    with pytest.raises(Exception, match="No benchmark run|not in the list of choices|400 Bad Request"):
        client.predict(run, api_name="/load_benchmark")
    answer = _join(client, url, "load_benchmark", [run])
    assert answer.status_code in (400, 422) and re.search("No benchmark run|not in the list of choices|Choose a run",
                                                          answer.text)


def test_the_page_never_names_the_study_database(signed_in_app):
    url, settings = signed_in_app
    client = Client(url, verbose=False, auth=("ann", "pw2"))
    assert "secret-study" not in json.dumps(client.config)
    with pytest.raises(Exception, match="Only study admins"):
        client.predict(api_name="/results")
