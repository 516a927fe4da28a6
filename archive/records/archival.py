"""The archival PDF (归档章, DA/T 22—2015): a stamped PDF/A-2b rendition filed as a component.

The original component is never altered: its rendition is a new component of kind 归档PDF,
encrypted and fixity-protected like every other. Rendering a .docx needs LibreOffice (~1.7 s),
so the step is deferred: `sgz file` stamps at once only when it filed a few items (≤ 5), and
leaves a bulk import pending; `sgz stamp --pending` makes the pending ones; `sgz check` counts them. An item is
pending when its current 正文/更正版本 has no rendition yet (a correction makes it pending again).

The original's plaintext comes only through the kernel's door, under a `record.archive_pdf`
grant (archivists and the head any time; the filer for what they have just filed), and exists
only in memory and in the kernel's private staging session folder while LibreOffice and the
stamp run. The stamp's six fields are kept as metadata here (and `页数` in the catalogue).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from archive.catalog.records import Component, Record
from archive.errors import AccessDenied, ArchiveError, Conflict
from archive.kernel.kernel import Kernel
from archive.pdf import pdfa
from archive.pdf.stamp import StampFields, stamp_pdf
from archive.records.service import ARCHIVE_PDF_NOW, FileResult, RecordService
from archive.safetext import safe_filename
from archive.search.limits import DEFAULT_LIMITS

OWNER = "archival_pdf"
VERSION = 1
SCHEMA = [
    """CREATE TABLE archival_pdfs (
        record_id INTEGER PRIMARY KEY REFERENCES records(id),
        source_seq INTEGER NOT NULL,          -- the component the rendition was made from
        rendition_seq INTEGER,                -- the 归档PDF component (NULL: failed)
        fonds TEXT NOT NULL DEFAULT '', year TEXT NOT NULL DEFAULT '',
        item_no TEXT NOT NULL DEFAULT '', org TEXT NOT NULL DEFAULT '',
        retention TEXT NOT NULL DEFAULT '', pages INTEGER,
        top_mm REAL, clear INTEGER,
        error TEXT NOT NULL DEFAULT '',       -- why it could not be made (kept until retried)
        made_at TEXT NOT NULL, made_by TEXT NOT NULL
    )""",
]
RENDERABLE = frozenset({".pdf"}) | pdfa.IMAGE_SUFFIXES | pdfa.OFFICE_SUFFIXES
# rendering holds the original and its rendition in memory (several times its size): a bigger
# original (a 1 GiB scan) gets no rendition, so memory never grows with file size
MAX_SOURCE = DEFAULT_LIMITS.max_input

Progress = Callable[[int, int, str], None]  # done, total, 档号


@dataclass(frozen=True)
class StampOutcome:
    ref: str
    ok: bool
    seq: int | None = None  # the 归档PDF component
    pages: int | None = None
    clear: bool = True  # False: the stamp had to cover text (归档章压字)
    error: str = ""


def ensure_schema(k: Kernel, owner: str, version: int, schema: Sequence[str]) -> None:
    """Install a service's tables once, under the writer lock (two processes may start)."""
    row = k.db.execute("SELECT version FROM schema_versions WHERE owner = ?",
                       (owner,)).fetchone()
    if row is None or row[0] != version:
        with k.writer_lock:
            k.db.ensure_schema(owner, version, schema)


__all__ = ["ARCHIVE_PDF_NOW", "ArchivalPdfService", "StampOutcome", "ensure_schema"]


