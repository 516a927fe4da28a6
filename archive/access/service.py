"""The outside-access service (`sgz access …`): 外单位查阅 from request to numbered copy.

Outside units are not users: the archivist registers their request (介绍信 filed into the
vault), the head or deputy — never the person who registered it — approves it for a limited
time, and the archivist then issues watermarked view copies and, where approved, numbered
copies. Every plaintext read goes through the kernel's door (audit first); every refusal comes
from the policy module, names its rule and is audited by `authorize`.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from archive.access.requests import AccessRequest, IssuedCopy, Requests
from archive.access.viewcopy import PDF, can_convert, refuse_format, to_pdf
from archive.catalog.flags import Flag
from archive.catalog.records import Component, Record
from archive.clock import STATION_TZ, iso, parse_day
from archive.errors import Conflict, NotFound, UsageError, ValidationError, storage_error
from archive.fs.atomic import read_chunks, write_atomic
from archive.fs.sources import InMemoryFile
from archive.kernel.door import Grant
from archive.kernel.kernel import Kernel
from archive.records.service import RecordService, refuse_inside_home
from archive.safetext import safe_filename

DEFAULT_VALIDITY = timedelta(days=7)
SIGNED_SCAN = "签字扫描件"
STATUSES = ("pending", "approved", "denied", "expired")


@dataclass(frozen=True)
class Issued:
    """What `issue_view_copy` / `issue_copy` produced: the register line and the file."""

    copy: IssuedCopy
    path: Path
    flagged: bool


@dataclass(frozen=True)
class IssuedBytes:
    """What `issue_bytes` produced: the register line and the document, in memory."""

    copy: IssuedCopy
    filename: str
    mime: str
    data: bytes
    flagged: bool


class AccessService:
    """`sgz access request|approve|deny|list|show|view|copy|register|flags` over the kernel."""

    def __init__(self, kernel: Kernel, *, records: RecordService) -> None:
        self._k = kernel
        self._records = records
        self.requests = Requests(kernel.db)

    # ------------------------------------------------------------------ register
    def request(self, *, unit: str, letter: Path | str | InMemoryFile, purpose: str,
                       items: list[str], copy: bool = False, applicant: str = "",
                       phone: str = "", id_doc: str = "", letter_no: str = "") -> AccessRequest:
        """Register an outside request; file its 介绍信 (XZ); return it with its new id."""
        self._k.authorize("access.register")
        unit, purpose = unit.strip(), purpose.strip()
        if not unit:
            raise ValidationError("请用 --unit 写明查阅单位")
        if not purpose:
            raise ValidationError("请用 --purpose 写明查阅目的")
        refs: list[str] = []
        for raw in items:
            if not raw.strip():
                continue
            rec = self._k.records.get(raw.strip())  # NotFound / bad 档号 before anything is written
            if rec.status == "destroyed":
                raise Conflict(f"{rec.ref} 已销毁，仅保留目录条目，不能申请查阅", ref=rec.ref)
            ref = rec.ref
            if ref not in refs:
                refs.append(ref)
        if not refs:
            raise ValidationError("请用 --items 列出申请查阅的档号（以逗号分隔）")
        with self._k.writer_lock:
            filed = self._records.file([letter], category="XZ", title=f"外单位查阅介绍信（{unit}）")[0]
            with self._k.db.transaction():
                no = self.requests.insert(self._k.clock.today().year, {
                    "unit": unit, "purpose": purpose, "applicant": applicant.strip(),
                    "phone": phone.strip(), "id_doc": id_doc.strip(),
                    "letter_no": letter_no.strip(), "letter_ref": filed.ref,
                    "copy_requested": int(copy), "registered_by": self._k.user.name,
                    "registered_at": self._k.clock.iso(),
                }, refs)
                self._k.log("access.request", no, unit=unit, purpose=purpose, items=refs,
                         letter=filed.ref, copy=copy, applicant=applicant.strip() or None)
        return self.requests.get(no)

    # ------------------------------------------------------------------ decide
    def approve(self, no: str, *, until: str | date | None = None,
                        allow_copy: bool = False) -> AccessRequest:
        """Head/deputy approval for a limited time (default 7 days), optionally with copying."""
        req = self.requests.get(no)
        for ref in req.items:
            rec = self._k.records.get(ref)
            if rec.status == "destroyed":  # destroyed since it was registered
                raise Conflict(f"{rec.ref} 已于登记后销毁，不能批准查阅；请驳回本申请并告知申请单位",
                               ref=rec.ref)
            self._k.authorize("access.approve", self._k.facts(rec), ref=req.no,
                           registered_by=req.registered_by, allow_copy=allow_copy)
        self._require_pending(req)
        now = self._k.clock.now()
        if until is None:
            valid_until = now + DEFAULT_VALIDITY
        else:
            day = parse_day(until)
            if day < self._k.clock.today():
                raise ValidationError(f"查阅期限 {day.isoformat()} 已过，请指定今天或以后的日期")
            valid_until = datetime.combine(day, time(23, 59, 59), STATION_TZ)
        with self._k.writer_lock, self._k.db.transaction():
            self.requests.decide(req.id, {
                "status": "approved", "decided_by": self._k.user.name,
                "decided_at": self._k.clock.iso(), "valid_until": iso(valid_until), "copy_approved": int(allow_copy)})
            self._k.log("access.approve", req.no, until=iso(valid_until), allow_copy=allow_copy)
        return self.requests.get(req.no)

    def deny(self, no: str, *, reason: str) -> AccessRequest:
        """Head/deputy refusal; the reason is kept and logged."""
        req = self.requests.get(no)
        self._k.authorize("access.deny", ref=req.no, registered_by=req.registered_by)
        if not reason or not reason.strip():
            raise ValidationError("驳回查阅申请必须用 --reason 说明理由")
        self._require_pending(req)
        with self._k.writer_lock, self._k.db.transaction():
            self.requests.decide(req.id, {
                "status": "denied", "decided_by": self._k.user.name,
                "decided_at": self._k.clock.iso(),
                "decision_note": reason.strip()})
            self._k.log("access.deny", req.no, reason=reason.strip())
        return self.requests.get(req.no)

    @staticmethod
    def _require_pending(req: AccessRequest) -> None:
        if req.status != "pending":
            word = "已批准" if req.status == "approved" else "已驳回"
            raise Conflict(f"查阅申请 {req.no} {word}，不能再次审批", ref=req.no)

    # ------------------------------------------------------------------ read
    def list(self, *, status: str | None = None,
                      year: int | None = None) -> builtins.list[AccessRequest]:
        """Requests, filtered by effective status (pending, approved, denied, expired)."""
        self._k.authorize("access.register")
        if status is not None and status not in STATUSES:
            raise UsageError(f"未知的状态“{status}”，可选：{'、'.join(STATUSES)}")
        now = self._k.clock.iso()
        rows = [r for r in self.requests.find(year=year)
                if status is None or r.effective_status(now) == status]
        self._k.log("access.list", None, status=status, year=year, count=len(rows))
        return rows

    def show(self, no: str) -> dict[str, Any]:
        """One request with the copies issued under it."""
        self._k.authorize("access.register")
        req = self.requests.get(no)
        self._k.log("access.show", req.no)
        return {**req.as_dict(self._k.clock.iso()),
                "copies": [c.as_dict() for c in self.requests.copies(req)]}

    # ------------------------------------------------------------------ serve
    def _outside_ctx(self, req: AccessRequest, rec: Record, reason: str) -> dict[str, Any]:
        now = self._k.clock.iso()
        within = (req.status == "approved" and req.valid_until is not None
                  and req.decided_at is not None and req.decided_at <= now <= req.valid_until)
        return {"approved": req.status == "approved", "within_period": within,
                "in_request": rec.ref in req.items, "copy_approved": req.copy_approved,
                "reason": reason}

    def view(self, no: str, ref: str, out: Path | str, *, reason: str = "",
             force: bool = False, component: int | None = None) -> Issued:
        """A watermarked, copy/print-restricted PDF of one approved item, numbered and registered.

        `component` picks a component by number; by default the filed 签字扫描件 where one
        exists, else the current 正文 (`served_component`)."""
        return self._serve("view", no, ref, out, reason=reason, force=force, component=component)

    def copy(self, no: str, ref: str, out: Path | str, *, reason: str = "",
             force: bool = False, component: int | None = None) -> Issued:
        """A numbered copy (FZ-YYYY-NNNN) of one item where copying was approved (component as
        for `view`)."""
        return self._serve("copy", no, ref, out, reason=reason, force=force, component=component)

    def issue_bytes(self, kind: str, no: str, ref: str, *, reason: str = "",
                    component: int | None = None, to: str = "浏览器下载") -> IssuedBytes:
        """A view copy (`kind` "view") or a numbered copy ("copy") made in memory, for a
        browser download: the same policy, numbering, register line and audit as `view`/`copy`,
        with `to` recorded where the CLI records the output path."""
        if kind not in ("view", "copy"):
            raise UsageError(f"未知的提供方式“{kind}”")
        req, rec, comp, grant = self._prepare(kind, no, ref, reason, component)
        out: dict[str, Any] = {}

        def sink(content: bytes | BinaryIO, fmt: str) -> None:
            out["data"] = content if isinstance(content, bytes) else content.read()
            out["fmt"] = fmt

        issued = self._issue(kind, req, rec, comp, grant, reason=reason, out_label=to, sink=sink)
        name = f"{req.no}-{rec.ref}.pdf" if out["fmt"] == PDF else safe_filename(comp.filename)
        return IssuedBytes(issued, name, out["fmt"], out["data"], grant.flag)

    def _prepare(self, kind: str, no: str, ref: str, reason: str, component: int | None
                 ) -> tuple[AccessRequest, Record, Component, Grant]:
        req = self.requests.get(no)
        rec = self._k.records.get(ref)
        grant = self._k.authorize(f"access.{kind}", rec, ref=req.no,
                                  **self._outside_ctx(req, rec, reason))
        comp = served_component(self._k.records.components(rec.id),
                                self._records.current_component(rec, component),
                                explicit=component is not None)
        if kind == "view" and not can_convert(comp.mime):
            raise refuse_format(comp.mime, comp.filename)
        return req, rec, comp, grant

    def _serve(self, kind: str, no: str, ref: str, out: Path | str, *, reason: str,
               force: bool, component: int | None = None) -> Issued:
        req, rec, comp, grant = self._prepare(kind, no, ref, reason, component)
        as_pdf = _issued_as_pdf(kind, comp.mime)
        dest = Path(out)
        if dest.is_dir():
            dest = dest / (f"{req.no}-{rec.ref}.pdf" if as_pdf else safe_filename(comp.filename))
        want = ".pdf" if as_pdf else Path(comp.filename).suffix.lower()
        if want and dest.suffix.lower() != want:
            raise ValidationError(
                f"{'查阅件' if kind == 'view' else '复制件'}是 {want} 文件（{comp.filename}），"
                f"输出文件名应以 {want} 结尾：{dest.name}", found=dest.name)
        refuse_inside_home(self._k.home, dest)
        if not dest.parent.is_dir():  # as `get`: before a number is taken or anything read
            raise NotFound(f"目标文件夹不存在：{dest.parent}", ref=str(dest.parent))
        if dest.exists() and not force:
            raise Conflict(f"{dest} 已存在；如确需覆盖请加 --force")
        part = dest.with_name(f".{dest.name}.sgz-part")

        def sink(content: bytes | BinaryIO, fmt: str) -> None:
            write_atomic(part, content if isinstance(content, bytes) else read_chunks(content))

        try:
            issued = self._issue(kind, req, rec, comp, grant, reason=reason,
                                 out_label=str(dest.resolve()), sink=sink,
                                 publish=lambda: os.replace(part, dest))
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise
        return Issued(issued, dest, grant.flag)

    def _issue(self, kind: str, req: AccessRequest, rec: Record, comp: Component, grant: Grant,
               *, reason: str, out_label: str, sink: Callable[[bytes | BinaryIO, str], None],
               publish: Callable[[], None] | None = None) -> IssuedCopy:
        """Number, decrypt (audit first), watermark, hand to `sink`, register; one writer."""
        action = f"access.{kind}"
        today = self._k.clock.today()
        with self._k.writer_lock:
            reqs = self.requests
            copy_no = reqs.next_view_no(req) if kind == "view" else reqs.next_copy_no(today.year)
            detail = {"request": req.no, "unit": req.unit, "copy_no": copy_no,
                      "out": out_label, "reason": reason or None, "flagged": grant.flag}
            stream = self._k.door.open(grant, rec, comp, action=action, detail=detail)
            try:
                with stream:
                    if kind == "view":
                        pdf = to_pdf(stream.read(), comp.mime, comp.filename,
                                     tmp_root=self._k.objects.session_dir())
                        lines = [f"查阅单位：{req.unit}", f"查阅申请：{req.no}　查阅件编号：{copy_no}",
                                 f"日期：{today.isoformat()}　仅供查阅　不得复制、打印"]
                        fmt = PDF
                        sink(_watermark(pdf, lines, copy_no, False), fmt)
                    elif _issued_as_pdf(kind, comp.mime):
                        # a Word document or an image is copied as a PDF that carries its
                        # number, as a PDF is: every copy handed out says which copy it is
                        data = stream.read()
                        pdf = data if comp.mime == PDF else to_pdf(
                            data, comp.mime, comp.filename, tmp_root=self._k.objects.session_dir())
                        lines = [f"复制件 编号 {copy_no}", f"{req.unit}　{req.no}",
                                 f"日期：{today.isoformat()}"]
                        fmt = PDF
                        sink(_watermark(pdf, lines, copy_no, True), fmt)
                    else:
                        fmt = comp.mime
                        sink(stream, fmt)
                with self._k.db.transaction():
                    reqs.add_copy(req, kind=kind, no=copy_no, ref=rec.ref, seq=comp.seq,
                                  fmt=fmt, when=self._k.clock.iso(), by=self._k.user.name,
                                  out=out_label)
                    seq = self._k.log(f"{action}.issued", req.no, copy_no=copy_no, item=rec.ref)
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    self._k.log(f"{action}.failed", req.no, copy_no=copy_no, item=rec.ref)
                if isinstance(exc, OSError):  # a full or read-only disk: no traceback
                    raise storage_error(exc, "制作查阅件" if kind == "view" else "制作复制件") \
                        from None
                raise
            if publish is not None:
                publish()
            if grant.flag:
                self._k.flag(action, rec.ref, grant.rule, reason, seq)
        return next(c for c in reqs.copies(req) if c.no == copy_no)

    # ------------------------------------------------------------------ register document
    def register_doc(self, *, year: int | None = None) -> tuple[bytes, int]:
        """The 档案查阅申请与登记表 for the year's requests, one form per request; (docx, count)."""
        self._k.authorize("access.register")
        year = year or self._k.clock.today().year
        reqs = self.requests.find(year=year)
        if not reqs:
            raise NotFound(f"{year} 年没有查阅申请")
        rows = []
        for req in reqs:
            items = []
            copies = self.requests.copies(req)
            for ref in req.items:
                rec = self._k.records.get(ref)
                issued = [c.no for c in copies if c.ref == ref]
                items.append({"ref": ref, "title": rec.title, "pages": rec.pages,
                              "note": "、".join(issued)})
            rows.append((req, items, self._display_name(req.registered_by),
                         self._display_name(req.decided_by) if req.decided_by else ""))
        from archive.access.register_doc import render_register  # docx templating: lazily

        blob = render_register(rows, self._k.station.template_vars(), today=self._k.clock.today())
        self._k.log("access.register_doc", None, year=year, count=len(reqs))
        return blob, len(reqs)

    def _display_name(self, name: str) -> str:
        try:
            u = self._k.users.get(name, active_only=False)
        except NotFound:  # the recovery account is not a catalogue user
            return name
        return u.display or u.name

    # ------------------------------------------------------------------ flags
    def flags(self, *, include_acked: bool = False) -> builtins.list[Flag]:
        """Events flagged for the head: reasoned reads of service records, referral overrides."""
        self._k.authorize("audit.details")
        flags = self._k.flags.list(include_acked=include_acked)
        self._k.log("access.flags", None, count=len(flags))
        return flags

    def ack_flag(self, flag_id: int) -> None:
        """The head has seen a flagged event."""
        self._k.authorize("audit.details")
        with self._k.writer_lock, self._k.db.transaction():
            self._k.flags.ack(flag_id, by=self._k.user.name, when=self._k.clock.iso())
            self._k.log("access.flag.ack", None, flag=flag_id)


