"""Anonymised excerpt of a PDF: a NEW PDF re-typeset from the extracted, masked text.

Reliable redaction of arbitrary PDF content streams is not possible in general (text can be
drawn glyph by glyph, hidden under images, kept in forms, annotations, metadata, attachments
or earlier incremental revisions). So nothing of the original is copied: not its content
streams, images, fonts, metadata, annotations or attachments. Only the text layer is read
(pdfium), masked, and typeset afresh with reportlab's built-in STSong-Light under the header
"匿名化摘录"; layout, tables and images are lost, and image-only (scanned) pages yield no
text — such pages are reported, not guessed at.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import BinaryIO

from archive.anonymize.detect import mask_text
from archive.anonymize.names import Harvest, KnownNames
from archive.anonymize.report import Report
from archive.errors import ValidationError
from archive.pdf.watermark import cjk_font

HEADER = "匿名化摘录"
SIZE = 10.5
LEADING = SIZE * 1.6
MARGIN = 56.0
MAX_PAGES = 2000


def _extract(data: bytes) -> list[str]:
    import pypdfium2 as pdfium  # loaded when a PDF is anonymised, not by every command

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        raise ValidationError("PDF 文件损坏、格式无效或已加密，无法匿名化") from e
    try:
        n = len(doc)
        if n == 0 or n > MAX_PAGES:
            raise ValidationError("PDF 页数无效", expected=f"1–{MAX_PAGES}", found=n)
        pages = []
        for i in range(n):
            page = doc[i]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n"))
            textpage.close()
            page.close()
        return pages
    finally:
        doc.close()


def _wrap(line: str, font: str, width: float) -> list[str]:
    """Break a line at the text width: CJK has no spaces, so break by character."""
    from reportlab.pdfbase import pdfmetrics

    out: list[str] = []
    cur = ""
    for ch in line:
        if cur and pdfmetrics.stringWidth(cur + ch, font, SIZE) > width:
            out.append(cur)
            cur = ""
        cur += ch
    out.append(cur)
    return out


def anonymize_pdf(src: BinaryIO, dst: BinaryIO, known_names: Iterable[str] = (), *,
                  known: KnownNames | None = None) -> Report:
    """Write an anonymised, re-typeset text excerpt of the PDF `src` to `dst`.

    Names are collected from every page first (person fields, places in context), then
    every page is masked with the full list.
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    report = Report()
    pages = _extract(src.read())
    known = known or KnownNames()
    known = KnownNames(known.clients, known.staff, known.places, [*known.extra, *known_names])
    harvest = Harvest()
    for text in pages:
        harvest.plain(text)
    report.person_fields, report.unrecognised = harvest.fields, harvest.unrecognised
    people, places = harvest.people(known), harvest.all_places(known)
    font = cjk_font()
    width, height = A4
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1, invariant=1)
    c.setTitle(HEADER)
    c.setAuthor("")
    c.setCreator("sgz")
    c.setProducer("sgz")

    def start_page(number: int, cont: bool) -> float:
        c.setFont(font, 14)
        c.drawCentredString(width / 2, height - MARGIN, HEADER)
        c.setFont(font, 9)
        note = f"原文第 {number} 页" + ("（续）" if cont else "")
        c.drawRightString(width - MARGIN, height - MARGIN - 18, note)
        c.setFont(font, SIZE)
        return height - MARGIN - 44

    for number, text in enumerate(pages, start=1):
        masked, spans = mask_text(text, people=people, places=places)
        report.masked.update(sp.kind for sp in spans)
        report.parts.append(f"第{number}页")
        if not masked.strip():
            report.warnings.append(f"第 {number} 页没有文字层（可能为扫描件），未输出内容")
        y = start_page(number, False)
        for raw in masked.split("\n"):
            for line in _wrap(raw.rstrip(), font, width - 2 * MARGIN):
                if y < MARGIN:
                    c.showPage()
                    y = start_page(number, True)
                c.drawString(MARGIN, y, line)
                y -= LEADING
        c.showPage()
    c.save()
    dst.write(buf.getvalue())
    return report.finish()


def anonymize_text(text: str, known_names: Iterable[str] = (), *,
                   known: KnownNames | None = None) -> tuple[str, Report]:
    """A plain-text record masked the same way (fields harvested, then every name masked)."""
    report = Report()
    known = known or KnownNames()
    known = KnownNames(known.clients, known.staff, known.places, [*known.extra, *known_names])
    harvest = Harvest()
    harvest.plain(text)
    report.person_fields, report.unrecognised = harvest.fields, harvest.unrecognised
    masked, spans = mask_text(text, people=harvest.people(known), places=harvest.all_places(known))
    report.masked.update(sp.kind for sp in spans)
    return masked, report.finish()


def anonymize_filename(name: str, known: KnownNames, extra_text: str = "") -> str:
    """A file name with every known name (and those `extra_text`'s fields give) masked."""
    harvest = Harvest()
    if extra_text:
        harvest.plain(extra_text)
    return mask_text(name, people=harvest.people(known), places=harvest.all_places(known))[0]
