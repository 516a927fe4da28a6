"""Text of a PDF: pdfium text layer, pdfminer as a second opinion, OCR for image-only pages.

pdfium maps predefined CJK CMaps (Adobe-GB1, UniGB-UCS2-H) without ToUnicode; pdfminer is
tried where pdfium yields replacement characters. Pages and time are capped.
"""

from __future__ import annotations

import io
import re
import time

from archive.search.limits import NO_TEXT_REASON, Extracted, Limits, cap_text
from archive.search.ocr import OcrUnavailable, ocr_image
from archive.search.pdf_guard import check_pdf

_USEFUL = re.compile(r"[^\W_]")


def _useful(text: str) -> int:
    return len(_USEFUL.findall(text)) - 5 * text.count("\ufffd")


def _pdfminer_text(data: bytes, pages: int) -> str:
    from pdfminer.high_level import extract_text

    try:
        return extract_text(io.BytesIO(data), maxpages=pages)
    except Exception:  # pdfminer raises many unrelated types on bad files
        return ""


def extract_pdf(data: bytes, limits: Limits, *, ocr: bool, deadline: float,
                tmpdir: str | None = None) -> Extracted:
    """Extract a PDF; never raises for bad input, returns status failed with a reason."""
    import pypdfium2 as pdfium

    verdict = check_pdf(data, limits, deadline)
    if verdict.refuse:
        return Extracted("", "failed", verdict.refuse, None)
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            return Extracted("", "failed", "PDF 已加密（需要密码），未提取文字", None)
        return Extracted("", "failed", "PDF 文件损坏，无法读取", None)
    try:
        total = len(pdf)
        limit = min(total, limits.max_pages)
        texts: list[str] = []
        reason = None
        for i in range(limit):
            if time.monotonic() > deadline:
                reason = f"提取超时，仅提取前 {i} 页（共 {total} 页）"
                break
            page = pdf[i]
            texts.append(page.get_textpage().get_text_range())
        done = len(texts)
        if reason is None and limit < total:
            reason = f"页数过多，仅提取前 {limit} 页（共 {total} 页）"
        text = "\n".join(texts)
        if done and ("\ufffd" in text or _useful(text) < 10) and (
                verdict.content <= limits.max_pdfminer):
            alt = _pdfminer_text(data, min(done, 200))
            if _useful(alt) > _useful(text):
                text = alt
        if _useful(text) < 10 and done:
            if not ocr:
                return Extracted("", "no_text", NO_TEXT_REASON, total)
            if verdict.no_ocr:
                return Extracted("", "no_text", f"{NO_TEXT_REASON}：{verdict.no_ocr}", total)
            return _ocr_pdf(pdf, total, limits, deadline, tmpdir)
    finally:
        pdf.close()
    result = cap_text(text.replace("\x0c", "\n"), limits, total)
    if reason and result.status == "ok":
        return Extracted(result.text, "truncated", reason, total)
    return result


def _ocr_pdf(pdf: object, total: int, limits: Limits, deadline: float,
             tmpdir: str | None) -> Extracted:
    texts: list[str] = []
    reason = None
    n = min(total, limits.max_ocr_pages)
    try:
        for i in range(n):
            left = deadline - time.monotonic()
            if left <= 1:
                reason = f"识别超时，仅识别前 {i} 页（共 {total} 页）"
                break
            page = pdf[i]  # type: ignore[index]
            if not _has_images(page):
                continue  # a page with no image has nothing to recognise (blank or vector)
            bitmap = page.render(scale=_ocr_scale(page, limits), grayscale=True)
            buf = io.BytesIO()
            bitmap.to_pil().save(buf, "PNG")
            texts.append(ocr_image(buf.getvalue(), timeout=left, tmpdir=tmpdir))
    except OcrUnavailable:
        return Extracted("", "no_text", NO_TEXT_REASON, total)
    if reason is None and n < total:
        reason = f"页数过多，仅识别前 {n} 页（共 {total} 页）"
    text = "\n".join(texts).strip()
    if not text:
        return Extracted("", "no_text", NO_TEXT_REASON, total)
    result = cap_text(text, limits, total, status="ocr")
    if reason and result.status == "ocr":
        return Extracted(result.text, "truncated", reason, total)
    return result


def _has_images(page: object) -> bool:
    import pypdfium2.raw as pdfium_c

    try:
        objs = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3)  # type: ignore[attr-defined]
        return next(iter(objs), None) is not None
    except Exception:  # unknown structure: let OCR decide
        return True


def _ocr_scale(page: object, limits: Limits) -> float:
    """Render scale for OCR: the configured DPI, lowered so a page never exceeds max_pixels."""
    width, height = page.get_size()  # type: ignore[attr-defined]
    scale = limits.ocr_dpi / 72
    area = max(width * height, 1.0)
    if area * scale * scale > limits.max_pixels:
        scale = (limits.max_pixels / area) ** 0.5
    return scale
