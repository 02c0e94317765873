"""Study items: from manifests (checked and confined) or app sets; attention checks; the ratings export.

The command line is `python -m dppgrpo_core.study` (command.py).

A manifest has one item per line:
    {"item_id": "q7-dpp", "prompt": "a dog on a beach", "method": "dpp-grpo", "videos": ["clips/0.mp4", ...]}
    {"item_id": "q7-txt", "prompt": "a dog on a beach", "method": "original", "prompts": ["...", ...]}
or one pair of two methods' sets for one prompt per line (pairwise mode; see dppgrpo_core.study.pairwise):
    {"pair_id": "q7", "prompt": "a dog on a beach", "a": {"method": "dpp-grpo", "videos": [...]},
     "b": {"method": "original", "prompts": [...]}}
An item may have "attention_check": true (a set of identical clips, which an attentive rater scores 1 for
diversity; a JSON boolean, nothing else). Relative video paths are read from the manifest's folder, and
every clip must be a video file (VIDEO_SUFFIXES) inside that folder or inside the `media_root` setting
(--media-root / DPPGRPO_MEDIA_ROOT), symbolic links resolved: a manifest naming anything else is refused
whole, so a study never serves another server file to its annotators. An item has at most MAX_CLIPS clips.
`--db` defaults to the `annotations_db` setting (DPPGRPO_ANNOTATIONS_DB, default data/annotations.db);
`status` and `export` only open an existing database.

Blindness: an annotator's item order is a shuffle seeded by their logged seed (the store keeps it,
so they resume in the same order), and the clips of each item are shuffled by (seed, item_id).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study import pairwise
from dppgrpo_core.study.fields import checked_clips
from dppgrpo_core.study.order import clip_order
from dppgrpo_core.study.store import AnnotationStore

ATTENTION_METHOD = "attention-check"  # the method name of attention-check items (excluded from method results)
EXPORT_FORMATS = (".csv", ".jsonl")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".m4v", ".ogv")  # what browsers play; a clip must end in one
MANIFEST_FIELDS = ("item_id", "prompt", "method", "videos", "prompts", "attention_check")
MAX_MANIFEST_BYTES = 50_000_000


# ----- items -----
def item_id_for(prompt: str, method: str, content: list[str]) -> str:
    """A stable id from what the item shows, so adding the same set twice is refused rather than duplicated.

    >>> item_id_for("a cat", "dpp-grpo", ["x", "y"]) == item_id_for("a cat", "dpp-grpo", ["x", "y"])
    True
    """
    digest = hashlib.sha1(json.dumps([prompt, method, content]).encode()).hexdigest()[:10]
    return f"{method}-{digest}"


def item_from_set(app_set: dict) -> dict:
    """An item from the app's current set, as `dppgrpo_core.sets` writes it: a `RenderedSet` (its videos win)
    or a `PromptSet` (shown as text).

    >>> item_from_set({"query": "a cat", "method": "dpp-grpo", "prompts": ["a", "b"]})["prompts"]
    ['a', 'b']
    """
    if isinstance(app_set, dict) and app_set.get("videos") and not str(app_set.get("query") or "").strip():
        raise UserFacingError("This grid's prompts were typed by hand, so it has no prompt to rate alignment "
                              "against: render a set from the Expand tab (unedited) to make a study item.")
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


def clip_path(video, base: Path, roots: list[Path]) -> str:
    """The resolved path of one clip of a manifest: relative to `base`, inside one of `roots` (symbolic
    links followed), an existing file with a video suffix; UserFacingError otherwise."""
    video = checks.text(video, "a clip path", 4096) if isinstance(video, str) else video
    if not isinstance(video, str):
        raise UserFacingError(f"clips must be paths (text), got {checks.shown(video)}.")
    resolved = (base / video).resolve()  # an absolute `video` replaces `base`; `..` and links are resolved
    if not any(resolved.is_relative_to(root) for root in roots):
        where = "the manifest's folder" + (" or the media root" if len(roots) > 1 else "")
        raise UserFacingError(f"clip {checks.shown(video)} is outside {where}; a study may only show clips from there.")
    if resolved.suffix.lower() not in VIDEO_SUFFIXES:
        raise UserFacingError(f"clip {checks.shown(video)} is not a video file ({', '.join(VIDEO_SUFFIXES)}).")
    if not resolved.is_file():
        raise UserFacingError(f"video not found: {checks.shown(video)}.")
    return str(resolved)


def _manifest_item(item, base: Path, roots: list[Path]) -> dict:
    if pairwise.is_pair_line(item):
        return pairwise.manifest_pair(item, lambda video: clip_path(video, base, roots))
    if not isinstance(item, dict):
        raise UserFacingError("expected an object with item_id, prompt, method.")
    unknown = [key for key in item if key not in MANIFEST_FIELDS]
    if unknown:
        raise UserFacingError(f"unknown field {checks.shown(unknown[0])}; the fields are {', '.join(MANIFEST_FIELDS)}.")
    if bool(item.get("videos")) == bool(item.get("prompts")):
        raise UserFacingError("give exactly one of \"videos\" or \"prompts\".")
    for key in ("item_id", "prompt", "method"):
        if key in item:
            checks.text(item[key], key, 2000)
    if "attention_check" in item:
        checks.boolean(item["attention_check"], "attention_check")
    key = "videos" if item.get("videos") else "prompts"
    if not isinstance(item[key], list):
        raise UserFacingError(f"\"{key}\" must be a list of {'paths' if key == 'videos' else 'prompts'}.")
    if key == "videos":
        item["videos"] = checked_clips(item["videos"], lambda video: clip_path(video, base, roots))
    if not item.get("item_id"):
        item["item_id"] = item_id_for(str(item.get("prompt")), str(item.get("method")), item[key])
    return item


def read_manifest(path: str | Path, base_dir: str | Path | None = None, media_root: str | Path | None = None) -> list[dict]:
    """Items (and pairs: those with a "pair_id") of a JSONL manifest, all checked (a UserFacingError names the
    first bad line).

    Relative clip paths are read from `base_dir` (default: the manifest's folder); every clip must resolve
    inside that folder or `media_root` and be a video file (see `clip_path`).
    """
    path = Path(path)
    base = Path(base_dir) if base_dir is not None else path.parent
    roots = [Path(p).expanduser().resolve() for p in (base, media_root) if p is not None]
    base = base.expanduser().resolve()
    try:  # a regular file only (never /dev/zero or a FIFO), read up to its limit
        lines = checks.read_file(path, MAX_MANIFEST_BYTES, "manifest").decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise UserFacingError(f"{path.name} is not UTF-8 text.") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        # Strict: no NaN, no key twice, no 5,000-digit number; nesting too deep is one line too.
        item = checks.json_value(line, f"{path.name} line {number}")
        try:
            items.append(_manifest_item(item, base, roots))
        except UserFacingError as exc:
            raise UserFacingError(f"{path.name} line {number}: {exc}") from None
    if not items:
        raise UserFacingError(f"{path.name} holds no items.")
    return items


def import_manifest(store: AnnotationStore, path: str | Path, base_dir: str | Path | None = None,
                    media_root: str | Path | None = None) -> int:
    """Add every item and pair of a manifest to the store, all or none; returns how many."""
    return sum(add_manifest_entries(store, read_manifest(path, base_dir, media_root)))


def add_manifest_entries(store: AnnotationStore, entries: list[dict]) -> tuple[int, int]:
    """Add checked manifest entries (items and pairs) in one transaction; (items added, pairs added)."""
    pairs = [entry for entry in entries if "pair_id" in entry and "a" in entry]
    items = [entry for entry in entries if not ("pair_id" in entry and "a" in entry)]
    return pairwise.add_entries(store, items, pairs)


def missing_clips(store: AnnotationStore) -> list[str]:
    """The ids of items and pairs with a clip that is no longer a file here: annotators pass over them (the
    Annotate tab skips what it cannot show) until the clip is back; `study status` names them.

        missing_clips(AnnotationStore("data/annotations.db"))     # e.g. ['dpp-grpo-3f2a9c1d07']
    """
    gone = [item["item_id"] for item in store.items() if not all(Path(v).is_file() for v in item["videos"] or [])]
    for pair_id in pairwise.pair_ids(store):
        found = pairwise.pair(store, pair_id)
        if not all(Path(v).is_file() for side in (found["a"], found["b"]) for v in side["videos"] or []):
            gone.append(pair_id)
    return gone


def votes_path(out: str | Path) -> Path:
    """Where the votes of pairwise mode go beside a ratings export: ratings.csv -> ratings-votes.csv."""
    out = Path(out)
    return out.with_name(f"{out.stem}-votes{out.suffix}")


def export_ratings(store: AnnotationStore, out: str | Path) -> Path:
    """Write every rating (with item prompt, method, attention-check flag, seconds, order seed, ISO 8601 time)
    as CSV or JSONL, by the suffix; pairwise votes, if any, go beside it (`votes_path`)."""
    out = Path(out)
    if out.suffix.lower() not in EXPORT_FORMATS:
        raise UserFacingError(f"--out must end in {' or '.join(EXPORT_FORMATS)}, got {checks.shown(out.name)}.")
    if out.is_dir():
        raise UserFacingError(f"--out {checks.shown(str(out))} is a folder; give a file name.")
    from dppgrpo_core.study.results import flag_fast

    frames = {out: presentation(flag_fast(store.ratings()), store)}
    voted = pairwise.votes(store)
    if len(voted):
        frames[votes_path(out)] = presentation(flag_fast(voted))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for path, frame in frames.items():
            write_table(frame, path)
    except OSError as exc:
        raise UserFacingError(f"Cannot write {checks.shown(str(out))}: {exc.strerror or exc}.") from None
    return out


def presentation(frame, store: AnnotationStore | None = None):
    """The export with how each answer was presented: `position` (the annotator's 1st, 2nd, ... answer) and,
    for ratings, `clip_order` (the display order of the item's clips, as indices into its list)."""
    frame = frame.copy()
    frame["position"] = frame.groupby("annotator").cumcount() + 1
    if store is not None:
        sizes = {item["item_id"]: len(item["videos"] or item["prompts"]) for item in store.items()}
        frame["clip_order"] = [json.dumps(clip_order(sizes[item_id], int(seed), item_id)) if seed is not None
                               and str(seed) != "<NA>" else None
                               for item_id, seed in zip(frame["item_id"], frame["order_seed"])]
    return frame


def write_table(frame, path: Path) -> Path:
    """A DataFrame as CSV or JSONL (by the suffix). CSV cells go through `checks.csv_cell`: a comment or prompt
    such as `=cmd|...` never opens as a formula in a spreadsheet (JSONL keeps the text as it is)."""
    if path.suffix.lower() == ".csv":
        text = frame.select_dtypes(include=["object", "string"]).columns  # numbers and flags stay as they are
        frame.assign(**{column: frame[column].map(checks.csv_cell) for column in text}).to_csv(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    return path
