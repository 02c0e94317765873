"""A blind human study: items from manifests or app sets, per-annotator order, and the command line.

    python -m dppgrpo_core.study import MANIFEST.jsonl --db data/annotations.db
    python -m dppgrpo_core.study export --db data/annotations.db --out ratings.csv    # or ratings.jsonl
    python -m dppgrpo_core.study status --db data/annotations.db

A manifest has one item per line:
    {"item_id": "q7-dpp", "prompt": "a dog on a beach", "method": "dpp-grpo", "videos": ["clips/0.mp4", ...]}
    {"item_id": "q7-txt", "prompt": "a dog on a beach", "method": "original", "prompts": ["...", ...]}
optionally with "attention_check": true (a set of identical clips, which an attentive rater scores 1 for
diversity). Relative video paths are read from the manifest's folder. `--db` defaults to the
`annotations_db` setting (DPPGRPO_ANNOTATIONS_DB, default data/annotations.db).

Blindness: an annotator's item order is a shuffle seeded by their logged seed (the store keeps it,
so they resume in the same order), and the clips of each item are shuffled by (seed, item_id).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

from dppgrpo_core.annotations import AnnotationError, AnnotationStore
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.settings import Settings

ATTENTION_METHOD = "attention-check"  # the method name of attention-check items (excluded from method results)
EXPORT_FORMATS = (".csv", ".jsonl")


# ----- items -----
def item_id_for(prompt: str, method: str, content: list[str]) -> str:
    """A stable id from what the item shows, so adding the same set twice is refused rather than duplicated.

    >>> item_id_for("a cat", "dpp-grpo", ["x", "y"]) == item_id_for("a cat", "dpp-grpo", ["x", "y"])
    True
    """
    digest = hashlib.sha1(json.dumps([prompt, method, content]).encode()).hexdigest()[:10]
    return f"{method}-{digest}"


def item_from_set(app_set: dict) -> dict:
    """An item from the app's current set: a rendered grid {"query","method","prompts","videos"} (videos win)
    or an expanded set {"query","method","prompts","steps"} (shown as text).

    >>> item_from_set({"query": "a cat", "method": "dpp-grpo", "prompts": ["a", "b"]})["prompts"]
    ['a', 'b']
    """
    if not isinstance(app_set, dict) or not str(app_set.get("query") or "").strip():
        raise UserFacingError("No current set: expand a prompt (Expand tab) or render a grid (Render tab) first.")
    prompt, method = str(app_set["query"]).strip(), str(app_set.get("method") or "unknown").strip()
    videos = [str(v) for v in (app_set.get("videos") or []) if v]
    prompts = [str(p) for p in (app_set.get("prompts") or []) if str(p).strip()]
    if videos:
        return {"item_id": item_id_for(prompt, method, videos), "prompt": prompt, "method": method, "videos": videos}
    if prompts:
        return {"item_id": item_id_for(prompt, method, prompts), "prompt": prompt, "method": method, "prompts": prompts}
    raise UserFacingError("The current set has neither videos nor prompts.")


def attention_check_for(item: dict) -> dict:
    """An attention-check twin of an item: its first clip (or first prompt) repeated, so diversity should be 1.

    >>> attention_check_for({"prompt": "a cat", "method": "m", "prompts": ["a", "b", "c"]})["prompts"]
    ['a', 'a', 'a']
    """
    key = "videos" if item.get("videos") else "prompts"
    content = [item[key][0]] * max(len(item[key]), 2)
    return {"item_id": item_id_for(item["prompt"], ATTENTION_METHOD, content), "prompt": item["prompt"],
            "method": ATTENTION_METHOD, key: content, "attention_check": True}


def read_manifest(path: str | Path, base_dir: str | Path | None = None) -> list[dict]:
    """Items of a JSONL manifest, checked line by line (UserFacingError names the line). Relative video
    paths are resolved against `base_dir` (default: the manifest's folder) and must exist."""
    path = Path(path)
    base = Path(base_dir) if base_dir is not None else path.parent
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserFacingError(f"Cannot read manifest {path}: {exc}") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserFacingError(f"{path.name} line {number}: not JSON ({exc.msg}).") from None
        if not isinstance(item, dict):
            raise UserFacingError(f"{path.name} line {number}: expected an object with item_id, prompt, method.")
        if bool(item.get("videos")) == bool(item.get("prompts")):
            raise UserFacingError(f"{path.name} line {number}: give exactly one of \"videos\" or \"prompts\".")
        if item.get("videos"):
            if not isinstance(item["videos"], list):
                raise UserFacingError(f"{path.name} line {number}: \"videos\" must be a list of paths.")
            resolved = []
            for video in item["videos"]:
                video_path = Path(str(video)).expanduser()
                video_path = video_path if video_path.is_absolute() else base / video_path
                if not video_path.is_file():
                    raise UserFacingError(f"{path.name} line {number}: video not found: {video_path}")
                resolved.append(str(video_path.resolve()))
            item["videos"] = resolved
        if not item.get("item_id"):
            content = item.get("videos") or item.get("prompts")
            item["item_id"] = item_id_for(str(item.get("prompt")), str(item.get("method")), content)
        items.append(item)
    if not items:
        raise UserFacingError(f"{path.name} holds no items.")
    return items


def import_manifest(store: AnnotationStore, path: str | Path, base_dir: str | Path | None = None) -> int:
    """Add every item of a manifest to the store, all or none; returns how many."""
    items = read_manifest(path, base_dir)
    return store.add_items(items)


def export_ratings(store: AnnotationStore, out: str | Path) -> Path:
    """Write every rating (with item prompt, method, attention-check flag) as CSV or JSONL, by the suffix."""
    out = Path(out)
    if out.suffix.lower() not in EXPORT_FORMATS:
        raise UserFacingError(f"--out must end in {' or '.join(EXPORT_FORMATS)}, got {out.name}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    frame = store.ratings()
    if out.suffix.lower() == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_json(out, orient="records", lines=True, force_ascii=False)
    return out


# ----- blind order -----
def item_order(item_ids: list[str], seed: int) -> list[str]:
    """This annotator's order: the sorted ids shuffled by their seed (same seed, same order).

    >>> item_order(["a", "b", "c", "d"], 3) == item_order(["d", "c", "b", "a"], 3)
    True
    """
    order = sorted(item_ids)
    random.Random(seed).shuffle(order)
    return order


def clip_order(n: int, seed: int, item_id: str) -> list[int]:
    """The display order of an item's n clips for one annotator (a stable permutation of range(n))."""
    order = list(range(n))
    random.Random(f"{seed}:{item_id}").shuffle(order)
    return order


def next_item(store: AnnotationStore, annotator: str) -> tuple[dict | None, int, int]:
    """(the annotator's next unrated item with its clips in display order, or None; done; total).

    The item's "shown" list holds what to display (video paths or prompts) in the annotator's order;
    its method stays in the dict for the caller, which must not show it.
    """
    seed = store.annotator_seed(annotator)
    ids = store.item_ids()
    done = store.rated_item_ids(annotator) & set(ids)
    for item_id in item_order(ids, seed):
        if item_id not in done:
            item = store.item(item_id)
            content = item["videos"] or item["prompts"]
            item["shown"] = [content[i] for i in clip_order(len(content), seed, item_id)]
            return item, len(done), len(ids)
    return None, len(done), len(ids)


# ----- command line -----
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser("import", help="add the items of a JSONL manifest to the study")
    imp.add_argument("manifest")
    exp = commands.add_parser("export", help="write every rating to a .csv or .jsonl file")
    exp.add_argument("--out", required=True)
    commands.add_parser("status", help="count items, annotators and ratings")
    for sub in (imp, exp, commands.choices["status"]):
        sub.add_argument("--db", default=None, help="SQLite file (default: the annotations_db setting)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    db = args.db or Settings.from_env().annotations_db
    try:
        store = AnnotationStore(db)
        if args.command == "import":
            items = read_manifest(args.manifest)
            store.add_items(items)
            print(f"added {len(items)} items to {store.path} ({len(store.item_ids())} in the study)")
        elif args.command == "export":
            out = export_ratings(store, args.out)
            print(f"wrote {len(store.ratings())} ratings to {out}")
        else:
            ratings = store.ratings()
            print(f"{store.path}: {len(store.item_ids())} items, {ratings['annotator'].nunique()} annotators, "
                  f"{len(ratings)} ratings")
    except (UserFacingError, AnnotationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
