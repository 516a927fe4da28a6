"""bm25 for a small answer, computed in Python the way FTS5's bm25() does it.

FTS5's bm25() first reads every match of every phrase in the query to count the documents
holding it (the IDF), so one common word in a query ("低保 张三", a pasted sentence) makes
ranking ten results cost a scan of tens of thousands. Here the answer is already known
(at most TOTAL_EXACT_UP_TO documents), so each is scored from what the index stores: the
phrase counts in its title, 文号 and text, the row's token count (fts_docsize) and the
average row length (FTS5's averages record), with FTS5's constants (k1 1.2, b 0.75) and the
column weights. The IDF is left out: for a query of one word or phrase it is the same factor
for every document (the order equals FTS5's bm25 order, tested); for several it weighs them
equally instead of favouring the rarer.
"""

from __future__ import annotations

from archive.search.normalize import normalize

K1, B = 1.2, 0.75
SCORE_CHARS = 20_000  # phrase counts are read from the first 20,000 characters of a text


def varints(buf: bytes) -> list[int]:
    """The SQLite varints FTS5 writes in its averages and docsize records."""
    out, i = [], 0
    while i < len(buf):
        v = 0
        for k in range(9):
            x = buf[i]
            i += 1
            if k == 8:
                v = (v << 8) | x
                break
            v = (v << 7) | (x & 0x7F)
            if not x & 0x80:
                break
        out.append(v)
    return out


def occurrences(text: str, word: str) -> int:
    """How often `word` occurs in `text`, overlapping ("哈哈" twice in "哈哈哈"), as a phrase
    of bigrams matches at every position."""
    n, i = 0, text.find(word)
    while i >= 0:
        n += 1
        i = text.find(word, i + 1)
    return n


def score(literals: list[str], title: str, doc_no: str, text: str, row_tokens: int,
          avg_tokens: float, weights: tuple[float, float, float]) -> float:
    """bm25 (higher is better) of one document for the query's normalised literals;
    `weights` are those of the title, 文号 and body columns."""
    fields = (normalize(title), normalize(doc_no), text[:SCORE_CHARS])
    norm_text: str | None = None
    denom = K1 * (1 - B + B * row_tokens / avg_tokens) if avg_tokens else K1
    total = 0.0
    for lit in literals:
        freq = [occurrences(f, lit) for f in fields]
        if not freq[2] and fields[2]:  # stored text is as extracted: the index reads it folded
            norm_text = norm_text if norm_text is not None else normalize(fields[2])
            freq[2] = occurrences(norm_text, lit)
        f = sum(w * n for w, n in zip(weights, freq, strict=True))
        total += f * (K1 + 1) / (f + denom)
    return total
