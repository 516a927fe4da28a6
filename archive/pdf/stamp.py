"""The 归档章 (DA/T 22—2015): a six-cell red stamp drawn at the top centre of page 1.

The stamp is 45 × 16 mm, 2 rows × 3 equal cells: 全宗号 | 年度 | 件号 over
机构（问题） | 保管期限 | 页数. It is vector (lines and real text), drawn with reportlab in an
embedded TrueType CJK font and merged onto a *copy* of the archival PDF with pikepdf; the
caller's original bytes are never written. The stamp sits in the top margin band, which
GB/T 9704's 37 mm top margin keeps clear of text; page 1 is rendered (pypdfium2) to find an
offset where the stamp's area is blank ("never over text"), and the result says whether one was
found, so a caller can warn rather than silently cover content.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from archive.errors import ValidationError
from archive.pdf.fonts import cjk_ttf

if TYPE_CHECKING:
    import pikepdf

WIDTH_MM = 45.0
HEIGHT_MM = 16.0
TOP_OFFSETS_MM = (8.0, 5.0, 3.0)  # gaps from the page's top edge tried in turn
PROBE_DPI = 72
RED = (0.86, 0.08, 0.09)
MAX_FONT_PT = 9.0
RETENTION_LABELS = {"Y": "永久", "D30": "30年", "D10": "10年"}


@dataclass(frozen=True)
class StampFields:
    """What the 归档章 shows; `pages` None means "count the PDF's pages"."""

    fonds: str  # 全宗号
    year: str  # 年度
    item_no: str  # 件号, 4 digits
    org: str  # 机构（问题）
    retention: str  # 保管期限 as printed (永久 / 30年 / 10年); a code is translated
    pages: int | None = None

    def cells(self, pages: int) -> list[str]:
        """The six cell texts in reading order (top row, then bottom row)."""
        ret = RETENTION_LABELS.get(self.retention, self.retention)
        return [self.fonds, self.year, self.item_no, self.org, ret, str(pages)]


def _check(fields: StampFields) -> None:
    empty = [k for k, v in asdict(fields).items() if k != "pages" and not str(v).strip()]
    if empty:
        raise ValidationError(f"归档章字段不能为空：{'、'.join(empty)}", details=empty)


@dataclass(frozen=True)
class StampResult:
    pages: int
    top_mm: float  # gap between the page's top edge and the stamp
    clear: bool  # the stamp's area was blank on the original page


def _ink(bitmap: Any, box: tuple[int, int, int, int]) -> int:
    """Count non-white pixels of a greyscale PIL image inside box (l, t, r, b)."""
    hist = bitmap.crop(box).point(lambda v: 255 if v < 235 else 0).histogram()
    return int(hist[255])


def _choose_offset(data: bytes) -> tuple[float, bool]:
    """The first top offset whose stamp area (plus 1 mm) is blank on page 1 (reader's view)."""
    import pypdfium2 as pdfium  # renderer and PDF writer are loaded when a stamp is made

    doc = pdfium.PdfDocument(data)
    try:
        page = doc[0]
        img = page.render(scale=PROBE_DPI / 72).to_pil().convert("L")
        page.close()
    finally:
        doc.close()
    px = PROBE_DPI / 25.4
    width_mm = img.width / px
    best: tuple[int, float] | None = None
    for top in TOP_OFFSETS_MM:
        left = (width_mm - WIDTH_MM) / 2
        box = (int((left - 1) * px), max(0, int((top - 1) * px)),
               int((left + WIDTH_MM + 1) * px), int((top + HEIGHT_MM + 1) * px))
        ink = _ink(img, box)
        if ink == 0:
            return top, True
        if best is None or ink < best[0]:
            best = (ink, top)
    assert best is not None
    return best[1], False


def _overlay(width: float, height: float, cells: list[str], font_path: Path | None,
             top_mm: float) -> bytes:
    """A page of width×height with only the stamp drawn, as PDF bytes."""
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfgen import canvas

    font = cjk_ttf(font_path).name
    w, h = WIDTH_MM * mm, HEIGHT_MM * mm
    x0, y0 = (width - w) / 2, height - top_mm * mm - h
    cw, ch = w / 3, h / 2
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(width, height), pageCompression=1, initialFontName=font)
    c.setStrokeColorRGB(*RED)
    c.setFillColorRGB(*RED)
    c.setLineWidth(0.9)
    c.rect(x0, y0, w, h)
    c.setLineWidth(0.6)
    c.line(x0, y0 + ch, x0 + w, y0 + ch)
    c.line(x0 + cw, y0, x0 + cw, y0 + h)
    c.line(x0 + 2 * cw, y0, x0 + 2 * cw, y0 + h)
    for i, text in enumerate(cells):
        col, row = i % 3, i // 3
        size = MAX_FONT_PT
        while size > 4 and pdfmetrics.stringWidth(text, font, size) > cw - 2 * mm:
            size -= 0.5
        if pdfmetrics.stringWidth(text, font, size) > cw - 1 * mm:
            raise ValidationError(f"归档章字段过长，无法放入格内：{text}", found=text)
        c.setFont(font, size)
        cx = x0 + (col + 0.5) * cw
        cy = y0 + h - (row + 0.5) * ch - size * 0.35
        c.drawCentredString(cx, cy, text)
    c.showPage()
    c.save()
    return buf.getvalue()


