# mypy: disable-error-code="misc"
# (Archive mixins annotate `self: Archive`; mypy calls that an "erased type of self".)
"""Archive methods for retention, holds and disposal (issue #6).

Expiry never deletes anything: `retention_due` lists, a person proposes a batch with a 销毁清册,
the head approves, and execution (with two witnesses) crypto-shreds (see execute.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from archive.catalog.numbering import RETENTIONS, parse_retention
from archive.catalog.records import Record
from archive.errors import Conflict, ValidationError
from archive.retention.disposal import Disposals
from archive.retention.execute import DisposalMixin
from archive.retention.holds import Hold, Holds
from archive.retention.schedule import Schedule, expires_on, is_longer, parse_schedule

if TYPE_CHECKING:
    from archive.core import Archive

# Station time: China Standard Time (the retention year ends at local midnight).
STATION_TZ = timezone(timedelta(hours=8))


def station_today(now: datetime) -> date:
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(STATION_TZ).date()


class RetentionMixin(DisposalMixin):
    """Methods of `Archive` for `sgz retention`, `hold`, `disposal` (see archive/core.py)."""

    # ------------------------------------------------------------------ stores
    def _holds(self: Archive) -> Holds:
        store = getattr(self, "_retention_holds", None)
        if store is None:
            store = Holds(self.db)
            self._retention_holds = store
        return store

    def _disposals(self: Archive) -> Disposals:
        store = getattr(self, "_retention_disposals", None)
        if store is None:
            store = Disposals(self.db)
            self._retention_disposals = store
        return store

    def retention_schedule(self: Archive) -> Schedule:
        """The station's retention table (station.toml [retention] over the defaults)."""
        return parse_schedule(self.station.retention or {}, self.station.classes)

    def today(self: Archive) -> date:
        return station_today(self.clock())

    # ------------------------------------------------------------------ holds
    def is_held(self: Archive, rec: Record) -> bool:
        """Called by `record_facts`: a held record cannot be proposed, approved or destroyed."""
        return self._holds().active(rec.id) is not None

    def add_hold(self: Archive, ref: str, *, reason: str) -> Hold:
        """Freeze one record (pending litigation, complaint, open case…)."""
        if not reason or not reason.strip():
            raise ValidationError("设置冻结必须用 --reason 说明原因")
        rec = self.records.get(ref.strip())
        self.authorize("hold.manage", self.record_facts(rec), ref=rec.ref)
        with self.writer_lock, self.db.transaction():
            if self._holds().active(rec.id) is not None:
                raise Conflict(f"{rec.ref} 已处于冻结状态")
            self._holds().place(rec.id, reason.strip(), self.user.name, self.now())
            self.log("hold.add", rec.ref, reason=reason.strip())
        hold = self._holds().active(rec.id)
        assert hold is not None
        return hold

    def remove_hold(self: Archive, ref: str, *, reason: str) -> Hold:
        """Release a record's hold; it may be destroyed again once expired and approved."""
        if not reason or not reason.strip():
            raise ValidationError("解除冻结必须用 --reason 说明原因")
        rec = self.records.get(ref.strip())
        self.authorize("hold.manage", self.record_facts(rec), ref=rec.ref)
        with self.writer_lock, self.db.transaction():
            hold = self._holds().active(rec.id)
            if hold is None:
                raise Conflict(f"{rec.ref} 未被冻结")
            self._holds().release(hold.id, reason.strip(), self.user.name, self.now())
            self.log("hold.remove", rec.ref, reason=reason.strip())
        return hold

    def list_holds(self: Archive) -> list[Hold]:
        """Active holds on records the user may see in the catalogue."""
        out = [h for h in self._holds().list_active()
               if self._may("record.read_meta", self.records.get(h.ref))]
        self.log("hold.list", None, count=len(out))
        return out

    # ------------------------------------------------------------------ retention
    def effective_retention(self: Archive, rec: Record) -> str:
        """The record's 保管期限 after appraisals (its 档号 keeps the original code)."""
        return self._holds().effective_retention(rec.id, rec.retention)

    def retention_due(self: Archive, *, as_of: date | None = None) -> list[dict[str, Any]]:
        """Records whose period has run out by `as_of`: a list for appraisal; nothing is deleted."""
        day = as_of or self.today()
        schedule = self.retention_schedule()
        changed = self._holds().effective_map()
        held = self._holds().held_ids()
        out = []
        for rec in self.records.list(status="active"):
            code = changed.get(rec.id, rec.retention)
            end = expires_on(rec.year, code)
            if end is None or day < end or not self._may("record.read_meta", rec):
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
                "batch": self._disposals().open_batch_of(rec.id), "hint": hint,
            })
        self.log("retention.due", None, as_of=day.isoformat(), count=len(out))
        return out

    def extend_retention(self: Archive, ref: str, *, to: str, reason: str) -> dict[str, Any]:
        """After appraisal, keep a record longer: a new, longer period counted from the same year."""
        if not reason or not reason.strip():
            raise ValidationError("延长保管期限必须用 --reason 说明鉴定结论")
        new = parse_retention(to)
        rec = self.records.get(ref.strip())
        self.authorize("hold.manage", self.record_facts(rec), ref=rec.ref)
        with self.writer_lock, self.db.transaction():
            old = self.effective_retention(rec)
            if not is_longer(new, old):
                raise ValidationError(
                    f"{rec.ref} 当前保管期限为{RETENTIONS[old]}，新期限须更长（得到{RETENTIONS[new]}）",
                    expected=f"> {old}", found=new,
                )
            batch = self._disposals().open_batch_of(rec.id)
            if batch is not None:
                raise Conflict(f"{rec.ref} 已列入销毁批次 {batch}，请先处理该批次")
            self._holds().change_retention(rec.id, old, new, reason.strip(), self.user.name,
                                           self.now())
            self.log("retention.extend", rec.ref, old=old, new=new, reason=reason.strip())
        end = expires_on(rec.year, new)
        return {"id": rec.ref, "ref": rec.ref, "old": old, "new": new,
                "expires_on": end.isoformat() if end else None}

    def retention_table(self: Archive) -> list[dict[str, Any]]:
        """The effective retention table (classes and document types) for display."""
        return self.retention_schedule().rows()
