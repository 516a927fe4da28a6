"""What a file to be filed is: its type from its bytes (not its name) and its own title.

A file renamed to a misleading extension (a .pdf that is really a zip, an .exe called .docx) is
refused, so the catalogue never lies about what an object holds.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from archive.errors import ValidationError
from archive.fs.sources import InMemoryFile, open_source
from archive.safetext import clean_title
from archive.search.doc_titles import docx_title, pdf_title

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
        found_title = docx_title(body())
    elif mime == "application/pdf":
        found_title = pdf_title(path)
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
