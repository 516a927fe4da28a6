"""python-docx helpers shared by the paper prints: page setup, CJK fonts, ruled tables, PDF."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from archive.pdf.office import convert_to_pdf

SONG = "宋体"
HEI = "黑体"


def page(doc: DocxDocument, *, landscape: bool, margins_mm: tuple[float, float, float, float]
         = (20, 20, 20, 20)) -> None:
    """A4 in the given orientation; margins (top, right, bottom, left)."""
    s = doc.sections[-1]
    s.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    s.page_width, s.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
    s.top_margin, s.right_margin, s.bottom_margin, s.left_margin = (Mm(m) for m in margins_mm)


def text(par: Paragraph, s: str, *, size: float = 12, font: str = SONG, bold: bool = False,
         align: str = "left") -> None:
    """Append a run in `font` (set for East Asian text too) to `par`."""
    run = par.add_run(s)
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = font
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), font)
    par.alignment = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER,
                     "right": WD_ALIGN_PARAGRAPH.RIGHT}[align]


def cell_text(cell: _Cell, s: str, *, size: float = 10.5, font: str = SONG, bold: bool = False,
              align: str = "center") -> None:
    par = cell.paragraphs[0]
    text(par, s, size=size, font=font, bold=bold, align=align)


def ruled_table(doc: DocxDocument, rows: int, widths_mm: list[float]) -> Table:
    """A centred table with single black rules and fixed column widths."""
    t = doc.add_table(rows=rows, cols=len(widths_mm))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    for col, w in zip(t.columns, widths_mm, strict=True):
        col.width = Mm(w)  # the tblGrid, which LibreOffice follows
    for row in t.rows:
        for cell, w in zip(row.cells, widths_mm, strict=True):
            cell.width = Mm(w)
    tblpr = t._tbl.tblPr
    fixed = OxmlElement("w:tblLayout")
    fixed.set(qn("w:type"), "fixed")
    tblpr.append(fixed)
    return t


def repeat_header(table: Table) -> None:
    """Mark the first row as a header repeated on every page."""
    trpr = table.rows[0]._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def row_height(table: Table, index: int, mm: float, *, exact: bool = True) -> None:
    """Fix a row's height (exact) or give it a minimum that longer text may grow past."""
    trpr = table.rows[index]._tr.get_or_add_trPr()
    el = OxmlElement("w:trHeight")
    el.set(qn("w:val"), str(int(mm * 56.7)))
    el.set(qn("w:hRule"), "exact" if exact else "atLeast")
    trpr.append(el)


def save(doc: DocxDocument) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def docx_to_pdf_bytes(docx: bytes, *, name: str = "print", workdir: Path | None = None) -> bytes:
    """Convert with LibreOffice in a private folder under `workdir`.

    Prints carry titles and other sealed columns: the caller passes the station's staging
    folder (inside the home) so no plaintext lands in the system temp folder.
    """
    with tempfile.TemporaryDirectory(prefix="sgz-print-", dir=workdir) as tmp:
        src = Path(tmp) / f"{name}.docx"
        src.write_bytes(docx)
        return convert_to_pdf([src], Path(tmp) / "out")[0].read_bytes()
