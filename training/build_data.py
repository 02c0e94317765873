"""Build the prompt-variant dataset: base prompts × 10 faithful, mutually diverse variants (the reference sets R_q).

    python -m training.build_data --n-base 20 --seed 0 --out /tmp/variants      # seconds
    python -m training.build_data --n-base 3000 --seed 0 --out data/variants     # the paper's size, ~15 min on CPU

Writes OUT/train.parquet, OUT/test.parquet (columns: query, variants, split), OUT/stats.json and a
dataset card OUT/README.md, so `datasets.load_dataset(OUT)` reads it. The architect
(training/architect.py) proposes candidates from templates; the critic (training/critic.py) keeps
the faithful, diverse ones. Base prompts equal or near to a VBench prompt (the evaluation set) are
left out, and the card reports the overlap that remains (0).
"""

from __future__ import annotations

import json
import math
import random
import re
import statistics
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from dppgrpo_core import checks
from dppgrpo_core.cli import ArgumentParser, real, run_main, seed, whole
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.models.embedder import embed, load_embedder
from dppgrpo_core.settings import Settings

from .architect import all_base_prompts, propose_variants
from .critic import MAX_SIMILARITY, MIN_RELEVANCE, select_variants

VBENCH_NEAR = 0.9  # a base prompt this close (cosine) to a VBench prompt counts as overlapping
MAX_CANDIDATES = 1000  # architect candidates per base prompt (each is embedded)


def max_base_prompts() -> int:
    """How many base prompts the templates can make at most: every subject × action × place (14,160)."""
    return len(all_base_prompts())


