"""How good are the sets each method makes? Judged by per-prompt checks and by an embedder no reward uses.

    python -m eval.set_quality --methods original,iid,dpp-rerank,dpp-grpo,composer,dpp-compose \\
        --n 20 --k 8 --seed 0 --out results/set_quality
    python -m eval.set_quality --methods dpp-rerank@0.8/0.2,dpp-rerank@0.2/0.8 --n 5 --k 4 --out /tmp/sq

A row of --methods is a method of `dppgrpo_core.expand.METHODS`, or `method@λ_div/λ_rel` for
other reward weights (a bare name takes --lambda-div / --lambda-rel, default ExpandConfig's). Every
row expands the same N held-out VBench prompts (`sample_prompts(vbench_prompts(), N, seed)`),
each into K prompts with that seed, reusing one embedder and one policy for the whole run.
Needs the judge embedder: `make judge` once.

Per row (mean over sets, except the % columns, which pool all prompts):
- Vendi: `eval.metrics.vendi_score` of the set's unit sentence embeddings, on the reward's own
  embedder (all-MiniLM-L6-v2, `load_embedder`) and on the judge (all-mpnet-base-v2, `eval.judge`).
- Vendi among faithful: the Vendi score of only the set's prompts that pass
  `keeps_subject_and_action`; a set with one faithful prompt scores 1 and a set with none scores
  0 (the effective number of distinct faithful prompts), so drifting cannot buy diversity.
- cos(p, q): mean cosine between each prompt and q, on each embedder.
- keeps %, shot/camera/lens %, video prompt %, coherent %: the `eval.judge` checks, over all prompts
  (coherent: no rule of the vocabulary's `coherence` broken, `dppgrpo_core.vocabulary.contradictions`).
- s/set: expansion seconds per set (as measured when the set was made; cached sets keep theirs).

Writes into --out: results.md (table, command, machine), results.json (per row and per set),
sets.md (the first ten sets of each row, verbatim), and cache/expansions/ (one JSON per row,
prompt and settings, eval/harness.py, so a rerun or an interrupted run only makes the sets it lacks).
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dppgrpo_core import checks
from dppgrpo_core.cli import ArgumentParser, real, run_main, seed, whole
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.maths.dpp import unit_rows
from dppgrpo_core.settings import POLICY_SETTINGS, Settings

from . import judge
from .harness import expand_all, held_out_prompts, load_policy_once, out_folder
from .judge_model import JUDGE_NAME, load_judge
from .metrics import faithful_vendi, vendi_score
from .set_quality_report import results_markdown, sets_markdown
from .written import content_text, recurring_phrase

ALL_METHODS = ("original", "iid", "dpp-rerank", "dpp-grpo", "composer", "dpp-compose")
MAX_PROMPTS = 944  # distinct VBench prompts
Encoder = Callable[[list[str]], np.ndarray]  # texts -> (n, d) rows


@dataclass(frozen=True)
class Row:
    label: str  # as given: "dpp-rerank" or "dpp-rerank@0.8/0.2"
    method: str
    lambda_div: float
    lambda_rel: float


def parse_rows(text: str, lambda_div: float | None = None, lambda_rel: float | None = None) -> list[Row]:
    """--methods as rows; UserFacingError (one line) for an unknown method or a bad λ.

    >>> [r.label for r in parse_rows("original, dpp-rerank@0.8/0.2")]
    ['original', 'dpp-rerank@0.8/0.2']
    >>> parse_rows("dpp-rerank@nan/0.2")
    Traceback (most recent call last):
    ...
    dppgrpo_core.errors.UserFacingError: λ_div of 'dpp-rerank@nan/0.2' must be a number from 0 to 1, got 'nan'.
    """
    from dppgrpo_core.expand import METHODS, ExpandConfig

    lambda_div = ExpandConfig.lambda_div if lambda_div is None else lambda_div  # a bare row: the defaults
    lambda_rel = ExpandConfig.lambda_rel if lambda_rel is None else lambda_rel

    rows = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        method, _, weights = item.partition("@")
        if method not in METHODS:
            raise UserFacingError(f"Unknown method {checks.shown(method)}; choose from {', '.join(METHODS)} "
                                  "(optionally as method@λ_div/λ_rel).")
        div, rel = lambda_div, lambda_rel
        if weights:
            parts = weights.split("/")
            if len(parts) != 2:
                raise UserFacingError(f"{checks.shown(item)}: write the weights as method@λ_div/λ_rel, e.g. "
                                      "dpp-rerank@0.8/0.2.")
            div = checks.number(parts[0], f"λ_div of {checks.shown(item)}", 0, 1)
            rel = checks.number(parts[1], f"λ_rel of {checks.shown(item)}", 0, 1)
        ExpandConfig(lambda_div=div, lambda_rel=rel).check()  # both 0 is refused there
        rows.append(Row(item, method, float(div), float(rel)))
    if not rows:
        raise UserFacingError("--methods is empty; give one or more of: " + ", ".join(METHODS) + ".")
    labels = [r.label for r in rows]
    if len(set(labels)) != len(labels):
        raise UserFacingError(f"--methods lists a row twice: {', '.join(labels)}.")
    return rows


# ---------------------------------------------------------------- scores of one set


def score_set(query: str, prompts: list[str], encoders: dict[str, Encoder]) -> dict:
    """The checks of each prompt and, per embedder, Vendi (all, faithful) and mean cos(p, q)."""
    marks = [judge.checks(p, query) for p in prompts]
    faithful = [m["keeps"] for m in marks]
    phrase, repeats = recurring_phrase(prompts, query)
    row = {"checks": marks, "n_faithful": int(sum(faithful)), "words": float(np.mean([len(p.split()) for p in prompts])),
           "phrase": phrase, "phrase_repeats": repeats}
    for name, encode in encoders.items():
        vectors = unit_rows(encode(list(prompts) + [query])).numpy()
        p, q = vectors[:-1], vectors[-1]
        row[f"vendi_{name}"] = float(vendi_score(p))
        row[f"vendi_{name}_faithful"] = faithful_vendi(p, faithful)
        row[f"vendi_{name}_content"] = faithful_vendi(unit_rows(encode([content_text(t) for t in prompts])).numpy(),
                                                      faithful)
        row[f"rel_{name}"] = float(np.mean(p @ q))
    return row


def summarise(sets: list[dict], encoders: list[str]) -> dict:
    """Means over sets; % columns over all prompts."""
    marks = [m for s in sets for m in s["checks"]]
    out = {"sets": len(sets), "prompts": len(marks)}
    for name in encoders:
        for key in (f"vendi_{name}", f"vendi_{name}_faithful", f"vendi_{name}_content", f"rel_{name}"):
            out[key] = float(np.mean([s[key] for s in sets])) if sets else math.nan
    for key in ("keeps", "cinematic", "video_prompt", "coherent"):
        out[f"{key}_pct"] = 100.0 * sum(m[key] for m in marks) / len(marks) if marks else math.nan
    out["seconds_per_set"] = float(np.mean([s["seconds"] for s in sets])) if sets else math.nan
    out["words"] = float(np.mean([s["words"] for s in sets])) if sets else math.nan
    out["phrase_repeats_max"] = max((s["phrase_repeats"] for s in sets), default=0)
    return out


# ---------------------------------------------------------------- run and report


def _memo(encode: Encoder) -> Encoder:
    """Encode each distinct text once per run (q and repeated prompts come back many times)."""
    seen: dict[str, np.ndarray] = {}

    def cached(texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in seen]
        if new:
            seen.update(zip(new, np.asarray(encode(new), dtype=np.float64)))
        return np.stack([seen[t] for t in texts])

    return cached


def machine_line(settings: Settings) -> str:
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{platform.system()} {platform.machine()}, {cores} CPU cores, Python {platform.python_version()}, "
            f"torch {torch.__version__}, expansion device {settings.resolved_device()}, judge on cpu")


def run(args, judge_encode: Encoder | None = None, embedder=None, log=print) -> Path:
    """Expand, judge and report. Tests inject `judge_encode` (texts -> rows) for the mpnet judge and a
    sentence-transformers-like `embedder` for MiniLM, so they need neither model."""
    from dppgrpo_core.expand import ExpandConfig
    from dppgrpo_core.models.embedder import embed, load_embedder

    start = time.perf_counter()
    settings = Settings.from_args(args)
    rows = {r.label: r for r in parse_rows(args.methods, args.lambda_div, args.lambda_rel)}
    out = out_folder(args.out)
    if judge_encode is None:  # before any expansion: a missing judge should cost no time
        judge_model = load_judge(settings, args.judge)
        judge_encode = lambda texts: embed(texts, judge_model).numpy()  # noqa: E731
    embedder = embedder or load_embedder(settings=settings)
    encoders = {"minilm": _memo(lambda texts: embed(texts, embedder).numpy()), "mpnet": _memo(judge_encode)}
    policy = load_policy_once([r.method for r in rows.values()], settings)  # once, before timing anything
    queries = held_out_prompts(args.n, args.seed)
    jobs = [(r.label, r.method, ExpandConfig(lambda_div=r.lambda_div, lambda_rel=r.lambda_rel).check())
            for r in rows.values()]
    made, failures = expand_all(out, jobs, queries, args.k, args.seed, settings, embedder, policy, log)

    texts = list(dict.fromkeys([s["prompt"] for _, _, r in made for s in r["steps"]] + queries))
    for encode in encoders.values():
        encode(texts)  # every text in one batched call per embedder; score_set then reads the memo
    sets = []
    for label, query, result in made:
        row, prompts = rows[label], [s["prompt"] for s in result["steps"]]
        sets.append({"row": row.label, "method": row.method, "lambda_div": row.lambda_div,
                     "lambda_rel": row.lambda_rel, "query": query, "prompts": prompts,
                     "seconds": float(result["timing"]["total_s"]), **score_set(query, prompts, encoders)})

    summary = {r.label: {"lambdas": f"{r.lambda_div:g}/{r.lambda_rel:g}",
                         **summarise([s for s in sets if s["row"] == r.label], list(encoders))} for r in rows.values()}
    meta = {"command": args.command_line, "machine": machine_line(settings), "n": len(queries), "k": args.k,
            "seed": args.seed, "embedder": settings.embedder, "judge": JUDGE_NAME if args.judge is None
            else str(args.judge), "policy": settings.policy, "adapter": settings.adapter, "failures": failures,
            "wall_s": time.perf_counter() - start}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": summary, "sets": sets}, indent=1),
                                      encoding="utf-8")
    (out / "results.md").write_text(results_markdown(summary, meta), encoding="utf-8")
    (out / "sets.md").write_text(sets_markdown(sets, list(rows.values())), encoding="utf-8")
    return out


# ---------------------------------------------------------------- command line


def parse_args(argv: list[str]):
    from dppgrpo_core.expand import MAX_K, ExpandConfig

    parser = ArgumentParser(prog="python -m eval.set_quality", description="Judge the sets of expansion methods.")
    parser.add_argument("--methods", default=",".join(ALL_METHODS),
                        help="comma-separated rows: a method, or method@λ_div/λ_rel")
    parser.add_argument("--n", type=whole(1, MAX_PROMPTS), default=20, help="held-out VBench prompts")
    parser.add_argument("--k", type=whole(1, MAX_K), default=8, help="prompts per set")
    parser.add_argument("--seed", type=seed(), default=0, help="picks the prompts and seeds every expansion")
    parser.add_argument("--out", default="results/set_quality", help="output folder (also holds the cache)")
    parser.add_argument("--lambda-div", type=real(0, 1), default=ExpandConfig.lambda_div,
                        help="λ_div of rows without @")
    parser.add_argument("--lambda-rel", type=real(0, 1), default=ExpandConfig.lambda_rel,
                        help="λ_rel of rows without @")
    parser.add_argument("--judge", default=None, help="judge embedder folder (default CACHE/judges/all-mpnet-base-v2)")
    Settings.add_arguments(parser, only=(*POLICY_SETTINGS, "embedder", "device", "cache_dir"))
    args = parser.parse_args(argv)
    args.command_line = shlex.join(["python", "-m", "eval.set_quality", *argv])
    parse_rows(args.methods, args.lambda_div, args.lambda_rel)  # refuse bad rows before loading anything
    return args


def main(argv=None, judge_encode: Encoder | None = None, embedder=None) -> int:
    def _main(argv: list[str]) -> int:
        out = run(parse_args(argv), judge_encode, embedder, log=lambda line: print(line, file=sys.stderr))
        print((out / "results.md").read_text(encoding="utf-8"))
        return 0

    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
