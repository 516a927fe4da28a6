"""Highlighted snippets: ~60 characters of the stored text around the first hit, in 【…】.

Matching runs on the normalised form (so a simplified query highlights traditional text),
while the snippet shows the original characters, through a per-character offset map.
"""

from __future__ import annotations

import re

from archive.search.normalize import fold

OPEN, CLOSE = "【", "】"


def _normalized_with_map(text: str) -> tuple[str, list[int]]:
    folded = fold(text)
    if len(folded) == len(text):  # the usual case: a 1:1 character mapping
        return folded, list(range(len(text)))
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        n = fold(ch)
        out.append(n)
        index.extend([i] * len(n))
    return "".join(out), index


def make_snippet(text: str, literals: list[str], width: int = 60) -> str:
    """Cut `width` characters around the first literal found and mark every literal in it."""
    text = re.sub(r"\s+", " ", text).strip()
    lits = sorted({x for x in literals if x}, key=len, reverse=True)
    if not text:
        return ""
    norm, index = _normalized_with_map(text)
    spans: list[tuple[int, int]] = []
    if lits:
        pattern = re.compile("|".join(re.escape(x) for x in lits))
        spans = [(index[m.start()], index[m.end() - 1] + 1) for m in pattern.finditer(norm)]
    first = spans[0][0] if spans else 0
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    start = max(0, min(start, end - width))
    parts, pos = [], start
    for s, e in spans:
        if s < pos or e > end:
            continue
        parts += [text[pos:s], OPEN, text[s:e], CLOSE]
        pos = e
    parts.append(text[pos:end])
    body = "".join(parts).replace(CLOSE + OPEN, "")
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")
