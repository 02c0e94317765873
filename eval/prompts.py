"""The VBench evaluation prompts, read from `VBench_full_info.json` inside the installed vbench wheel.

    >>> prompts = vbench_prompts()                # 944 distinct prompts, in file order
    >>> prompts[0]
    {'prompt': 'In a still frame, a stop sign', 'dimensions': ['temporal_flickering']}
    >>> len(sample_prompts(prompts, 200, seed=0))
    200

vbench is found with `importlib.util.find_spec` and never imported: importing it pulls in its
heavy dependencies, which only the JSON file's reader does not need
(`pip install --no-deps vbench==0.1.5` is enough).
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

from dppgrpo_core.errors import ModelUnavailable, UserFacingError

VBENCH_FILE = "VBench_full_info.json"


def vbench_info_path() -> Path:
    spec = importlib.util.find_spec("vbench")
    folder = Path(list(spec.submodule_search_locations)[0]) if spec and spec.submodule_search_locations else None
    if folder is None or not (folder / VBENCH_FILE).is_file():
        raise ModelUnavailable(
            f"The VBench prompts are missing: run `pip install --no-deps vbench==0.1.5` (it ships {VBENCH_FILE})."
        )
    return folder / VBENCH_FILE


def vbench_prompts(path: str | Path | None = None) -> list[dict]:
    """Distinct prompts in file order, each {"prompt": str, "dimensions": [VBench dimensions]}.

    A prompt listed twice keeps the first entry's order and the union of its dimensions.
    """
    entries = json.loads(Path(path or vbench_info_path()).read_text(encoding="utf-8"))
    merged: dict[str, list[str]] = {}
    for entry in entries:
        text = str(entry.get("prompt_en", "")).strip()
        if not text:
            continue
        dims = merged.setdefault(text, [])
        dims.extend(d for d in entry.get("dimension", []) if d not in dims)
    return [{"prompt": text, "dimensions": dims} for text, dims in merged.items()]


def sample_prompts(prompts: list[dict], n: int, seed: int = 0) -> list[dict]:
    """A seeded subset of `n` prompts, kept in their original order (the same n and seed give the same set)."""
    if n < 1:
        raise UserFacingError(f"--n-prompts must be at least 1, got {n}.")
    if n >= len(prompts):
        return list(prompts)
    chosen = sorted(random.Random(seed).sample(range(len(prompts)), n))
    return [prompts[i] for i in chosen]
