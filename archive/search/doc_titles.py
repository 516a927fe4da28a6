"""A document's own title: Word core properties or first heading, PDF /Title.

Read by the filing process (records/sniff.py) or, when the file is indexed, by the extraction
worker that parses it anyway (archive/search/extract.py), isolated and capped.
"""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import IO, BinaryIO

from lxml import etree

from archive.fs.sources import InMemoryFile
from archive.safetext import clean_title

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_MAX_CORE_XML = 1 << 20
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_TITLE_SCAN_PARAGRAPHS = 2000  # the title is near the top; never walk a huge body


def docx_title(path: Path | BinaryIO) -> str | None:
    """The core-properties title, else the first Title/Heading paragraph, else the first text.

    The body is streamed with iterparse and each paragraph freed: memory stays flat whatever
    document.xml holds (this also runs in the filing process, for files too large to extract).
    """
    try:
        with zipfile.ZipFile(path) as z:
            parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                                     load_dtd=False)
            if "docProps/core.xml" in z.namelist() and z.getinfo("docProps/core.xml").file_size < _MAX_CORE_XML:
                root = etree.fromstring(z.read("docProps/core.xml"), parser)
                for el in root.iter("{http://purl.org/dc/elements/1.1/}title"):
                    if el.text and el.text.strip():
                        return el.text.strip()
            info = z.getinfo("word/document.xml")
            if info.file_size > 64 << 20:
                return None
            with z.open(info) as f:
                return _first_heading(f)
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError, OSError, EOFError,
            NotImplementedError):
        return None


def _first_heading(f: IO[bytes]) -> str | None:
    first_text = None
    events = etree.iterparse(f, events=("end",), tag=f"{_W}p", resolve_entities=False,
                             no_network=True, load_dtd=False, huge_tree=False)
    for n, (_, p) in enumerate(events):
        if n >= _TITLE_SCAN_PARAGRAPHS:
            break
        text = "".join(t.text or "" for t in p.iter(f"{_W}t")).strip()
        style = p.find(f"{_W}pPr/{_W}pStyle")
        sval = style.get(f"{_W}val", "") if style is not None else ""
        p.clear()
        while p.getprevious() is not None:
            del p.getparent()[0]
        if not text:
            continue
        if sval.lower().startswith(("title", "heading")) or sval in ("1", "2"):
            return text[:200]
        if first_text is None:
            first_text = text[:200]
    return first_text


def pdf_title(path: Path | InMemoryFile) -> str | None:
    """The PDF's /Title, read only after the decoding pre-scan passed (qpdf has no caps)."""
    try:
        from archive.search.limits import DEFAULT_LIMITS

        size = path.size if isinstance(path, InMemoryFile) else path.stat().st_size
        if size > DEFAULT_LIMITS.max_input:
            return None
        return pdf_title_of(path.data if isinstance(path, InMemoryFile) else path.read_bytes())
    except OSError:  # unreadable now: the file is still a record, just without a title
        return None


def pdf_title_of(data: bytes) -> str | None:
    """The document information dictionary's /Title, read with pdfium: the library the
    extraction worker has loaded anyway (pikepdf cost each worker 0.13 s to import and
    0.2 ms per PDF). A /Title that is not a text string (malformed) reads as its bare name,
    or as nothing for a number; the filing process and the workers read it the same way."""
    try:
        import pypdfium2 as pdfium

        from archive.search.limits import DEFAULT_LIMITS
        from archive.search.pdf_guard import check_pdf

        if len(data) > DEFAULT_LIMITS.max_input:
            return None
        if check_pdf(data, DEFAULT_LIMITS, time.monotonic() + 5).refuse:
            return None
        pdf = pdfium.PdfDocument(data)
        try:
            return pdf.get_metadata_value("Title").strip() or None
        finally:
            pdf.close()
    except Exception:  # any damage (or a password): still a record, just without a title
        return None


def document_title(data: bytes, mime: str) -> str | None:
    """The title `inspect_file` finds, from the file's bytes (run by an extraction worker,
    which parses the document anyway, so the filing process does not parse it twice)."""
    title = None
    if mime == DOCX_MIME:
        title = docx_title(io.BytesIO(data))
    elif mime == "application/pdf":
        title = pdf_title_of(data)
    return clean_title(title) or None if title else None
