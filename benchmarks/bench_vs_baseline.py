"""The default expansion against an older checkout's default, measured in one run, alternating.

    git worktree add /tmp/baseline 5d4bb8a          # the code before the prompt-set work
    python benchmarks/bench_vs_baseline.py --baseline /tmp/baseline --baseline-method dpp-rerank

Each round runs `benchmarks/bench_expand.py --json` once in this checkout (the app's default
method) and once in the baseline checkout (its default), as separate processes with models
loaded before timing, so load time is not expansion time. Rounds alternate, so a load that
comes and goes on a shared machine hits both sides alike. Prints the median total and
first-prompt seconds of each side and their ratios.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def run_side(tree: Path, method: str, k: int) -> dict:
    # This checkout's bench script runs inside the other tree, so both sides measure alike.
    script = tree / "benchmarks" / "_bench_expand_current.py"
    shutil.copy(HERE / "benchmarks" / "bench_expand.py", script)
    try:
        out = subprocess.run([sys.executable, str(script), "--methods", method, "--k", str(k), "--json"],
                             cwd=tree, capture_output=True, text=True, check=True)
    finally:
        script.unlink(missing_ok=True)
    return json.loads(out.stdout.strip().splitlines()[-1])[method]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="a checkout of the older code")
    parser.add_argument("--baseline-method", default="dpp-rerank")
    parser.add_argument("--method", default=None, help="this checkout's method (default: the app's default)")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from dppgrpo_core.expand import DEFAULT_METHOD

    method = args.method or DEFAULT_METHOD
    sides = {"this": (HERE, method), "baseline": (Path(args.baseline).resolve(), args.baseline_method)}
    runs = {name: [] for name in sides}
    for round_ in range(args.rounds):
        for name, (tree, m) in sides.items():
            runs[name].append(run_side(tree, m, args.k))
            print(f"round {round_ + 1} {name} {m}: {runs[name][-1]}", file=sys.stderr)
    med = {name: {key: statistics.median(r[key] for r in rs) for key in ("total_s", "first_prompt_s")}
           for name, rs in runs.items()}
    print(f"K = {args.k}, {args.rounds} alternating rounds, medians")
    print("| side | method | total (s) | first prompt (s) |")
    print("|---|---|---|---|")
    for name, (tree, m) in sides.items():
        print(f"| {name} ({tree.name}) | {m} | {med[name]['total_s']:.2f} | {med[name]['first_prompt_s']:.2f} |")
    print(f"\nspeed-up, total: {med['baseline']['total_s'] / med['this']['total_s']:.1f}×; "
          f"first prompt: {med['baseline']['first_prompt_s'] / med['this']['first_prompt_s']:.1f}×")


if __name__ == "__main__":
    main()