def normalise(text: str) -> str:
    """Lower case, letters and digits only, single spaces: 'A dog, running.' → 'a dog running'."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def vbench_texts() -> list[str]:
    from eval.prompts import (
        vbench_prompts,  # the one reader of VBench_full_info.json (never imports vbench)
    )

    return [p["prompt"] for p in vbench_prompts()]


class VBenchFilter:
    """Says whether a base prompt overlaps VBench: the same normalised text, or cosine ≥ VBENCH_NEAR."""

    def __init__(self, texts: list[str], embedder):
        self.exact = {normalise(t) for t in texts}
        self.embeddings = embed(texts, embedder) if texts else None

    def overlaps(self, queries: list[str], query_embeddings: torch.Tensor) -> list[bool]:
        near = (query_embeddings @ self.embeddings.T).max(dim=1).values >= VBENCH_NEAR if self.embeddings is not None \
            else torch.zeros(len(queries), dtype=torch.bool)
        return [normalise(q) in self.exact or bool(n) for q, n in zip(queries, near)]

    def max_similarity(self, query_embeddings: torch.Tensor) -> float:
        if self.embeddings is None or len(query_embeddings) == 0:
            return 0.0
        return float((query_embeddings @ self.embeddings.T).max())


def build(n_base: int, seed: int, k: int = 10, n_candidates: int = 40, test_fraction: float = 0.05,
          min_relevance: float = MIN_RELEVANCE, max_similarity: float = MAX_SIMILARITY, embedder=None,
          vbench: list[str] | None = None, progress: bool = True) -> tuple[list[dict], dict]:
    """Rows {"query", "variants", "split"} and statistics for the card. Same arguments → same rows."""
    if n_base < 1 or k < 2 or n_candidates < k:
        raise UserFacingError(f"need --n-base ≥ 1, --k ≥ 2 and --candidates ≥ --k (got {n_base}, {k}, {n_candidates}).")
    if n_base > max_base_prompts():  # known before any work: never walk every combination to find out
        raise UserFacingError(f"--n-base {n_base:,}: the templates make at most {max_base_prompts():,} base prompts.")
    if n_candidates > MAX_CANDIDATES:
        raise UserFacingError(f"--candidates {n_candidates:,}: at most {MAX_CANDIDATES:,} per base prompt.")
    embedder = embedder or load_embedder()
    rng = random.Random(seed)
    pool = all_base_prompts()
    rng.shuffle(pool)
    vfilter = VBenchFilter(vbench_texts() if vbench is None else vbench, embedder)
    rows, stats = [], {"vbench_excluded": 0, "too_few_variants": 0, "dropped_irrelevant": 0, "dropped_duplicates": 0}
    relevances, log_dets, accepted_embeddings = [], [], []
    bar = tqdm(total=n_base, desc="base prompts", unit="prompt", disable=not progress)
    for base in pool:
        if len(rows) == n_base:
            break
        query = base.text
        candidates = propose_variants(base, n_candidates, rng)
        vectors = embed([query] + candidates, embedder)
        if vfilter.overlaps([query], vectors[:1])[0]:
            stats["vbench_excluded"] += 1
            continue
        verdict = select_variants(vectors[0], candidates, vectors[1:], k, min_relevance, max_similarity)
        stats["dropped_irrelevant"] += verdict.dropped_irrelevant
        stats["dropped_duplicates"] += verdict.dropped_duplicates
        if not verdict.variants:
            stats["too_few_variants"] += 1
            continue
        rows.append({"query": query, "variants": verdict.variants})
        relevances.extend(verdict.relevances)
        log_dets.append(verdict.log_det)
        accepted_embeddings.append(vectors[:1])
        bar.update(1)
    bar.close()
    if len(rows) < n_base:
        raise UserFacingError(f"the templates gave only {len(rows)} usable base prompts; ask for fewer with --n-base.")
    n_test = 0 if n_base < 2 else max(1, round(n_base * test_fraction))
    test_ids = set(random.Random(seed + 1).sample(range(n_base), n_test))
    for i, row in enumerate(rows):
        row["split"] = "test" if i in test_ids else "train"
    queries = [r["query"] for r in rows]
    query_embeddings = torch.cat(accepted_embeddings)
    stats.update({
        "seed": seed, "n_base": n_base, "k": k, "candidates_per_base": n_candidates,
        "min_relevance": min_relevance, "max_similarity": max_similarity,
        "train": n_base - n_test, "test": n_test, "variants_total": n_base * k,
        "vbench_prompts": len(vfilter.exact),
        "vbench_exact_overlap": sum(normalise(q) in vfilter.exact for q in queries),
        "vbench_near_overlap": sum(vfilter.overlaps(queries, query_embeddings)),
        "vbench_max_cosine": round(vfilter.max_similarity(query_embeddings), 4),
        "variant_words_mean": round(statistics.mean(len(v.split()) for r in rows for v in r["variants"]), 2),
        "relevance_mean": round(statistics.mean(relevances), 4),
        "relevance_min": round(min(relevances), 4),
        "log_det_mean": round(statistics.mean(log_dets), 4),
    })
    return rows, stats


CARD = """# DPP-GRPO prompt variants (offline, seed {seed})

Base text-to-video prompts, each with {k} faithful and mutually diverse rewrites: the reference
sets R_q for SFT and for the relevance reward of GRPO. Built offline with
`python -m training.build_data --n-base {n_base} --seed {seed}` (templates along cinematic axes,
then a MiniLM critic: relevance ≥ {min_relevance}, near-duplicates above cosine {max_similarity}
dropped, greedy DPP selection of {k}).

## Schema

| column | type | meaning |
|---|---|---|
| `query` | string | the base prompt q (subject, action, place) |
| `variants` | list of {k} strings | R_q, in greedy DPP pick order (each adds the most volume given those before) |
| `split` | string | `train` or `test` |

## Counts

| | |
|---|---|
| base prompts | {n_base} (train {train}, test {test}) |
| variants | {variants_total} |
| candidates proposed per base prompt | {candidates_per_base} |
| candidates dropped as unfaithful / near-duplicate | {dropped_irrelevant} / {dropped_duplicates} |
| base prompts skipped (fewer than {k} survivors) | {too_few_variants} |

## Statistics

| | |
|---|---|
| words per variant (mean) | {variant_words_mean} |
| relevance cos(variant, query) (mean / min) | {relevance_mean} / {relevance_min} |
| log det(L + I) of each R_q (mean; {k} orthogonal prompts give {max_log_det:.3f}) | {log_det_mean} |

