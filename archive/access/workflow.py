# mypy: disable-error-code="misc"
# (Archive mixins annotate `self: Archive`; mypy calls that an "erased type of self".)
"""Archive methods for outside access requests and people's rights over their data (issue #6).

Outside units are not users: the archivist registers their request (介绍信 filed into the
vault), the head or deputy — never the person who registered it — approves it for a limited
time, and the archivist then issues watermarked view copies and, where approved, numbered
copies. Every plaintext read goes through `open_plaintext` (audit first); every refusal comes
from the policy module, names its rule and is audited by `authorize`.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.access.requests import AccessRequest, Flag, IssuedCopy, Requests
from archive.access.rights import PeopleRightsMixin
from archive.errors import Conflict, UsageError, ValidationError

if TYPE_CHECKING:
    from archive.catalog.records import Record
    from archive.core import Archive

BEIJING = timezone(timedelta(hours=8))  # China has one time zone and no DST
DEFAULT_VALIDITY = timedelta(days=7)
STATUSES = ("pending", "approved", "denied", "expired")


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_until(text: str | date) -> date:
    if isinstance(text, date):
        return text
    from archive.filing import parse_date

    d8 = parse_date(text)
    return date(int(d8[:4]), int(d8[4:6]), int(d8[6:]))


@dataclass(frozen=True)
class Issued:
    """What `issue_view_copy` / `issue_copy` produced: the register line and the file."""

    copy: IssuedCopy
    path: Path
    flagged: bool


class OutsideAccessMixin:
    """`sgz access …`: register, approve, deny, list, show, view, copy, register document, flags."""

    @property
    def access_requests(self: Archive) -> Requests:
        reqs = self.__dict__.get("_access_requests")
        if reqs is None:
            reqs = self.__dict__["_access_requests"] = Requests(self.db)
        return reqs

    def local_today(self: Archive) -> date:
        """Today in the station's time zone (Beijing), for dates people read."""
        return self.clock().astimezone(BEIJING).date()

    def _flag(self: Archive, action: str, ref: str, rule: str, reason: str,
              audit_seq: int | None) -> int:
        """Put an event on the head's list (`sgz access flags`)."""
        with self.db.transaction():
            return self.access_requests.add_flag(at=self.now(), actor=self.user.name,
                                                 action=action, ref=ref, rule=rule,
                                                 reason=reason, audit_seq=audit_seq)

    # ------------------------------------------------------------------ register
    def request_access(self: Archive, *, unit: str, letter: Path | str, purpose: str,
                       items: list[str], copy: bool = False, applicant: str = "",
                       phone: str = "", id_doc: str = "", letter_no: str = "") -> AccessRequest:
        """Register an outside request; file its 介绍信 (XZ); return it with its new id."""
        self.authorize("access.register")
        unit, purpose = unit.strip(), purpose.strip()
        if not unit:
            raise ValidationError("请用 --unit 写明查阅单位")
        if not purpose:
            raise ValidationError("请用 --purpose 写明查阅目的")
        refs: list[str] = []
        for raw in items:
            if not raw.strip():
                continue
            ref = self.records.get(raw.strip()).ref  # NotFound / bad 档号 before anything is written
            if ref not in refs:
                refs.append(ref)
        if not refs:
            raise ValidationError("请用 --items 列出申请查阅的档号（以逗号分隔）")
        with self.writer_lock:
            filed = self.file([letter], category="XZ", title=f"外单位查阅介绍信（{unit}）")[0]
            with self.db.transaction():
                no = self.access_requests.insert(self.local_today().year, {
                    "unit": unit, "purpose": purpose, "applicant": applicant.strip(),
                    "phone": phone.strip(), "id_doc": id_doc.strip(),
                    "letter_no": letter_no.strip(), "letter_ref": filed.ref,
                    "copy_requested": int(copy), "registered_by": self.user.name,
                    "registered_at": self.now(),
                }, refs)
                self.log("access.request", no, unit=unit, purpose=purpose, items=refs,
                         letter=filed.ref, copy=copy, applicant=applicant.strip() or None)
        return self.access_requests.get(no)

    # ------------------------------------------------------------------ decide
    def approve_request(self: Archive, no: str, *, until: str | date | None = None,
                        allow_copy: bool = False) -> AccessRequest:
        """Head/deputy approval for a limited time (default 7 days), optionally with copying."""
        req = self.access_requests.get(no)
        for ref in req.items:
            rec = self.records.get(ref)
            self.authorize("access.approve", self.record_facts(rec), ref=req.no,
                           registered_by=req.registered_by, allow_copy=allow_copy)
        self._require_pending(req)
        now = self.clock()
        if until is None:
            valid_until = now + DEFAULT_VALIDITY
        else:
            day = _parse_until(until)
            if day < self.local_today():
                raise ValidationError(f"查阅期限 {day.isoformat()} 已过，请指定今天或以后的日期")
            valid_until = datetime.combine(day, time(23, 59, 59), BEIJING)
        with self.writer_lock, self.db.transaction():
            self.access_requests.decide(req.id, {
                "status": "approved", "decided_by": self.user.name, "decided_at": self.now(),
                "valid_until": _iso(valid_until), "copy_approved": int(allow_copy)})
            self.log("access.approve", req.no, until=_iso(valid_until), allow_copy=allow_copy)
        return self.access_requests.get(req.no)

    def deny_request(self: Archive, no: str, *, reason: str) -> AccessRequest:
        """Head/deputy refusal; the reason is kept and logged."""
        req = self.access_requests.get(no)
        self.authorize("access.deny", ref=req.no, registered_by=req.registered_by)
        if not reason or not reason.strip():
            raise ValidationError("驳回查阅申请必须用 --reason 说明理由")
        self._require_pending(req)
        with self.writer_lock, self.db.transaction():
            self.access_requests.decide(req.id, {
                "status": "denied", "decided_by": self.user.name, "decided_at": self.now(),
                "decision_note": reason.strip()})
            self.log("access.deny", req.no, reason=reason.strip())
        return self.access_requests.get(req.no)

    @staticmethod
    def _require_pending(req: AccessRequest) -> None:
        if req.status != "pending":
            word = "已批准" if req.status == "approved" else "已驳回"
            raise Conflict(f"查阅申请 {req.no} {word}，不能再次审批", ref=req.no)

    # ------------------------------------------------------------------ read
    def list_requests(self: Archive, *, status: str | None = None,
                      year: int | None = None) -> list[AccessRequest]:
        """Requests, filtered by effective status (pending, approved, denied, expired)."""
        self.authorize("access.register")
        if status is not None and status not in STATUSES:
            raise UsageError(f"未知的状态“{status}”，可选：{'、'.join(STATUSES)}")
        now = self.now()
        rows = [r for r in self.access_requests.find(year=year)
                if status is None or r.effective_status(now) == status]
        self.log("access.list", None, status=status, year=year, count=len(rows))
        return rows

    def show_request(self: Archive, no: str) -> dict[str, Any]:
        """One request with the copies issued under it."""
        self.authorize("access.register")
        req = self.access_requests.get(no)
        self.log("access.show", req.no)
        return {**req.as_dict(self.now()),
                "copies": [c.as_dict() for c in self.access_requests.copies(req)]}

    # ------------------------------------------------------------------ serve
    def _outside_ctx(self: Archive, req: AccessRequest, rec: Record, reason: str) -> dict[str, Any]:
        now = self.now()
        within = (req.status == "approved" and req.valid_until is not None
                  and req.decided_at is not None and req.decided_at <= now <= req.valid_until)
        return {"approved": req.status == "approved", "within_period": within,
                "in_request": rec.ref in req.items, "copy_approved": req.copy_approved,
                "reason": reason}

    def issue_view_copy(self: Archive, no: str, ref: str, out: Path | str, *, reason: str = "",
                        force: bool = False) -> Issued:
        """A watermarked, copy/print-restricted PDF of one approved item, numbered and registered."""
        return self._serve("view", no, ref, out, reason=reason, force=force)

    def issue_copy(self: Archive, no: str, ref: str, out: Path | str, *, reason: str = "",
                   force: bool = False) -> Issued:
        """A numbered copy (FZ-YYYY-NNNN) of one item where copying was approved."""
        return self._serve("copy", no, ref, out, reason=reason, force=force)

    def _serve(self: Archive, kind: str, no: str, ref: str, out: Path | str, *, reason: str,
               force: bool) -> Issued:
        from archive.access.viewcopy import PDF, can_convert, refuse_format, to_pdf
        from archive.pdf.watermark import make_view_copy

        req = self.access_requests.get(no)
        rec = self.records.get(ref)
        action = f"access.{kind}"
        decision = self.authorize(action, self.record_facts(rec), ref=req.no,
                                  **self._outside_ctx(req, rec, reason))
        comp = self._current_component(rec)
        if kind == "view" and not can_convert(comp.mime):
            raise refuse_format(comp.mime, comp.filename)
        dest = Path(out)
        if dest.is_dir():
            dest = dest / (f"{req.no}-{rec.ref}.pdf" if kind == "view" else comp.filename)
        self._refuse_inside_home(dest)
        if dest.exists() and not force:
            raise Conflict(f"{dest} 已存在；如确需覆盖请加 --force")
        today = self.local_today()
        part = dest.with_name(f".{dest.name}.sgz-part")
        with self.writer_lock:
            reqs = self.access_requests
            copy_no = reqs.next_view_no(req) if kind == "view" else reqs.next_copy_no(today.year)
            detail = {"request": req.no, "unit": req.unit, "copy_no": copy_no,
                      "out": str(dest.resolve()), "reason": reason or None,
                      "flagged": bool(decision.flag)}
            stream = self.open_plaintext(rec, comp, action=action, detail=detail)
            try:
                with stream:
                    if kind == "view":
                        pdf = to_pdf(stream.read(), comp.mime, comp.filename,
                                     tmp_root=self.objects.session_dir())
                        lines = [f"查阅单位：{req.unit}", f"查阅申请：{req.no}　查阅件编号：{copy_no}",
                                 f"日期：{today.isoformat()}　仅供查阅　不得复制、打印"]
                        _write_bytes(part, _watermark(make_view_copy, pdf, lines, copy_no, False))
                        fmt = PDF
                    elif comp.mime == PDF:
                        lines = [f"复制件 编号 {copy_no}", f"{req.unit}　{req.no}",
                                 f"日期：{today.isoformat()}"]
                        _write_bytes(part, _watermark(make_view_copy, stream.read(), lines,
                                                      copy_no, True))
                        fmt = PDF
                    else:
                        _write_stream(part, stream)
                        fmt = comp.mime
                with self.db.transaction():
                    reqs.add_copy(req, kind=kind, no=copy_no, ref=rec.ref, seq=comp.seq,
                                  fmt=fmt, when=self.now(), by=self.user.name,
                                  out=str(dest.resolve()))
                    seq = self.log(f"{action}.issued", req.no, copy_no=copy_no, item=rec.ref)
            except BaseException:
                with contextlib.suppress(OSError):
                    part.unlink()
                with contextlib.suppress(Exception):
                    self.log(f"{action}.failed", req.no, copy_no=copy_no, item=rec.ref)
                raise
            os.replace(part, dest)
            if decision.flag:
                self._flag(action, rec.ref, decision.rule, reason, seq)
        issued = next(c for c in reqs.copies(req) if c.no == copy_no)
        return Issued(issued, dest, bool(decision.flag))

    # ------------------------------------------------------------------ register document
    def access_register_doc(self: Archive, *, year: int | None = None) -> tuple[bytes, int]:
        """The 档案查阅申请与登记表 for the year's requests, one form per request; (docx, count)."""
        from archive.access.register_doc import render_register

        self.authorize("access.register")
        year = year or self.local_today().year
        reqs = self.access_requests.find(year=year)
        if not reqs:
            from archive.errors import NotFound

            raise NotFound(f"{year} 年没有查阅申请")
        rows = []
        for req in reqs:
            items = []
            copies = self.access_requests.copies(req)
            for ref in req.items:
                rec = self.records.get(ref)
                issued = [c.no for c in copies if c.ref == ref]
                items.append({"ref": ref, "title": rec.title, "pages": rec.pages,
                              "note": "、".join(issued)})
            rows.append((req, items, self._display_name(req.registered_by)))
        blob = render_register(rows, self.station.template_vars(), today=self.local_today())
        self.log("access.register_doc", None, year=year, count=len(reqs))
        return blob, len(reqs)

    def _display_name(self: Archive, name: str) -> str:
        from archive.errors import NotFound

        try:
            u = self.users.get(name, active_only=False)
        except NotFound:  # the recovery account is not a catalogue user
            return name
        return u.display or u.name

    # ------------------------------------------------------------------ flags
    def list_flags(self: Archive, *, include_acked: bool = False) -> list[Flag]:
        """Events flagged for the head: reasoned reads of service records, referral overrides."""
        self.authorize("audit.details")
        flags = self.access_requests.flags(include_acked=include_acked)
        self.log("access.flags", None, count=len(flags))
        return flags

    def ack_flag(self: Archive, flag_id: int) -> None:
        """The head has seen a flagged event."""
        self.authorize("audit.details")
        with self.writer_lock, self.db.transaction():
            self.access_requests.ack_flag(flag_id, by=self.user.name, when=self.now())
            self.log("access.flag.ack", None, flag=flag_id)


def _watermark(make_view_copy: Any, pdf: bytes, lines: list[str], copy_no: str,
               printable: bool) -> bytes:
    """Stamp `pdf`; a copy (printable) then has its restrictions lifted with its own password."""
    import pikepdf

    owner = secrets.token_hex(16).encode()
    out = io.BytesIO()
    make_view_copy(io.BytesIO(pdf), out, lines=lines, copy_id=copy_no, owner_password=owner)
    if not printable:
        return out.getvalue()
    plain = io.BytesIO()
    with pikepdf.open(io.BytesIO(out.getvalue()), password=owner.decode()) as doc:
        doc.save(plain)
    return plain.getvalue()


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_stream(path: Path, stream: Any) -> None:
    with open(path, "wb") as f:
        while chunk := stream.read(1 << 20):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())


class AccessWorkflowMixin(OutsideAccessMixin, PeopleRightsMixin):
    """Methods of `Archive` for `sgz access`, `subject`, `refer`, `export` (see archive/core.py)."""
