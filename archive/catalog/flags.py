"""Events flagged for the head's attention (reasoned reads, referral overrides): table and SQL.

A flag points at an audit entry (its seq); the head acknowledges it (`sgz access flags`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from archive.catalog.db import Database
from archive.errors import NotFound

# The table was created by the access-request schema in 0.1; IF NOT EXISTS keeps those homes.
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS access_flags (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        ref TEXT NOT NULL DEFAULT '', rule TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
        audit_seq INTEGER,
        acked_by TEXT, acked_at TEXT
    )""",
]


@dataclass(frozen=True)
class Flag:
    """An event flagged for the head's attention (reasoned reads, referral overrides)."""

    id: int
    at: str
    actor: str
    action: str
    ref: str
    rule: str
    reason: str
    audit_seq: int | None
    acked_by: str | None
    acked_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Flags:
    """All SQL over `access_flags`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema("catalog.flags", 1, SCHEMA)

    def add(self, *, at: str, actor: str, action: str, ref: str, rule: str, reason: str,
            audit_seq: int | None) -> int:
        cur = self.db.execute(
            "INSERT INTO access_flags (at, actor, action, ref, rule, reason, audit_seq) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (at, actor, action, ref, rule, reason, audit_seq))
        return int(cur.lastrowid)

    def list(self, *, include_acked: bool = False) -> list[Flag]:
        sql = ("SELECT id, at, actor, action, ref, rule, reason, audit_seq, acked_by, acked_at "
               "FROM access_flags")
        if not include_acked:
            sql += " WHERE acked_by IS NULL"
        return [Flag(**dict(r)) for r in self.db.execute(sql + " ORDER BY id")]

    def ack(self, flag_id: int, *, by: str, when: str) -> None:
        row = self.db.execute("SELECT acked_by FROM access_flags WHERE id = ?",
                              (flag_id,)).fetchone()
        if row is None:
            raise NotFound(f"提请关注事项 {flag_id} 不存在", ref=str(flag_id))
        self.db.execute("UPDATE access_flags SET acked_by = ?, acked_at = ? WHERE id = ? "
                        "AND acked_by IS NULL", (by, when, flag_id))
