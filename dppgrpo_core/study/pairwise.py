"""Pairwise mode of the human study: two methods' sets for one prompt, side by side, one vote per annotator.

    store = AnnotationStore("data/annotations.db")
    add_pairs(store, [{"pair_id": "q1", "prompt": "a cat", "a": {"method": "dpp-grpo", "prompts": [...]},
                       "b": {"method": "original", "videos": ["clips/0.mp4", ...]}}])
    pair, done, total = next_pair(store, "alice")      # pair["left"] / pair["right"]: what to show, blind
    add_vote(store, "alice", pair["pair_id"], "left", pair["left_side"], seconds=9.5)
    votes(store)                                       # pandas DataFrame, one row per vote (export)

Pairs and votes live in the Likert study's SQLite file (schema 2). Which of a pair's sets an annotator
sees on the left is drawn from their logged order seed and the pair id (so a resumed session shows the
same layout) and recorded with the vote; the pair order is their seeded shuffle too. The vote is
"left" / "right" (that set is more diverse), "tie" or "both_bad"; a second vote on the same pair is refused
by the store (a UNIQUE constraint, checked inside the write transaction, so concurrent sessions cannot both
vote). The methods are never part of what `next_pair` asks a page to show; `reveal` names them after the vote.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time

import pandas as pd

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study.fields import (
    MAX_CLIPS,
    AnnotationError,
    check_annotator,
    check_string_list,
    check_text,
    checked_clips,
    iso_time,
)
from dppgrpo_core.study.order import clip_order, item_order
from dppgrpo_core.study.plan import refuse_beyond_quota
from dppgrpo_core.study.store import AnnotationStore

CHOICES = ("left", "right", "tie", "both_bad")
CHOICE_LABELS = {"left": "A (left) is more diverse", "right": "B (right) is more diverse", "tie": "Tie",
                 "both_bad": "Both bad"}
PAIR_FIELDS = ("pair_id", "prompt", "a", "b")
SIDE_FIELDS = ("method", "videos", "prompts")
VOTE_COLUMNS = ["annotator", "pair_id", "prompt", "a_method", "b_method", "left_method", "right_method", "choice",
                "winner", "seconds", "voted_at", "order_seed"]


def is_pair_line(entry) -> bool:
    """Whether a manifest line defines a pair (it has "a" and "b" sides) rather than a Likert item."""
    return isinstance(entry, dict) and ("a" in entry or "b" in entry or "pair_id" in entry)


def pair_id_for(prompt: str, a: dict, b: dict) -> str:
    import hashlib

    return "pair-" + hashlib.sha1(json.dumps([prompt, a, b], sort_keys=True).encode()).hexdigest()[:10]


def manifest_pair(entry: dict, clip) -> dict:
    """A manifest's pair line, checked; `clip(path)` resolves and confines one clip (study.clip_path)."""
    unknown = [key for key in entry if key not in PAIR_FIELDS]
    if unknown:
        raise UserFacingError(f"unknown field {checks.shown(unknown[0])}; a pair has {', '.join(PAIR_FIELDS)}.")
    checks.text(entry.get("prompt"), "prompt", 2000)
    if "pair_id" in entry:
        checks.text(entry["pair_id"], "pair_id", 100)
    sides = {}
    for key in ("a", "b"):
        side = entry.get(key)
        if not isinstance(side, dict):
            raise UserFacingError(f"a pair needs \"{key}\": an object with method and videos or prompts.")
        unknown = [k for k in side if k not in SIDE_FIELDS]
        if unknown:
            raise UserFacingError(f"\"{key}\": unknown field {checks.shown(unknown[0])}; the fields are "
                                  f"{', '.join(SIDE_FIELDS)}.")
        checks.text(side.get("method"), f"{key}.method", 100)
        if bool(side.get("videos")) == bool(side.get("prompts")):
            raise UserFacingError(f"\"{key}\": give exactly one of \"videos\" or \"prompts\".")
        content = "videos" if side.get("videos") else "prompts"
        if not isinstance(side[content], list):
            raise UserFacingError(f"\"{key}.{content}\" must be a list.")
        if content == "videos":
            side = dict(side, videos=checked_clips(side["videos"], clip, f'"{key}": '))
        sides[key] = side
    if sides["a"]["method"] == sides["b"]["method"]:
        raise UserFacingError("a pair compares two different methods.")
    pair = {"prompt": entry["prompt"], **sides}
    pair["pair_id"] = entry.get("pair_id") or pair_id_for(entry["prompt"], sides["a"], sides["b"])
    return pair


