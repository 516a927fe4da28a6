"""Bounded search work (issue 12): counts exact up to TOTAL_EXACT_UP_TO then a lower bound,
bm25 for those answers computed from the stored text (the same order as FTS5's bm25 over every
match), title/文号 matches first for large ones, and the title index added to a schema-2
index on open."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archive.search.index import (
    EXACT_LONG_QUERY_MIN,
    FTS_COLUMNS,
    OPTIMIZE_MIN_DOCS,
    TOTAL_EXACT_UP_TO,
    WEIGHTS,
    SearchIndex,
    exact_up_to,
    literals_tokens,
)
from archive.search.query import parse

KEY = os.urandom(32)


def _doc(i: int, title: str, text: str) -> dict[str, object]:
    return {"doc_id": f"Z001-WS·2026-D30-XZ-{i:04d}", "title": title, "text": text,
            "category": "XZ", "compartment": "general", "year": 2026}


def _old_order(index: SearchIndex, schema: str = "3") -> SearchIndex:
    """Write the rest as an index of schema 2/3 was written: rowids count up, the newest
    document last in FTS5's forward order."""
    index.newest_lowest = False
    index._conn.execute("UPDATE meta SET value=? WHERE key='schema'", (schema,))
    return index


@pytest.fixture(scope="module", params=["schema 4", "schema 3"])
def ix(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> SearchIndex:
    docs = []
    for i in range(1, 1401):
        title = "关于入户走访的通知" if i in (3, 500, 900) else f"工作记录{i}"
        body = "本月开展入户走访，" + "了解情况。" * (i % 7 + 1)
        if i % 10 == 0:
            body += "慰问困难群众。" * (i % 4 + 1)  # 140 documents: counted and ranked
        if i % 50 == 0:
            body += "开展心理疏导" + "。心理疏导" * (i % 3)  # 28 documents, bm25-ranked
        docs.append(_doc(i, title, body))
    path = tmp_path_factory.mktemp("b") / "f.db"
    index = SearchIndex.create(path, KEY)
    if request.param == "schema 3":
        _old_order(index)
    index.add_many(docs)
    index.close()
    index = SearchIndex.open(path, KEY)  # as a later process finds it
    assert index.newest_lowest == (request.param == "schema 4")
    return index


def test_the_newest_document_has_the_lowest_rowid_and_a_rebuild_renumbers(
        tmp_path: Path) -> None:
    """Schema 4 walks newest first forwards; rebuilding an old-order index makes it schema 4
    with the same answers."""
    path = tmp_path / "r.db"
    old = _old_order(SearchIndex.create(path, KEY))
    docs = [_doc(i, f"记录{i}", "入户走访。" if i % 2 else "节日慰问。") for i in range(1, 301)]
    old.add_many(docs)
    before = [h.ref for h in old.search("走访", limit=200).hits]
    assert before[:2] == [docs[-2]["doc_id"], docs[-4]["doc_id"]]  # equal scores: newest
    old.rebuild(docs)
    assert old.newest_lowest
    assert old._conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "4"
    keys = [r[0] for r in old._conn.execute("SELECT id FROM docs ORDER BY doc_id")]
    assert keys == sorted(keys)  # the catalogue rows append (SQLite's b-trees stay full)
    ids = [old._rowid(k) for k in keys]
    assert ids == sorted(ids, reverse=True)  # filed later, lower FTS5 rowid
    fts = {r[0] for r in old._conn.execute("SELECT rowid FROM fts_docsize")}
    assert fts == set(ids)
    assert [h.ref for h in old.search("走访", limit=200).hits] == before
    old.add(**{**_doc(301, "记录301", "入户走访。"), "doc_id": "Z001-WS·2026-D30-XZ-0301"})
    assert old.search("走访", limit=1).hits[0].ref.endswith("0301")
    old.close()


def test_a_common_word_is_counted_to_the_cap_with_title_matches_first(ix: SearchIndex) -> None:
    res = ix.search("走访", limit=5)
    assert (res.total, res.total_exact) == (TOTAL_EXACT_UP_TO, False)
    assert res.count_text.startswith(f"{TOTAL_EXACT_UP_TO} 条以上")
    # the three title matches lead (newest first), even the oldest of all
    assert [h.ref[-4:] for h in res.hits[:3]] == ["0900", "0500", "0003"]
    assert [h.ref[-4:] for h in res.hits[3:]] == ["1400", "1399"]  # then the newest


def test_paging_a_large_answer_finds_every_document_once(ix: SearchIndex) -> None:
    got: list[str] = []
    offset = 0
    while True:
        page = ix.search("走访", limit=300, offset=offset)
        got += [h.ref for h in page.hits]
        offset += 300
        if len(page.hits) < 300:
            break
    assert len(got) == len(set(got)) == 1400


def _fts5_order(ix: SearchIndex, query: str) -> list[str]:
    weights = ", ".join(str(WEIGHTS[c]) for c in FTS_COLUMNS)
    return [r[0] for r in ix._conn.execute(
        f"SELECT d.doc_id FROM fts JOIN docs d ON d.id = {ix._key_sql('fts.rowid')}"
        " WHERE fts MATCH ?"
        f" ORDER BY bm25(fts, {weights}), fts.rowid {'ASC' if ix.newest_lowest else 'DESC'}",
        (parse(query).fts,))]  # equal scores: the newest first


@pytest.mark.parametrize("word", ["心理疏导", "慰问", "疏"])
def test_an_answer_in_the_cap_is_ranked_as_fts5_bm25_ranks_it(ix: SearchIndex, word: str) -> None:
    res = ix.search(word, limit=200)
    assert res.total_exact and res.total == len(res.hits) == {"心理疏导": 28, "疏": 28}.get(
        word, 140) and res.count_text == f"共 {res.total} 条"
    assert [h.doc_id for h in res.hits] == _fts5_order(ix, word)
    assert res.hits[0].score > res.hits[-1].score  # more occurrences rank higher


def test_the_title_outranks_the_body_within_the_cap(tmp_path: Path) -> None:
    ix = SearchIndex.create(tmp_path / "t.db", KEY)
    ix.add_many([_doc(1, "记录", "困境儿童走访。" * 3), _doc(2, "困境儿童台账", "台账。"),
                 _doc(3, "记录", "困境儿童。"), _doc(4, "記錄", "困境兒童（繁体）")])
    res = ix.search("困境儿童")
    assert [h.ref[-4:] for h in res.hits] == ["0002", "0001", "0003", "0004"]
    assert [h.doc_id for h in res.hits] == _fts5_order(ix, "困境儿童")  # folded text counted
    ix.close()


def test_a_schema_2_index_gains_the_title_index_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    ix = _old_order(SearchIndex.create(path, KEY), "2")
    ix.add_many([_doc(i, "走访通知" if i == 1 else f"记录{i}", "入户走访。")
                 for i in range(1, 1202)])
    ix._conn.execute("DROP TABLE tfts")  # as version 0.2's index was written
    ix._conn.commit()
    ix.close()
    again = SearchIndex.open(path, KEY)
    assert again._conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "3"
    assert not again.newest_lowest  # its rowids still count up
    res = again.search("走访", limit=2)
    assert res.hits[0].ref.endswith("0001") and not res.total_exact  # title first, oldest
    assert res.hits[1].ref.endswith("1201")  # then the newest
    assert again.integrity() == []
    again.close()


def test_a_long_query_is_counted_to_a_smaller_cap(tmp_path: Path) -> None:
    sentence = "要加强社会工作专业人才队伍建设每个站点至少配备四名持证社工"
    ix = SearchIndex.create(tmp_path / "s.db", KEY)
    ix.add_many([_doc(i, f"通知{i}", f"第{i}号。{sentence}。") for i in range(1, 301)])
    cap = exact_up_to(len(literals_tokens(parse(sentence).literals)))
    assert EXACT_LONG_QUERY_MIN <= cap < TOTAL_EXACT_UP_TO == exact_up_to(1)
    res = ix.search(sentence, limit=10)
    assert (res.total, res.total_exact) == (cap, False)
    assert [h.ref[-4:] for h in res.hits[:2]] == ["0300", "0299"]  # newest first
    assert ix.search(f"第7号 {sentence}").total == 1  # a small answer is still exact
    ix.close()


def test_a_long_question_with_no_exact_match_is_ranked_not_listed_by_date(
        tmp_path: Path) -> None:
    """The fallback (an OR of the rarest bigrams) checks no positions, so a question keeps
    the full cap: its answer is ranked by bm25, not cut to the long-query cap and listed
    newest first (which put the one relevant record off the first page of the eval set)."""
    a, b = "困难老人冬季取暖补贴", "怎么申请要准备哪些材料"
    question = a + b  # "贴怎" is in no document: no exact match, the fallback answers
    ix = SearchIndex.create(tmp_path / "q.db", KEY)
    target = _doc(1, a, f"{a}。{b}。")  # the relevant record (its title) is the oldest
    others = [_doc(i, f"工作简报{i}", f"{a}。{b}。第{i}期。") for i in range(2, 200)]
    ix.add_many([target, *others])
    assert exact_up_to(len(literals_tokens(parse(question).literals))) < 199
    res = ix.search(question, limit=10)
    assert (res.fallback, res.total, res.total_exact) == (True, 199, True)
    assert res.hits[0].ref.endswith("0001")
    ix.close()


def test_segments_are_merged_after_growth(tmp_path: Path) -> None:
    ix = SearchIndex.create(tmp_path / "m.db", KEY)

    def unmerged() -> int:
        return int(ix._conn.execute("SELECT value FROM meta WHERE key='unmerged'").fetchone()[0])

    pages = []
    for batch in range(30):  # a filing at a time: a new FTS5 segment each
        ix.add_many([_doc(batch * 20 + j, f"记录{j}", "入户走访，了解情况。") for j in range(1, 21)])
        pages.append(ix._conn.execute("SELECT count(*) FROM fts_data").fetchone()[0])
        assert unmerged() == (batch + 1) * 20 % OPTIMIZE_MIN_DOCS  # merged at 500 documents
    assert pages[24] < pages[23]  # the merge left fewer pages than 25 segments needed
    assert ix.integrity() == [] and ix.search("走访", limit=1).total == TOTAL_EXACT_UP_TO
    ix.close()


def test_the_same_document_twice_in_one_batch_keeps_the_later(tmp_path: Path) -> None:
    ix = SearchIndex.create(tmp_path / "d.db", KEY)
    first, later = _doc(1, "记录", "入户走访。"), _doc(1, "记录", "节日慰问。")
    ix.add_many([first, _doc(2, "记录", "入户走访。"), later])
    assert ix.search("慰问").total == 1 and ix.search("走访").total == 1
    assert ix.search("走访").hits[0].ref.endswith("0002")
    assert ix.integrity() == []
    ix.close()


def test_a_rebuild_in_many_chunks_keeps_the_filing_order(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild inserts in chunks bounded by documents and by characters of text (memory
    does not grow with the archive); the rowids still fall in filing order across chunks."""
    import archive.search.index as index_module

    monkeypatch.setattr(index_module, "REBUILD_CHUNK", 7)
    monkeypatch.setattr(index_module, "REBUILD_CHUNK_CHARS", 12)
    ix = SearchIndex.create(tmp_path / "c.db", KEY)
    # long texts make chunks of 3 (the characters bound), short ones of 7 (the count)
    docs = [_doc(i, f"记录{i}", "入户走访。" if i > 30 else "入户走访，了解情况。")
            for i in range(1, 61)]
    seen: list[int] = []
    assert ix.rebuild(docs, progress=lambda done, total: seen.append(done)) == 60
    assert seen == [60]  # fewer than 100 pulled: only the final call
    ids = [ix._rowid(r[0]) for r in ix._conn.execute("SELECT id FROM docs ORDER BY doc_id")]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 60
    got = [h.ref for h in ix.search("记录", limit=60).hits]
    assert got == [d["doc_id"] for d in reversed(docs)]  # equal scores: newest first
    assert ix.integrity() == []
    ix.close()


def test_a_failed_rebuild_leaves_an_old_order_index_as_it_was(tmp_path: Path) -> None:
    from archive.errors import ValidationError

    ix = _old_order(SearchIndex.create(tmp_path / "f.db", KEY))
    docs = [_doc(i, f"记录{i}", "入户走访。") for i in range(1, 6)]
    ix.add_many(docs)
    before = [h.ref for h in ix.search("走访").hits]
    with pytest.raises(ValidationError):
        ix.rebuild([*docs, {"title": "没有档号"}])
    assert not ix.newest_lowest  # rolled back: still schema 3, still its old order
    assert ix._conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "3"
    assert [h.ref for h in ix.search("走访").hits] == before
    ix.close()
