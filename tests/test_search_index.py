"""SearchIndex: encrypted FTS5, ranking, filters, access rules, removal, rebuild, no plaintext."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.errors import Conflict, DecryptionFailed, NotFound, ValidationError
from archive.search.index import SearchIndex

KEY = bytes(range(32))
DOCS = [
    dict(doc_id="Z001-WS·2026-Y-XZ-0001", title="关于做好临时救助工作的通知",
         text="各乡镇：为做好临时救助金发放工作，根据国办发〔2019〕3号文件要求，现通知如下。",
         doc_no="国办发〔2019〕3号", date="2019-03-01", category="XZ", year=2019, retention="Y"),
    dict(doc_id="Z001-WS·2026-D30-FW-0001", title="张桂兰户入户走访记录",
         text="社工到柳树屯村张桂兰家中走访，了解低保待遇落实情况和困境儿童学业情况。",
         date="2026-04-02", category="FW", year=2026, retention="D30", household="张桂兰"),
    dict(doc_id="Z001-WS·2026-D30-FW-0002", title="李建国户节日慰问记录",
         text="春节前慰问特困供养人员李建国，送去米面油。低保金已按时发放。",
         date="2026-01-20", category="FW", year=2026, retention="D30", household="李建国"),
    dict(doc_id="Z001-WS·2026-D30-FW-0003", title="扫描件（无文字）", text="", status="no_text",
         category="FW", year=2026, retention="D30", household="李建国"),
]


@pytest.fixture
def index(tmp_path: Path) -> SearchIndex:
    ix = SearchIndex.create(tmp_path / "fulltext.db", KEY)
    ix.rebuild(DOCS)
    yield ix
    ix.close()


def ids(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.doc_id for h in result.hits]


def test_one_two_and_multi_char_queries(index: SearchIndex) -> None:
    assert ids(index.search("张")) == ["Z001-WS·2026-D30-FW-0001"]
    assert set(ids(index.search("低保"))) == {"Z001-WS·2026-D30-FW-0001", "Z001-WS·2026-D30-FW-0002"}
    assert ids(index.search("困境儿童")) == ["Z001-WS·2026-D30-FW-0001"]
    assert ids(index.search("时救助金发")) == ["Z001-WS·2026-Y-XZ-0001"]  # cut mid-word


def test_docno_variants_and_traditional(index: SearchIndex) -> None:
    for q in ("国办发〔2019〕3号", "国办发[2019]3号", "國辦發〔２０１９〕３號", "doc_no:国办发"):
        assert ids(index.search(q)) == ["Z001-WS·2026-Y-XZ-0001"], q


def test_title_weighted_higher(index: SearchIndex) -> None:
    # 走访 is in the title of FW-0001 only; 低保 appears in both bodies
    assert ids(index.search("走访 OR 低保"))[0] == "Z001-WS·2026-D30-FW-0001"


def test_snippet_highlights_around_first_hit(index: SearchIndex) -> None:
    hit = index.search("临时救助").hits[0]
    assert "【临时救助】" in hit.snippet and len(hit.snippet) <= 70
    assert hit.date == "2019-03-01" and hit.title.startswith("关于")


def test_pasted_question_falls_back_to_bigrams(index: SearchIndex) -> None:
    result = index.search("怎样申请临时救助金？")
    assert result.fallback and ids(result)[0] == "Z001-WS·2026-Y-XZ-0001"


def test_filters(index: SearchIndex) -> None:
    assert ids(index.search("低保", household="李建国")) == ["Z001-WS·2026-D30-FW-0002"]
    assert index.search("低保", year=2019).total == 0
    assert index.search("通知", category="XZ", retention="Y").total == 1


def test_hidden_hits_are_not_counted(index: SearchIndex) -> None:
    allowed = {"Z001-WS·2026-D30-FW-0002"}
    result = index.search("低保", allowed=allowed)
    assert ids(result) == ["Z001-WS·2026-D30-FW-0002"] and result.total == 1
    assert index.search("低保", allowed=lambda d: False).total == 0
    assert index.search("低保", allowed=set()).hits == []
    # no_text records are counted only where readable
    assert index.search("低保").no_text_count == 1
    assert index.search("低保", allowed=allowed).no_text_count == 0


def test_limit_applies_after_access_filter(index: SearchIndex) -> None:
    result = index.search("低保", allowed={"Z001-WS·2026-D30-FW-0002"}, limit=1)
    assert ids(result) == ["Z001-WS·2026-D30-FW-0002"]


def test_add_replaces_and_remove_really_removes(index: SearchIndex) -> None:
    index.add("Z001-WS·2026-D30-FW-0001", title="更正后的记录", text="内容已更正为鞠躬尽瘁")
    assert index.search("困境儿童").total == 0
    assert index.search("鞠躬").total == 1
    index.remove("Z001-WS·2026-D30-FW-0001")
    assert index.search("鞠躬").total == 0
    index._conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab"
                        " USING fts5vocab(main, fts, row)")  # the index's own terms
    vocab = index._conn.execute("SELECT count(*) FROM temp.vocab WHERE term IN ('鞠躬', '鞠')")
    assert vocab.fetchone()[0] == 0
    assert index._conn.execute("SELECT count(*) FROM temp.vocab").fetchone()[0] > 0
    with pytest.raises(NotFound):
        index.remove("Z001-WS·2026-D30-FW-0001")


def test_status_and_rebuild_progress(index: SearchIndex) -> None:
    st_ = index.status()
    assert st_["docs"] == 4 and st_["no_text"] == 1 and st_["size_bytes"] > 0
    calls: list[tuple[int, int]] = []
    assert index.rebuild(iter(DOCS[:2]), progress=lambda d, t: calls.append((d, t))) == 2
    assert calls[-1] == (2, 2) and index.status()["docs"] == 2


def test_wrong_key_missing_file_and_existing_file(tmp_path: Path, index: SearchIndex) -> None:
    with pytest.raises(DecryptionFailed):
        SearchIndex.open(index.path, bytes(32))
    with pytest.raises(NotFound):
        SearchIndex.open(tmp_path / "none.db", KEY)
    with pytest.raises(Conflict):
        SearchIndex.create(index.path, KEY)
    reopened = SearchIndex.open(index.path, KEY)
    assert reopened.search("张").total == 1
    reopened.close()


def test_bad_arguments(index: SearchIndex) -> None:
    with pytest.raises(ValidationError):
        index.add("", title="x", text="y")
    with pytest.raises(ValidationError):
        index.add("A", title="x", text="y", status="weird")
    with pytest.raises(ValidationError):
        index.search("低保", limit=0)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('低保救助张"()-*: ANDORNT与或非〔〕１号abc')), max_size=25))
def test_any_query_is_valid_fts_or_a_parser_error(tmp_path_factory: pytest.TempPathFactory,
                                                  query: str) -> None:
    path = tmp_path_factory.getbasetemp() / "hyp.db"
    ix = SearchIndex.open(path, KEY) if path.exists() else SearchIndex.create(path, KEY)
    try:
        ix.search(query)
    except ValidationError as exc:
        assert "无法执行" not in str(exc), (query, exc.details)
    finally:
        ix.close()


def test_no_plaintext_at_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    canary = "金丝雀王小明身份证220122199001011234"
    path = tmp_path / "home" / "fulltext.db"
    path.parent.mkdir()
    ix = SearchIndex.create(path, os.urandom(32))
    from archive.search.extract import Extractor
    from tests.test_search_extract import HEAD, make_docx, para

    doc = make_docx({"word/document.xml": HEAD + f"<w:body>{para(canary)}</w:body></w:document>"})
    with Extractor() as ex:
        text = ex.extract(doc, filename="a.docx").text
    assert canary in text
    ix.rebuild([dict(doc_id=f"D{i}", title=f"{canary}{i}", text=text * 50) for i in range(300)])
    assert (ix.search("王小明").total, ix.search("王小明").total_exact) == (200, False)
    ix.remove("D7")
    ix.close()
    needles = [canary.encode(), canary.encode("utf-16-le"), "王小明".encode(),
               "王小明".encode("utf-16-le"), b"220122199001011234"]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert path in files
    for f in files:
        data = f.read_bytes()
        for needle in needles:
            assert needle not in data, f.name