# ----- the store -----
def pair_rows(pairs: list[dict]) -> list[tuple]:
    rows, seen = [], set()
    for pair in pairs:
        if not isinstance(pair, dict) or not pair.get("pair_id"):
            raise AnnotationError("every pair needs a non-empty pair_id.")
        pair_id = check_text(pair["pair_id"], "pair_id")
        if pair_id in seen:
            raise AnnotationError(f"pair {pair_id!r} appears twice.")
        seen.add(pair_id)
        prompt = check_text(pair.get("prompt"), f"pair {pair_id!r}: prompt", 2000)
        row = [pair_id, prompt]
        for key in ("a", "b"):
            side = pair.get(key) if isinstance(pair.get(key), dict) else {}
            method = check_text(side.get("method"), f"pair {pair_id!r}: {key}.method")
            videos = check_string_list(pair_id, f"{key}.videos", side.get("videos"))
            prompts = check_string_list(pair_id, f"{key}.prompts", side.get("prompts"))
            if (videos is None) == (prompts is None):
                raise AnnotationError(f"pair {pair_id!r}: side {key} needs videos or prompts (one of them).")
            if videos and len(videos) > MAX_CLIPS:
                raise AnnotationError(f"pair {pair_id!r}: side {key} has more than {MAX_CLIPS} clips.")
            row += [method, json.dumps(videos) if videos else None, json.dumps(prompts) if prompts else None]
        if row[2] == row[5]:
            raise AnnotationError(f"pair {pair_id!r} compares {row[2]!r} with itself.")
        rows.append((*row, time.time()))
    return rows


