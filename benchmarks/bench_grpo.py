"""Summarise a DPP-GRPO run: seconds per step, the share spent in the reward functions, reward components over steps.

    python benchmarks/bench_grpo.py runs/grpo-smollm2            # a folder written by `python -m training.grpo`
    python benchmarks/bench_grpo.py runs/grpo-smollm2/checkpoint-40 --window 10 --json   # a run still going

Reads OUT/log_history.json (trainer.state.log_history, one entry per logged step), or a checkpoint's
trainer_state.json. trl logs
`step_time` (generation + rewards + backward of one optimisation step) and our reward functions log
`reward_seconds/<name>` through trl's `log_metric` hook, so the reward share is their ratio.
The first step is left out of the timing (it includes one-off warm-up such as loading the embedder).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from dppgrpo_core.cli import ArgumentParser, run_main, whole  # noqa: E402
from dppgrpo_core.errors import UserFacingError  # noqa: E402

COMPONENTS = ("rewards/dpp_gain/mean", "rewards/relevance/mean", "reward", "kl")


def summarise(history: list[dict], window: int = 10) -> dict:
    steps = [h for h in history if "step_time" in h]
    if len(steps) < 2:
        raise ValueError("need at least 2 logged GRPO steps (log_history.json with step_time)")
    timed = steps[1:]
    step_s = [h["step_time"] for h in timed]
    reward_s = [sum(v for k, v in h.items() if k.startswith("reward_seconds/")) for h in timed]
    window = max(1, min(window, len(steps) // 2))
    first, last = steps[:window], steps[-window:]
    out = {
        "steps": len(steps),
        "seconds_per_step_mean": round(statistics.mean(step_s), 2),
        "seconds_per_step_median": round(statistics.median(step_s), 2),
        "reward_seconds_per_step_mean": round(statistics.mean(reward_s), 3),
        "reward_share_percent": round(100 * sum(reward_s) / sum(step_s), 2),
        "window": window,
    }
    for key in COMPONENTS:
        if all(key in h for h in steps):
            out[f"{key} first{window}"] = round(statistics.mean(h[key] for h in first), 4)
            out[f"{key} last{window}"] = round(statistics.mean(h[key] for h in last), 4)
    return out


def _main(argv) -> int:
    parser = ArgumentParser(prog="python benchmarks/bench_grpo.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="output_dir of a training.grpo run")
    parser.add_argument("--window", type=whole(1, 100_000), default=10, help="steps averaged at the start and the end")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    run = Path(args.run)
    try:
        if (run / "log_history.json").is_file():
            history = json.loads((run / "log_history.json").read_text())
        elif (run / "trainer_state.json").is_file():
            history = json.loads((run / "trainer_state.json").read_text())["log_history"]
        else:
            raise UserFacingError(f"no log_history.json or trainer_state.json in {run} "
                                  "(run python -m training.grpo first)")
    except (ValueError, KeyError, TypeError, RecursionError, OSError) as exc:  # a truncated or foreign file
        raise UserFacingError(f"cannot read the training log in {run}: {exc!r}") from None
    try:
        summary = summarise(history, args.window)
    except (ValueError, TypeError, KeyError) as exc:
        raise UserFacingError(str(exc)) from None
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key:40s} {value}")
    return 0


def main(argv=None) -> int:
    """0, or 2 with one `error:` line on stderr for a bad flag or log."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
