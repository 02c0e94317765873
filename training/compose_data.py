"""Build the composed warm-start dataset: base prompts × K composer-taught next prompts (issue 14).

    python -m training.compose_data --n-base 400 --k 8 --seed 0 --out data/composed     # ~1 min on CPU

Same schema as training.build_data (OUT/train.parquet, OUT/test.parquet with query, variants,
split; OUT/stats.json; a card OUT/README.md), so training.sft and training.grpo read it unchanged.
The variants of q are the composer's set (`training.examples.composed_set`): q word for word in a
cinematic frame, each next prompt drawn with axis values the set has not used, scene values ranked
by MiniLM closeness to q as the app's dpp-compose does. SFT on it teaches the form: target i+1
given q and targets 1 … i in the shared chat format (`build_messages`). Base prompts equal or near
a VBench prompt (the evaluation set) are left out, as in training.build_data.
"""

from __future__ import annotations

import random
import statistics
import sys
from pathlib import Path

import torch

from dppgrpo_core.cli import ArgumentParser, real, run_main, seed, whole
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import composer
from dppgrpo_core.models.embedder import embed, load_embedder
from dppgrpo_core.settings import Settings

from .architect import all_base_prompts, with_suffixes
from .build_data import VBenchFilter, check_out, vbench_texts, write_dataset
from .examples import composed_rows

RANKED_VALUES = tuple(dict.fromkeys(composer.PLACES + composer.SETTING_DETAILS + composer.LIGHTS + composer.WEATHERS))


class Closeness:
    """cos(value, q) for the composer's ranked axes, from value embeddings computed once."""

    def __init__(self, embedder, values=RANKED_VALUES):
        self.embedder = embedder
        self.index = {v: i for i, v in enumerate(values)}
        self.vectors = embed(list(values), embedder)

    def of(self, query_vector: torch.Tensor):
        def closeness(texts: list[str]) -> list[float]:
            known = [t for t in texts if t in self.index]
            other = embed([t for t in texts if t not in self.index], self.embedder) if len(known) < len(texts) else None
            out, j = [], 0
            for t in texts:
                if t in self.index:
                    out.append(float(self.vectors[self.index[t]] @ query_vector))
                else:
                    out.append(float(other[j] @ query_vector))
                    j += 1
            return out
        return closeness


def build(n_base: int, seed: int, k: int = 8, test_fraction: float = 0.05, embedder=None,
          vbench: list[str] | None = None, suffix_fraction: float = 0.0) -> tuple[list[dict], dict]:
    """Rows {"query", "variants", "split"} and statistics. Same arguments → same rows.

    `suffix_fraction` of the base prompts end in a look, view or camera instruction
    (architect.QUERY_SUFFIXES, ", pixel art"), which every composed target keeps word for word.
    """
    if n_base > len(all_base_prompts()):
        raise UserFacingError(f"--n-base {n_base:,}: the templates make at most {len(all_base_prompts()):,} base prompts.")
    embedder = embedder or load_embedder()
    pool = [b.text for b in all_base_prompts()]
    random.Random(seed).shuffle(pool)
    pool = with_suffixes(pool, suffix_fraction, random.Random(f"suffix:{seed}"))
    vfilter = VBenchFilter(vbench_texts() if vbench is None else vbench, embedder)
    queries, excluded, start = [], 0, 0
    while len(queries) < n_base and start < len(pool):
        batch = pool[start : start + 2 * (n_base - len(queries))]
        start += len(batch)
        vectors = embed(batch, embedder)
        for q, v, bad in zip(batch, vectors, vfilter.overlaps(batch, vectors)):
            if bad:
                excluded += 1
            elif len(queries) < n_base:
                queries.append((q, v))
    closeness = Closeness(embedder)
    vectors = dict(queries)
    rows = composed_rows([q for q, _ in queries], k, seed, lambda q: closeness.of(vectors[q]))
    n_test = 0 if n_base < 2 else max(1, round(n_base * test_fraction))
    test_ids = set(random.Random(seed + 1).sample(range(len(rows)), n_test))
    for i, row in enumerate(rows):
        row["split"] = "test" if i in test_ids else "train"
    stats = {"seed": seed, "n_base": len(rows), "k": k, "train": len(rows) - n_test, "test": n_test,
             "vbench_excluded": excluded, "suffix_fraction": suffix_fraction,
             "with_suffix": sum("," in q for q, _ in queries),
             "variant_words_mean": round(statistics.mean(len(v.split()) for r in rows for v in r["variants"]), 2),
             "short_sets": sum(len(r["variants"]) < k for r in rows), "teacher": "training.examples.composed_set"}
    return rows, stats


CARD = """# DPP-GRPO composed warm-start set (offline, seed {seed})

Base text-to-video prompts q, each with the composer's set of {k} next prompts (the SFT targets of
issue 14): q word for word in a cinematic frame (shot or camera move always, then 3–5 axes of
shot, angle, camera, lens, light, time, weather, setting, composition, motion), each prompt drawn
with axis values the set has not used yet. Built with
`python -m training.compose_data --n-base {n_base} --k {k} --seed {seed}`.

| | |
|---|---|
| base prompts | {n_base} (train {train}, test {test}) |
| words per prompt (mean) | {variant_words_mean} |
| base prompts left out as near a VBench prompt | {vbench_excluded} |
| base prompts ending in a look, view or camera instruction (", pixel art") | {with_suffix} |
"""


def write(rows: list[dict], stats: dict, out: Path) -> None:
    write_dataset(rows, stats, CARD.format(**stats), out)


def _main(argv) -> int:
    parser = ArgumentParser(prog="python -m training.compose_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-base", type=whole(1, None), default=400)
    parser.add_argument("--k", type=whole(2, 32), default=8, help="composed prompts per base prompt")
    parser.add_argument("--seed", type=seed(), default=0)
    parser.add_argument("--test-fraction", type=real(0, 1), default=0.05)
    parser.add_argument("--suffix-fraction", type=real(0, 1), default=0.4,
                        help="share of base prompts ending in a look, view or camera instruction (', pixel art')")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)
    out = check_out(args.out)
    embedder = load_embedder(settings=Settings.from_env())  # an entry point: DPPGRPO_EMBEDDER / _DEVICE apply
    rows, stats = build(args.n_base, args.seed, args.k, args.test_fraction, embedder=embedder,
                        suffix_fraction=args.suffix_fraction)
    write(rows, stats, out)
    print(f"{stats['n_base']} base prompts × {stats['k']} composed prompts → {args.out} "
          f"(train {stats['train']}, test {stats['test']}; {stats['vbench_excluded']} left out near VBench)")
    return 0


def main(argv=None) -> int:
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
