"""Two users at once: seconds for a K = 4 dpp-compose sent while another user's dpp-rerank K = 8 is running.

    python benchmarks/bench_app_concurrency.py

The app is launched in-process with the server's default policy and driven through its `/expand` API by two
clients (two browser sessions). Both methods run once first (models loaded). Then user A starts dpp-rerank K = 8;
3 s later, while it is decoding, user B sends dpp-compose K = 4. Reported: B's seconds, A's seconds, and whether B
finished while A was still running (it waited for nothing).
"""

from __future__ import annotations

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

QUERY = "a dog playing with a ball at the beach"


def run(url: str, policy: str, method: str, k: int, out: dict, name: str) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    start = time.perf_counter()
    client.submit(QUERY, k, method, 0, 0.65, 0.35, policy, 0.8, 4, api_name="/expand").result(timeout=1800)
    out[name] = (start, time.perf_counter())


def main() -> None:
    from dppgrpo_core.settings import Settings
    from pages.context import enabled_policies
    from tests.app_testing import launch_app

    settings = Settings.from_env()
    policy = next(iter(enabled_policies(settings)))
    demo, url = launch_app(settings)
    warm: dict = {}
    run(url, policy, "dpp-rerank", 1, warm, "policy")
    run(url, policy, "dpp-compose", 1, warm, "compose")
    times: dict = {}
    a = threading.Thread(target=run, args=(url, policy, "dpp-rerank", 8, times, "A"))
    a.start()
    time.sleep(3.0)  # A is decoding by now: its models are loaded and its first step takes longer than this
    run(url, policy, "dpp-compose", 4, times, "B")
    b_done_while_a_ran = a.is_alive()
    a.join()
    (a0, a1), (b0, b1) = times["A"], times["B"]
    print(f"{os.cpu_count()} cores, policy {policy}, engine {settings.engine}")
    print(f"B dpp-compose K = 4: {b1 - b0:.1f} s (sent {b0 - a0:.1f} s after A started); "
          f"A dpp-rerank K = 8: {a1 - a0:.1f} s; B finished while A ran: {b_done_while_a_ran}")
    demo.close()


if __name__ == "__main__":
    main()
