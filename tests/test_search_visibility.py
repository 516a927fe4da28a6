"""Visibility inside the search query (issue 12): no hit a user may not read, counts right,
stable paging — on a small index (fast) and on 50,000 documents (slow)."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest

from archive.search.index import TOTAL_EXACT_UP_TO, SearchIndex
from archive.search.visibility import Visibility, ref_of

WORDS = ["低保", "临时救助", "困境儿童", "走访", "慰问", "残疾", "医疗", "取暖", "辍学", "心理疏导",
         "资源链接", "高龄津贴", "特困供养", "鞠", "阚", "入户", "节日", "协议", "评估", "台账"]
WORKERS = ["社工甲", "社工乙", "社工丙"]
HEAD = Visibility(everything=True, secret=True)


def make_docs(n: int, seed: int = 5) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        cat = rnd.choices(["FW", "XZ", "RS", "CW"], [5, 3, 1, 1])[0]
        # common words in most documents, rare ones in few
        words = [w for j, w in enumerate(WORDS) if rnd.random() < (0.6 if j < 4 else 0.03)]
        ref = f"Z001-WS·2026-D30-{cat}-{i:06d}"
        doc = {"doc_id": ref, "title": f"记录{i}", "text": "，".join(words) + "。",
               "category": cat, "compartment": "service" if cat == "FW" else "general",
               "responsible": rnd.choice(WORKERS) if cat == "FW" else "",
               "household": f"H{rnd.randint(1, 500):04d}" if cat == "FW" else "",
               "secret": cat in ("RS", "CW") and rnd.random() < 0.1, "year": 2026}
        docs.append(doc)
        if i % 50 == 0:  # a second component of the same record: one hit per 档号
            docs.append({**doc, "doc_id": f"{ref}#2", "title": f"记录{i}（附件）",
                         "text": "附件：" + "，".join(rnd.sample(WORDS, 3)) + "。"})
    return docs


def visibilities(docs: list[dict[str, Any]]) -> dict[str, Visibility]:
    rs = sorted(d["doc_id"] for d in docs if d["category"] == "RS")
    fw = sorted(d["doc_id"] for d in docs if d["category"] == "FW")
    return {
        "head": HEAD,
        "deputy (no secret)": Visibility(everything=True),
        "social worker": Visibility(categories={"XZ"}, responsible={"社工甲"}, refs=set(rs[:3]),
                                    excluded=set(fw[:40])),
        "archivist": Visibility(categories={"XZ", "RS", "CW"}, secret=True,
                                compartments={"general"}),
        "household visit": Visibility(households={"H0007", "H0100"}),
        "service compartment only": Visibility(everything=True, compartments={"service"}),
        "nobody": Visibility(),
    }


def may(vis: Visibility, d: dict[str, Any]) -> bool:
    return vis.may_see(d["doc_id"], category=d["category"], compartment=d["compartment"],
                       responsible=d["responsible"], household=d["household"],
                       secret=d["secret"])


def expected(docs: list[dict[str, Any]], vis: Visibility, word: str) -> set[str]:
    return {ref_of(d["doc_id"]) for d in docs
            if (word in d["text"] or word in d["title"]) and may(vis, d)}


def check(ix: SearchIndex, docs: list[dict[str, Any]], word: str, vis: Visibility,
          page: int) -> int:
    by_id = {d["doc_id"]: d for d in docs}
    want = expected(docs, vis, word)
    res = ix.search(word, vis, limit=10)
    # exact up to TOTAL_EXACT_UP_TO visible 档号, then a lower bound (never more than there are)
    if len(want) <= TOTAL_EXACT_UP_TO:
        assert (res.total, res.total_exact) == (len(want), True), (word, vis)
    else:
        assert (res.total, res.total_exact) == (TOTAL_EXACT_UP_TO, False), (word, vis)
        assert res.count_text.startswith(f"{TOTAL_EXACT_UP_TO} 条以上")
    got: list[str] = []
    offset = 0
    while True:
        out = ix.search(word, vis, limit=page, offset=offset)
        assert (out.total, out.total_exact) == (res.total, res.total_exact)
        for h in out.hits:
            assert may(vis, by_id[h.doc_id]), h.doc_id  # never a hit the user may not read
        got += [h.ref for h in out.hits]
        offset += page
        if len(out.hits) < page:  # the pages go on until the last match, whatever the count
            break
    assert len(got) == len(set(got)) == len(want) and set(got) == want
    assert [h.ref for h in res.hits] == got[:10]  # the first page is the same either way
    return len(want)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[SearchIndex, list[dict[str, Any]]]:
    docs = make_docs(3000)
    ix = SearchIndex.create(tmp_path_factory.mktemp("vis") / "f.db", os.urandom(32))
    ix.add_many(docs)
    return ix, docs


@pytest.mark.parametrize("word", ["低保", "鞠", "心理疏导", "附件", "不存在的词", "记录"])
def test_visibility_counts_and_pages(small: tuple[SearchIndex, list[dict[str, Any]]],
                                     word: str) -> None:
    ix, docs = small
    for name, vis in visibilities(docs).items():
        n = check(ix, docs, word, vis, page={"记录": 1300, "低保": 700}.get(word, 97))
        if name == "nobody":
            assert n == 0
        if word == "记录" and name == "head":
            assert n > TOTAL_EXACT_UP_TO  # every title: the lower-bound count and tail path
        if word == "鞠" and name == "head":
            assert n <= TOTAL_EXACT_UP_TO  # the exactly counted, bm25-ranked path


def test_the_old_callback_and_the_visibility_agree(
        small: tuple[SearchIndex, list[dict[str, Any]]]) -> None:
    ix, docs = small
    by_id = {d["doc_id"]: d for d in docs}
    for vis in visibilities(docs).values():
        old = ix.search("取暖", allowed=lambda i, v=vis: may(v, by_id[i]), limit=5)  # type: ignore[misc]
        new = ix.search("取暖", vis, limit=5)
        assert old.total == new.total


def test_filters_apply_with_visibility(small: tuple[SearchIndex, list[dict[str, Any]]]) -> None:
    ix, docs = small
    sw = visibilities(docs)["social worker"]
    for h in ix.search("低保", sw, category="FW", limit=50).hits:
        assert h.category == "FW" and may(sw, {d["doc_id"]: d for d in docs}[h.doc_id])
    assert ix.search("低保", sw, household="H0001").total == len(
        {ref_of(d["doc_id"]) for d in docs if "低保" in d["text"] and d["household"] == "H0001"
         and may(sw, d)})


def test_remove_and_replace_update_visibility(tmp_path: Path) -> None:
    ix = SearchIndex.create(tmp_path / "f.db", os.urandom(32))
    ix.add("Z001-WS·2026-D30-FW-0001", title="走访", text="低保走访", category="FW",
           responsible="社工甲", compartment="service")
    sw = Visibility(responsible={"社工甲"})
    assert ix.search("低保", sw).total == 1
    ix.add("Z001-WS·2026-D30-FW-0001", title="走访", text="低保走访", category="FW",
           responsible="社工乙", compartment="service")  # handed over to another worker
    assert ix.search("低保", sw).total == 0
    assert ix.search("低保", Visibility(responsible={"社工乙"})).total == 1
    ix.remove("Z001-WS·2026-D30-FW-0001")
    assert ix.search("低保", HEAD).total == 0
    ix.close()


@pytest.mark.slow
def test_fifty_thousand_documents_permission_filter(tmp_path: Path) -> None:
    docs = make_docs(50_000)
    ix = SearchIndex.create(tmp_path / "f.db", os.urandom(32))
    for start in range(0, len(docs), 5000):
        ix.add_many(docs[start:start + 5000])
    views = visibilities(docs)
    big = check(ix, docs, "走访", views["head"], page=2000)
    assert big > TOTAL_EXACT_UP_TO  # the title-first path with its newest-first tail
    for vis in views.values():
        for word in ("低保", "阚", "高龄津贴", "附件"):
            check(ix, docs, word, vis, page=5000)
    ix.close()


LONG_QUERIES = ["低保，临时救助，困境儿童，走访。", "临时救助，困境儿童，走访", "低保，临时救助，困境儿童",
                "困境儿童，走访，鞠", "走访，高龄津贴，特困供养", "附件：低保，临时救助", "低保，心理疏导，资源链接",
                "临时救助，困境儿童，阚，入户", "取暖，辍学，心理疏导，资源链接，高龄津贴"]


def check_long(ix: SearchIndex, docs: list[dict[str, Any]], query: str, vis: Visibility) -> int:
    """A pasted list of words: every segment must be in the title or the text."""
    from archive.search.normalize import normalize
    from archive.search.tokens import segments

    segs = ["".join(s) for s in segments(normalize(query))]
    by_id = {d["doc_id"]: d for d in docs}
    want = {ref_of(d["doc_id"]) for d in docs
            if all(s in d["text"] or s in d["title"] for s in segs) and may(vis, d)}
    got: list[str] = []
    offset = 0
    while True:
        out = ix.search(query, vis, limit=5000, offset=offset, fallback="never")
        for h in out.hits:
            assert may(vis, by_id[h.doc_id]), h.doc_id
        got += [h.ref for h in out.hits]
        offset += 5000
        if len(out.hits) < 5000:
            break
    assert len(got) == len(set(got)) == len(want) and set(got) == want, (query, vis)
    if out.total_exact:
        assert out.total == len(want)
    return len(want)


@pytest.mark.slow
def test_fifty_thousand_documents_long_queries_from_memory(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The phrase index of a long-running server answers pasted sentences: no hit a user may
    not read, every match found, and the same first page, count and exactness as FTS5."""
    from archive.search.phrases import PHRASES

    docs = make_docs(50_000)
    ix = SearchIndex.create(tmp_path / "f.db", os.urandom(32))
    for start in range(0, len(docs), 5000):
        ix.add_many(docs[start:start + 5000])
    views = visibilities(docs)
    fts5 = {(q, name): ix.search(q, vis, limit=20, fallback="never")
            for q in LONG_QUERIES for name, vis in views.items()}
    PHRASES.disable()
    try:
        PHRASES.enable()
        ix.prepare_phrases()
        PHRASES.wait()
        assert PHRASES.lookup(ix.stamp()) is not None
        used: list[int] = []
        real = SearchIndex._probe_phrases
        monkeypatch.setattr(SearchIndex, "_probe_phrases",
                            lambda self, *a: used.append(1) or real(self, *a))
        sizes = []
        for (q, name), was in fts5.items():
            now = ix.search(q, views[name], limit=20, fallback="never")
            assert (now.total, now.total_exact, [h.doc_id for h in now.hits]) == (
                was.total, was.total_exact, [h.doc_id for h in was.hits]), (q, name)
            sizes.append(check_long(ix, docs, q, views[name]))
        assert used and max(sizes) > TOTAL_EXACT_UP_TO and 0 < min(s for s in sizes if s)
    finally:
        PHRASES.disable()
        ix.close()