def _issued_as_pdf(kind: str, mime: str) -> bool:
    """A view copy is always a PDF; a copy is one when it can be (PDF, Word, images): marked
    with its number. Other formats (plain text, spreadsheets) are copied as they are."""
    return kind == "view" or mime == PDF or can_convert(mime)


def _watermark(pdf: bytes, lines: builtins.list[str], copy_no: str, printable: bool) -> bytes:
    """Stamp `pdf`; a copy (printable) then has its restrictions lifted with its own password."""
    import pikepdf  # the PDF libraries load only for commands that draw PDFs

    from archive.pdf.watermark import make_view_copy

    owner = secrets.token_hex(16).encode()
    out = io.BytesIO()
    make_view_copy(io.BytesIO(pdf), out, lines=lines, copy_id=copy_no, owner_password=owner)
    if not printable:
        return out.getvalue()
    plain = io.BytesIO()
    with pikepdf.open(io.BytesIO(out.getvalue()), password=owner.decode()) as doc:
        doc.save(plain)
    return plain.getvalue()


def served_component(comps: Sequence[Component], current: Component, *,
                     explicit: bool) -> Component:
    """What an outside reader is shown: the asked-for component; else the latest filed
    签字扫描件 (the signed paper is the record), else the current 正文."""
    if explicit:
        return current
    scans = [c for c in comps if c.kind == SIGNED_SCAN]
    return scans[-1] if scans else current
