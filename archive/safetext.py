"""Untrusted text made safe for a terminal, a file name or the catalogue (finding 7).

Titles and file names come from documents and clerks' folders: they can hold a right-to-left
override that makes "gpj.exe" read as "exe.jpg", a newline that forges an extra line in `ls`,
an escape sequence that recolours or clears the terminal, or a name Windows cannot create.
Every place that shows or stores such text goes through one of the three functions here.
"""

from __future__ import annotations

import re
import unicodedata

# Bidi embeddings/overrides/isolates and marks, zero-width and invisible format characters.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad"
_LINE_BREAKS = "\u2028\u2029\u0085"
_UNSAFE_EXTRA = frozenset(_BIDI + _INVISIBLE + _LINE_BREAKS)
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_PATH_CHARS = frozenset('/\\:*?"<>|')
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³]|CONIN\$|CONOUT\$)",
                       re.IGNORECASE)
MAX_NAME_BYTES = 200
_EXT = re.compile(r"[A-Za-z0-9]{1,15}")  # what is kept as an extension when capping
TITLE_MAX_CHARS = 200


_BIDI_RE = re.compile(f"[{_BIDI}]")


def without_bidi(text: str) -> str:
    """Text for a web page: each bidi control written as its visible escape (\\u202e), so no
    field (an applicant's name, an uploaded file's name) can reorder what follows it on the
    page; everything else is left as it is (the page escapes HTML itself)."""
    if not _BIDI_RE.search(text):
        return text
    return _BIDI_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def is_unsafe(ch: str) -> bool:
    """True for a character that must not reach a terminal or a file name as itself."""
    cat = unicodedata.category(ch)
    # private-use (Co) and not-yet-assigned (Cn) stay: rare characters in Chinese names live there
    return cat in ("Cc", "Cs", "Zl", "Zp") or ch in _UNSAFE_EXTRA


def display(text: str) -> str:
    """Text for a terminal line: every control, bidi and invisible character written as an escape.

    Newline, tab and carriage return become \\n, \\t, \\r; everything else \\xHH or \\uHHHH, so
    what is shown is exactly one line that reads in its stored order.
    """
    if not any(is_unsafe(ch) for ch in text):
        return text
    out = []
    for ch in text:
        if not is_unsafe(ch):
            out.append(ch)
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def clean_title(text: str, max_chars: int = TITLE_MAX_CHARS) -> str:
    """A title or file name as stored in the catalogue: one line, no control or bidi characters.

    Line breaks and tabs become spaces, other unsafe characters are dropped, runs of
    whitespace collapse, and the result is NFC and at most `max_chars` characters.
    """
    text = unicodedata.normalize("NFC", text)
    chars = []
    for ch in text:
        if ch in "\n\r\t\v\f" or ch in _LINE_BREAKS:
            chars.append(" ")
        elif not is_unsafe(ch):
            chars.append(ch)
    cleaned = re.sub(r"\s+", " ", "".join(chars)).strip()
    return cleaned[:max_chars].rstrip()


def _cap_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def safe_filename(text: str, *, max_bytes: int = MAX_NAME_BYTES, fallback: str = "未命名") -> str:
    """A file name safe to create on Linux, macOS and Windows from untrusted text.

    Path separators, characters Windows forbids, controls and bidi/invisible characters become
    "_"; trailing dots and spaces go; a Windows device name (CON, NUL, COM1, LPT1… with or
    without extension) gets a leading "_"; the UTF-8 length is capped at `max_bytes`, keeping
    the extension. Never returns "", "." or "..".
    """
    text = unicodedata.normalize("NFC", text)
    name = "".join("_" if (ch in _PATH_CHARS or is_unsafe(ch)) else ch for ch in text)
    name = name.strip(" ").rstrip(". ")
    if name in ("", ".", ".."):
        name = fallback
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not _EXT.fullmatch(ext):
        stem, ext = name, ""
    else:
        ext = "." + ext
    if _RESERVED.fullmatch(stem.split(".")[0].rstrip(" ")):
        stem = "_" + stem
    stem = _cap_utf8(stem, max_bytes - len(ext.encode())).rstrip(". ")
    if not stem:
        stem = _cap_utf8(fallback, max_bytes - len(ext.encode()))
    return stem + ext


__all__ = ["MAX_NAME_BYTES", "TITLE_MAX_CHARS", "clean_title", "display", "is_unsafe",
           "safe_filename"]
