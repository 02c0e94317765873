"""Expand tab latency: seconds from the click to the first visible update and to the first streamed row.

    python benchmarks/bench_app_latency.py                    # the app's default method, K = 8, CPU
    python benchmarks/bench_app_latency.py dpp-rerank 4       # a method and K

The app is launched in-process and driven through its `/expand` API with gradio_client, the
same event the Expand button fires. The first run in a process is cold (models load lazily on
first use); the second is warm.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def measure(client, method: str, k: int, policy: str) -> dict:
    start = time.perf_counter()
    # /expand takes (prompt, k, method, seed, λ_div, λ_rel, policy name, temperature, candidates per step).
    job = client.submit("a dog playing with a ball at the beach", k, method, 0, 0.65, 0.35, policy, 0.8, 4,
                        api_name="/expand")
    first_update = first_row = None
    for update in job:
        now = time.perf_counter() - start
        first_update = first_update if first_update is not None else now
        rows = update[1].get("data") if isinstance(update[1], dict) else None  # a bare update: the status ticked
        if rows and first_row is None:
            first_row = now
    return {"first_update_s": first_update, "first_row_s": first_row, "total_s": time.perf_counter() - start}


def main() -> None:
    from gradio_client import Client

    from dppgrpo_core.settings import Settings
    from pages.expand import DEFAULT_METHOD
    from tests.app_testing import launch_app

    method = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_METHOD
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    from pages.context import enabled_policies

    settings = Settings.from_env()
    policy = next(iter(enabled_policies(settings)))  # the server's own policy, by the name a client picks
    demo, url = launch_app(settings)
    client = Client(url, verbose=False)
    print(f"{method}, K = {k}, default policy, {os.cpu_count()} cores")
    print("| run | first visible update (s) | first row (s) | all K rows (s) |")
    print("|---|---|---|---|")
    for run in ("cold (models load on first use)", "warm"):
        m = measure(client, method, k, policy)
        print(f"| {run} | {m['first_update_s']:.2f} | {m['first_row_s']:.1f} | {m['total_s']:.1f} |")
    demo.close()


if __name__ == "__main__":
    main()