class ArchivalPdfService:
    """`sgz stamp` and the rendition step after `sgz file`."""

    def __init__(self, kernel: Kernel, *, records: RecordService) -> None:
        self._k = kernel
        self._records = records
        ensure_schema(kernel, OWNER, VERSION, SCHEMA)

    # ------------------------------------------------------------------ state
    def _source(self, rec: Record) -> Component | None:
        """The component a rendition is made from, or None if its format cannot be rendered."""
        if rec.status != "active":
            return None
        try:
            comp = self._records.current_component(rec)
        except ArchiveError:
            return None
        return comp if Path(comp.filename).suffix.lower() in RENDERABLE else None

    def _row(self, rec: Record) -> dict[str, object] | None:
        row = self._k.db.execute("SELECT * FROM archival_pdfs WHERE record_id = ?",
                                 (rec.id,)).fetchone()
        return dict(row) if row else None

    def state(self, rec: Record) -> str:
        """'done', 'pending', 'failed' or 'n/a' (destroyed, or a format with no rendition)."""
        comp = self._source(rec)
        if comp is None:
            return "n/a"
        row = self._row(rec)
        if row is None or row["source_seq"] != comp.seq:
            return "pending"
        return "failed" if row["error"] else "done"

    def status(self) -> dict[str, int]:
        """Counts of each state over the active records (for `sgz check` and `sgz stamp`)."""
        counts = {"done": 0, "pending": 0, "failed": 0, "n/a": 0}
        for rec in self._k.records.list():
            counts[self.state(rec)] += 1
        return counts

    def stamp_info(self, ref: str) -> dict[str, object] | None:
        """The stamp's fields as recorded (metadata), or None if not stamped."""
        rec = self._k.records.get(ref.strip())
        self._k.authorize("record.read_meta", rec)
        row = self._row(rec)
        if row is None or row["error"]:
            return None
        return {k: row[k] for k in ("fonds", "year", "item_no", "org", "retention", "pages",
                                    "source_seq", "rendition_seq", "made_at", "made_by")}

    # ------------------------------------------------------------------ making
    def make(self, ref: str, *, just_filed: bool = False) -> StampOutcome:
        """Render, stamp and file the archival PDF of one record (its current version)."""
        rec = self._k.records.get(ref.strip())
        comp = self._source(rec)
        if comp is None:
            raise Conflict(f"{rec.ref} 没有可制作长期保存版本的正文（已销毁或格式不支持）",
                           ref=rec.ref)
        grant = self._k.authorize("record.archive_pdf", rec, just_filed=just_filed)
        fields = StampFields(
            fonds=self._k.station.fonds, year=str(rec.year), item_no=f"{rec.item:04d}",
            org=self._k.station.classes.get(rec.cls, rec.cls),
            retention=rec.retention)  # the stamp prints the code's label (30年, 永久 …)
        if comp.size > MAX_SOURCE:  # decided from the catalogue: the object is never opened
            error = f"文件过大（超过 {MAX_SOURCE >> 20} MiB），未制作长期保存版本"
            self._save(rec, comp.seq, None, fields, None, error=error)
            self._k.log("record.archive_pdf.failed", rec.ref, seq=comp.seq, error=error)
            return StampOutcome(rec.ref, False, error=error)
        work = self._k.objects.session_dir() / f"apdf-{uuid.uuid4().hex}"
        work.mkdir(mode=0o700)
        try:
            stream = self._k.door.open(grant, rec, comp, action="record.archive_pdf",
                                       detail={"source_seq": comp.seq})
            with stream:
                data = stream.read()
            try:
                plain = io.BytesIO()
                pdfa.rendition(comp.filename, data, plain, workdir=work)
                out = work / safe_filename(f"{Path(comp.filename).stem}（归档章）.pdf")
                with open(out, "xb") as f:
                    res = stamp_pdf(plain.getvalue(), f, fields)
            except ArchiveError as exc:  # unsupported, damaged, unembedded fonts, no LibreOffice
                self._save(rec, comp.seq, None, fields, None, error=str(exc))
                self._k.log("record.archive_pdf.failed", rec.ref, seq=comp.seq, error=str(exc))
                return StampOutcome(rec.ref, False, error=str(exc))
            filed = self._records.file([out], of=rec.ref, kind="归档PDF", index=False,
                                       archival=grant)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        seq = filed[0].seq
        self._save(rec, comp.seq, seq, fields, res.pages, top_mm=res.top_mm, clear=res.clear)
        if rec.pages is None:
            with self._k.writer_lock, self._k.db.transaction():
                self._k.records.update_fields(rec.id, {"pages": res.pages})
        return StampOutcome(rec.ref, True, seq, res.pages, res.clear)

    def _save(self, rec: Record, source_seq: int, rendition_seq: int | None, f: StampFields,
              pages: int | None, *, top_mm: float | None = None, clear: bool | None = None,
              error: str = "") -> None:
        with self._k.writer_lock, self._k.db.transaction():
            self._k.db.execute(
                "INSERT OR REPLACE INTO archival_pdfs (record_id, source_seq, rendition_seq, "
                "fonds, year, item_no, org, retention, pages, top_mm, clear, error, made_at, "
                "made_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rec.id, source_seq, rendition_seq, f.fonds, f.year, f.item_no, f.org,
                 f.retention, pages, top_mm, None if clear is None else int(clear), error,
                 self._k.clock.iso(), self._k.user.name))

    def after_filing(self, results: Sequence[FileResult], limit: int) -> list[StampOutcome]:
        """Right after `sgz file`: when the call filed at most `limit` new items, stamp them now;
        a bigger (bulk) call leaves them all pending, so filing throughput is not bounded by
        LibreOffice. Items this user may not stamp, or that hit a passing problem, stay pending."""
        filed = [r for r in results if r.status == "filed"]
        if not filed or len(filed) > limit:
            return []
        out: list[StampOutcome] = []
        for res in filed:
            rec = self._k.records.get(res.ref)
            if self._source(rec) is None:
                continue
            # filing never fails because of this derived step: a refusal or a storage problem
            # leaves the item pending for `sgz stamp`
            with contextlib.suppress(ArchiveError):
                out.append(self.make(rec.ref, just_filed=True))
        return out

    def run(self, refs: Sequence[str] | None = None, *, retry_failed: bool = False,
            progress: Progress | None = None) -> list[StampOutcome]:
        """Make the archival PDFs of `refs`, or of every pending item (and failed ones with
        `retry_failed`), in 档号 order; one failure does not stop the rest."""
        if refs:
            todo = [self._k.records.get(r.strip()) for r in refs]
        else:
            wanted = {"pending", "failed"} if retry_failed else {"pending"}
            todo = [r for r in self._k.records.list() if self.state(r) in wanted]
        if not todo:
            return []
        self._k.authorize("record.archive_pdf", todo[0])  # refuse early, before any work
        outcomes: list[StampOutcome] = []
        for i, rec in enumerate(todo, start=1):
            try:
                outcomes.append(self.make(rec.ref))
            except (AccessDenied, Conflict) as exc:
                outcomes.append(StampOutcome(rec.ref, False, error=str(exc)))
            if progress:
                progress(i, len(todo), rec.ref)
        return outcomes
