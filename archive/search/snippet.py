"""Snippets: a window of the stored text around the first hit, with highlights as offsets.

Faithful by construction: the snippet text is a slice of the document in which only runs of
whitespace holding a line break or tab are shown as one space; every other character
(ideographic spaces included) is kept as it is. Highlights are (start, end) offsets into that
text, never merged, so "走访　　走访" stays two highlights around the spaces. Brackets or
colours are drawn only by a front end (`render_snippet` for the terminal).

Matching runs on the folded form (so a simplified query highlights traditional text) and
lets spaces sit between two Chinese characters of a word (OCR output), like the index does.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

from archive.search.normalize import fold, is_cjk

OPEN, CLOSE = "【", "】"
COLOR_ON, COLOR_OFF = "\x1b[1;31m", "\x1b[0m"
_BREAKS = re.compile(r"\s*[\n\r\t\f\v\x1c-\x1f\x85\u2028\u2029]\s*")
_GAP = r"[ \u3000]*"  # the spaces normalize() drops between Chinese characters


@dataclass(frozen=True)
class Snippet:
    """A window of the document (`text`) and the highlighted ranges in it."""

    text: str
    spans: tuple[tuple[int, int], ...] = field(default_factory=tuple)
    cut_before: bool = False  # the document goes on before / after the window
    cut_after: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"text": self.text, "spans": [list(s) for s in self.spans],
                "cut_before": self.cut_before, "cut_after": self.cut_after}


def _pattern(literals: list[str]) -> re.Pattern[str] | None:
    return _compiled(tuple(sorted({x for x in literals if x}, key=lambda x: (-len(x), x))))


@functools.lru_cache(maxsize=64)
def _compiled(lits: tuple[str, ...]) -> re.Pattern[str] | None:
    if not lits:
        return None
    alts = []
    for lit in lits:
        out = [re.escape(lit[0])]
        for a, b in zip(lit, lit[1:], strict=False):
            out.append((_GAP if is_cjk(a) and is_cjk(b) else "") + re.escape(b))
        alts.append("".join(out))
    return re.compile("|".join(alts))


def _first_hit(text: str, pattern: re.Pattern[str]) -> int:
    m = pattern.search(text)
    if m:
        return m.start()
    folded = fold(text)
    if len(folded) == len(text):
        m = pattern.search(folded)
        return m.start() if m else -1
    chunk = 4000
    for start in range(0, len(text), chunk):
        part = text[start : start + chunk + 64]  # overlap: a word across the edge is found
        f = fold(part)
        if len(f) == len(part) and (m := pattern.search(f)):
            return start + m.start()
    return -1


def make_snippet(text: str, literals: list[str], width: int = 60) -> Snippet:
    """Cut about `width` characters around the first literal found and locate every literal."""
    if not text or not text.strip():
        return Snippet("")
    pattern = _pattern(literals)
    first = _first_hit(text, pattern) if pattern else -1
    lead = len(text) - len(text.lstrip())
    tail = len(text.rstrip())
    start = max(lead, first - width // 3) if first >= 0 else lead
    end = min(tail, start + width + 8)  # read a little more: breaks shrink to one space
    shown = _BREAKS.sub(" ", text[start:end])
    window = shown[:width]
    cut_after = len(shown) > width or end < tail
    whole = fold(window)
    index: list[int] = []
    if len(whole) == len(window) and unicodedata.is_normalized("NFKC", window):
        # NFKC leaves it as is and the t2s table maps one character to one, so only lower()
        # could change a length, by growing it: equal lengths mean aligned characters
        index = list(range(len(window)))
    else:
        parts: list[str] = []
        for i, ch in enumerate(window):
            f = _fold_char(ch)
            parts.append(f)
            index.extend([i] * len(f))
        whole = "".join(parts)
    spans: list[tuple[int, int]] = []
    if pattern:
        pos = 0
        for m in pattern.finditer(whole):
            s, e = index[m.start()], index[m.end() - 1] + 1
            if s < pos:
                continue
            spans.append((s, e))
            pos = e
    return Snippet(window, tuple(spans), cut_before=start > lead, cut_after=cut_after)


@functools.lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    return fold(ch)


def render_snippet(snippet: Snippet, *, color: bool = False) -> str:
    """The terminal form: 【…】 around highlights (bold red with `color`), … at cut ends."""
    on, off = (COLOR_ON, COLOR_OFF) if color else (OPEN, CLOSE)
    parts, pos = [], 0
    for s, e in snippet.spans:
        parts += [snippet.text[pos:s], on, snippet.text[s:e], off]
        pos = e
    parts.append(snippet.text[pos:])
    return (("…" if snippet.cut_before else "") + "".join(parts)
            + ("…" if snippet.cut_after else ""))
