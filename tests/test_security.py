"""The trust boundary: nothing a browser or API client sends names a program, a server path or a model folder.

Each test drives the launched app through its public API (gradio_client), as an anonymous client
and as a signed-in annotator who is not an admin, and asserts that nothing ran and nothing leaked.
Issue 23: nothing the app serves holds the operator's command template (its API key) or a model folder,
only admins fetch the study's export, no exported CSV cell starts a formula, the configured backend is
limited per user, and a prompt never becomes an option of the command backend's tool.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import httpx
import pytest
from gradio_client import Client

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.settings import Settings
from dppgrpo_core.study.store import AnnotationStore
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
    import gradio as gr

    from pages.benchmark import show_run

    url, settings = open_app
    # The Benchmark tab's events are private (the page calls them, no named API does); the handler itself
    # refuses anything but a listed run's name, whoever calls it.
    named = Client(url, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert "/load_benchmark" not in named and "/show_run" not in named
    with pytest.raises(gr.Error, match="No benchmark run|Choose a benchmark run"):
        show_run(settings.cache_dir, run)


def test_the_page_never_names_the_study_database(signed_in_app):
    url, settings = signed_in_app
    client = Client(url, verbose=False, auth=("ann", "pw2"))
    assert "secret-study" not in json.dumps(client.config)
    with pytest.raises(Exception, match="Only study admins"):
        client.predict(api_name="/results")


# ----- issue 23 -----
KEY = "sk-live-9f8e7d6c5b4a3210"  # the operator's API key, inside the command template


def _tool(tmp_path: Path, body: str = "") -> Path:
    """A stand-in for a video API's command line: it writes a few bytes to {out} (the renderer's .tmp.mp4)."""
    script = tmp_path / "veo_cli.py"
    script.write_text("import sys\n" + body + "\nout = [a for a in sys.argv if a.endswith('.tmp.mp4')][-1]\n"
                      "open(out, 'wb').write(b'not really an mp4')\n")
    return script


def _served_files() -> list[Path]:
    from gradio.data_classes import _StaticFiles

    return [path for root in _StaticFiles.all_paths if root.is_dir() for path in root.rglob("*") if path.is_file()]


def test_no_served_file_or_video_link_holds_the_command_template_or_the_cache_path(tmp_path):
    from dppgrpo_core.video import videos_dir

    script = _tool(tmp_path)
    template = f"command:{shlex.quote(sys.executable)} {script} --api-key {KEY} --prompt {{prompt}} --out {{out}}"
    cache = tmp_path / "srv-private-cache"
    old_note = videos_dir(cache) / ("b" * 24 + ".json")  # written by an earlier version, with the whole spec
    old_note.write_text(json.dumps({"model": template, "prompt": "x"}))
    demo, url = launch_app(Settings(device="cpu", cache_dir=str(cache), video_model=template))
    try:
        grid = _render_call(Client(url, verbose=False), "configured")[0]
        assert "<video" in grid and str(cache) not in grid, "a video link names the server's cache folder"
        notes = [path for path in _served_files() if path.suffix == ".json"]
        assert notes and all(KEY.encode() not in path.read_bytes() and str(script).encode() not in path.read_bytes()
                             for path in _served_files())
        clip = html.unescape(re.search(r'<video src="([^"]+)"', grid).group(1))
        note = httpx.get(url + clip.removesuffix(".mp4") + ".json", timeout=30)  # the note beside the clip
        assert note.status_code == 200 and json.loads(note.text)["model"] == "command (configured)"
        assert KEY not in note.text and str(script) not in note.text
    finally:
        demo.close()
    assert KEY not in old_note.read_text() and json.loads(old_note.read_text())["prompt"] == "x"


def test_a_configured_model_folder_is_named_by_its_last_part_only(tmp_path):
    from dppgrpo_core.video import RenderSettings
    from pages.render import render_grid

    folder = tmp_path / "srv-private" / "wan-weights"
    folder.mkdir(parents=True)
    settings = Settings(device="cpu", cache_dir=str(tmp_path / "cache"), video_model=f"wan2.1:{folder}")
    for render_settings in (RenderSettings(), RenderSettings(allow_cpu=True)):  # no GPU; no diffusers folder
        with pytest.raises(UserFacingError) as refused:
            render_grid(settings, ["a dog"], "configured", "0", render_settings)
        assert "wan-weights" in str(refused.value) and "srv-private" not in str(refused.value), str(refused.value)
    from dppgrpo_core.video import scrub_notes  # a note an older version wrote beside a clip of that model

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "c.json").write_text(json.dumps({"model": f"wan:{folder}", "seed": 0}))
    assert scrub_notes(tmp_path / "notes") == 1
    assert json.loads((tmp_path / "notes" / "c.json").read_text())["model"] == "wan2.1 (configured)"


def _formula_cells(path: Path) -> list[str]:
    """Cells of a CSV file that a spreadsheet would run as a formula."""
    def number(cell):
        try:
            float(cell)
            return True
        except ValueError:
            return False

    with open(path, newline="") as file:
        return [cell for row in csv.reader(file) for cell in row
                if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not number(cell)]


def test_only_admins_fetch_the_export_and_no_exported_cell_starts_a_formula(signed_in_app, tmp_path):
    from dppgrpo_core.study import pairwise
    from dppgrpo_core.study.command import main as study
    from pages.results import EXPORTS_ROOT

    url, settings = signed_in_app
    store = AnnotationStore(settings.annotations_db)
    store.add_items([{"item_id": "i-csv", "prompt": "=HYPERLINK(\"http://x\")", "method": "@SUM(1)",
                      "prompts": ["-a", "b"]}])
    store.add_rating("ann", "i-csv", 4, 2, comment="=cmd|' /C calc'!A0")
    pairwise.add_pairs(store, [{"pair_id": "p-csv", "prompt": "+1+1", "a": {"method": "-m", "prompts": ["x"]},
                                "b": {"method": "=m", "prompts": ["y"]}}])
    pairwise.add_vote(store, "ann", "p-csv", "left", "a", seconds=5)
    lead, ann = (Client(url, verbose=False, auth=user) for user in (("lead", "pw1"), ("ann", "pw2")))
    lead.predict(api_name="/results")
    export = max(EXPORTS_ROOT.glob("*/ratings.csv"), key=lambda path: path.stat().st_mtime)
    for shown in (str(export), f"{export.parent}/../{export.parent.name}/ratings.csv"):
        link = f"{url}gradio_api/file={quote(shown, safe='')}"  # slashes escaped: the dots reach the server
        assert httpx.get(link, cookies=ann.cookies, timeout=30).status_code == 403  # signed in, not an admin
        assert httpx.get(link, timeout=30).status_code in (401, 403)  # not signed in
    answer = httpx.get(f"{url}gradio_api/file={quote(str(export))}", cookies=lead.cookies, timeout=30)
    assert answer.status_code == 200 and "calc" in answer.text
    exported = [*export.parent.glob("*.csv")]
    assert study(["export", "--db", settings.annotations_db, "--out", str(tmp_path / "r.csv")]) == 0
    exported += [tmp_path / "r.csv", tmp_path / "r-votes.csv"]
    assert len(exported) == 5 and not [cell for path in exported for cell in _formula_cells(path)]
    assert "'=cmd|' /C calc'!A0" in (tmp_path / "r.csv").read_text()  # the text is kept, made inert


def test_the_expand_tabs_csv_starts_no_formula():
    from pages.expand_view import write_downloads

    step = {"index": 1, "prompt": "-2+3 a dog", "gain": -0.5, "relevance": 0.5, "reward": 0.1, "log_det": 0.7}
    _, csv_path = write_downloads({"query": "=1+1", "method": "iid", "seed": 0, "config": {}, "policy": "@p",
                                   "steps": [step]})
    assert not _formula_cells(Path(csv_path)) and "-0.5" in Path(csv_path).read_text()


def test_the_configured_backend_is_limited_per_user(tmp_path, monkeypatch):
    import gradio as gr

    from pages import render, render_limits

    monkeypatch.setattr(render_limits, "_SPENT", {})
    template = f"command:{shlex.quote(sys.executable)} {_tool(tmp_path)} {{prompt}} {{out}}"
    ctx = SimpleNamespace(settings=Settings(device="cpu", cache_dir=str(tmp_path / "c"), video_model=template),
                          allow_cpu=False, auth=[("lead", "a"), ("ann", "b")], admins={"lead"})

    def click(user, prompts, model="configured"):
        return render.render_as_user(ctx, "\n".join(prompts), model, *[None] * 6, "0", 4, "auto", False, False,
                                     False, None, SimpleNamespace(username=user))

    twenty = [f"a dog, take {n}" for n in range(20)]
    with pytest.raises(gr.Error, match="At most 20 prompts per click"):
        click("ann", [*twenty, "one more"])
    for _ in range(3):  # 60 prompts in the hour (from the cache after the first click: they still count)
        assert "20 of 20 videos" in click("ann", twenty)[1]
    with pytest.raises(gr.Error, match="limit is 60"):
        click("ann", ["a cat"])
    assert "1 of 1 videos" in click("ann", ["a cat"], model="tiny-random-wan")[1]  # built-in models: not limited
    assert "21 of 21 videos" in click("lead", [*twenty, "one more"])[1]  # admins: not limited
    render_limits.charge_configured("ann", 1, now=render_limits.time.time() + 3601)  # an hour later: room again


def test_a_prompt_starting_with_a_dash_never_becomes_an_option_of_the_tool(tmp_path):
    from dppgrpo_core.video import render_videos

    log = tmp_path / "argv.jsonl"
    script = _tool(tmp_path, f"import json; open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')")
    alone = f"command:{shlex.quote(sys.executable)} {script} {{prompt}} {{out}}"
    results = render_videos(["--out=/tmp/owned.mp4", "a dog"], 0, alone, cache_dir=tmp_path / "c")
    assert results[0].path is None and "option" in results[0].error and results[1].path
    assert [json.loads(line)[0] for line in log.read_text().splitlines()] == ["a dog"]  # the tool ran once
    ended = f"command:{shlex.quote(sys.executable)} {script} {{out}} -- {{prompt}}"  # "--" ends the options
    assert render_videos(["--out=/tmp/owned.mp4"], 0, ended, cache_dir=tmp_path / "c")[0].path
    assert json.loads(log.read_text().splitlines()[-1])[-2:] == ["--", "--out=/tmp/owned.mp4"]


def test_a_failing_tool_never_echoes_the_template_key_to_the_client(tmp_path):
    from dppgrpo_core.video import render_videos

    script = _tool(tmp_path, "sys.exit('bad request for ' + ' '.join(sys.argv[1:]))")
    template = f"command:{shlex.quote(sys.executable)} {script} --key={KEY} --prompt {{prompt}} --out {{out}}"
    result = render_videos(["a dog"], 0, template, cache_dir=tmp_path / "c")[0]
    assert result.path is None and "bad request" in result.error and KEY not in result.error
