"""Holds (冻结) and retention changes: the retention concern's own SQL.

A held record cannot be proposed, approved or destroyed. Retention changes record an appraisal
that kept a record longer: the 档号 keeps its original 保管期限 code forever (it is never
re-numbered), the effective period is the latest change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archive.catalog.db import Database
from archive.catalog.retention_schema import ensure_schema


@dataclass(frozen=True)
class Hold:
    id: int
    record_id: int
    ref: str
    reason: str
    placed_by: str
    placed_at: str


class Holds:
    """Active and released holds, and retention extensions."""

    def __init__(self, db: Database) -> None:
        self.db = db
        ensure_schema(db)

    def active(self, record_id: int) -> Hold | None:
        row = self.db.execute(
            "SELECT h.id, h.record_id, r.ref, h.reason, h.placed_by, h.placed_at FROM holds h "
            "JOIN records r ON r.id = h.record_id "
            "WHERE h.record_id = ? AND h.released_at IS NULL", (record_id,),
        ).fetchone()
        return Hold(**dict(row)) if row else None

    def held_ids(self) -> set[int]:
        return {r[0] for r in self.db.execute("SELECT record_id FROM holds WHERE released_at IS NULL")}

    def place(self, record_id: int, reason: str, by: str, when: str) -> int:
        cur = self.db.execute(
            "INSERT INTO holds (record_id, reason, placed_by, placed_at) VALUES (?, ?, ?, ?)",
            (record_id, reason, by, when),
        )
        return int(cur.lastrowid)

    def release(self, hold_id: int, reason: str, by: str, when: str) -> None:
        self.db.execute(
            "UPDATE holds SET released_by = ?, released_at = ?, release_reason = ? WHERE id = ?",
            (by, when, reason, hold_id),
        )

    def list_active(self) -> list[Hold]:
        rows = self.db.execute(
            "SELECT h.id, h.record_id, r.ref, h.reason, h.placed_by, h.placed_at FROM holds h "
            "JOIN records r ON r.id = h.record_id WHERE h.released_at IS NULL ORDER BY r.ref"
        ).fetchall()
        return [Hold(**dict(r)) for r in rows]

    # ---------------------------------------------------------------- retention changes
    def effective_retention(self, record_id: int, original: str) -> str:
        row = self.db.execute(
            "SELECT to_code FROM retention_changes WHERE record_id = ? ORDER BY id DESC LIMIT 1",
            (record_id,),
        ).fetchone()
        return str(row[0]) if row else original

    def effective_map(self) -> dict[int, str]:
        """record id → latest retention code, for records whose period was changed."""
        out: dict[int, str] = {}
        for r in self.db.execute("SELECT record_id, to_code FROM retention_changes ORDER BY id"):
            out[r[0]] = r[1]
        return out

    def change_retention(self, record_id: int, old: str, new: str, reason: str, by: str,
                         when: str) -> None:
        self.db.execute(
            "INSERT INTO retention_changes (record_id, from_code, to_code, reason, changed_by, "
            "changed_at) VALUES (?, ?, ?, ?, ?, ?)",
            (record_id, old, new, reason, by, when),
        )

    def changes(self, record_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT from_code, to_code, reason, changed_by, changed_at FROM retention_changes "
            "WHERE record_id = ? ORDER BY id", (record_id,),
        ).fetchall()
        return [dict(r) for r in rows]
