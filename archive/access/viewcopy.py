"""Turning a record's plaintext into a PDF for a view copy: PDF as is, .docx via LibreOffice,
images via reportlab; anything else is refused.

LibreOffice can only convert files on disk. The .docx is therefore written to a private folder
`sgz-view-<random>/` (mode 0700) inside this process's locked staging session under
`vault/tmp/`, converted there and the folder deleted at once, on success or failure; a crash in
between leaves it only inside a dead session, which the next start deletes
(ObjectStore.recover; residual risk documented in docs/outside-access.md). PDFs and images
never touch the disk: they are handled in memory.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shutil
import zipfile
from pathlib import Path

from archive.errors import ValidationError
from archive.pdf.office import docx_to_pdf

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
IMAGES = ("image/jpeg", "image/png", "image/tiff", "image/gif", "image/bmp")
PRIVATE_PREFIX = "sgz-view-"
MAX_FRAMES = 500


def can_convert(mime: str) -> bool:
    """Whether a view copy can be made of a component with this mime type."""
    return mime in (PDF, DOCX) or mime in IMAGES


def refuse_format(mime: str, filename: str) -> ValidationError:
    return ValidationError(
        f"无法为“{filename}”（{mime}）制作查阅件：仅支持 PDF、Word（.docx）和图片；"
        "请先将该档案的 PDF 版本作为组件归档（sgz file … --of 档号 --kind 归档PDF）",
        found=mime)


def _docx_to_pdf(data: bytes, tmp_root: Path) -> bytes:
    from archive.pdf.docx_fonts import pdf_ready_docx  # the 公文 faces' stand-ins, as gen's

    with contextlib.suppress(zipfile.BadZipFile, UnicodeDecodeError, KeyError):
        data = pdf_ready_docx(data)[0]
    tmp_root.mkdir(parents=True, exist_ok=True)
    private = tmp_root / f"{PRIVATE_PREFIX}{secrets.token_hex(8)}"
    private.mkdir(mode=0o700)
    try:
        src = private / "item.docx"  # a neutral name: file names may carry client names
        fd = os.open(src, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return docx_to_pdf(src, private).read_bytes()
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _image_to_pdf(data: bytes) -> bytes:
    """One page per frame, each page the size of the image at its DPI (72 if unknown)."""
    from PIL import Image, ImageSequence, UnidentifiedImageError
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationError("图片文件损坏或格式无效，无法制作查阅件") from exc
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    for i, frame in enumerate(ImageSequence.Iterator(img)):
        if i >= MAX_FRAMES:
            raise ValidationError("图片帧数过多，无法制作查阅件", expected=f"≤{MAX_FRAMES}")
        rgb = frame.convert("RGB")
        dpi = frame.info.get("dpi", (72, 72))
        try:
            dx, dy = float(dpi[0]) or 72.0, float(dpi[1]) or 72.0
        except (TypeError, ValueError, IndexError):
            dx = dy = 72.0
        w, h = rgb.width * 72.0 / dx, rgb.height * 72.0 / dy
        c.setPageSize((w, h))
        c.drawImage(ImageReader(rgb), 0, 0, width=w, height=h)
        c.showPage()
    c.save()
    return buf.getvalue()


def to_pdf(data: bytes, mime: str, filename: str, *, tmp_root: Path) -> bytes:
    """The PDF to watermark for a component's plaintext `data`."""
    if mime == PDF:
        return data
    if mime == DOCX:
        return _docx_to_pdf(data, tmp_root)
    if mime in IMAGES:
        return _image_to_pdf(data)
    raise refuse_format(mime, filename)
