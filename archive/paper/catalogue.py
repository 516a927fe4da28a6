"""The 归档文件目录 (DA/T 22—2015) as .docx (→ PDF) and .xlsx, one part per lowest class.

Each part has a cover (全宗号, 全宗名称, 年度, 保管期限, 机构（问题）) and a landscape A4 table
with the nine columns, 序号 restarting per part, header repeated on every page.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import docx
from docx.enum.text import WD_BREAK

from archive.errors import ValidationError
from archive.paper import layout
from archive.paper.items import Fonds, Group, PaperItem

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

COLUMNS = ("序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注")
WIDTHS_MM = [12.0, 52.0, 30.0, 30.0, 85.0, 20.0, 12.0, 12.0, 14.0]  # 267 mm = 297 − 2 × 15


def row_values(seq: int, it: PaperItem) -> list[str]:
    """The nine cells of one catalogue line."""
    return [str(seq), it.ref, it.doc_no, it.author, it.title, it.date, it.secrecy,
            "" if it.pages is None else str(it.pages), it.note]


def _require(groups: list[Group]) -> None:
    if not groups or not any(g.items for g in groups):
        raise ValidationError("没有符合条件的档案，未生成归档文件目录")


def catalogue_docx(groups: list[Group], fonds: Fonds) -> bytes:
    """The catalogue as .docx bytes: per part a cover page, then the table."""
    _require(groups)
    doc = docx.Document()
    layout.page(doc, landscape=True, margins_mm=(20, 15, 20, 15))
    for n, g in enumerate(groups):
        if n:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        for _ in range(4):
            doc.add_paragraph()
        layout.text(doc.add_paragraph(), "归档文件目录", size=26, font=layout.HEI, align="center")
        doc.add_paragraph()
        for label, value in (("全 宗 号", fonds.code), ("全宗名称", fonds.name),
                             ("年    度", str(g.year)), ("保管期限", g.retention_label),
                             ("机构（问题）", g.cls_name)):
            layout.text(doc.add_paragraph(), f"{label}：{value}", size=16, align="center")
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        layout.text(doc.add_paragraph(), "归档文件目录", size=18, font=layout.HEI, align="center")
        layout.text(doc.add_paragraph(),
                    f"全宗号：{fonds.code}　年度：{g.year}　保管期限：{g.retention_label}　"
                    f"机构（问题）：{g.cls_name}", size=10.5, align="center")
        t = layout.ruled_table(doc, len(g.items) + 1, WIDTHS_MM)
        for cell, head in zip(t.rows[0].cells, COLUMNS, strict=True):
            layout.cell_text(cell, head, bold=True, font=layout.HEI)
        layout.repeat_header(t)
        for i, it in enumerate(g.items, start=1):
            for c, (cell, value) in enumerate(zip(t.rows[i].cells, row_values(i, it), strict=True)):
                layout.cell_text(cell, value, size=9, align="left" if c == 4 else "center")
    return layout.save(doc)


def _sheet(ws: Worksheet, g: Group, fonds: Fonds) -> None:
    from openpyxl.styles import Alignment, Border, Font, Side

    thin = Side(style="thin")
    ws.append([f"归档文件目录　全宗号：{fonds.code}　全宗名称：{fonds.name}　年度：{g.year}　"
               f"保管期限：{g.retention_label}　机构（问题）：{g.cls_name}"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    ws["A1"].font = Font(name=layout.HEI, size=12, bold=True)
    ws.append(list(COLUMNS))
    for i, it in enumerate(g.items, start=1):
        ws.append(row_values(i, it))
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.alignment = Alignment(wrap_text=True, vertical="center",
                                       horizontal="left" if cell.column == 5 else "center")
            cell.number_format = "@"  # 档号 and 日期 stay text
    for col, w in zip("ABCDEFGHI", WIDTHS_MM, strict=True):
        ws.column_dimensions[col].width = w / 2.2
    ws.print_title_rows = "2:2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4


def catalogue_xlsx(groups: list[Group], fonds: Fonds) -> bytes:
    """The catalogue as .xlsx bytes: one sheet per part (年度-期限-问题)."""
    from openpyxl import Workbook  # only here: importing it costs every command 0.16 s

    _require(groups)
    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for g in groups:
        _sheet(wb.create_sheet(f"{g.year}-{g.retention}-{g.cls}"[:31]), g, fonds)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
