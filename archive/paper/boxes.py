"""备考表 and 盒脊 (DA/T 22—2015) for archive boxes, as .docx (→ PDF) and .xlsx.

备考表: one A4 page per box, placed in the box after the last item: 盒内文件情况说明 (count, item
range, pages, and the caller's remarks such as missing or damaged items), 整理人, 检查人, 日期.
盒脊: one label per box, as wide as the box is thick (20/30/40/50 mm), from top:
全宗号, 年度, 保管期限, 机构（问题）, 起止件号, 盒号; cut out and glued on the spine.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import docx
from docx.enum.text import WD_BREAK
from docx.shared import Mm

from archive.errors import ValidationError
from archive.paper import layout
from archive.paper.items import Box, Fonds

SPINE_THICKNESS_MM = (20, 30, 40, 50)
SPINE_HEIGHT_MM = 170.0


@dataclass(frozen=True)
class BoxNote:
    """What the archivist writes on a box's 备考表."""

    arranger: str  # 整理人
    checker: str  # 检查人
    date: str  # e.g. 2026年12月1日
    remarks: str = ""  # 缺损、修改、补充、移出、销毁等情况


def box_summary(box: Box) -> str:
    """The factual first sentence of 盒内文件情况说明."""
    g = box.group
    return (f"本盒为{g.year}年度{g.retention_label}{g.cls_name}类档案，共{len(g.items)}件，"
            f"件号{box.item_range}，共{box.pages}页。")


def _require(bxs: list[Box]) -> None:
    if not bxs:
        raise ValidationError("没有已装盒的档案，未生成")


def beikao_docx(bxs: list[Box], notes: dict[str, BoxNote]) -> bytes:
    """One 备考表 page per box; `notes` maps 盒号 → BoxNote (a missing note is an error)."""
    _require(bxs)
    missing = [b.box_no for b in bxs if b.box_no not in notes]
    if missing:
        raise ValidationError(f"以下盒缺少整理人、检查人信息：{'、'.join(missing)}", details=missing)
    doc = docx.Document()
    layout.page(doc, landscape=False, margins_mm=(37, 26, 35, 28))
    for n, b in enumerate(bxs):
        note = notes[b.box_no]
        if n:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        layout.text(doc.add_paragraph(), "备  考  表", size=22, font=layout.HEI, align="center")
        layout.text(doc.add_paragraph(), f"盒号：{b.box_no}", size=12, align="right")
        t = layout.ruled_table(doc, 2, [156.0])
        layout.cell_text(t.rows[0].cells[0], "盒内文件情况说明", size=14, font=layout.HEI,
                         align="left")
        body = t.rows[1].cells[0]
        layout.cell_text(body, box_summary(b), size=14, align="left")
        if note.remarks:
            layout.text(body.add_paragraph(), note.remarks, size=14)
        layout.row_height(t, 1, 150)
        doc.add_paragraph()
        for label, value in (("整理人", note.arranger), ("检查人", note.checker),
                             ("日  期", note.date)):
            layout.text(doc.add_paragraph(), f"{label}：{value}", size=14, align="right")
    return layout.save(doc)


def spine_cells(b: Box, fonds: Fonds) -> list[tuple[str, str]]:
    g = b.group
    return [("全宗号", fonds.code), ("年度", str(g.year)), ("保管期限", g.retention_label),
            ("机构（问题）", g.cls_name), ("起止件号", b.item_range), ("盒号", b.box_no)]


def spine_docx(bxs: list[Box], fonds: Fonds, *, thickness_mm: int = 40) -> bytes:
    """Spine labels side by side on landscape A4, each `thickness_mm` wide, with cut lines."""
    _require(bxs)
    if thickness_mm not in SPINE_THICKNESS_MM:
        raise ValidationError("盒脊厚度只能是 20、30、40 或 50 毫米", found=thickness_mm)
    per_page = int(267 // thickness_mm)
    doc = docx.Document()
    layout.page(doc, landscape=True, margins_mm=(15, 15, 15, 15))
    for start in range(0, len(bxs), per_page):
        if start:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        chunk = bxs[start:start + per_page]
        t = layout.ruled_table(doc, 6, [float(thickness_mm)] * len(chunk))
        heights = [24.0, 24.0, 24.0, 40.0, 34.0, 24.0]
        for r, h in enumerate(heights):
            layout.row_height(t, r, h * SPINE_HEIGHT_MM / sum(heights))
        for c, b in enumerate(chunk):
            for r, (label, value) in enumerate(spine_cells(b, fonds)):
                cell = t.rows[r].cells[c]
                cell.width = Mm(thickness_mm)
                small = 8 if thickness_mm == 20 else 10
                layout.cell_text(cell, label, size=small)
                layout.text(cell.add_paragraph(), value, size=small + (8 if r == 5 else 3),
                            font=layout.HEI, align="center")
    return layout.save(doc)


def boxes_xlsx(bxs: list[Box], fonds: Fonds, notes: dict[str, BoxNote] | None = None) -> bytes:
    """One sheet listing every box: the spine fields and the 备考表 text, for the register."""
    from openpyxl import Workbook  # only here: importing it costs every command 0.16 s
    from openpyxl.styles import Alignment, Border, Font, Side

    _require(bxs)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "盒目录"
    head = ["盒号", "全宗号", "年度", "保管期限", "机构（问题）", "起止件号", "件数", "页数",
            "盒内文件情况说明", "整理人", "检查人", "日期"]
    ws.append(head)
    for b in bxs:
        n = (notes or {}).get(b.box_no)
        g = b.group
        ws.append([b.box_no, fonds.code, str(g.year), g.retention_label, g.cls_name,
                   b.item_range, len(g.items), b.pages,
                   box_summary(b) + (n.remarks if n and n.remarks else ""),
                   n.arranger if n else "", n.checker if n else "", n.date if n else ""])
    thin = Side(style="thin")
    for row in ws.iter_rows():
        for cell in row:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
    for cell in ws[1]:
        cell.font = Font(name=layout.HEI, bold=True)
    ws.column_dimensions["I"].width = 50
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
