"""An OpenAI-compatible server as the policy: a real `transformers serve` of the packaged model, and the ways a
server fails (down, slow, no choice, not JSON), each one line; a client picks only what the server enabled."""

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from dppgrpo_core.errors import ModelUnavailable, UserFacingError
from dppgrpo_core.models import openai_policy
from dppgrpo_core.models.chat import build_messages
from dppgrpo_core.models.policy import load_policy
from dppgrpo_core.settings import Settings

pytest.importorskip("openai")
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served_model(tmp_path_factory):
    """`transformers serve` on the packaged SmolLM2's converted folder (offline), sampling turned on in its
    generation config (transformers serve samples only where the model's config says so)."""
    if shutil.which("transformers", path=os.path.dirname(sys.executable)) is None:
        pytest.skip("transformers' CLI is not installed")
    from dppgrpo_core.models.packaged import policy_folder

    source = policy_folder(Settings.from_env().cache_path)
    folder = tmp_path_factory.mktemp("served") / "SmolLM2-135M-Instruct"
    folder.mkdir()
    for f in source.iterdir():
        if f.name != "generation_config.json":
            (folder / f.name).symlink_to(f)
    config = json.loads((source / "generation_config.json").read_text())
    (folder / "generation_config.json").write_text(json.dumps({**config, "do_sample": True, "top_k": 50}))
    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    # One torch thread, as the local engine uses on this 2-core machine (Settings.cpu_threads): torch's spinning
    # threads decode several times slower whenever another job holds a core, and requests then time out.
    server_env = dict(env, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "transformers"), "serve", str(folder),
                               "--port", str(port), "--device", "cpu"], env=server_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/health", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail("transformers serve exited")
                time.sleep(0.5)
        else:
            pytest.fail("transformers serve did not start in 120 s")
        yield {"base_url": url + "/v1", "model": str(folder), "env": env}
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # still decoding requests a client gave up on: it ignores SIGTERM
            server.kill()
            server.wait(timeout=30)


def _expand_cli(args, env, timeout=600):
    return subprocess.run([sys.executable, "-m", "dppgrpo_core.expand", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_dpp_grpo_runs_against_transformers_serve_from_the_command_line(served_model):
    env = dict(served_model["env"], OPENAI_BASE_URL=served_model["base_url"])
    out = _expand_cli(["a red car driving through the rain", "-k", "2", "--method", "dpp-grpo", "--seed", "0",
                       "--policy", "openai:" + served_model["model"], "--json"], env)
    assert out.returncode == 0, out.stderr[-2000:]
    prompts = [s["prompt"] for s in json.loads(out.stdout)["steps"]]
    assert len(prompts) == 2 and all(len(p.split()) >= 3 for p in prompts) and prompts[0] != prompts[1]


def test_dpp_rerank_gets_every_candidate_from_a_server_that_ignores_n(served_model):
    from dppgrpo_core.expand import run_expansion
    from tests.fakes import HashingEmbedder

    settings = Settings(policy="openai:" + served_model["model"], openai_base_url=served_model["base_url"])
    policy = load_policy(settings=settings)
    policy.gen_defaults["max_new_tokens"] = 32  # short replies: the server's CPU time is the test's time
    result = run_expansion("a cat on a windowsill", 2, "dpp-rerank", 0, settings=settings, policy=policy,
                           embedder=HashingEmbedder(), n_candidates=2)
    # transformers serve answers one choice per request: the second candidate came as a further request.
    assert [len(s["candidates"]) for s in result["steps"]] == [2, 2]
    assert len({s["prompt"] for s in result["steps"]}) == 2


def test_a_stopped_server_is_one_line_and_exit_2(monkeypatch, capsys):
    from dppgrpo_core.expand.command import main

    # The command line's own `main` (what `python -m dppgrpo_core.expand` exits with), in this process: the
    # command line as a new process is the test above.
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{_free_port()}/v1")
    assert main(["a red car", "-k", "2", "--method", "dpp-grpo", "--policy", "openai:any"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: Cannot reach the OpenAI-compatible policy server (OPENAI_BASE_URL): start it or check the address "
        "(3 tries).")


class _FakeServer(http.server.BaseHTTPRequestHandler):
    reply: bytes = b""
    delay: float = 0.0

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length", 0)))
        time.sleep(self.delay)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.reply)))
        self.end_headers()
        self.wfile.write(self.reply)

    def log_message(self, *args):
        pass


def _fake(reply: bytes, delay: float = 0.0):
    handler = type("Handler", (_FakeServer,), {"reply": reply, "delay": delay})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, Settings(policy="openai:m", openai_base_url=f"http://127.0.0.1:{server.server_port}/v1")


NO_CHOICE = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}).encode()


@pytest.mark.parametrize("reply, delay, message", [
    (NO_CHOICE, 0.0, "answered with no text"),
    (b"<html>not json", 0.0, "not an OpenAI chat completion"),
    (NO_CHOICE, 3.0, "did not answer within"),
])
def test_server_failures_are_one_line(monkeypatch, reply, delay, message):
    monkeypatch.setattr(openai_policy, "TIMEOUT_S", 0.5)
    monkeypatch.setattr(openai_policy, "RETRIES", 0)
    server, settings = _fake(reply, delay)
    try:
        policy = load_policy(settings=settings)
        start = time.perf_counter()
        with pytest.raises(ModelUnavailable, match=message) as caught:
            policy.generate([build_messages("a red car")], seed=0)
        assert "\n" not in str(caught.value) and time.perf_counter() - start < 10
    finally:
        server.shutdown()


def test_openai_policy_needs_a_server_or_a_key():
    with pytest.raises(ModelUnavailable, match="OPENAI_BASE_URL"):
        load_policy(settings=Settings(policy="openai:gpt-5"))
    assert "OPENAI_API_KEY" in repr(Settings.ENV_NAMES) and "sk-secret" not in repr(Settings(openai_api_key="sk-secret"))


def test_a_client_cannot_name_a_server_or_a_model_the_server_did_not_enable():
    from pages.context import enabled_policies, settings_for_policy

    settings = Settings(policy="openai:served-model", openai_base_url="http://127.0.0.1:1/v1", cache_dir="/srv/empty")
    assert "openai:served-model" in enabled_policies(settings)
    for choice in ("openai:other-model", "openai:served-model@http://evil/v1", "http://evil/v1"):
        with pytest.raises(UserFacingError, match="Unknown policy"):
            settings_for_policy(settings, choice)
    assert settings_for_policy(settings, "openai:served-model").openai_base_url == "http://127.0.0.1:1/v1"
