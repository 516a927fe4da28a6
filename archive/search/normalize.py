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
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}])[ \t\u3000]+(?=[{_CJK}])")


def normalize(text: str) -> str:
    """Return `text` in the one form the index stores and the query parser matches."""
    return _CJK_SPACE.sub("", fold(text))


def fold(text: str) -> str:
    """NFKC, traditional → simplified and lower case, without removing any spaces."""
    return unicodedata.normalize("NFKC", text).translate(_TABLE).lower()


def strip_cjk_spaces(text: str) -> str:
    """Remove only the spaces between Chinese characters (OCR output), keeping the rest as is."""
    return _CJK_SPACE.sub("", text)
