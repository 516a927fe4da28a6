"""Disposal batches (销毁批次) and their items: the SQL behind propose, approve and execute.

Each item carries its own state, so an interrupted execution resumes where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from archive.catalog.db import Database
from archive.catalog.retention_schema import ensure_schema
from archive.errors import NotFound, ValidationError

STATES = {"proposed": "待批准", "approved": "已批准", "executing": "执行中（已中断可续做）",
          "executed": "已销毁"}


@dataclass(frozen=True)
class BatchItem:
    record_id: int
    ref: str
    title: str
    year: int
    retention_required: str
    retention_actual: str
    expired: bool
    state: str
    destroyed_at: str | None


@dataclass(frozen=True)
class Batch:
    id: str
    state: str
    appraisal_note: str
    register_ref: str | None
    proposed_by: str
    proposed_at: str
    approved_by: str | None
    approved_at: str | None
    executed_by: str | None
    witnesses: list[str]
    started_at: str | None
    executed_at: str | None
    items: list[BatchItem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in (
            "id", "state", "appraisal_note", "register_ref", "proposed_by", "proposed_at",
            "approved_by", "approved_at", "executed_by", "witnesses", "started_at", "executed_at")}
        d["state_label"] = STATES[self.state]
        d["count"] = len(self.items)
        d["items"] = [vars(i).copy() for i in self.items]
        return d


def check_batch_id(text: str) -> str:
    t = text.strip().upper()
    parts = t.split("-")
    if len(parts) != 3 or parts[0] != "XH" or not parts[1].isdigit() or len(parts[1]) != 4 \
            or not parts[2].isdigit():
        raise ValidationError(f"销毁批次号格式不正确：“{text}”，应形如 XH-2026-0001", found=text)
    return t


class Disposals:
    """All SQL over disposal_batches and disposal_items."""

    def __init__(self, db: Database) -> None:
        self.db = db
        ensure_schema(db)

    def next_id(self, year: int) -> tuple[str, int]:
        """Allocate the next batch number of `year` (inside the caller's transaction)."""
        row = self.db.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM disposal_batches WHERE year = ?", (year,)
        ).fetchone()
        return f"XH-{year}-{row[0]:04d}", int(row[0])

    def create(self, batch_id: str, year: int, seq: int, *, note: str, by: str, when: str,
               items: list[tuple[int, str, str, bool]]) -> None:
        self.db.execute(
            "INSERT INTO disposal_batches (id, year, seq, state, appraisal_note, proposed_by, "
            "proposed_at) VALUES (?, ?, ?, 'proposed', ?, ?, ?)",
            (batch_id, year, seq, note, by, when),
        )
        for pos, (rid, required, actual, expired) in enumerate(items, 1):
            self.db.execute(
                "INSERT INTO disposal_items (batch_id, record_id, pos, retention_required, "
                "retention_actual, expired) VALUES (?, ?, ?, ?, ?, ?)",
                (batch_id, rid, pos, required, actual, int(expired)),
            )

    def delete(self, batch_id: str) -> None:
        self.db.execute("DELETE FROM disposal_items WHERE batch_id = ?", (batch_id,))
        self.db.execute("DELETE FROM disposal_batches WHERE id = ?", (batch_id,))

    def set_register(self, batch_id: str, ref: str) -> None:
        self.db.execute("UPDATE disposal_batches SET register_ref = ? WHERE id = ?", (ref, batch_id))

    def approve(self, batch_id: str, by: str, when: str) -> None:
        self.db.execute(
            "UPDATE disposal_batches SET state = 'approved', approved_by = ?, approved_at = ? "
            "WHERE id = ?", (by, when, batch_id),
        )

    def start(self, batch_id: str, by: str, witnesses: list[str], when: str) -> None:
        self.db.execute(
            "UPDATE disposal_batches SET state = 'executing', executed_by = ?, witnesses = ?, "
            "started_at = COALESCE(started_at, ?) WHERE id = ?",
            (by, json.dumps(witnesses, ensure_ascii=False), when, batch_id),
        )

    def item_destroyed(self, batch_id: str, record_id: int, when: str) -> None:
        self.db.execute(
            "UPDATE disposal_items SET state = 'destroyed', destroyed_at = ? "
            "WHERE batch_id = ? AND record_id = ?", (when, batch_id, record_id),
        )

    def finish(self, batch_id: str, when: str) -> None:
        self.db.execute(
            "UPDATE disposal_batches SET state = 'executed', executed_at = ? WHERE id = ?",
            (when, batch_id),
        )

    def open_batch_of(self, record_id: int) -> str | None:
        """The batch (not yet executed) that already lists this record, if any."""
        row = self.db.execute(
            "SELECT b.id FROM disposal_items i JOIN disposal_batches b ON b.id = i.batch_id "
            "WHERE i.record_id = ? AND b.state != 'executed'", (record_id,),
        ).fetchone()
        return str(row[0]) if row else None

    def get(self, batch_id: str) -> Batch:
        bid = check_batch_id(batch_id)
        row = self.db.execute("SELECT * FROM disposal_batches WHERE id = ?", (bid,)).fetchone()
        if row is None:
            raise NotFound(f"销毁批次 {bid} 不存在", ref=bid)
        return self._batch(row, with_items=True)

    def list(self, state: str | None = None) -> list[Batch]:
        sql, params = "SELECT * FROM disposal_batches", []
        if state:
            sql += " WHERE state = ?"
            params.append(state)
        rows = self.db.execute(sql + " ORDER BY year, seq", params).fetchall()
        return [self._batch(r, with_items=True) for r in rows]

    def _batch(self, row: Any, *, with_items: bool) -> Batch:
        d = dict(row)
        d.pop("year")
        d.pop("seq")
        d["witnesses"] = json.loads(d["witnesses"]) if d["witnesses"] else []
        items = []
        if with_items:
            for r in self.db.execute(
                "SELECT i.record_id, r.ref, r.title, r.year, i.retention_required, "
                "i.retention_actual, i.expired, i.state, i.destroyed_at FROM disposal_items i "
                "JOIN records r ON r.id = i.record_id WHERE i.batch_id = ? ORDER BY i.pos",
                (d["id"],),
            ):
                it = dict(r)
                it["expired"] = bool(it["expired"])
                items.append(BatchItem(**it))
        return Batch(**d, items=items)
