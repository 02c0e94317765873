"""What the two evaluation reports share: the held-out prompts, their ids, cached expansions, JSON files.

    prompts = held_out_prompts(20, seed=0)                  # the seeded VBench subset both reports use
    made, failures = expand_all(out, [("dpp-compose", "dpp-compose", ExpandConfig())], prompts, 8, 0,
                                settings, embedder)         # [(label, prompt, run_expansion result)], [why]

`python -m eval.benchmark` (diversity, relevance, curves over set size, videos) and
`python -m eval.set_quality` (per-prompt checks and a second embedder) are two reports over the
same expansions. Each (row, prompt) expansion is stored once as JSON under
OUT/cache/expansions/<row label>/<prompt id>-<key digest>.json, where the key holds everything that
decides the set (method, q, K, seed, `ExpandConfig`, embedder, and the policy and adapter for the
methods that call one), so an interrupted run resumes and a re-run only rebuilds the report.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sys
from pathlib import Path

from dppgrpo_core import checks
from dppgrpo_core.errors import ModelUnavailable, UserFacingError
from dppgrpo_core.settings import Settings

from .prompts import sample_prompts, vbench_prompts

NO_POLICY = frozenset({"original", "composer", "dpp-compose"})  # methods that never call the language policy


def held_out_prompts(n: int, seed: int) -> list[str]:
    """The texts of `sample_prompts(vbench_prompts(), n, seed)`: the same n and seed give the same prompts."""
    return [p["prompt"] for p in sample_prompts(vbench_prompts(), n, seed)]


def prompt_id(prompt: str) -> str:
    """A file-name-safe id for a prompt: a short slug plus a hash.

    >>> prompt_id("A red car in the rain!")
    'a-red-car-in-the-rain-7fd76ebaf8'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:40].strip("-")
    return f"{slug}-{hashlib.sha1(prompt.encode('utf-8')).hexdigest()[:10]}"


def digest(obj) -> str:
    """A short hash of a JSON-able object, for file names that change when what made the file changes."""
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()[:12]


def read_json(path: Path):
    """The parsed file, or None when it is absent or half-written by a killed run (then it is made again)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(path: Path, obj) -> None:
    """Write atomically: a reader (or a resumed run) sees the whole file or none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj), encoding="utf-8")
    os.replace(tmp, path)


def out_folder(out: str | os.PathLike) -> Path:
    """--out as a folder, refused in one line when it names a file (checked before anything runs)."""
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise UserFacingError(f"--out {checks.shown(str(out))} is a file; give a folder.")
    return path


def expansion_key(method: str, prompt: str, k: int, seed: int, config, settings: Settings) -> dict:
    """Everything that decides an expansion's prompts: part of its cache file's name and checked on reading."""
    return {"method": method, "prompt": prompt, "k": k, "seed": seed, "config": dataclasses.asdict(config),
            "embedder": settings.embedder,
            # The engine too: ctranslate2 and transformers sample different prompts from one seed.
            **({} if method in NO_POLICY else {"policy": settings.policy, "adapter": settings.adapter,
                                               "engine": settings.engine})}


def cached_expansion(out: Path, label: str, method: str, prompt: str, k: int, seed: int, config,
                     settings: Settings, embedder, policy=None) -> dict:
    """run_expansion's result for one (row, prompt), from OUT/cache when the same key made it before."""
    from dppgrpo_core.expand import run_expansion

    key = expansion_key(method, prompt, k, seed, config, settings)
    folder = out / "cache" / "expansions" / re.sub(r"[^A-Za-z0-9.-]+", "_", label)
    path = folder / f"{prompt_id(prompt)}-{digest(key)}.json"
    cached = read_json(path)
    if cached is not None and cached.get("key") == key:
        return cached["result"]
    result = run_expansion(prompt, k, method, seed, config=config, settings=settings, embedder=embedder,
                           policy=policy)
    write_json(path, {"key": key, "result": result})
    return result


def load_policy_once(methods, settings: Settings):
    """The policy, loaded before anything is timed when a method needs one; None otherwise."""
    if all(m in NO_POLICY for m in methods):
        return None
    from dppgrpo_core.models.policy import load_policy

    return load_policy(settings=settings)


def expand_all(out: Path, rows: list[tuple], prompts: list[str], k: int, seed: int, settings: Settings, embedder,
               policy=None, log=print) -> tuple[list[tuple[str, str, dict]], list[str]]:
    """Every (row, prompt) expansion, rows given as (label, method, ExpandConfig): ([(label, prompt, result)],
    failures). A row that fails on one prompt is noted and the run goes on; a missing model stops it."""
    from tqdm.auto import tqdm

    made, failures = [], []
    with tqdm(total=len(rows) * len(prompts), desc="expanding", unit="set", file=sys.stderr) as bar:
        for label, method, config in rows:
            for prompt in prompts:
                bar.set_postfix_str(label)
                try:
                    made.append((label, prompt, cached_expansion(out, label, method, prompt, k, seed, config,
                                                                 settings, embedder, policy)))
                except ModelUnavailable:
                    raise
                except UserFacingError as exc:  # one bad generation should not sink a 200-prompt run
                    failures.append(f"{label} on {prompt!r}: {exc}")
                    log(f"warning: {failures[-1]}")
                bar.update(1)
    if not made:  # nothing to measure: a report of empty tables would read as a result
        raise UserFacingError(f"every expansion failed ({len(failures)}); the first: {failures[0]}" if failures
                              else "no prompt set was made.")
    return made, failures