def _open(data: bytes) -> pikepdf.Pdf:
    import pikepdf  # loaded by the commands that stamp, not by every command

    try:
        return pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as e:
        raise ValidationError("PDF 已加密，无法加盖归档章") from e
    except (pikepdf.PdfError, ValueError) as e:
        raise ValidationError("PDF 文件损坏或格式无效，无法加盖归档章") from e


def stamp_pdf(src: BinaryIO | bytes, dst: BinaryIO, fields: StampFields, *,
              font_path: Path | None = None) -> StampResult:
    """Write a copy of `src` with the 归档章 on page 1 to `dst`.

    The stamp fields also go into the document's metadata (docinfo `/SgzArchiveStamp`, JSON) so
    a reader can compare what is printed with the catalogue.
    """
    import pikepdf

    _check(fields)
    data = src if isinstance(src, bytes) else src.read()
    pdf = _open(data)
    try:
        if len(pdf.pages) == 0:
            raise ValidationError("PDF 没有页面，无法加盖归档章")
        pages = fields.pages if fields.pages is not None else len(pdf.pages)
        cells = fields.cells(pages)
        page = pdf.pages[0]
        box = pikepdf.Rectangle(page.cropbox)
        rotate = int(page.obj.get("/Rotate", 0)) % 360
        # qpdf's placement undoes the page's /Rotate, so draw in the reader's frame.
        w, h = (box.height, box.width) if rotate in (90, 270) else (box.width, box.height)
        top, clear = _choose_offset(data)
        with pikepdf.open(io.BytesIO(_overlay(w, h, cells, font_path, top))) as over:
            page.add_overlay(over.pages[0], box)
            pdf.docinfo["/SgzArchiveStamp"] = json.dumps(
                dict(zip(("全宗号", "年度", "件号", "机构问题", "保管期限", "页数"), cells, strict=True)),
                ensure_ascii=False)
            pdf.save(dst)
        return StampResult(len(pdf.pages), top, clear)
    except pikepdf.PdfError as e:
        raise ValidationError("PDF 文件损坏，无法加盖归档章") from e
    finally:
        pdf.close()


def stamp_box_mm(page_width_mm: float, top_mm: float) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the stamp in mm from the page's top-left corner."""
    left = (page_width_mm - WIDTH_MM) / 2
    return left, top_mm, left + WIDTH_MM, top_mm + HEIGHT_MM
