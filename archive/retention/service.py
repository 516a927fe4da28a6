"""Retention services: `sgz retention due|extend|table` and `sgz hold add|remove|list`.

Expiry never deletes anything: `due` lists, a person proposes a batch with a 销毁清册, the head
approves, and execution (with two witnesses) crypto-shreds (see disposal_service.py).
"""

from __future__ import annotations

import builtins
from datetime import date
from typing import Any

from archive.catalog.holds import Hold
from archive.catalog.numbering import RETENTIONS, parse_retention
from archive.catalog.records import Record
from archive.errors import Conflict, ValidationError
from archive.kernel.kernel import Kernel
from archive.retention.disposal import Disposals
from archive.retention.schedule import Schedule, expires_on, is_longer, parse_schedule


class HoldService:
    """`sgz hold add|remove|list`: a held record cannot be proposed, approved or destroyed."""

    def __init__(self, kernel: Kernel) -> None:
        self._k = kernel

    def add(self, ref: str, *, reason: str) -> Hold:
        """Freeze one record (pending litigation, complaint, open case…)."""
        return self._change(ref, reason, place=True)

    def remove(self, ref: str, *, reason: str) -> Hold:
        """Release a record's hold; it may be destroyed again once expired and approved."""
        return self._change(ref, reason, place=False)

    def _change(self, ref: str, reason: str, *, place: bool) -> Hold:
        what = "设置冻结" if place else "解除冻结"
        if not reason or not reason.strip():
            raise ValidationError(f"{what}必须用 --reason 说明原因")
        k = self._k
        rec = k.records.get(ref.strip())
        k.authorize("hold.manage", rec)
        with k.writer_lock, k.db.transaction():
            hold = k.holds.active(rec.id)
            if place and hold is not None:
                raise Conflict(f"{rec.ref} 已处于冻结状态")
            if not place and hold is None:
                raise Conflict(f"{rec.ref} 未被冻结")
            if place:
                k.holds.place(rec.id, reason.strip(), k.user.name, k.clock.iso())
            else:
                assert hold is not None
                k.holds.release(hold.id, reason.strip(), k.user.name, k.clock.iso())
            k.log("hold.add" if place else "hold.remove", rec.ref, reason=reason.strip())
        result = k.holds.active(rec.id) if place else hold
        assert result is not None
        return result

    def list(self) -> list[Hold]:
        """Active holds on records the user may see in the catalogue."""
        k = self._k
        out = [h for h in k.holds.list_active()
               if k.may("record.read_meta", k.records.get(h.ref))]
        k.log("hold.list", None, count=len(out))
        return out


class RetentionService:
    """`sgz retention due|extend|table` over the kernel."""

    def __init__(self, kernel: Kernel) -> None:
        self._k = kernel
        self._disposals = Disposals(kernel.db)

    def schedule(self) -> Schedule:
        """The station's retention table (station.toml [retention] over the defaults)."""
        return parse_schedule(self._k.station.retention or {}, self._k.station.classes)

    def default_for(self, cls: str) -> str:
        """The class's period from the retention table (filing's default)."""
        return self.schedule().for_class(cls)

    # ------------------------------------------------------------------ retention
    def effective(self, rec: Record) -> str:
        """The record's 保管期限 after appraisals (its 档号 keeps the original code)."""
        return self._k.holds.effective_retention(rec.id, rec.retention)

    def due(self, *, as_of: date | None = None) -> builtins.list[dict[str, Any]]:
        """Records whose period has run out by `as_of`: a list for appraisal; nothing is deleted."""
        day = as_of or self._k.clock.today()
        schedule = self.schedule()
        changed = self._k.holds.effective_map()
        held = self._k.holds.held_ids()
        out = []
        for rec in self._k.records.list(status="active"):
            code = changed.get(rec.id, rec.retention)
            end = expires_on(rec.year, code)
            if end is None or day < end or not self._k.may("record.read_meta", rec):
                continue
            rule = schedule.match(rec.title)
            hint = ""
            if rule is not None and rule.code is not None and is_longer(rule.code, code):
                hint = f"保管期限表中“{rule.name}”为{rule.period}，请鉴定时复核"
            elif rule is not None and rule.code is None:
                hint = f"“{rule.name}”须{rule.period}，请鉴定时复核"
            out.append({
                "ref": rec.ref, "title": rec.title, "year": rec.year, "cls": rec.cls,
                "retention": code, "retention_label": RETENTIONS[code],
                "expired_on": end.isoformat(), "held": rec.id in held,
                "batch": self._disposals.open_batch_of(rec.id), "hint": hint,
            })
        self._k.log("retention.due", None, as_of=day.isoformat(), count=len(out))
        return out

    def extend(self, ref: str, *, to: str, reason: str) -> dict[str, Any]:
        """After appraisal, keep a record longer: a new, longer period counted from the same year."""
        if not reason or not reason.strip():
            raise ValidationError("延长保管期限必须用 --reason 说明鉴定结论")
        new = parse_retention(to)
        rec = self._k.records.get(ref.strip())
        self._k.authorize("hold.manage", rec)
        with self._k.writer_lock, self._k.db.transaction():
            old = self.effective(rec)
            if not is_longer(new, old):
                raise ValidationError(
                    f"{rec.ref} 当前保管期限为{RETENTIONS[old]}，新期限须更长（得到{RETENTIONS[new]}）",
                    expected=f"> {old}", found=new,
                )
            batch = self._disposals.open_batch_of(rec.id)
            if batch is not None:
                raise Conflict(f"{rec.ref} 已列入销毁批次 {batch}，请先处理该批次")
            self._k.holds.change_retention(rec.id, old, new, reason.strip(), self._k.user.name,
                                          self._k.clock.iso())
            self._k.log("retention.extend", rec.ref, old=old, new=new, reason=reason.strip())
        end = expires_on(rec.year, new)
        return {"id": rec.ref, "ref": rec.ref, "old": old, "new": new,
                "expires_on": end.isoformat() if end else None}

    def table(self) -> builtins.list[dict[str, Any]]:
        """The effective retention table (classes and document types) for display."""
        return self.schedule().rows()
