"""The alternative ADR 0005 round 5 weighs for pasted sentences: an exact positional bigram
index in memory (numpy), built from one compartment's encrypted FTS5 index (its stored texts,
titles and 文号) in a long-running process, against FTS5 on the same index, same queries.

Phrase semantics are FTS5's own: the same token streams (`index_tokens`), positions per column,
a phrase matches where its bigrams sit at consecutive positions of one bigram column; a
segment of one unit would need the unit columns, which this prototype does not build (such
queries are counted and skipped). A phrase is evaluated from its rarest bigram: its
positions are the candidates, and every other bigram is looked up in its sorted postings by
binary search (`np.searchsorted`), so common bigrams cost what the rare one has, not what
they have. Visibility and ranking are left out on both sides (both are per-document work on
the few documents found).

Usage: PYTHONPATH=. python bench/bench_pasted_memindex.py [--work /tmp/s50k4] [--docs 50000]
           [--compartment service] [--queries 30]
The station home must exist (`bench_search_path.py --work DIR` builds it).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_search_path import PASS, docs, pct, queries  # noqa: E402

from archive.app import Archive  # noqa: E402
from archive.host.memory import locking_summary  # noqa: E402
from archive.search.index import exact_up_to, literals_tokens  # noqa: E402
from archive.search.query import Term, _lex, _Parser, parse  # noqa: E402
from archive.search.tokens import index_tokens, segment_bigrams  # noqa: E402

POS_BITS, COL_BITS = 20, 2  # key = doc << 22 | column << 20 | position
POS_MASK = (1 << POS_BITS) - 1


class MemIndex:
    """Positional bigram postings of the bigram columns (title, body, 文号), in memory."""

    def __init__(self, rows: list[tuple[int, str, str, str]]) -> None:
        vocab: dict[str, int] = {}
        ids: list[np.ndarray] = []
        keys: list[np.ndarray] = []
        self.doc_key = np.empty(len(rows), dtype=np.int64)  # docs.id of each document
        for n, (key, title, doc_no, text) in enumerate(rows):
            self.doc_key[n] = key
            for col, s in enumerate((title, text, doc_no)):
                toks = index_tokens(s)[0].split()
                if not toks:
                    continue
                ids.append(np.fromiter((vocab.setdefault(t, len(vocab)) for t in toks),
                                       np.int32, len(toks)))
                keys.append((n << (POS_BITS + COL_BITS) | col << POS_BITS)
                            + np.arange(len(toks), dtype=np.int64))
        all_ids = np.concatenate(ids)
        all_keys = np.concatenate(keys)
        del ids, keys
        order = np.argsort(all_ids, kind="stable")  # stable: keys stay sorted per bigram
        self.keys = all_keys[order]
        self.offsets = np.searchsorted(all_ids[order], np.arange(len(vocab) + 1))
        self.vocab = vocab
        self.postings = len(all_keys)

    def _list(self, token: str) -> np.ndarray | None:
        i = self.vocab.get(token)
        return None if i is None else self.keys[self.offsets[i]:self.offsets[i + 1]]

    def _rarest(self, bigrams: list[str]) -> tuple[int, list[tuple[int, np.ndarray]]]:
        """(length of the rarest list, [(offset in the phrase, postings)] rarest first);
        length 0 when a bigram is not indexed at all."""
        lists = [(j, self._list(b)) for j, b in enumerate(bigrams)]
        if any(p is None or not len(p) for _, p in lists):
            return 0, []
        ready = sorted(((j, p) for j, p in lists if p is not None), key=lambda jp: len(jp[1]))
        return len(ready[0][1]), ready

    def phrase(self, ready: list[tuple[int, np.ndarray]], lo: int, hi: int,
               within: np.ndarray | None = None) -> np.ndarray:
        """Documents (row numbers in [lo, hi), sorted) where the bigrams are consecutive in one
        column; `within`: only these documents. The rarest list is cut to the window by binary
        search, and every other bigram is looked up by binary search for each candidate."""
        shift = POS_BITS + COL_BITS
        j0, p0 = ready[0]
        p0 = p0[np.searchsorted(p0, lo << shift):np.searchsorted(p0, hi << shift)]
        if within is not None:
            p0 = p0[np.isin(p0 >> shift, within)]
        cand = p0[(p0 & POS_MASK) >= j0] - j0  # start keys of the phrase
        for j, p in ready[1:]:
            if not len(cand):
                break
            want = cand + j
            at = np.searchsorted(p, want)
            at[at == len(p)] = 0
            cand = cand[p[at] == want]
        return np.unique(cand >> shift)

    def query(self, text: str, limit: int | None = None) -> np.ndarray | None:
        """The newest `limit` documents (all with None) matching a plain query (AND of its
        words' segments), newest first; None for what this prototype does not index
        (one-unit segments, operators, fields, prefixes). Phrases are evaluated rarest first,
        each within the documents the ones before found, over windows of documents from the
        newest, doubling in size, until `limit` are found (the service counts a long query
        exactly only up to a cap: `exact_up_to`)."""
        parser = _Parser(_lex(unicodedata.normalize("NFKC", text).strip()))
        tree = parser.parse()
        if not parser.plain or tree.op != "AND" or tree.excluded:
            return None
        phrases = []
        for term in tree.items:
            if not isinstance(term, Term):
                return None
            for seg in term.segs:
                if len(seg) < 2:
                    return None
                n, ready = self._rarest(segment_bigrams(seg))
                if not n:
                    return np.empty(0, dtype=np.int64)
                phrases.append((n, ready))
        phrases.sort(key=lambda x: x[0])
        out: list[np.ndarray] = []
        got, hi, width = 0, len(self.doc_key), 1024
        while hi > 0 and (limit is None or got < limit):
            lo = max(0, hi - width)
            found: np.ndarray | None = None
            for _n, ready in phrases:
                found = self.phrase(ready, lo, hi, found)
                if not len(found):
                    break
            if found is not None and len(found):
                out.append(found[::-1])
                got += len(found)
            hi, width = lo, width * 2
        docs = np.concatenate(out) if out else np.empty(0, dtype=np.int64)
        return docs if limit is None else docs[:limit]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/tmp/s50k4"))
    ap.add_argument("--docs", type=int, default=50000)
    ap.add_argument("--compartment", default="service")
    ap.add_argument("--queries", type=int, default=30)
    a = ap.parse_args()
    print(locking_summary())
    arc = Archive.unlock(a.work / "home", user="zhanzhang", passphrase=PASS)
    ix = arc.search._open_index(a.compartment)
    conn = ix._conn
    proc = psutil.Process()
    gc.collect()
    rss0 = proc.memory_info().rss
    t = time.perf_counter()
    rows = conn.execute("SELECT d.id, d.title, d.doc_no, t.text FROM docs d"
                        " JOIN texts t ON t.id = d.id ORDER BY d.id").fetchall()
    read = time.perf_counter() - t
    mem = MemIndex(rows)
    build = time.perf_counter() - t
    del rows
    gc.collect()
    rss = proc.memory_info().rss - rss0
    print(f"[{a.compartment}] {len(mem.doc_key)} documents, {mem.postings / 1e6:.1f} M bigram "
          f"positions, {len(mem.vocab)} bigrams: read {read:.1f} s, built {build:.1f} s; "
          f"RSS +{rss / 2**20:.0f} MiB (postings {mem.keys.nbytes / 2**20:.0f} MiB)")

    n = a.docs
    sample = [d for i, d in enumerate(docs(n)) if i % (n // 500) == 0]
    qs = queries(sample, a.queries)["pasted sentence"]
    lat_mem: list[float] = []
    lat_fts: list[float] = []
    same = skipped = 0
    for q in qs:
        parsed = parse(q)
        want = exact_up_to(len(literals_tokens(parsed.literals))) + 1  # what the probe walks
        t = time.perf_counter()
        got = mem.query(q, want)
        lat = time.perf_counter() - t
        if got is None:
            skipped += 1
            continue
        lat_mem.append(lat)
        t = time.perf_counter()
        fts = [int(r[0]) for r in conn.execute(
            "SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid LIMIT ?", [parsed.fts, want])]
        lat_fts.append(time.perf_counter() - t)
        mine = [ix._rowid(int(k)) for k in mem.doc_key[got]]
        same += mine == fts
        if mine != fts:
            print(f"  differs: {q!r}: memory {len(mine)}, FTS5 {len(fts)}")
    ms, fs = lat_mem, lat_fts
    print(f"pasted sentences ({len(ms)} run, {skipped} skipped: one-unit segments): the same "
          f"documents in the same order as FTS5 for {same}; the probe's walk (the newest cap + 1"
          f" matches), no visibility, no ranking, p50 / p95 ms: memory {pct(ms, 50):.2f} / "
          f"{pct(ms, 95):.2f}; FTS5 {pct(fs, 50):.1f} / {pct(fs, 95):.1f}; "
          f"p95 ratio {pct(fs, 95) / max(pct(ms, 95), 1e-9):.0f}×")
    arc.close()


if __name__ == "__main__":
    main()
