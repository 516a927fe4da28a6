"""People's rights over their data: subject export (PIPL art. 45), referral, anonymised export.

Every file written here came through the kernel's door (audit entry first). Exports go to a
new or empty folder outside the vault, each with an index `清单.csv` (UTF-8 with BOM, so Excel
and WPS open it). Exported file names are built from the 档号, never from the client's file
name alone, and audit `ref`s are 档号s only: household ids and receiving bodies stay in the
encrypted audit detail.

Referral consent rule (附件2 八.5): the household must have a live service (FW) record whose
title contains “转介同意书” and that is a signed scan — it has a 签字扫描件 component, or its
main component is a PDF or an image. Without one, referral is refused unless a life-safety
override reason is given; the override is allowed, logged and flagged for the head.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.anonymize.names import Harvest, KnownNames, looks_like_person
from archive.anonymize.report import Report
from archive.catalog.records import Component, Record
from archive.errors import Conflict, NotFound, ValidationError, storage_error
from archive.fs.atomic import ensure_private_dir, read_chunks, write_atomic
from archive.kernel.door import Grant
from archive.kernel.kernel import Kernel
from archive.records.service import RecordService, refuse_inside_home
from archive.safetext import safe_filename

INDEX_NAME = "清单.csv"
CONSENT_TITLE = "转介同意书"
_SCAN_MIMES = ("application/pdf", "image/jpeg", "image/png", "image/tiff", "image/gif",
               "image/bmp")
_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass
class ExportResult:
    """An export folder: the files written (with their 档号), what was left out, warnings."""

    out_dir: Path
    index: Path
    files: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    flagged: bool = False
    consent_ref: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "index": str(self.index), "files": self.files,
                "skipped": self.skipped, "warnings": self.warnings, "flagged": self.flagged,
                "consent_ref": self.consent_ref}


def safe_name(text: str) -> str:
    """A file name that is valid on Windows too, and short enough for any file system."""
    return safe_filename(text, fallback="file")


def _prepare_dir(home: Any, out_dir: Path | str) -> Path:
    d = Path(out_dir)
    refuse_inside_home(home, d)
    if d.exists():
        if not d.is_dir():
            raise ValidationError(f"{d} 不是文件夹")
        if any(d.iterdir()):
            raise Conflict(f"导出文件夹 {d} 不是空的；请指定新的或空的文件夹")
    try:
        ensure_private_dir(d)  # plaintext inside: 0700
    except OSError as exc:
        raise storage_error(exc, "创建导出文件夹") from None
    return d


def _write_index(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    try:
        write_atomic(path, ("\ufeff" + buf.getvalue()).encode("utf-8"))
    except OSError as exc:
        raise storage_error(exc, "写入清单") from None


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


class RightsService:
    """`sgz subject export`, `sgz refer`, `sgz export --anonymize` over the kernel."""

    def __init__(self, kernel: Kernel, *, records: RecordService) -> None:
        self._k = kernel
        self._records = records

    def is_consent(self, rec: Record) -> bool:
        """A filed, signed 转介同意书 (see the module docstring for the rule)."""
        if rec.status != "active" or rec.cls != "FW" or CONSENT_TITLE not in rec.title:
            return False
        comps = self._k.records.components(rec.id)
        if any(c.kind == "签字扫描件" for c in comps):
            return True
        return self._records.current_component(rec).mime in _SCAN_MIMES

    def _household_records(self, household: str) -> list[Record]:
        household = household.strip()
        if not household:
            raise ValidationError("请用 --household 指定户号")
        recs = list(self._k.records.list(household=household, status="active"))
        if not recs:
            raise NotFound("该户号下没有在库的档案")
        return recs

    def _export_components(self, result: ExportResult, plan: list[tuple[Record, Grant]], *,
                           action: str, detail: dict[str, Any]) -> None:
        """Every component of every record, through the audited door, into result.out_dir."""
        n = 0
        for rec, grant in plan:
            for comp in self._k.records.components(rec.id):
                n += 1
                name = safe_name(f"{n:03d}_{rec.ref}_{comp.seq}_{comp.filename}")
                dest = result.out_dir / name
                stream = self._k.door.open(grant, rec, comp, action=action,
                                           detail={**detail, "out": str(dest.resolve())})
                try:
                    size = write_atomic(dest, read_chunks(stream))
                except OSError as exc:
                    raise storage_error(exc, "导出") from None
                result.files.append({"ref": rec.ref, "title": rec.title, "date": rec.date,
                                     "seq": comp.seq, "kind": comp.kind, "file": name,
                                     "size": size})

    # ------------------------------------------------------------------ subject export
    def export_subject(self, household: str, out_dir: Path | str, *,
                       reason: str) -> ExportResult:
        """All live service records of a household, for the subject (PIPL art. 45).

        A read like any other: a reason is required and logged with every file, the user must
        be allowed both to hand the records out (record.export_subject) and to read them
        (record.read, the rule `get` applies), and a read `get` would flag is flagged here too.
        """
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError("为服务对象导出资料必须用 --reason 说明事由（如：服务对象本人申请）")
        recs = self._household_records(household)
        service = [r for r in recs if r.cls == "FW"]
        if not service:
            raise NotFound("该户号下没有服务档案可供导出")
        # every refusal before any plaintext is written
        plan: list[tuple[Record, Grant]] = []
        reads: dict[str, Grant] = {}
        for rec in service:
            plan.append((rec, self._k.authorize("record.export_subject", rec, reason=reason)))
            reads[rec.ref] = self._k.authorize("record.read", rec, reason=reason)
        d = _prepare_dir(self._k.home, out_dir)
        result = ExportResult(d, d / INDEX_NAME)
        result.skipped = [{"ref": r.ref, "why": "非服务档案（不属于服务对象本人资料）"}
                          for r in recs if r.cls != "FW"]
        hh = household.strip()
        self._k.log("subject.export.begin", None, household=hh, count=len(service),
                    reason=reason, out=str(d.resolve()))
        self._export_components(result, plan, action="record.export_subject",
                                detail={"household": hh, "reason": reason})
        _write_index(result.index, ["序号", "档号", "题名", "日期", "组件", "类型", "文件", "字节数"],
                     [[i, f["ref"], f["title"], f["date"], f["seq"], f["kind"], f["file"],
                       f["size"]] for i, f in enumerate(result.files, 1)])
        seq = self._k.log("subject.export", None, household=hh, files=len(result.files),
                          reason=reason, out=str(d.resolve()))
        for rec in service:  # where `get` would flag the read, so does the export
            grant = reads[rec.ref]
            if grant.flag:
                result.flagged = True
                self._k.flag("record.export_subject", rec.ref, grant.rule, reason, seq)
        return result

    # ------------------------------------------------------------------ referral
    def refer(self, household: str, *, to: str, out_dir: Path | str,
              override_reason: str = "") -> ExportResult:
        """Export a household's service records to a receiving body (附件2 八.5)."""
        to = to.strip()
        if not to:
            raise ValidationError("请用 --to 写明接收机构")
        recs = [r for r in self._household_records(household) if r.cls == "FW"]
        if not recs:
            raise NotFound("该户号下没有服务档案可供转介")
        consent = next((r for r in reversed(recs) if self.is_consent(r)), None)
        decisions = [self._k.authorize("record.refer", rec, consent_filed=consent is not None,
                                       override_reason=override_reason) for rec in recs]
        flagged = any(dec.flag for dec in decisions)
        d = _prepare_dir(self._k.home, out_dir)
        result = ExportResult(d, d / INDEX_NAME, flagged=flagged,
                              consent_ref=consent.ref if consent else None)
        detail = {"household": household.strip(), "to": to, "consent": result.consent_ref,
                  "override_reason": override_reason.strip() or None, "flagged": flagged}
        self._k.log("record.refer.begin", None, **detail, count=len(recs), out=str(d.resolve()))
        self._export_components(result, list(zip(recs, decisions, strict=True)),
                                action="record.refer", detail=detail)
        basis = (f"已存档转介同意书 {consent.ref}" if consent
                 else "未经同意（涉及人身安全，站长关注）")
        _write_index(result.index, ["序号", "档号", "题名", "日期", "组件", "类型", "文件", "字节数",
                                    "接收机构", "依据"],
                     [[i, f["ref"], f["title"], f["date"], f["seq"], f["kind"], f["file"],
                       f["size"], to, basis] for i, f in enumerate(result.files, 1)])
        seq = self._k.log("record.refer", None, **detail, files=len(result.files))
        if flagged:
            rule = next(dec.rule for dec in decisions if dec.flag)
            self._k.flag("record.refer", household.strip(), rule, override_reason.strip(), seq)
        return result

    # ------------------------------------------------------------------ anonymised export
    def export_anonymized(self, refs: Sequence[str], out_dir: Path | str, *,
                          names: Sequence[str] = (), reason: str = "") -> ExportResult:
        """Masked copies (names, ID numbers, phones, addresses) of PDF, .docx and text records."""
        if not refs:
            raise ValidationError("请至少指定一个档号")
        steps: list[tuple[Record, Component, Grant]] = []
        for raw in refs:
            rec = self._k.records.get(raw)
            if rec.status != "active":
                raise Conflict(f"{rec.ref} 已销毁，只保留目录信息")
            dec = self._k.authorize("record.export_anon", rec, reason=reason)
            comp = self._records.current_component(rec)
            if comp.mime not in ("application/pdf", _DOCX) and not comp.mime.startswith("text/"):
                raise ValidationError(
                    f"{rec.ref} 的格式（{comp.mime}）无法匿名化：仅支持 PDF、Word（.docx）和文本",
                    ref=rec.ref, found=comp.mime)
            steps.append((rec, comp, dec))
        d = _prepare_dir(self._k.home, out_dir)
        result = ExportResult(d, d / INDEX_NAME)
        extra = [n.strip() for n in names if n and n.strip()]
        staff_names = [u.display for u in self._k.users.list(include_removed=True) if u.display]
        for rec, comp, dec in steps:
            known = self.known_names(rec, extra=extra, staff=staff_names)
            ext = {"application/pdf": "pdf", _DOCX: "docx"}.get(comp.mime, "txt")
            name = safe_name(f"{rec.ref}.匿名化.{ext}")
            dest = d / name
            stream = self._k.door.open(dec, rec, comp, action="record.export_anon", detail={
                "out": str(dest.resolve()), "reason": reason or None,
                "names": sum(len(v) for v in known.people().values()), "flagged": dec.flag})
            with stream:
                data = stream.read()
            buf = io.BytesIO()
            rep: Report
            # imported here: the PDF and Word libraries cost every other command ~0.2 s
            from archive.anonymize.docx import anonymize_docx
            from archive.anonymize.pdf import anonymize_pdf, anonymize_text

            if ext == "pdf":
                rep = anonymize_pdf(io.BytesIO(data), buf, known=known)
            elif ext == "docx":
                rep = anonymize_docx(io.BytesIO(data), buf, known=known)
            else:
                text, rep = anonymize_text(_decode_text(data), known=known)
                buf.write(text.encode("utf-8"))
            del data
            try:
                size = write_atomic(dest, buf.getvalue())
            except OSError as exc:
                raise storage_error(exc, "匿名化导出") from None
            masked = {k: v for k, v in sorted(rep.masked.items()) if v}
            result.warnings += [f"{rec.ref}：{w}" for w in rep.warnings]
            result.files.append({"ref": rec.ref, "file": name, "size": size, "masked": masked,
                                 "summary": rep.summary(), "warnings": list(rep.warnings)})
            seq = self._k.log("record.export_anon.done", rec.ref, masked=masked,
                              warnings=len(rep.warnings))
            if dec.flag:
                result.flagged = True
                self._k.flag("record.export_anon", rec.ref, dec.rule, reason, seq)
        _write_index(result.index, ["序号", "档号", "文件", "字节数", "已遮蔽"],
                     [[i, f["ref"], f["file"], f["size"], f["summary"]]
                      for i, f in enumerate(result.files, 1)])
        return result

    def known_names(self, rec: Record, *, extra: Sequence[str] = (),
                    staff: Sequence[str] = ()) -> KnownNames:
        """Every name the catalogue knows for `rec`: the household id and the client names its
        catalogue fields give (title, note, and the titles of the household's other records),
        the station's staff (station.toml) and users' display names, and `extra` (--names)."""
        harvest = Harvest()
        clients: list[str] = []
        texts = [rec.title, rec.note]
        if rec.household:
            clients.append(rec.household)
            texts += [r.title for r in self._k.records.list(household=rec.household, status=None)
                      if r.id != rec.id]
        for text in texts:
            if not text:
                continue
            harvest.text(text)
            clients += _title_names(text)
        clients += list(harvest.names)
        base = KnownNames.from_station(self._k.station, clients=clients,
                                       places=list(harvest.places), extra=extra)
        return KnownNames(base.clients, [*base.staff, *staff], base.places, base.extra)


# "孙桂芝家庭走访记录", "司马蓝锦户入户调查", "王小明个案记录": a name leading a title
_TITLE_NAME = re.compile(r"^(?P<n>[\u4e00-\u9fff]{2,4}?)(?:家庭|一家|户|个案|的|同志|老人|儿童|入户|走访|"
                         r"探访|案主|服务|求助|申请|救助)")


def _title_names(text: str) -> list[str]:
    """A person's name at the head of a catalogue title, if it looks like one."""
    m = _TITLE_NAME.match(text.strip())
    if m and looks_like_person(m.group("n")):
        return [m.group("n")]
    return []
