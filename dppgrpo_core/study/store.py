"""The human study's persistent store: items to rate and the ratings, in one SQLite file.

    store = AnnotationStore("data/annotations.db")       # created (with its folder) on first use
    AnnotationStore("data/annotations.db", create=False) # an existing study only (status, export)
    store.add_items([{"item_id": "q1-dpp", "prompt": "a cat", "method": "dpp-grpo", "prompts": ["...", "..."]}])
    store.add_rating("alice", "q1-dpp", diversity=4, alignment=5, comment=None, seconds=12.5)
    store.ratings()                                        # pandas DataFrame, one row per rating

One database file holds one study. Durability: WAL journal with synchronous=FULL, and every
write is one transaction (`BEGIN IMMEDIATE`), so a rating whose `add_rating` returned survives
a crash of the process or of the machine, and many processes may write at once (each waits
for the write lock, up to `timeout` seconds). Each call opens its own connection, so one store
object may be shared between threads (Gradio handlers) and processes.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from dppgrpo_core import checks
from dppgrpo_core.errors import UserFacingError
from dppgrpo_core.study.fields import (
    MAX_TEXT,
    AnnotationError,
    check_annotator,
    check_score,
    check_string_list,
    check_text,
    iso_time,
)
from dppgrpo_core.study.plan import refuse_beyond_quota
from dppgrpo_core.study.schema import PAIR_TABLES, SCHEMA_VERSION, TABLES, UPGRADES

log = logging.getLogger(__name__)
RATING_COLUMNS = ["annotator", "item_id", "prompt", "method", "attention_check", "diversity", "alignment",
                  "comment", "seconds", "rated_at", "order_seed"]


class AnnotationStore:
    def __init__(self, path: str | Path, timeout: float = 60.0, create: bool = True):
        """Open the study at `path`; with `create` (the default) a missing file is created with its folder.

        Without `create` a missing file is refused and nothing is written. A folder, a file that is not
        SQLite, or an SQLite file of something else is refused either way (AnnotationError).
        """
        self.path = Path(path).expanduser()
        self.timeout = timeout
        if self.path.is_dir():
            raise AnnotationError(f"{self.path} is a folder, not a study database file.")
        if self.path.exists() and not self.path.is_file():  # SQLite would wait forever on a FIFO
            raise AnnotationError(f"{self.path} is not a regular file (a device, a pipe or a socket).")
        exists = self.path.is_file() and self.path.stat().st_size > 0
        if not exists and not create:
            raise AnnotationError(f"No study database at {self.path}: check --db (`study import` creates one).")
        try:
            if not exists:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self._connect() as conn:
                    conn.execute("PRAGMA journal_mode=WAL")  # persistent in the file: readers never block the writer
                    conn.executescript(f"BEGIN IMMEDIATE; {TABLES} {PAIR_TABLES} INSERT OR IGNORE INTO meta "
                                       f"VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;")
            with self._connect() as conn:
                row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            while row is not None and str(row[0]).isdigit() and int(row[0]) in UPGRADES:
                row = self._upgrade(int(row[0]))
        except sqlite3.DatabaseError as exc:  # not SQLite, or SQLite without our tables
            raise AnnotationError(f"{self.path} is not a study database ({exc}).") from None
        except OSError as exc:
            raise AnnotationError(f"Cannot create the study database {self.path}: {exc.strerror or exc}.") from None
        if row is None or str(row[0]) != str(SCHEMA_VERSION):
            raise AnnotationError(f"{self.path} has annotation schema {row[0] if row else 'none'}; this code reads "
                                  f"schema {SCHEMA_VERSION}. Use a new --annotations-db path or the matching version.")

    def _upgrade(self, version: int):
        """Schema `version` -> version + 1 in one transaction (another process may be doing the same: the DDL
        is idempotent and the version moves only from `version`); returns the new (schema_version,) row."""
        with self._connect() as conn:
            conn.executescript(f"BEGIN IMMEDIATE; {UPGRADES[version]} UPDATE meta SET value='{version + 1}' "
                               f"WHERE key='schema_version' AND value='{version}'; COMMIT;")
            log.info("%s: annotation schema %d upgraded to %d", self.path, version, version + 1)
            return conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()

    def __repr__(self) -> str:
        return f"AnnotationStore({str(self.path)!r})"

    @contextmanager
    def _connect(self):
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            conn.execute("PRAGMA synchronous=FULL")  # WAL + FULL: a committed rating survives power loss too
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _write(self):
        """One write transaction: takes the write lock up front so concurrent writers queue instead of deadlocking."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])

    # ----- items -----
    def add_items(self, items: list[dict]) -> int:
        """Add study items (all or none). Each: item_id, prompt, method, and videos or prompts; attention_check."""
        rows = self.item_rows(items)
        with self._write() as conn:
            self.insert_items(conn, rows)
        return len(rows)

    @staticmethod
    def item_rows(items: list[dict]) -> list[tuple]:
        """The checked rows of `items` (AnnotationError for the first bad one); nothing is written."""
        rows = []
        seen = set()
        for item in items:
            if not item.get("item_id"):
                raise AnnotationError("every item needs a non-empty item_id.")
            item_id = check_text(item["item_id"], "item_id")
            if item_id in seen:
                raise AnnotationError(f"item {item_id!r} appears twice.")
            seen.add(item_id)
            if not item.get("prompt") or not item.get("method"):
                raise AnnotationError(f"item {item_id!r} needs a prompt and a method.")
            prompt = check_text(item["prompt"], f"item {item_id!r}: prompt", MAX_TEXT)
            method = check_text(item["method"], f"item {item_id!r}: method")
            videos = check_string_list(item_id, "videos", item.get("videos"))
            prompts = check_string_list(item_id, "prompts", item.get("prompts"))
            if videos is None and prompts is None:
                raise AnnotationError(f"item {item_id!r} needs videos or prompts.")
            try:  # strict: the text "false" or a 0 would otherwise turn an item into an attention check
                attention = checks.boolean(item.get("attention_check", False), f"item {item_id!r}: attention_check")
            except UserFacingError as exc:
                raise AnnotationError(str(exc)) from None
            rows.append((item_id, prompt, method, json.dumps(videos) if videos else None,
                         json.dumps(prompts) if prompts else None, int(attention), time.time()))
        return rows

    @staticmethod
    def insert_items(conn, rows: list[tuple]) -> None:
        """Insert checked item rows inside the caller's write transaction; AnnotationError on an id clash."""
        clash = [r[0] for r in rows if conn.execute("SELECT 1 FROM items WHERE item_id=?", (r[0],)).fetchone()]
        if clash:
            raise AnnotationError(f"already in the study: {', '.join(clash[:5])}" + (" ..." if len(clash) > 5 else ""))
        conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def item(self, item_id: str) -> dict:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM items WHERE item_id=?", (item_id,)).fetchone()
            if row is None:
                raise AnnotationError(f"unknown item {item_id!r}.")
            names = [d[0] for d in conn.execute("SELECT * FROM items LIMIT 0").description]
        return self._item_dict(dict(zip(names, row)))

    @staticmethod
    def _item_dict(row: dict) -> dict:
        row["videos"] = json.loads(row["videos"]) if row["videos"] else None
        row["prompts"] = json.loads(row["prompts"]) if row["prompts"] else None
        row["attention_check"] = bool(row["attention_check"])
        return row

    def items(self) -> list[dict]:
        """Every item, in item_id order."""
        with self._connect() as conn:
            cursor = conn.execute("SELECT * FROM items ORDER BY item_id")
            names = [d[0] for d in cursor.description]
            return [self._item_dict(dict(zip(names, row))) for row in cursor.fetchall()]

    def item_ids(self) -> list[str]:
        with self._connect() as conn:
            return [r[0] for r in conn.execute("SELECT item_id FROM items ORDER BY item_id")]

    # ----- annotators -----
    def annotator_seed(self, annotator: str) -> int:
        """This annotator's order seed: drawn and logged on first sight, the same ever after (so resuming keeps order)."""
        annotator = self._annotator(annotator)
        with self._connect() as conn:
            row = conn.execute("SELECT seed FROM annotators WHERE annotator=?", (annotator,)).fetchone()
        if row:
            return int(row[0])
        seed = random.SystemRandom().randrange(2**31)
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO annotators VALUES (?, ?, ?)", (annotator, seed, time.time()))
            seed = int(conn.execute("SELECT seed FROM annotators WHERE annotator=?", (annotator,)).fetchone()[0])
        log.info("annotator %r: order seed %d", annotator, seed)
        return seed

    def annotator_seeds(self) -> dict[str, int]:
        with self._connect() as conn:
            return dict(conn.execute("SELECT annotator, seed FROM annotators"))

    @staticmethod
    def _annotator(annotator) -> str:
        return check_annotator(annotator)

    # ----- ratings -----
    def add_rating(self, annotator: str, item_id: str, diversity, alignment, comment: str | None = None,
                   seconds: float | None = None) -> None:
        """Record one rating in its own transaction; AnnotationError for bad scores, unknown items, a second rating
        or one beyond the lead's quota per annotator (QuotaReached)."""
        annotator = self._annotator(annotator)
        diversity, alignment = check_score("diversity", diversity), check_score("alignment", alignment)
        if comment is not None:
            comment = check_text(comment, "the comment", MAX_TEXT, multiline=True) if str(comment).strip() else None
        if seconds is not None:
            try:
                seconds = float(checks.number(seconds, "seconds on item", low=0))
            except UserFacingError as exc:
                raise AnnotationError(str(exc)) from None
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM items WHERE item_id=?", (item_id,)).fetchone() is None:
                raise AnnotationError(f"unknown item {item_id!r}: it is not in this study.")
            if conn.execute("SELECT 1 FROM ratings WHERE annotator=? AND item_id=?", (annotator, item_id)).fetchone():
                raise AnnotationError(f"{annotator!r} has already rated item {item_id!r}; each item is rated once.")
            done = conn.execute("SELECT COUNT(*) FROM ratings WHERE annotator=?", (annotator,)).fetchone()[0]
            refuse_beyond_quota(self.path, annotator, done, "items")  # inside the transaction: two tabs cannot pass it
            conn.execute("INSERT INTO ratings (annotator, item_id, diversity, alignment, comment, seconds, rated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (annotator, item_id, diversity, alignment, comment, seconds, time.time()))

    def rated_item_ids(self, annotator: str) -> set[str]:
        with self._connect() as conn:
            return {r[0] for r in conn.execute("SELECT item_id FROM ratings WHERE annotator=?", (annotator,))}

    def ratings(self) -> pd.DataFrame:
        """Every rating joined with its item's prompt, method and attention-check flag and the annotator's
        order seed (empty for ratings written without `annotator_seed`, e.g. by a script), in the order written."""
        with self._connect() as conn:
            cursor = conn.execute(
                "SELECT r.annotator, r.item_id, i.prompt, i.method, i.attention_check, r.diversity, r.alignment, "
                "r.comment, r.seconds, r.rated_at, a.seed FROM ratings r JOIN items i USING (item_id) "
                "LEFT JOIN annotators a USING (annotator) ORDER BY r.rating_id")
            frame = pd.DataFrame(cursor.fetchall(), columns=RATING_COLUMNS)
        frame["attention_check"] = frame["attention_check"].astype(bool)
        frame[["diversity", "alignment"]] = frame[["diversity", "alignment"]].astype(int)
        frame["seconds"] = pd.to_numeric(frame["seconds"]).astype(float)  # NaN where not recorded
        frame["order_seed"] = frame["order_seed"].astype("Int64")
        frame["rated_at"] = [iso_time(t) for t in frame["rated_at"]]  # ISO 8601 with zone, e.g. ...T05:43:14+00:00
        return frame

    def integrity_ok(self) -> bool:
        with self._connect() as conn:
            return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
