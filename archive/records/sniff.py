"""What a file to be filed is: its type from its bytes (not its name) and its own title.

A file renamed to a misleading extension (a .pdf that is really a zip, an .exe called .docx) is
refused, so the catalogue never lies about what an object holds.
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from lxml import etree

from archive.errors import ValidationError
from archive.fs.sources import InMemoryFile, open_source
from archive.safetext import clean_title

_EXT_MIME = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
    ".tif": "image/tiff", ".tiff": "image/tiff", ".gif": "image/gif", ".bmp": "image/bmp",
    ".txt": "text/plain", ".csv": "text/csv", ".md": "text/markdown",
    ".ofd": "application/ofd", ".zip": "application/zip",
    ".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".wps": "application/msword",
    ".mp3": "audio/mpeg", ".mp4": "video/mp4", ".wav": "audio/wav",
}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAX_CORE_XML = 1 << 20


@dataclass(frozen=True)
class FileKind:
    mime: str
    title: str | None  # the document's own title, if it has one


def _magic_mime(head: bytes) -> str | None:
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.startswith(b"BM"):
        return "image/bmp"
    if head.startswith(_OLE):
        return "application/x-ole"
    if head.startswith(b"MZ") or head.startswith(b"\x7fELF"):
        return "application/x-executable"
    if head.startswith(b"ID3") or head[:2] == b"\xff\xfb":
        return "audio/mpeg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return None


def _zip_kind(path: Path | BinaryIO) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return "application/zip"
    if "word/document.xml" in names:
        return _EXT_MIME[".docx"]
    if "xl/workbook.xml" in names:
        return _EXT_MIME[".xlsx"]
    if "ppt/presentation.xml" in names:
        return _EXT_MIME[".pptx"]
    if "OFD.xml" in names:
        return "application/ofd"
    return "application/zip"


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_TITLE_SCAN_PARAGRAPHS = 2000  # the title is near the top; never walk a huge body


def _docx_title(path: Path | BinaryIO) -> str | None:
    """The core-properties title, else the first Title/Heading paragraph, else the first text.

    Runs in the filing process (not the extraction worker), so the body is streamed with
    iterparse and each paragraph freed: memory stays flat whatever document.xml holds.
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


def _pdf_title(path: Path | InMemoryFile) -> str | None:
    """The PDF's /Title, read only after the decoding pre-scan passed (qpdf has no caps)."""
    try:
        from archive.search.limits import DEFAULT_LIMITS

        size = path.size if isinstance(path, InMemoryFile) else path.stat().st_size
        if size > DEFAULT_LIMITS.max_input:
            return None
        return _pdf_title_of(path.data if isinstance(path, InMemoryFile) else path.read_bytes())
    except OSError:  # unreadable now: the file is still a record, just without a title
        return None


def _pdf_title_of(data: bytes) -> str | None:
    try:
        import pikepdf

        from archive.search.limits import DEFAULT_LIMITS
        from archive.search.pdf_guard import check_pdf

        if len(data) > DEFAULT_LIMITS.max_input:
            return None
        if check_pdf(data, DEFAULT_LIMITS, time.monotonic() + 5).refuse:
            return None
        with pikepdf.open(io.BytesIO(data)) as pdf:
            title = pdf.docinfo.get("/Title") if pdf.docinfo is not None else None
            return str(title).strip() or None if title is not None else None
    except Exception:  # any damage: the file is still a record, just without a title
        return None


def document_title(data: bytes, mime: str) -> str | None:
    """The title `inspect_file` finds, from the file's bytes (run by an extraction worker,
    which parses the document anyway, so the filing process does not parse it twice)."""
    title = None
    if mime == _EXT_MIME[".docx"]:
        title = _docx_title(io.BytesIO(data))
    elif mime == "application/pdf":
        title = _pdf_title_of(data)
    return clean_title(title) or None if title else None


def titled(mime: str) -> bool:
    """Whether `inspect_file` looks for a title inside files of this type."""
    return mime in (_EXT_MIME[".docx"], "application/pdf")


def inspect_file(path: Path | InMemoryFile, *, title: bool = True) -> FileKind:
    """Sniff the type from the bytes; refuse a misleading extension; find the document's title
    (unless `title` is False: the caller has it read elsewhere, see `document_title`).
    `path` may be an in-memory file (a browser upload): nothing is written to read it."""

    def body() -> Path | BinaryIO:  # zipfile reads a path or a stream alike
        return path.open() if isinstance(path, InMemoryFile) else path

    with open_source(path) as f:
        head = f.read(16)
    found = _magic_mime(head)
    if found == "application/zip":
        found = _zip_kind(body())
    ext = path.suffix.lower()
    expected = _EXT_MIME.get(ext)
    if found is None:
        mime = expected if expected and expected.startswith("text/") and _looks_text(path) else None
        if mime is None and expected is not None and not expected.startswith("text/"):
            raise ValidationError(
                f"文件“{path.name}”的扩展名为 {ext}，但内容不是该类型（可能被改了扩展名）",
                ref=str(path), expected=expected, found="unknown",
            )
        mime = mime or "application/octet-stream"
    else:
        if found == "application/x-executable":
            raise ValidationError(f"文件“{path.name}”是可执行程序，不能作为档案归档", ref=str(path))
        if expected is not None and not _compatible(expected, found):
            raise ValidationError(
                f"文件“{path.name}”的扩展名为 {ext}，但内容是 {found}（可能被改了扩展名）",
                ref=str(path), expected=expected, found=found,
            )
        mime = found if found != "application/x-ole" else (expected or "application/msword")
    if not title:
        return FileKind(mime=mime, title=None)
    found_title = None
    if mime == _EXT_MIME[".docx"]:
        found_title = _docx_title(body())
    elif mime == "application/pdf":
        found_title = _pdf_title(path)
    if found_title:
        found_title = clean_title(found_title)  # untrusted: no controls, no bidi
    return FileKind(mime=mime, title=found_title or None)


def _compatible(expected: str, found: str) -> bool:
    if expected == found:
        return True
    if found == "application/x-ole":
        return expected in ("application/msword", "application/vnd.ms-excel")
    return expected == "application/zip" and found.startswith("application/vnd.openxmlformats")


def _looks_text(path: Path | InMemoryFile) -> bool:
    with open_source(path) as f:
        sample = f.read(4096)
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with BOM (Windows Notepad)
        return True
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start > len(sample) - 4  # cut in the middle of a character
