"""The paper side: `sgz print catalogue|备考表|盒脊` and `sgz paper place|lend|return|resolve|
overdue|history` over the kernel (box numbers, storage places and the internal lending register
of paper originals, 附件2 四(四)3).

Every change and every print is audited; prints only carry records whose catalogue line the
user may see; precious records are never lent (policy and register both refuse).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from archive.catalog.records import Record
from archive.clock import iso, parse_station_time, station_text
from archive.errors import UsageError, ValidationError
from archive.fs.atomic import write_atomic
from archive.kernel.kernel import Kernel
from archive.paper import register as _reg
from archive.paper.items import Fonds, PaperItem
from archive.paper.register import Loan, PaperRegister, ReturnCheck
from archive.policy.rules import R_LEND
from archive.records.service import refuse_inside_home


def _box_number(text: str) -> str:
    """盒号 as DA/T 22 numbers boxes: a positive whole number ('' when not given)."""
    t = text.strip()
    if not t:
        return ""
    if not (t.isascii() and t.isdigit()) or int(t) == 0 or len(t) > 6:
        raise ValidationError(f"盒号应为正整数（如 1、12）：{t}", found=t)
    return str(int(t))


class PaperService:
    """Box numbers, places, loans of paper originals, and the paper prints."""

    def __init__(self, kernel: Kernel) -> None:
        self._k = kernel
        self._register: PaperRegister | None = None

    @property
    def _reg(self) -> PaperRegister:
        if self._register is None:  # tables made on first use, not at every unlock
            row = self._k.db.execute("SELECT version FROM schema_versions WHERE owner = ?",
                                     (_reg.OWNER,)).fetchone()
            if row is None or row[0] != _reg.VERSION:
                with self._k.writer_lock:
                    self._k.db.ensure_schema(_reg.OWNER, _reg.VERSION, _reg.SCHEMA)
            self._register = PaperRegister(self._k.db)
        return self._register

    def _loan_dict(self, loan: Loan) -> dict[str, Any]:
        d = asdict(loan)
        row = self._k.db.execute("SELECT ref FROM records WHERE id = ?",
                                 (loan.record_id,)).fetchone()
        d["ref"] = row[0] if row else ""
        for key in ("lent_at", "due_at", "returned_at", "resolved_at"):
            d[key + "_text"] = station_text(d[key])
        return d

    # ------------------------------------------------------------------ places
    def place(self, refs: list[str], *, box_no: str = "", location: str = "") -> list[str]:
        """Record 盒号 and/or 存放位置 of the paper originals of `refs`."""
        self._k.authorize("paper.place")
        recs = [self._k.records.get(r.strip()) for r in refs]
        for rec in recs:
            self._k.authorize("record.read_meta", rec)
        now, user = self._k.clock.iso(), self._k.user.name
        with self._k.writer_lock, self._k.db.transaction():
            for rec in recs:
                old = self._reg.place(rec.id)
                box = _box_number(box_no) or (old.box_no if old else "")
                loc = location.strip() or (old.location if old else "")
                self._reg.set_place(rec.id, box, loc, user, now)
            self._k.audit.append_many([
                (user, self._k.user.role, "paper.place", rec.ref,
                 {"box_no": box_no or None, "location": location or None}) for rec in recs])
        return [r.ref for r in recs]

    # ------------------------------------------------------------------ loans
    def lend(self, ref: str, *, borrower: str, purpose: str, due: str,
             pages: int | None = None) -> dict[str, Any]:
        """Lend the paper original of `ref` to a staff member until the end of day `due`."""
        rec = self._k.records.get(ref.strip())
        self._k.authorize("paper.lend", rec)
        due_at = iso(parse_station_time(due) + timedelta(days=1) - timedelta(seconds=1))
        if pages is None:
            pages = rec.pages
        with self._k.writer_lock, self._k.db.transaction():
            loan_id = self._reg.lend(rec.id, borrower=borrower, purpose=purpose,
                                     by=self._k.user.name, when=self._k.clock.iso(), due=due_at,
                                     pages=pages, precious=rec.precious)
            self._k.log("paper.lend", rec.ref, loan=loan_id, borrower=borrower.strip(),
                        purpose=purpose.strip(), due=due_at, pages=pages)
        return self._loan_dict(self._reg.get(loan_id))

    def return_(self, loan_id: int, *, pages: int, intact: bool,
                note: str = "") -> dict[str, Any]:
        """Close a loan with the return check (页数 counted, 完好 or not, and a note)."""
        self._k.authorize("paper.return")
        with self._k.writer_lock, self._k.db.transaction():
            loan = self._reg.return_(loan_id, ReturnCheck(pages, intact, note),
                                     by=self._k.user.name, when=self._k.clock.iso())
            d = self._loan_dict(loan)
            self._k.log("paper.return", d["ref"], loan=loan_id, pages=pages, intact=intact,
                        discrepancy=loan.discrepancy, note=note.strip() or None)
        if loan.discrepancy:
            self._k.flag("paper.return", d["ref"], R_LEND, note.strip(), None)
        return d

    def resolve(self, loan_id: int, resolution: str) -> dict[str, Any]:
        """The head records how a return discrepancy was settled."""
        self._k.authorize("paper.resolve")
        with self._k.writer_lock, self._k.db.transaction():
            self._reg.resolve(loan_id, resolution, by=self._k.user.name,
                              when=self._k.clock.iso())
            d = self._loan_dict(self._reg.get(loan_id))
            self._k.log("paper.resolve", d["ref"], loan=loan_id, resolution=resolution.strip())
        return d

    def overdue(self) -> dict[str, list[dict[str, Any]]]:
        """Loans past their due time, and returns with an unresolved discrepancy."""
        self._k.authorize("paper.read")
        self._k.log("paper.read", None, what="overdue")
        return {"overdue": [self._loan_dict(x) for x in self._reg.overdue(self._k.clock.iso())],
                "discrepancies": [self._loan_dict(x) for x in self._reg.discrepancies()]}

    def history(self, ref: str | None = None) -> list[dict[str, Any]]:
        """Every loan (of one record, or all)."""
        self._k.authorize("paper.read")
        rec = self._k.records.get(ref.strip()) if ref else None
        self._k.log("paper.read", rec.ref if rec else None, what="history")
        return [self._loan_dict(x) for x in self._reg.history(rec.id if rec else None)]

    # ------------------------------------------------------------------ prints
    def items(self, *, year: int | None = None, category: str | None = None
              ) -> list[tuple[Record, PaperItem]]:
        cls = self._k.station.class_code(category) if category else None
        places = self._reg.places()
        classes = self._k.station.classes
        out = []
        for r in self._k.records.list(cls=cls, year=year):
            if not self._k.may("record.read_meta", r):
                continue
            place = places.get(r.id)
            out.append((r, PaperItem(  # as archive.transfer.adapt.paper_item (no paper↔transfer cycle)
                ref=r.ref, year=r.year, retention=r.retention, cls=r.cls,
                cls_name=classes.get(r.cls, r.cls), item=r.item, title=r.title,
                doc_no=r.doc_no, author=r.author, date=r.date, secrecy=r.secrecy,
                pages=r.pages, note=r.note, box_no=place.box_no if place else "")))
        return out

    def print_(self, kind: str, out: Path | str, *, year: int | None = None,
               category: str | None = None, arranger: str = "", checker: str = "",
               thickness_mm: int = 40, force: bool = False) -> tuple[Path, int]:
        """Write the 归档文件目录, 备考表 or 盒脊 (format by OUT's suffix); return (path, items)."""
        self._k.authorize("print")
        # the Word/Excel/PDF writers load only for printing (~0.1 s for every other command)
        from archive.paper.boxes import BoxNote
        from archive.paper.prints import KINDS, render_print

        if KINDS.get(kind.strip().lower()) is None and KINDS.get(kind.strip()) is None:
            raise UsageError(f"未知的打印类型：{kind}，可选：catalogue（归档文件目录）、备考表、盒脊")
        dest = Path(out)
        refuse_inside_home(self._k.home, dest)
        if dest.exists() and not force:
            raise ValidationError(f"{dest} 已存在；如确需覆盖请加 --force")
        items = [it for _r, it in self.items(year=year, category=category)]
        today = self._k.clock.today()
        date = f"{today.year}年{today.month}月{today.day}日"
        who = arranger.strip() or self._k.user.display or self._k.user.name
        notes = {it.box_no: BoxNote(who, checker.strip(), date) for it in items if it.box_no}
        data = render_print(kind, items, Fonds(self._k.station.fonds, self._k.station.name),
                            dest.name, notes=notes, thickness_mm=thickness_mm,
                            workdir=self._k.objects.session_dir())
        self._k.log("print", None, kind=kind, year=year, category=category, count=len(items),
                    out=str(dest.resolve()))
        write_atomic(dest, data)  # 0600: a catalogue names people and households
        return dest, len(items)
