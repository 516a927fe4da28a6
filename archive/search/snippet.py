"""Highlighted snippets: ~60 characters of the stored text around the first hit, in 【…】.

Matching runs on the normalised form (so a simplified query highlights traditional text),
while the snippet shows the original characters. Only the window is normalised per character;
the first hit is found on the raw text first, then on folded chunks (speed: texts are long).
"""

from __future__ import annotations

import re

from archive.search.normalize import fold

OPEN, CLOSE = "【", "】"
_CHUNK = 4000


def _first_hit(text: str, lits: list[str]) -> int:
    hits = [p for p in (text.find(x) for x in lits) if p >= 0]
    if hits:
        return min(hits)
    for start in range(0, len(text), _CHUNK):
        # overlap so a literal across the chunk edge is still found
        chunk = fold(text[start : start + _CHUNK + 64])
        if len(chunk) != len(text[start : start + _CHUNK + 64]):
            return -1
        hits = [p for p in (chunk.find(x) for x in lits) if p >= 0]
        if hits:
            return start + min(hits)
    return -1


def make_snippet(text: str, literals: list[str], width: int = 60) -> str:
    """Cut `width` characters around the first literal found and mark every literal in it."""
    text = re.sub(r"\s+", " ", text).strip()
    lits = sorted({x for x in literals if x}, key=len, reverse=True)
    if not text:
        return ""
    first = _first_hit(text, lits) if lits else -1
    start = max(0, first - width // 3) if first >= 0 else 0
    end = min(len(text), start + width)
    start = max(0, min(start, end - width))
    window = text[start:end]
    folded: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(window):
        f = fold(ch)
        folded.append(f)
        index.extend([i] * len(f))
    norm = "".join(folded)
    parts, pos = [], 0
    if lits:
        pattern = re.compile("|".join(re.escape(x) for x in lits))
        for m in pattern.finditer(norm):
            s, e = index[m.start()], index[m.end() - 1] + 1
            if s < pos:
                continue
            parts += [window[pos:s], OPEN, window[s:e], CLOSE]
            pos = e
    parts.append(window[pos:])
    body = "".join(parts).replace(CLOSE + OPEN, "")
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")
