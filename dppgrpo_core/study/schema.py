"""The study database's tables, by schema version; an older file is upgraded in place when a store opens it.

A new version is one entry in UPGRADES (idempotent DDL from version N to N + 1) and SCHEMA_VERSION + 1.
"""

SCHEMA_VERSION = 2  # 1: Likert items and ratings; 2: + pairs and votes (pairwise mode), upgraded in place

TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY,
    prompt TEXT NOT NULL,
    method TEXT NOT NULL,                 -- never shown to annotators
    videos TEXT,                          -- JSON list of paths, or NULL for a text item
    prompts TEXT,                         -- JSON list of prompts (shown when there are no videos)
    attention_check INTEGER NOT NULL DEFAULT 0,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS annotators (
    annotator TEXT PRIMARY KEY,
    seed INTEGER NOT NULL,                -- item and clip order of this annotator (logged, reproducible)
    started_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ratings (
    rating_id INTEGER PRIMARY KEY AUTOINCREMENT,
    annotator TEXT NOT NULL,
    item_id TEXT NOT NULL REFERENCES items(item_id),
    diversity INTEGER NOT NULL CHECK (diversity BETWEEN 1 AND 5),
    alignment INTEGER NOT NULL CHECK (alignment BETWEEN 1 AND 5),
    comment TEXT,
    seconds REAL,
    rated_at REAL NOT NULL,
    UNIQUE (annotator, item_id)
);
"""
# Schema 2: pairwise mode. Each pair shows two methods' sets for one prompt; a vote records which side was
# on the annotator's left (seeded per annotator) and what they chose, once per annotator per pair.
PAIR_TABLES = """
CREATE TABLE IF NOT EXISTS pairs (
    pair_id TEXT PRIMARY KEY,
    prompt TEXT NOT NULL,
    a_method TEXT NOT NULL, a_videos TEXT, a_prompts TEXT,
    b_method TEXT NOT NULL, b_videos TEXT, b_prompts TEXT,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    vote_id INTEGER PRIMARY KEY AUTOINCREMENT,
    annotator TEXT NOT NULL,
    pair_id TEXT NOT NULL REFERENCES pairs(pair_id),
    left_side TEXT NOT NULL CHECK (left_side IN ('a', 'b')),
    choice TEXT NOT NULL CHECK (choice IN ('left', 'right', 'tie', 'both_bad')),
    seconds REAL,
    voted_at REAL NOT NULL,
    UNIQUE (annotator, pair_id)
);
"""
UPGRADES = {1: PAIR_TABLES}  # from schema N to N + 1: idempotent DDL, run in one write transaction on open
