"""Search bench: SearchIndex (SQLCipher FTS5, bigrams) vs bare FTS5 vs whoosh + jieba.

Indexes N generated Chinese documents of 1–5 KB (fixed seed), reports docs/s, index size and
query latency p50/p95 for 50 queries of each kind, and prints the ratios against bare FTS5
(same tokens, same MATCH, no SQLCipher, no filtering) and whoosh + jieba, all in one run.
Usage: python bench/bench_search.py [--docs 20000] [--no-whoosh]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import sqlcipher3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.search.extract import Extractor  # noqa: E402
from archive.search.index import WEIGHTS, SearchIndex  # noqa: E402
from archive.search.query import COLUMNS, parse  # noqa: E402
from archive.search.tokens import index_tokens  # noqa: E402
from tests.search_eval import generate as g  # noqa: E402

KINDS = ("1-char", "2-char", "multi-char", "phrase", "boolean", "文号", "long sentence")


def corpus(n: int, seed: int = 7) -> list[dict]:
    """n documents of 1–5 KB of UTF-8 Chinese text."""
    rnd = random.Random(seed)
    pool = [s for s in g.POLICY_SENTENCES + g.RECORD_SENTENCES]
    docs = []
    for i in range(n):
        name = rnd.choice(g.SURNAMES) + "".join(rnd.sample(g.GIVEN, 2))
        topic = rnd.choice(g.TOPICS)
        org, year, num = rnd.choice(g.ORGS), rnd.randint(2010, 2026), rnd.randint(1, 300)
        target = rnd.randint(1000, 5000)
        parts, size = [], 0
        while size < target:
            s = rnd.choice(pool).format(
                topic=rnd.choice(g.TOPICS), year=year, days=rnd.randint(3, 30),
                month=rnd.randint(1, 12), day=rnd.randint(1, 28), staff=rnd.randint(1, 5),
                worker=rnd.choice(g.SURNAMES) + rnd.choice(g.GIVEN), date=f"{year}年",
                village=rnd.choice(g.VILLAGES), name=name, service=rnd.choice(g.SERVICES),
                age=rnd.randint(6, 90), members=rnd.randint(1, 6), need=rnd.choice(g.NEEDS),
                problem=rnd.choice(g.PROBLEMS), resource=rnd.choice(g.RESOURCES),
                minutes=rnd.randint(20, 120))
            parts.append(s)
            size += len(s.encode())
        docs.append({"doc_id": f"Z001-WS·{year}-D30-FW-{i:05d}", "doc_no": f"{org}〔{year}〕{num}号",
                     "title": f"关于{rnd.choice(g.ACTIONS)}{topic}工作的通知（{name}）",
                     "text": "".join(parts), "year": year, "category": "FW"})
    return docs


def queries(docs: list[dict], seed: int = 11) -> dict[str, list[str]]:
    """50 queries of each kind, drawn from the corpus."""
    rnd = random.Random(seed)
    q: dict[str, list[str]] = {k: [] for k in KINDS}
    for _ in range(50):
        d = rnd.choice(docs)
        text = d["text"]
        at = rnd.randrange(0, max(1, len(text) - 40))
        q["1-char"].append(rnd.choice(g.RARE_SURNAMES + "张王孙"))
        q["2-char"].append(rnd.choice(g.NEEDS[:2] + ["走访", "慰问", "残疾", "医疗", "取暖", "辍学"]))
        q["multi-char"].append(rnd.choice(g.TOPICS))
        q["phrase"].append(f'"{rnd.choice(g.PROBLEMS)}"')
        a, b = rnd.sample(g.NEEDS, 2)
        q["boolean"].append(rnd.choice([f"{a} OR {b}", f"{a} -{b}", f"{a} AND {rnd.choice(g.VILLAGES)}"]))
        q["文号"].append(d["doc_no"])
        q["long sentence"].append(text[at: at + 30])
    return q


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def docx_bytes(text: str) -> bytes:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in text.split("。"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", f'<w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>')
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--no-whoosh", action="store_true")
    args = ap.parse_args()
    docs = corpus(args.docs)
    qs = queries(docs)
    mb = sum(len(d["text"].encode()) for d in docs) / 1e6
    print(f"corpus: {len(docs)} docs, {mb:.1f} MB of text")
    work = Path(tempfile.mkdtemp(prefix="sgzbench"))

    sample = [docx_bytes(d["text"]) for d in docs[:1000]]
    with Extractor() as ex:
        ex.extract(sample[0], filename="w.docx")
        t = time.perf_counter()
        for b in sample:
            assert ex.extract(b, filename="x.docx").status == "ok"
        extract_rate = len(sample) / (time.perf_counter() - t)
    print(f"extraction (.docx, isolated worker): {extract_rate:.0f} docs/s")

    ix = SearchIndex.create(work / "fulltext.db", os.urandom(32))
    t = time.perf_counter()
    ix.rebuild(docs)
    dt = time.perf_counter() - t
    index_rate = len(docs) / dt
    print(f"SearchIndex: indexed in {dt:.1f} s = {index_rate:.0f} docs/s, "
          f"size {ix.status()['size_bytes'] / 1e6:.1f} MB")
    combined = 1 / (1 / extract_rate + 1 / index_rate)
    print(f"filing throughput (extract + index): {combined:.0f} docs/s (goal ≥ 100)")

    bare = sqlcipher3.connect(str(work / "bare.db"))
    bare.execute(f"CREATE VIRTUAL TABLE fts USING fts5({', '.join(COLUMNS)}, content='',"
                 " contentless_delete=1, tokenize='unicode61 remove_diacritics 0')")
    t = time.perf_counter()
    with bare:
        for i, d in enumerate(docs):
            bare.execute("INSERT INTO fts(rowid, title_bi, title_uni, body_bi, body_uni, no_bi,"
                         " no_uni) VALUES(?,?,?,?,?,?,?)",
                         (i + 1, *index_tokens(d["title"]), *index_tokens(d["text"]),
                          *index_tokens(d["doc_no"])))
    print(f"bare FTS5: indexed in {time.perf_counter() - t:.1f} s, "
          f"size {os.path.getsize(work / 'bare.db') / 1e6:.1f} MB")
    weights = ", ".join(str(WEIGHTS[c]) for c in COLUMNS)

    def run_ours(q: str) -> None:
        ix.search(q, limit=20)

    def run_bare(q: str) -> None:
        bare.execute(f"SELECT rowid, bm25(fts, {weights}) AS s FROM fts WHERE fts MATCH ?"
                     " ORDER BY s LIMIT 20", (parse(q).fts,)).fetchall()

    engines = {"sgz": run_ours, "bare FTS5": run_bare}
    if not args.no_whoosh:
        engines["whoosh+jieba"] = whoosh_engine(docs, work)
    lat: dict[str, dict[str, list[float]]] = {e: {k: [] for k in KINDS} for e in engines}
    for kind in KINDS:
        for q in qs[kind]:
            for name, fn in engines.items():
                fn(q)  # warm
                t = time.perf_counter()
                fn(q)
                lat[name][kind].append(time.perf_counter() - t)
    print(f"\n{'kind':14s}" + "".join(f"{e:>24s}" for e in engines))
    for kind in (*KINDS, "ALL"):
        row = f"{kind:14s}"
        for e in engines:
            v = [x for k in KINDS for x in lat[e][k]] if kind == "ALL" else lat[e][kind]
            row += f"{pct(v, 50):10.2f} /{pct(v, 95):8.2f} ms"
        print(row)
    allv = {e: [x for k in KINDS for x in lat[e][k]] for e in engines}
    print(f"\np95 sgz / bare FTS5 = {pct(allv['sgz'], 95) / pct(allv['bare FTS5'], 95):.2f} "
          "(goal ≤ 1.3)")
    if "whoosh+jieba" in allv:
        print(f"p95 whoosh+jieba / sgz = {pct(allv['whoosh+jieba'], 95) / pct(allv['sgz'], 95):.1f}"
              " (goal ≥ 15)")
    ix.close()


def whoosh_engine(docs: list[dict], work: Path):  # type: ignore[no-untyped-def]
    import logging

    import jieba
    from jieba.analyse import ChineseAnalyzer
    from whoosh import index as windex
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.qparser import MultifieldParser

    jieba.setLogLevel(logging.WARNING)
    schema = Schema(doc_id=ID(stored=True), title=TEXT(analyzer=ChineseAnalyzer()),
                    body=TEXT(analyzer=ChineseAnalyzer()), doc_no=TEXT(analyzer=ChineseAnalyzer()))
    (work / "whoosh").mkdir()
    wix = windex.create_in(str(work / "whoosh"), schema)
    t = time.perf_counter()
    writer = wix.writer(limitmb=256)
    for d in docs:
        writer.add_document(doc_id=d["doc_id"], title=d["title"], body=d["text"], doc_no=d["doc_no"])
    writer.commit()
    print(f"whoosh+jieba: indexed in {time.perf_counter() - t:.1f} s")
    searcher = wix.searcher()
    parser = MultifieldParser(["title", "body", "doc_no"], schema)

    def run(q: str) -> None:
        q = " ".join(f"NOT {w[1:]}" if w.startswith("-") else w for w in q.split())
        searcher.search(parser.parse(q), limit=20)

    return run


if __name__ == "__main__":
    main()
