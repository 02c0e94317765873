"""The study lead's targets: ratings wanted per item (overlap) and the quota per annotator (at most that many
items rated, and at most that many pairs voted on), kept beside the study's database as `<db>.plan.json`. The
dashboard measures against them; the store refuses an answer beyond the quota (`refuse_beyond_quota`), so no
page, API call or second tab can go past it.

    >>> import tempfile, os; db = os.path.join(tempfile.mkdtemp(), "study.db")
    >>> read_plan(db)
    {'overlap': 3, 'quota': None}
    >>> save_plan(db, overlap=2, quota=10)
    {'overlap': 2, 'quota': 10}
    >>> quota_reached(db, 9), quota_reached(db, 10)
    (None, 10)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dppgrpo_core import checks
from dppgrpo_core.study.fields import QuotaReached

DEFAULT_PLAN = {"overlap": 3, "quota": None}  # Label Studio's usual overlap; no quota: every item to everyone
MAX_OVERLAP, MAX_QUOTA = 50, 100_000
ANSWERS = {"items": "rated {quota} items", "pairs": "voted on {quota} pairs"}  # what the quota counts, per mode


def plan_path(db) -> Path:
    path = Path(db).expanduser()
    return path.with_name(path.name + ".plan.json")


def read_plan(db) -> dict:
    """The saved targets, or the defaults (a missing or damaged file is the defaults, never an error)."""
    try:
        saved = json.loads(plan_path(db).read_text(encoding="utf-8"))
        return check_plan(saved.get("overlap"), saved.get("quota"))
    except (OSError, ValueError, AttributeError):
        return dict(DEFAULT_PLAN)


def check_plan(overlap, quota) -> dict:
    """The targets, checked: overlap a whole number 1 to MAX_OVERLAP; quota blank (none) or 1 to MAX_QUOTA."""
    overlap = checks.number(overlap, "Ratings per item", 1, MAX_OVERLAP, whole=True)
    if quota in (None, "", 0):
        quota = None
    else:
        quota = checks.number(quota, "Quota per annotator", 1, MAX_QUOTA, whole=True)
    return {"overlap": overlap, "quota": quota}


def save_plan(db, overlap, quota) -> dict:
    """Check and keep the targets (written whole or not at all); returns them. UserFacingError for a bad value."""
    plan = check_plan(overlap, quota)
    path = plan_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(plan), encoding="utf-8")
    os.replace(partial, path)
    return plan


def quota_reached(db, done: int) -> int | None:
    """The quota when an annotator's `done` answers (of one mode) reach it, else None."""
    quota = read_plan(db)["quota"]
    return quota if quota is not None and done >= quota else None


def refuse_beyond_quota(db, annotator: str, done: int, kind: str) -> None:
    """QuotaReached (one line) when the annotator's `done` answers of `kind` ("items" or "pairs") reach the quota.

    >>> import tempfile, os; db = os.path.join(tempfile.mkdtemp(), "study.db"); _ = save_plan(db, 3, 2)
    >>> refuse_beyond_quota(db, "ann1", 2, "pairs")
    Traceback (most recent call last):
    ...
    dppgrpo_core.study.fields.QuotaReached: 'ann1' has voted on 2 pairs, the study's quota per annotator: no more are taken.
    """
    quota = quota_reached(db, done)
    if quota is not None:
        raise QuotaReached(f"{annotator!r} has {ANSWERS[kind].format(quota=quota)}, the study's quota per annotator: "
                           "no more are taken.")
