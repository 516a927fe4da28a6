"""Text normalisation shared by indexing and querying, so both sides see the same characters.

NFKC (full-width → half-width), traditional → simplified for common characters, lower case,
Chinese brackets of 文号 unified, and the spaces Tesseract puts between Chinese characters
removed. Indexing and querying must use exactly this function.
"""

from __future__ import annotations

import re
import unicodedata

from archive.search.t2s_table import SIMPLIFIED, TRADITIONAL

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3007"
# 〔2019〕, 【2019】, ［2019］ and (2019) all mean the same in a 文号.
_BRACKETS = {"〔": "[", "〕": "]", "【": "[", "】": "]", "﹝": "[", "﹞": "]", "〖": "[", "〗": "]"}
_TABLE = str.maketrans(TRADITIONAL + "".join(_BRACKETS), SIMPLIFIED + "".join(_BRACKETS.values()))
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}])[ \u3000]+(?=[{_CJK}])")  # not tabs: table cells


def normalize(text: str) -> str:
    """Return `text` in the one form the index stores and the query parser matches."""
    return _CJK_SPACE.sub("", fold(text))


# Full-width ASCII and the ideographic space are most of what NFKC changes in Chinese text
# (every "，" and "："), and each is replaced by its own compatibility decomposition first:
# NFKC decomposes before it composes, so the result is the same, and CPython's NFKC then
# mostly finds the text already normal (its quick check) instead of decomposing every
# character. Likewise traditional characters are rare: a regex finds them in C where
# str.translate looked every character up in a dict. 4x faster on the bench corpus.
_WIDE = re.compile("[\uff01-\uff5e\u3000]")
_WIDE_OF = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "}
_TO_SIMPLIFIED = {chr(k): v if isinstance(v, str) else chr(v) for k, v in _TABLE.items()}
_TRADITIONAL = re.compile("[" + re.escape("".join(_TO_SIMPLIFIED)) + "]")


def _wide(m: re.Match[str]) -> str:
    return _WIDE_OF[m.group()]


def _simplified(m: re.Match[str]) -> str:
    return _TO_SIMPLIFIED[m.group()]


def fold(text: str) -> str:
    """NFKC, traditional → simplified and lower case, without removing any spaces."""
    text = unicodedata.normalize("NFKC", _WIDE.sub(_wide, text))
    return _TRADITIONAL.sub(_simplified, text).lower()


def is_cjk(char: str) -> bool:
    """True for a Chinese ideograph (including 〇), the characters indexed as bigrams."""
    return bool(re.match(rf"[{_CJK}]", char))


def strip_cjk_spaces(text: str) -> str:
    """Remove only the spaces between Chinese characters (OCR output), keeping the rest as is."""
    return _CJK_SPACE.sub("", text)
