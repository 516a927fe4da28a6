"""normalize() is the one form both the index and the query see: its fast path (full-width
forms and traditional characters replaced by regex before NFKC) must give exactly what the
plain definition gives, on any text."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.search.normalize import _CJK_SPACE, _TABLE, fold, normalize
from archive.search.t2s_table import TRADITIONAL


def reference(text: str) -> str:
    """The definition: NFKC, traditional → simplified, lower case, CJK spaces removed."""
    return _CJK_SPACE.sub("", unicodedata.normalize("NFKC", text).translate(_TABLE).lower())


# what NFKC and the fold act on, and what they could interact with: full-width forms next to
# combining marks (＝ + U+0338 composes to ≠), compatibility ideographs, circled numbers,
# ligatures, half-width katakana with voiced marks, traditional characters, brackets of 文号
ALPHABET = ("＝\u0338！＂＃ＡＺａｚ０９（）［］　 \u3000\u0301\u0308\u0338\u3099\u309a"
            "ｶﾞﾟ①⑳㈠㍻ﬁ豈\uf900\ufa0e〔〕【】﹝﹞〖〗İIΣσς" + TRADITIONAL[:200]
            + "社工站走访日期第一次abcXYZ0123456789，。：；、“”‘’\t\n")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(ALPHABET), max_size=40))
def test_normalize_is_its_definition(text: str) -> None:
    assert normalize(text) == reference(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_normalize_is_its_definition_on_any_unicode(text: str) -> None:
    assert normalize(text) == reference(text)


def test_the_cases_that_matter() -> None:
    assert fold("社工站（ＸＺ）　第１次") == "社工站(xz) 第1次"
    assert fold("＝\u0338") == "≠"  # a full-width sign still composes with its mark
    assert normalize("臺灣 社會\u3000工作") == "台湾社会工作"
    assert normalize("吉民发〔2021〕３号") == "吉民发[2021]3号"
