"""Extraction results and the limits that keep hostile files from taking the system down."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Caps for one extraction; sizes in bytes, time in seconds."""

    # extraction holds the file in memory (parent and worker): beyond this a record is filed
    # but its text is not extracted, so memory never grows with file size (ADR 0002)
    max_input: int = 64 * 1024 * 1024
    max_unzipped: int = 256 * 1024 * 1024
    max_part: int = 64 * 1024 * 1024
    # a parsed XML tree costs ~170 bytes per element: tags (counted as '<') bound its memory
    max_xml_tags: int = 2_000_000
    max_ratio: int = 200
    max_members: int = 5000
    max_pages: int = 2000
    # PDF decoding (pdf_guard): one decoded stream, all non-image streams of a file, and the
    # pixels of one image or rendered page; each bounds what a parser would hold at once
    max_stream: int = 48 * 1024 * 1024
    max_decoded: int = 192 * 1024 * 1024
    max_pixels: int = 40_000_000
    # the pure-Python second opinion (pdfminer) lexes ~1 MiB/s: only below this much content
    max_pdfminer: int = 2 * 1024 * 1024
    max_ocr_pages: int = 50
    max_chars: int = 5_000_000
    timeout: float = 120.0
    memory: int = 1024 * 1024 * 1024
    ocr_dpi: int = 200


DEFAULT_LIMITS = Limits()


@dataclass
class Extracted:
    """Text of one file; status ok | no_text | ocr | truncated | failed, reason in Chinese."""

    text: str
    status: str
    reason: str | None = None
    pages: int | None = None
    title: str | None = None  # the document's own title, when asked for (filing)


NO_TEXT_REASON = "未识别文字"


def cap_text(text: str, limits: Limits, pages: int | None, status: str = "ok") -> Extracted:
    """Return `text` as Extracted, truncated to limits.max_chars with a reason if longer."""
    if len(text) > limits.max_chars:
        return Extracted(text[: limits.max_chars], "truncated",
                         f"文字过多，仅索引前 {limits.max_chars} 个字符", pages)
    return Extracted(text, status, None, pages)
