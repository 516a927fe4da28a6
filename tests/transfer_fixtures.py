"""A demo year for the transfer tests: PDFs and a scan per record, opened from memory."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import BinaryIO

from paper_fixtures import demo_items
from PIL import Image
from reportlab.pdfgen import canvas

from archive.pdf.fonts import cjk_ttf
from archive.transfer.model import Component, Station, TransferRecord

STATION = Station("Z001", "长春市双阳区奢岭街道社会工作服务站", "长春市双阳区档案馆", "222112")


def pdf_bytes(title: str, pages: int = 2) -> bytes:
    buf = io.BytesIO()
    font = cjk_ttf().name
    c = canvas.Canvas(buf, initialFontName=font)
    for p in range(pages):
        c.setFont(font, 16)
        c.drawString(90, 700, f"{title} 第{p + 1}页")
        c.showPage()
    c.save()
    return buf.getvalue()


def scan_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 280), (250, 250 - seed, 240)).save(buf, format="JPEG", quality=90,
                                                             dpi=(100, 100))
    return buf.getvalue()


def demo_year(n: int = 6) -> tuple[list[TransferRecord], dict[tuple[str, int], bytes]]:
    records, blobs = [], {}
    for it in demo_items(n):
        comps = [Component(1, "正文", f"{it.title}.pdf"), Component(2, "签字扫描件", "扫描.jpg")]
        blobs[(it.ref, 1)] = pdf_bytes(it.title, pages=it.pages or 1)
        blobs[(it.ref, 2)] = scan_bytes(it.item)
        records.append(TransferRecord(it, tuple(comps)))
    return records, blobs


def opener(blobs: dict[tuple[str, int], bytes]):  # type: ignore[no-untyped-def]
    def open_(rec: TransferRecord, comp: Component) -> contextlib.AbstractContextManager[BinaryIO]:
        @contextlib.contextmanager
        def cm() -> Iterator[BinaryIO]:
            yield io.BytesIO(blobs[(rec.meta.ref, comp.seq)])
        return cm()
    return open_
