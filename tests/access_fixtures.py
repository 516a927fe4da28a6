"""Helpers for the access tests: small real PDFs, .docx and images; a station with one user
per role; a canary scan that also looks inside PDF streams and docx parts."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
from conftest import CHEAP_WF, PASS, FixedClock
from reportlab.pdfgen import canvas

from archive.pdf.watermark import cjk_font

USERS = {"lisi": "deputy", "wang": "archivist", "zhao": "social_worker", "qian": "supervisor",
         "sun": "archivist"}


def pdf_bytes(*lines: str, pages: int = 1, title: str = "") -> bytes:
    font = cjk_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=0)
    if title:
        c.setTitle(title)
    for p in range(pages):
        c.setFont(font, 11)
        for i, line in enumerate(lines):
            c.drawString(50, 780 - 20 * i, line)
        c.drawString(50, 400, f"page {p + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def docx_bytes(*paragraphs: str, author: str = "") -> bytes:
    import docx

    d = docx.Document()
    if author:
        d.core_properties.author = author
    for p in paragraphs:
        d.add_paragraph(p)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def png_bytes(w: int = 60, h: int = 40) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 220, 240)).save(buf, "PNG")
    return buf.getvalue()


def pdf_text(data: bytes) -> list[str]:
    """Text of every page (pdfium opens the empty user password of view copies)."""
    doc = pdfium.PdfDocument(data)
    try:
        return ["".join(doc[i].get_textpage().get_text_range().split()) for i in range(len(doc))]
    finally:
        doc.close()


def pdf_blobs(data: bytes) -> dict[str, bytes]:
    """Raw bytes, every decoded stream and the extracted text of a PDF."""
    out = {"raw": data, "text": "".join(pdf_text(data)).encode("utf-8")}
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for i, obj in enumerate(pdf.objects):
            if isinstance(obj, pikepdf.Stream):
                out[f"stream{i}"] = obj.read_bytes()
    return out


def docx_blobs(data: bytes) -> dict[str, bytes]:
    out = {"raw": data}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            out[name] = z.read(name)
    return out


def needles(words: list[str]) -> list[tuple[str, bytes]]:
    return [(w, w.encode(enc)) for w in words for enc in ("utf-8", "utf-16-le", "utf-16-be")]


def find_canaries(blobs: dict[str, bytes], words: list[str]) -> list[tuple[str, str]]:
    return [(where, w) for where, blob in blobs.items() for w, n in needles(words) if n in blob]


def scan_tree(root: Path, words: list[str]) -> list[tuple[str, str]]:
    hits = []
    for p in root.rglob("*"):
        if p.is_file():
            hits += find_canaries({str(p): p.read_bytes()}, words)
    return hits


class Station:
    """One home, many logged-in users (each an unlocked Archive sharing the fixed clock)."""

    def __init__(self, home: Path, clock: FixedClock, tmp: Path) -> None:
        self.home, self.clock, self.tmp = home, clock, tmp
        self._open: dict[str, object] = {}

    def as_(self, name: str):  # -> Archive
        from archive.app import Archive

        if name not in self._open:
            self._open[name] = Archive.unlock(self.home, user=name, passphrase=PASS,
                                              clock=self.clock, kdf_work_factor=CHEAP_WF)
        return self._open[name]

    def write(self, name: str, data: bytes) -> Path:
        p = self.tmp / "src" / name
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data)
        return p

    def file(self, name: str, data: bytes, *, user: str = "zhangsan", **kw: object) -> str:
        return str(self.as_(user).records.file([self.write(name, data)], **kw)[0].ref)

    def close(self) -> None:
        for a in self._open.values():
            a.close()  # type: ignore[attr-defined]


def make_station(arc: object, home: Path, clock: FixedClock, tmp: Path) -> Iterator[Station]:
    for name, role in USERS.items():
        arc.users.add(name, role, PASS)  # type: ignore[attr-defined]
    st = Station(home, clock, tmp)
    st._open["zhangsan"] = arc
    yield st
    st._open.pop("zhangsan")
    st.close()