def add_entries(store: AnnotationStore, items: list[dict] = (), pairs: list[dict] = ()) -> tuple[int, int]:
    """Add Likert items and pairs in one transaction (all or none); (items added, pairs added)."""
    item_rows, rows = store.item_rows(list(items)), pair_rows(list(pairs))
    with store._write() as conn:
        store.insert_items(conn, item_rows)
        clash = [r[0] for r in rows if conn.execute("SELECT 1 FROM pairs WHERE pair_id=?", (r[0],)).fetchone()]
        if clash:
            raise AnnotationError(f"already in the study: pair {', '.join(clash[:5])}")
        conn.executemany("INSERT INTO pairs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(item_rows), len(rows)


def add_pairs(store: AnnotationStore, pairs: list[dict]) -> int:
    return add_entries(store, (), pairs)[1]


def _side(method, videos, prompts) -> dict:
    return {"method": method, "videos": json.loads(videos) if videos else None,
            "prompts": json.loads(prompts) if prompts else None}


def pair(store: AnnotationStore, pair_id: str) -> dict:
    with store._connect() as conn:
        row = conn.execute("SELECT * FROM pairs WHERE pair_id=?", (pair_id,)).fetchone()
    if row is None:
        raise AnnotationError(f"unknown pair {pair_id!r}.")
    return {"pair_id": row[0], "prompt": row[1], "a": _side(*row[2:5]), "b": _side(*row[5:8])}


def pair_ids(store: AnnotationStore) -> list[str]:
    with store._connect() as conn:
        return [r[0] for r in conn.execute("SELECT pair_id FROM pairs ORDER BY pair_id")]


def voted_pair_ids(store: AnnotationStore, annotator: str) -> set[str]:
    with store._connect() as conn:
        return {r[0] for r in conn.execute("SELECT pair_id FROM votes WHERE annotator=?", (annotator,))}


def left_side(seed: int, pair_id: str) -> str:
    """Which side ("a" or "b") this annotator sees on the left: a fair coin seeded by (seed, pair id).

    >>> left_side(7, "q1") == left_side(7, "q1")
    True
    """
    return "a" if random.Random(f"{seed}:pair:{pair_id}").random() < 0.5 else "b"


def next_pair(store: AnnotationStore, annotator: str, skip=()) -> tuple[dict | None, int, int]:
    """(the annotator's next pair to vote on, or None; votes done; pairs in the study).

    The pair holds "left" and "right" (each {"videos"|"prompts"}: no method) and "left_side"; the caller
    shows only those and the prompt until the vote is in (then `reveal`). Pairs in `skip` are passed over."""
    seed = store.annotator_seed(annotator)
    ids = pair_ids(store)
    done = voted_pair_ids(store, annotator) & set(ids)
    for pair_id in item_order(ids, seed + 1):
        if pair_id in done or pair_id in skip:
            continue
        found = pair(store, pair_id)
        left = left_side(seed, pair_id)
        shown = {}
        for position, key in (("left", left), ("right", "b" if left == "a" else "a")):
            side = found[key]
            content = side["videos"] or side["prompts"]
            kind = "videos" if side["videos"] else "prompts"
            shown[position] = {kind: [content[i] for i in clip_order(len(content), seed, f"{pair_id}:{key}")]}
        found.update(shown, left_side=left)
        return found, len(done), len(ids)
    return None, len(done), len(ids)


def reveal(found: dict, choice: str) -> str:
    """What the annotator learns after voting: which method was on which side (plain text)."""
    left = found["a" if found["left_side"] == "a" else "b"]["method"]
    right = found["b" if found["left_side"] == "a" else "a"]["method"]
    return f"For “{found['prompt']}” you voted: {CHOICE_LABELS[choice]}. A (left) was {left}; B (right) was {right}."


def add_vote(store: AnnotationStore, annotator: str, pair_id: str, choice, left: str, seconds=None) -> None:
    """Record one vote in its own transaction; AnnotationError for a bad choice, an unknown pair, a second vote or one
    beyond the lead's quota per annotator (QuotaReached, as for ratings)."""
    annotator = check_annotator(annotator)
    if not isinstance(choice, str) or choice not in CHOICES:
        raise AnnotationError(f"a vote is one of {', '.join(CHOICES)}, got {checks.shown(choice)}.")
    if left not in ("a", "b"):
        raise AnnotationError("the left side is 'a' or 'b'.")
    if seconds is not None:
        try:
            seconds = float(checks.number(seconds, "seconds on pair", low=0))
        except UserFacingError as exc:
            raise AnnotationError(str(exc)) from None
    twice = f"{annotator!r} has already voted on pair {pair_id!r}; each pair gets one vote."
    try:
        with store._write() as conn:
            if conn.execute("SELECT 1 FROM pairs WHERE pair_id=?", (pair_id,)).fetchone() is None:
                raise AnnotationError(f"unknown pair {pair_id!r}: it is not in this study.")
            if conn.execute("SELECT 1 FROM votes WHERE annotator=? AND pair_id=?", (annotator, pair_id)).fetchone():
                raise AnnotationError(twice)  # said before the quota: a second vote is the clearer reason
            done = conn.execute("SELECT COUNT(*) FROM votes WHERE annotator=?", (annotator,)).fetchone()[0]
            refuse_beyond_quota(store.path, annotator, done, "pairs")  # inside the transaction, as for ratings
            conn.execute("INSERT INTO votes (annotator, pair_id, left_side, choice, seconds, voted_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (annotator, pair_id, left, choice, seconds, time.time()))
    except sqlite3.IntegrityError:  # UNIQUE (annotator, pair_id): another session voted first
        raise AnnotationError(twice) from None


def votes(store: AnnotationStore) -> pd.DataFrame:
    """Every vote with its pair's prompt and methods, the presentation order (left/right method), the winner
    ("tie" / "both_bad" when no side won), seconds, ISO 8601 time and the annotator's order seed."""
    with store._connect() as conn:
        rows = conn.execute(
            "SELECT v.annotator, v.pair_id, p.prompt, p.a_method, p.b_method, v.left_side, v.choice, v.seconds, "
            "v.voted_at, s.seed FROM votes v JOIN pairs p USING (pair_id) LEFT JOIN annotators s USING (annotator) "
            "ORDER BY v.vote_id").fetchall()
    records = []
    for annotator, pair_id, prompt, a, b, left, choice, seconds, voted_at, seed in rows:
        left_method, right_method = (a, b) if left == "a" else (b, a)
        winner = {"left": left_method, "right": right_method}.get(choice, choice)
        records.append([annotator, pair_id, prompt, a, b, left_method, right_method, choice, winner,
                        float("nan") if seconds is None else seconds, iso_time(voted_at), seed])
    frame = pd.DataFrame(records, columns=VOTE_COLUMNS)
    frame["seconds"] = pd.to_numeric(frame["seconds"]).astype(float)
    frame["order_seed"] = frame["order_seed"].astype("Int64")
    return frame
