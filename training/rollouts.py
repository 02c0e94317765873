"""On-policy context sets for GRPO: each base prompt's set written by the policy itself, as inference writes it.

    python -m training.rollouts --dataset data/composed-v2 --adapter runs/sft-compose-v2 --n-queries 80 \
        --k 8 --seed 0 --out data/rollouts-v2          # ~1.5 s per prompt with the packaged SmolLM2 on CPU

GRPO rows built from prefixes of the curated R_q (`contexts: reference`) show the policy sets it never
writes; at inference S is the policy's own earlier prompts. This command runs the paper's inference
(`expand(..., method="dpp-grpo")`: each prompt conditioned on q and the set so far) for the first
`--n-queries` training rows and stores the set as a `rollout` column beside query and variants, in
the layout of training.build_data. With `contexts: policy` in a GRPO recipe the context S of a row
is a prefix of its rollout, so the DPP reward scores a completion against what *this* policy tends
to write; relevance still uses R_q. Rebuilding the rollouts from a GRPO checkpoint and continuing
(`init_adapter`) refreshes them every stage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tqdm import tqdm

from dppgrpo_core import checks
from dppgrpo_core.cli import ArgumentParser, real, run_main, seed, whole
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import expand
from dppgrpo_core.expand.config import MAX_K
from dppgrpo_core.models.embedder import load_embedder
from dppgrpo_core.models.policy import load_policy
from dppgrpo_core.settings import POLICY_SETTINGS, Settings

from .build_data import check_out
from .config import DataArguments, check_data_and_rewards
from .examples import load_rows


def rollout(query: str, k: int, policy, embedder, seed: int = 0, temperature: float = 0.8) -> list[str]:
    """The policy's own K-prompt set for q: the app's dpp-grpo inference, retries of degenerate replies included."""
    return [step.prompt for step in expand(query, k, "dpp-grpo", seed, policy=policy, embedder=embedder,
                                           temperature=temperature)]


def rollout_rows(rows: list[dict], k: int, policy, embedder, seed: int = 0, temperature: float = 0.8) -> list[dict]:
    """The rows with a `rollout` column of K policy prompts each (seeded per row: same seed, same sets)."""
    return [{**row, "rollout": rollout(row["query"], k, policy, embedder, seed + i, temperature)}
            for i, row in enumerate(tqdm(rows, desc="rollouts", unit="set"))]


def write(rows: list[dict], out: Path, meta: dict) -> None:
    from datasets import Dataset

    out.mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows).to_parquet(str(out / "train.parquet"))
    (out / "stats.json").write_text(json.dumps(meta, indent=2))


def _main(argv) -> int:
    parser = ArgumentParser(prog="python -m training.rollouts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="folder from training.compose_data or training.build_data")
    parser.add_argument("--n-queries", type=whole(1, None), default=80, help="first N training rows")
    parser.add_argument("--k", type=whole(2, MAX_K), default=8, help="prompts per rollout (the largest S is K - 1)")
    parser.add_argument("--seed", type=seed(), default=0)
    parser.add_argument("--temperature", type=real(0, 2), default=0.8)
    parser.add_argument("--out", required=True, help="output folder")
    Settings.add_arguments(parser, only=(*POLICY_SETTINGS, "embedder", "device", "cache_dir"))
    args = parser.parse_args(argv)
    check_data_and_rewards(DataArguments(dataset_path=args.dataset))
    out = check_out(args.out)
    rows = load_rows(args.dataset, "train")[: args.n_queries]
    if not rows:
        raise UserFacingError(f"{checks.shown(args.dataset)} has no training rows to roll out.")
    settings = Settings.from_args(args)  # an entry point: flags over the environment
    policy = load_policy(settings=settings)
    embedder = load_embedder(settings=settings)
    done = rollout_rows(rows, args.k, policy, embedder, args.seed, args.temperature)
    write(done, out, {"dataset": args.dataset, "policy": settings.policy, "adapter": settings.adapter,
                      "n_queries": len(done), "k": args.k, "seed": args.seed, "temperature": args.temperature})
    print(f"{len(done)} rollouts of {args.k} prompts → {args.out}")
    return 0


def main(argv=None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
