"""Chinese segmentation for the index: CJK bigrams for matching, single units for 1-char queries.

A *unit* is one Chinese character or one run of other letters/digits ("2019", "abc"). A
*segment* is a run of units with nothing between them. The bigram stream of a segment gives
substring semantics for Chinese of two or more characters (临时救助 matches 临时救助金 even
where a word segmenter cuts 临时 | 救助金); the unit stream answers one-unit queries (张, 2019).
Why not a word segmenter: see docs/adr/0002-search-fts5-bigrams.md.
"""

from __future__ import annotations

import re
from operator import add

from archive.search.normalize import normalize

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3007"
_RUN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RUN = re.compile(rf"[{_CJK}]")


def segments(text: str) -> list[list[str]]:
    """Split already-normalised text into segments of units."""
    out: list[list[str]] = []
    end = -1
    for m in _RUN.finditer(text):
        run = m.group()
        units = list(run) if _CJK_RUN.match(run) else [run]
        if m.start() == end and out:
            out[-1].extend(units)
        else:
            out.append(units)
        end = m.end()
    return out


def segment_bigrams(units: list[str]) -> list[str]:
    """Bigrams of one segment; a one-unit segment stands for itself."""
    if len(units) == 1:
        return units
    return [a + b for a, b in zip(units, units[1:], strict=False)]


def index_tokens(text: str, *, normalized: bool = False) -> tuple[str, str]:
    """Return (bigram stream, unit stream) for `text`, space separated, ready for FTS5.

    Same result as joining segment_bigrams(seg) and seg over segments(text), with the
    per-character work done in C (list(), map(add)): indexing is on the filing path.
    """
    if not normalized:
        text = normalize(text)
    bi: list[str] = []
    uni: list[str] = []
    seg: list[str] = []
    end = -1
    for m in _RUN.finditer(text):
        run = m.group()
        if m.start() != end and seg:
            bi.extend(map(add, seg, seg[1:]) if len(seg) > 1 else seg)
            uni.extend(seg)
            seg = []
        if _CJK_RUN.match(run):
            seg.extend(run)
        else:
            seg.append(run)
        end = m.end()
    if seg:
        bi.extend(map(add, seg, seg[1:]) if len(seg) > 1 else seg)
        uni.extend(seg)
    return " ".join(bi), " ".join(uni)