## Overlap with the VBench evaluation prompts

Checked against the {vbench_prompts} VBench prompts (`VBench_full_info.json`): base prompts with the
same normalised text, or a MiniLM cosine ≥ {vbench_near}, were left out while building
({vbench_excluded} skipped). Remaining overlap: **{vbench_exact_overlap} exact, {vbench_near_overlap} near**
(largest cosine to any VBench prompt: {vbench_max_cosine}).
"""


# The card's YAML header: `datasets.load_dataset(OUT)` reads the two splits from it.
CARD_HEADER = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: train.parquet
  - split: test
    path: test.parquet
---

"""


def write_dataset(rows: list[dict], stats: dict, card: str, out: Path) -> None:
    """OUT/train.parquet, OUT/test.parquet, OUT/stats.json and the card OUT/README.md (CARD_HEADER + `card`), for
    every builder (build_data, compose_data, write_data)."""
    from datasets import Dataset

    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        part = [r for r in rows if r["split"] == split]
        # An empty split still gets a file with the schema, so load_dataset(OUT) always works.
        data = Dataset.from_list(part) if part else Dataset.from_dict({"query": [], "variants": [], "split": []})
        data.to_parquet(str(out / f"{split}.parquet"))
    (out / "stats.json").write_text(json.dumps(stats, indent=2))
    (out / "README.md").write_text(CARD_HEADER + card)


def write(rows: list[dict], stats: dict, out: Path) -> None:
    write_dataset(rows, stats, CARD.format(**stats, vbench_near=VBENCH_NEAR, max_log_det=stats["k"] * math.log(2)), out)


def check_out(out: str) -> Path:
    """The output folder, made and proven writable before the build (minutes) starts."""
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise UserFacingError(f"--out {checks.shown(out)} is a file; give a folder.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserFacingError(f"Cannot write to --out {checks.shown(out)}: {exc.strerror or exc}.") from None
    return path


def _main(argv) -> int:
    parser = ArgumentParser(prog="python -m training.build_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-base", type=whole(1, None), default=3000,
                        help=f"base prompts (the paper: 3,000; the templates make at most {max_base_prompts():,})")
    parser.add_argument("--seed", type=seed(), default=0)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--k", type=whole(2, 100), default=10, help="variants per base prompt")
    parser.add_argument("--candidates", type=whole(2, MAX_CANDIDATES), default=40,
                        help="architect candidates per base prompt")
    parser.add_argument("--test-fraction", type=real(0, 1), default=0.05)
    parser.add_argument("--min-relevance", type=real(-1, 1), default=MIN_RELEVANCE)
    parser.add_argument("--max-similarity", type=real(-1, 1), default=MAX_SIMILARITY)
    Settings.add_arguments(parser, only=("embedder", "device"))
    args = parser.parse_args(argv)
    if args.n_base > max_base_prompts():
        raise UserFacingError(f"--n-base {args.n_base:,}: the templates make at most {max_base_prompts():,} "
                              "base prompts.")
    if args.candidates < args.k:
        raise UserFacingError(f"--candidates ({args.candidates}) must be at least --k ({args.k}).")
    settings = Settings.from_args(args)
    settings.check_device()
    out = check_out(args.out)
    rows, stats = build(args.n_base, args.seed, args.k, args.candidates, args.test_fraction, args.min_relevance,
                        args.max_similarity, embedder=load_embedder(settings=settings))
    try:
        write(rows, stats, out)
    except OSError as exc:
        raise UserFacingError(f"Cannot write the dataset to {checks.shown(args.out)}: {exc.strerror or exc}.") from None
    print(f"{stats['n_base']} base prompts × {stats['k']} variants → {args.out} "
          f"(train {stats['train']}, test {stats['test']}; VBench overlap {stats['vbench_exact_overlap']} exact, "
          f"{stats['vbench_near_overlap']} near)")
    return 0


def main(argv=None) -> int:
    """The command line: 0, or 2 with one line on stderr for bad input."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
