"""Catalogue rows → the plain inputs of the paper prints, the transfer writer and the open export.

These take what the catalogue already returns (`Record`, `Component`, the station's class
names, the paper register's places); unsealing sealed columns (format 2) is the caller's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from archive.catalog.records import Component as CatComponent
from archive.catalog.records import Record
from archive.paper.items import PaperItem
from archive.paper.register import Place
from archive.recovery.open_export import ExportComponent, ExportRecord
from archive.transfer.model import Absent, Component, TransferRecord


def paper_item(rec: Record, classes: Mapping[str, str], place: Place | None = None) -> PaperItem:
    return PaperItem(
        ref=rec.ref, year=rec.year, retention=rec.retention, cls=rec.cls,
        cls_name=classes.get(rec.cls, rec.cls), item=rec.item, title=rec.title,
        doc_no=rec.doc_no, author=rec.author, date=rec.date, secrecy=rec.secrecy,
        pages=rec.pages, note=rec.note, box_no=place.box_no if place else "")


def current_components(comps: Iterable[CatComponent]) -> list[CatComponent]:
    """Components not superseded by a correction, in order (what a transfer carries)."""
    comps = list(comps)
    replaced = {c.supersedes for c in comps if c.supersedes is not None}
    return sorted((c for c in comps if c.id not in replaced), key=lambda c: c.seq)


def transfer_record(rec: Record, comps: Iterable[CatComponent], classes: Mapping[str, str], *,
                    open_level: str = "控制") -> TransferRecord:
    current = current_components(comps)
    return TransferRecord(paper_item(rec, classes),
                          tuple(Component(i, c.kind, c.filename)
                                for i, c in enumerate(current, start=1)),
                          open_level=open_level)


def object_of(rec_components: Sequence[CatComponent], comp: Component) -> str:
    """The object id behind a transfer component (same order as `transfer_record` made them)."""
    return current_components(rec_components)[comp.seq - 1].object_id


def absent_numbers(year_records: Iterable[Record]) -> list[Absent]:
    """Destroyed records of the year: their 件号 stay in the sequence, declared not transferred."""
    return [Absent(r.ref, f"已销毁（{(r.destroyed_at or '')[:10]}）") for r in year_records
            if r.status == "destroyed"]


def export_record(rec: Record, comps: Iterable[CatComponent]) -> ExportRecord:
    """For the open export: every component version (corrections included) stays recoverable."""
    return ExportRecord(
        ref=rec.ref, title=rec.title, year=rec.year, retention=rec.retention, cls=rec.cls,
        item=rec.item, doc_no=rec.doc_no, author=rec.author, date=rec.date,
        secrecy=rec.secrecy, pages=rec.pages, note=rec.note, household=rec.household,
        status=rec.status,
        components=tuple(ExportComponent(c.seq, c.kind, c.filename, c.object_id, c.size)
                         for c in sorted(comps, key=lambda c: c.seq)))
