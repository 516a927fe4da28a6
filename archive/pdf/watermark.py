"""Watermarked, copy-restricted view copies of PDFs for outside access (DESIGN §7).

Every page gets a visible, diagonal, semi-transparent, tiled watermark (unit, request id, date,
copy id) drawn in an installed CJK face, subset and embedded (archive.pdf.fonts), so the copy
reads the same on a PC without Chinese fonts; the copy id also goes into the document metadata. The result is encrypted with
AES-256 (R6), an empty user password (opens anywhere) and a random owner password, and the
permissions forbid extraction, printing and modification. PDF permissions are advisory — a
determined reader can strip them — so the visible watermark is the real deterrent.
"""

from __future__ import annotations

import io
import math
import secrets
from typing import BinaryIO

import pikepdf

from archive.errors import ValidationError
from archive.pdf.fonts import reportlab_font

ANGLE = 35.0  # degrees, as the reader sees the page
ALPHA = 0.2
MAX_PAGES = 5000


LEGACY_CID = "STSong-Light"


def cjk_font(text: str | None = None) -> str:
    """An embeddable subset of an installed 黑体-like face holding the characters of `text`.

    Without `text` (callers that do not know their text up front) this is still reportlab's
    built-in, non-embedded CID font; new code should pass the text.
    """
    if text is None:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        if LEGACY_CID not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(LEGACY_CID))
        return LEGACY_CID
    return reportlab_font("heiti", text)


def _overlay_page(width: float, height: float, lines: list[str]) -> pikepdf.Pdf:
    """One page of size width×height (as the reader sees it) carrying the tiled watermark."""
    from reportlab.pdfbase import pdfmetrics  # loaded when a copy is made, not by every command
    from reportlab.pdfgen import canvas

    font = cjk_font("".join(lines))
    size = max(8.0, min(width, height) / 42)
    leading = size * 1.35
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(width, height), pageCompression=0, initialFontName=font)
    c.setFillColorRGB(0.55, 0.1, 0.1)
    c.setFillAlpha(ALPHA)
    c.setFont(font, size)
    block_w = max(pdfmetrics.stringWidth(s, font, size) for s in lines) + size * 4
    block_h = leading * len(lines) + size * 3
    c.translate(width / 2, height / 2)
    c.rotate(ANGLE)
    reach = math.hypot(width, height) / 2 + block_w
    nx, ny = int(reach // block_w) + 1, int(reach // block_h) + 1
    for j in range(-ny, ny + 1):
        shift = (j % 2) * block_w / 2  # brick pattern: no clean vertical gap to crop along
        for i in range(-nx, nx + 1):
            x, y = i * block_w + shift - block_w / 2, j * block_h
            for k, s in enumerate(lines):
                c.drawString(x, y - k * leading, s)
    c.showPage()
    c.save()
    return pikepdf.open(io.BytesIO(buf.getvalue()))


def _open(src: BinaryIO) -> pikepdf.Pdf:
    try:
        pdf = pikepdf.open(io.BytesIO(src.read()))
    except pikepdf.PasswordError as e:
        raise ValidationError("PDF 已加密，无法制作查阅件") from e
    except (pikepdf.PdfError, ValueError) as e:
        raise ValidationError("PDF 文件损坏或格式无效，无法制作查阅件") from e
    n = len(pdf.pages)
    if n == 0 or n > MAX_PAGES:
        raise ValidationError("PDF 页数无效", expected=f"1–{MAX_PAGES}", found=n)
    return pdf


def make_view_copy(src_pdf: BinaryIO, dst: BinaryIO, *, lines: list[str], copy_id: str,
                   owner_password: bytes | None = None) -> None:
    """Write a watermarked, permission-restricted, AES-256 view copy of `src_pdf` to `dst`.

    `lines` are the watermark lines (unit, request id, date, copy id); `copy_id` is also
    stored in the metadata. Without `owner_password` a random one (32 hex) is used and
    discarded, so each issued copy differs and nobody can lift the restrictions with it.
    """
    if not lines or not all(isinstance(s, str) and s.strip() for s in lines):
        raise ValidationError("水印文字不能为空")
    if not copy_id.strip():
        raise ValidationError("复制件编号不能为空")
    pdf = _open(src_pdf)
    overlays: dict[tuple[float, float, int], pikepdf.Pdf] = {}
    try:
        for page in pdf.pages:
            box = pikepdf.Rectangle(page.mediabox)
            rotate = int(page.obj.get("/Rotate", 0)) % 360
            key = (round(box.width, 2), round(box.height, 2), rotate)
            if key not in overlays:
                # qpdf's placement undoes the page's /Rotate, so draw in the reader's frame.
                w, h = (box.height, box.width) if rotate in (90, 270) else (box.width, box.height)
                overlays[key] = _overlay_page(w, h, lines)
            page.add_overlay(overlays[key].pages[0], box)
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:identifier"] = copy_id
            meta["dc:description"] = " / ".join(lines)
        pdf.docinfo["/SgzCopyId"] = copy_id
        owner = (owner_password or secrets.token_hex(16).encode()).decode("latin-1")
        allow = pikepdf.Permissions(
            accessibility=True, extract=False, modify_annotation=False,
            modify_assembly=False, modify_form=False, modify_other=False,
            print_lowres=False, print_highres=False)
        pdf.save(dst, encryption=pikepdf.Encryption(owner=owner, user="", R=6, allow=allow))
    except pikepdf.PdfError as e:
        raise ValidationError("PDF 文件损坏，无法制作查阅件") from e
    finally:
        pdf.close()
        for o in overlays.values():
            o.close()
