"""Training examples from the variant dataset, in the one chat format of inference (`build_messages`).

    >>> rows = [{"query": "a red car", "variants": ["A.", "B.", "C."]}]
    >>> [len(e["prompt"][1]["content"].splitlines()) for e in sft_examples(rows)]   # 0, 1, 2 earlier prompts
    [1, 2, 3]
    >>> sft_examples(rows)[2]["completion"]
    [{'role': 'assistant', 'content': 'C.'}]
    >>> sorted(grpo_examples(rows, contexts_per_query=2, seed=0)[0])
    ['previous', 'prompt', 'query', 'variants']

SFT: one example per (q, first i variants) → variant i+1, so the policy learns to write the next
prompt given the set so far. GRPO: each row shows a context set S (a prefix of R_q); the DPP reward
scores a completion's marginal gain against S, and relevance against R_q. Using prefixes of R_q as
S keeps rows independent (no policy roll-out inside the data loader); each prefix length is a
different stage of an autoregressive expansion.
"""

from __future__ import annotations

import random
from pathlib import Path

from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.expand import composer
from dppgrpo_core.models.chat import build_messages

CONTEXTS = ("reference", "policy")  # where a GRPO row's context set S comes from


def load_rows(dataset_path: str, split: str = "train") -> list[dict]:
    """Rows {"query", "variants", "split"} of one split of a folder from training.build_data."""
    import pandas as pd

    frame = pd.read_parquet(Path(dataset_path) / f"{split}.parquet")
    rows = [{"query": q, "variants": list(v), "split": s} for q, v, s in zip(frame["query"], frame["variants"], frame["split"])]
    if "rollout" in frame:  # written by training.rollouts: the policy's own set for q
        for row, rollout in zip(rows, frame["rollout"]):
            row["rollout"] = list(rollout)
    return rows


def sft_examples(rows: list[dict], max_previous: int = 9) -> list[dict]:
    """Conversational prompt/completion pairs (trl computes the loss on the completion only)."""
    examples = []
    for row in rows:
        variants = row["variants"]
        for i, target in enumerate(variants):
            previous = variants[max(0, i - max_previous) : i] if max_previous else []
            examples.append({
                "prompt": build_messages(row["query"], previous),
                "completion": [{"role": "assistant", "content": target}],
            })
    return examples


def grpo_examples(rows: list[dict], contexts_per_query: int = 3, seed: int = 0, max_previous: int = 9,
                  contexts: str = "reference") -> list[dict]:
    """Prompt rows with the reward functions' columns: query (q), previous (S), variants (R_q).

    S is a prefix of R_q (`contexts="reference"`) or of the policy's own rollout for q
    (`"policy"`, rows from training.rollouts). Context sizes are drawn without replacement from
    1 … min(max_previous, K − 1), so a row's DPP gain varies across its group (an empty S would
    give every completion the same gain).

        >>> rows = [{"query": "q", "variants": ["A.", "B.", "C."], "rollout": ["X.", "Y.", "Z."]}]
        >>> sorted(e["previous"][0] for e in grpo_examples(rows, 2, contexts="policy"))
        ['X.', 'X.']
    """
    if contexts not in CONTEXTS:
        raise UserFacingError(f"contexts must be one of {', '.join(CONTEXTS)}, got {contexts!r}")
    if contexts == "policy" and any("rollout" not in row for row in rows):
        raise UserFacingError("contexts: policy needs a dataset from `python -m training.rollouts` (no rollout column)")
    rng = random.Random(seed)
    examples = []
    for row in rows:
        variants = row["variants"]
        source = row["rollout"] if contexts == "policy" else variants
        sizes = list(range(1, min(max_previous, len(source) - 1) + 1)) or [0]
        for size in sorted(rng.sample(sizes, min(contexts_per_query, len(sizes)))):
            previous = source[:size]
            examples.append({
                "prompt": build_messages(row["query"], previous),
                "query": row["query"],
                "previous": previous,
                "variants": variants,
            })
    rng.shuffle(examples)
    return examples


def composed_set(query: str, k: int, seed: int = 0, closeness=None, n_axes: tuple[int, int] = (3, 5)) -> list[str]:
    """The composer as teacher: K prompts for q, each drawn with the axis values the set has not used yet.

    Every prompt holds q word for word plus a shot or camera move (faithful and cinematic by
    construction); `record_use` after each draw makes the next one take unused values, so target i+1
    is set-conditioned on targets 1 … i. `closeness(texts) -> cos to q` ranks the scene values (as
    dpp-compose does); 3–5 axes keep a target near 30 words, under a 48-token completion.

        >>> s = composed_set("a red fox running on a beach", 3, seed=0)
        >>> all("a red fox running on a beach" in p.lower() for p in s), len(set(s))
        (True, 3)
    """
    frame = composer.ParsedQuery.of(query)
    values = composer.palette(frame, closeness)
    rng, used, out = random.Random(f"{seed}:{query}"), {}, []
    for _ in range(50 * k):  # a repeat (rare: a small palette) is redrawn
        if len(out) == k:
            break
        picks: dict = {}
        text = composer.draw(frame, values, rng, used, n_axes=n_axes, picks=picks)
        if text in out:
            continue
        composer.record_use(picks, used)
        out.append(text)
    return out


def composed_rows(queries: list[str], k: int = 8, seed: int = 0, closeness_of=None,
                  n_axes: tuple[int, int] = (3, 5)) -> list[dict]:
    """Rows {"query", "variants"} whose variants are the composer's set for q, in draw order.

    They have the schema of training.build_data, so `sft_examples` (target i+1 given targets 1 … i)
    and `grpo_examples` (R_q for relevance, prefixes for S) use them unchanged.
    `closeness_of(query)` returns that query's `closeness` function (or None).
    """
    return [{"query": q, "variants": composed_set(q, k, seed, closeness_of(q) if closeness_of else None, n_axes)}
            for q in queries]


def fits(examples: list[dict], tokenizer, max_length: int) -> list[dict]:
    """The SFT examples whose prompt + completion, in the chat template, take at most `max_length` tokens.

    Dropping the long ones (rather than letting the trainer cut them) keeps every target whole, with
    its end-of-turn token, so the policy learns where a prompt stops.
    """
    kept = []
    for e in examples:
        text = tokenizer.apply_chat_template(e["prompt"] + e["completion"], tokenize=False)
        if len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= max_length:
            kept.append(e)
    return kept
