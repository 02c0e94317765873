"""Requests that do not wait for each other (issue 22): a dpp-compose sent while another user's policy run is
going finishes before that run does, and two policy runs share the local engine turn by turn."""

import threading
import time

import pytest

from dppgrpo_core.models.policy import LOCAL_TURNS, TransformersPolicy
from dppgrpo_core.settings import Settings
from pages.context import enabled_policies
from tests.app_testing import launch_app

QUERY = "a dog playing with a ball at the beach"


@pytest.fixture(scope="module")
def app_url(tiny_policy_dir, tmp_path_factory):
    settings = Settings(policy=str(tiny_policy_dir), engine="transformers", device="cpu",
                        annotations_db=str(tmp_path_factory.mktemp("db") / "a.db"))
    demo, url = launch_app(settings)
    yield url, next(iter(enabled_policies(settings)))  # the server's policy, by the name a client picks
    demo.close()


def _expand(app, method, k, finished: dict, name: str):
    from gradio_client import Client

    url, policy = app
    client = Client(url, verbose=False)  # one client, one browser session
    job = client.submit(QUERY, k, method, 0, 0.65, 0.35, policy, 0.8, 2, api_name="/expand")
    job.result(timeout=600)
    finished[name] = time.perf_counter()


def test_dpp_compose_does_not_wait_behind_a_policy_run(app_url, monkeypatch):
    slow = TransformersPolicy.generate_raw
    calls = []

    def one_second_per_call(self, *args, **kwargs):  # a policy run of a known length: ~1 s a step
        calls.append(time.perf_counter())
        time.sleep(1.0)
        return slow(self, *args, **kwargs)

    monkeypatch.setattr(TransformersPolicy, "generate_raw", one_second_per_call)
    finished = {}
    policy_run = threading.Thread(target=_expand, args=(app_url, "dpp-rerank", 6, finished, "policy"))
    policy_run.start()
    for _ in range(600):  # the policy run is decoding before the cheap request is sent
        if calls:
            break
        time.sleep(0.1)
    _expand(app_url, "dpp-compose", 2, finished, "compose")
    assert "policy" not in finished, "dpp-compose waited for the whole policy run"
    policy_run.join(timeout=600)
    assert finished["policy"] > finished["compose"]


def test_two_policy_runs_take_turns_call_by_call(app_url, monkeypatch):
    slow = TransformersPolicy.generate_raw
    callers = []

    def note_caller(self, *args, **kwargs):
        callers.append(threading.get_ident())  # each run decodes in a thread of its own
        time.sleep(0.3)
        return slow(self, *args, **kwargs)

    monkeypatch.setattr(TransformersPolicy, "generate_raw", note_caller)
    finished = {}
    runs = [threading.Thread(target=_expand, args=(app_url, "dpp-grpo", 4, finished, name)) for name in "ab"]
    for run in runs:
        run.start()
        time.sleep(0.2)
    for run in runs:
        run.join(timeout=600)
    assert set(finished) == {"a", "b"} and len(set(callers)) == 2
    # Whole runs queued one behind the other would switch callers once (aaaabbbb); turns alternate (ababab...).
    switches = sum(1 for x, y in zip(callers, callers[1:]) if x != y)
    assert switches >= 4, callers
