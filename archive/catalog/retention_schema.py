"""Tables of the retention concern (holds, retention changes, disposal batches), installed once."""

from __future__ import annotations

from archive.catalog.db import Database

OWNER = "retention"
VERSION = 1
SCHEMA = [
    """CREATE TABLE holds (
        id INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records(id),
        reason TEXT NOT NULL,
        placed_by TEXT NOT NULL, placed_at TEXT NOT NULL,
        released_by TEXT, released_at TEXT, release_reason TEXT
    )""",
    "CREATE UNIQUE INDEX holds_active ON holds(record_id) WHERE released_at IS NULL",
    """CREATE TABLE retention_changes (
        id INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records(id),
        from_code TEXT NOT NULL, to_code TEXT NOT NULL, reason TEXT NOT NULL,
        changed_by TEXT NOT NULL, changed_at TEXT NOT NULL
    )""",
    """CREATE TABLE disposal_batches (
        id TEXT PRIMARY KEY,                      -- XH-2026-0001
        year INTEGER NOT NULL, seq INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('proposed', 'approved', 'executing', 'executed')),
        appraisal_note TEXT NOT NULL DEFAULT '',
        register_ref TEXT,                        -- 档号 of the filed 销毁清册
        proposed_by TEXT NOT NULL, proposed_at TEXT NOT NULL,
        approved_by TEXT, approved_at TEXT,
        executed_by TEXT, witnesses TEXT, started_at TEXT, executed_at TEXT,
        UNIQUE (year, seq)
    )""",
    """CREATE TABLE disposal_items (
        batch_id TEXT NOT NULL REFERENCES disposal_batches(id),
        record_id INTEGER NOT NULL REFERENCES records(id),
        pos INTEGER NOT NULL,
        retention_required TEXT NOT NULL, retention_actual TEXT NOT NULL,
        expired INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'destroyed')),
        destroyed_at TEXT,
        PRIMARY KEY (batch_id, record_id)
    )""",
]


def ensure_schema(db: Database) -> None:
    db.ensure_schema(OWNER, VERSION, SCHEMA)
