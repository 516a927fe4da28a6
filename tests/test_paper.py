"""归档文件目录, 备考表, 盒脊 and the paper register (places, loans, return checks)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import docx
import openpyxl
import pytest
from paper_fixtures import FONDS, demo_items

from archive.catalog.db import Database
from archive.catalog.numbering import ArchivalRef
from archive.catalog.records import Records
from archive.errors import Conflict, ValidationError
from archive.paper.boxes import BoxNote, beikao_docx, boxes_xlsx, spine_docx
from archive.paper.catalogue import COLUMNS, catalogue_docx, catalogue_xlsx
from archive.paper.items import boxes, group_items
from archive.paper.layout import docx_to_pdf_bytes
from archive.paper.register import PaperRegister, ReturnCheck


def _items() -> list:
    return demo_items(7) + demo_items(3, cls="XZ", cls_name="行政", retention="Y")


def _doc_text(data: bytes) -> str:
    d = docx.Document(io.BytesIO(data))
    parts = [p.text for p in d.paragraphs]
    for t in d.tables:
        for row in t.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def test_groups_are_lowest_classes_in_item_order() -> None:
    items = list(reversed(_items()))
    groups = group_items(items)
    assert [(g.year, g.retention, g.cls) for g in groups] == [(2026, "Y", "XZ"), (2026, "D30", "FW")]
    assert [i.item for i in groups[1].items] == list(range(1, 8))


def test_catalogue_docx_and_xlsx_have_the_nine_columns_per_part() -> None:
    groups = group_items(_items())
    d = docx.Document(io.BytesIO(catalogue_docx(groups, FONDS)))
    assert len(d.tables) == 2
    assert [c.text for c in d.tables[1].rows[0].cells] == list(COLUMNS)
    row = [c.text for c in d.tables[1].rows[3].cells]
    assert row[0] == "3" and row[1] == "Z001-WS·2026-D30-FW-0003" and row[5] == "20260304"
    text = _doc_text(catalogue_docx(groups, FONDS))
    assert "全宗名称：长春市双阳区奢岭街道社会工作服务站" in text and "保管期限：永久" in text
    assert d.sections[0].page_width > d.sections[0].page_height  # landscape
    wb = openpyxl.load_workbook(io.BytesIO(catalogue_xlsx(groups, FONDS)))
    assert wb.sheetnames == ["2026-Y-XZ", "2026-D30-FW"]
    ws = wb["2026-D30-FW"]
    assert [c.value for c in ws[2]] == list(COLUMNS)
    assert ws.max_row == 2 + 7 and ws["B9"].value == "Z001-WS·2026-D30-FW-0007"
    with pytest.raises(ValidationError):
        catalogue_docx([], FONDS)


def test_boxes_beikao_and_spine() -> None:
    bxs = boxes(demo_items(12))
    assert [b.box_no for b in bxs] == ["1", "2", "3"] and bxs[2].item_range == "0011—0012"
    notes = {b.box_no: BoxNote("李四", "张三", "2026年12月1日") for b in bxs}
    notes["2"] = BoxNote("李四", "张三", "2026年12月1日", remarks="第0008件缺第2页，已注明。")
    text = _doc_text(beikao_docx(bxs, notes))
    assert "共5件，件号0006—0010" in text and "第0008件缺第2页" in text and "检查人：张三" in text
    with pytest.raises(ValidationError):
        beikao_docx(bxs, {})
    spine = _doc_text(spine_docx(bxs, FONDS, thickness_mm=30))
    assert "起止件号\n0001—0005" in spine and "盒号\n3" in spine and "保管期限\n30年" in spine
    wb = openpyxl.load_workbook(io.BytesIO(boxes_xlsx(bxs, FONDS, notes)))
    assert wb.active["F3"].value == "0006—0010"
    mixed = demo_items(3) + demo_items(2, cls="XZ", cls_name="行政")
    with pytest.raises(ValidationError):
        boxes(mixed)  # box 1 would mix classes
    unboxed = [demo_items(1)[0].__class__(**{**demo_items(1)[0].__dict__, "box_no": ""})]
    with pytest.raises(ValidationError):
        boxes(unboxed)


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftotext") is None,
                    reason="LibreOffice 或 poppler 未安装")
def test_catalogue_pdf_via_libreoffice(tmp_path: Path) -> None:
    pdf = docx_to_pdf_bytes(catalogue_docx(group_items(_items()), FONDS))
    out = tmp_path / "c.pdf"
    out.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert "归档文件目录" in text and "Z001-WS·2026-D30-FW-0007" in text
    fonts = subprocess.run(["pdffonts", str(out)], check=True, capture_output=True,
                           text=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    d = Database(tmp_path / "c.db", bytes(range(32)), create=True)
    recs = Records(d)
    for i in range(1, 4):
        recs.insert(ArchivalRef("Z001", "WS", 2026, "D30", "FW", i),
                    {"title": f"t{i}", "title_source": "given", "filed_at": "2026-01-01T00:00",
                     "filed_by": "li"})
    return d


def test_places_and_loans(db: Database) -> None:
    reg = PaperRegister(db)
    PaperRegister(db)  # schema installed once
    reg.set_place(1, "1", "档案室 2号柜 第3层", "li", "2026-12-01T09:00")
    reg.set_place(2, "1", "档案室 2号柜 第3层", "li", "2026-12-01T09:00")
    assert reg.place(1) is not None and reg.place(1).location == "档案室 2号柜 第3层"  # type: ignore[union-attr]
    assert reg.in_box("1") == [1, 2]

    loan = reg.lend(1, borrower="王五", purpose="核对服务记录", by="li",
                    when="2026-12-01T09:00", due="2026-12-08T17:00", pages=4)
    with pytest.raises(Conflict):
        reg.lend(1, borrower="赵六", purpose="x", by="li", when="2026-12-02T09:00",
                 due="2026-12-09T09:00", pages=4)
    with pytest.raises(Conflict):
        reg.lend(2, borrower="赵六", purpose="x", by="li", when="2026-12-02T09:00",
                 due="2026-12-09T09:00", pages=4, precious=True)
    late = reg.lend(2, borrower="赵六", purpose="整理", by="li", when="2026-12-01T09:00",
                    due="2026-12-03T17:00", pages=2)
    assert [x.id for x in reg.overdue("2026-12-05T00:00")] == [late]
    assert reg.overdue("2026-12-02T00:00") == []

    with pytest.raises(ValidationError):  # a short count needs a note
        reg.return_(loan, ReturnCheck(pages_counted=3, intact=True), by="li",
                    when="2026-12-06T10:00")
    back = reg.return_(loan, ReturnCheck(3, True, "少第4页，借阅人称遗留在办公室"), by="li",
                       when="2026-12-06T10:00")
    assert back.discrepancy and back.pages_back == 3
    assert [x.id for x in reg.discrepancies()] == [loan]
    with pytest.raises(Conflict):
        reg.return_(loan, ReturnCheck(4, True), by="li", when="2026-12-06T11:00")
    reg.resolve(loan, "第4页已找回并归位", by="zhang", when="2026-12-07T09:00")
    assert reg.discrepancies() == []
    ok = reg.return_(late, ReturnCheck(2, True), by="li", when="2026-12-06T10:00")
    assert not ok.discrepancy and reg.overdue("2026-12-10T00:00") == []
    assert len(reg.history()) == 2 and reg.open_loan(1) is None


def test_render_print_dispatch() -> None:
    from archive.errors import UsageError
    from archive.paper.prints import render_print

    items = demo_items(6)
    assert render_print("归档文件目录", items, FONDS, "c.xlsx")[:2] == b"PK"
    assert "盒号\n2" in _doc_text(render_print("盒脊", items, FONDS, "s.docx", thickness_mm=20))
    with pytest.raises(UsageError):
        render_print("封面", items, FONDS, "x.docx")
    with pytest.raises(UsageError):
        render_print("备考表", items, FONDS, "x.odt")
    with pytest.raises(ValidationError):
        render_print("备考表", items, FONDS, "x.docx")  # no 整理人/检查人 notes
