"""Search wired into the archive: filing indexes, access rules filter before counting,
rebuild gives the same results, the index is ciphertext."""

from __future__ import annotations

from pathlib import Path

from conftest import PASS

from archive.app import Archive


def _worker(arc: Archive, home: Path, clock, name: str) -> Archive:
    arc.users.add(name, "social_worker", f"{name}-passphrase")
    return Archive.unlock(home, user=name, passphrase=f"{name}-passphrase", clock=clock)


def test_filing_indexes_and_search_finds(arc: Archive, make_file) -> None:
    arc.records.file([make_file("a.txt", "临时救助金申请：低保边缘户王小明")], category="FW", title="救助申请")
    arc.records.file([make_file("b.txt", "国办发〔2019〕3号 关于加强社会救助的通知")], category="XZ",
             title="转发通知", doc_no="国办发〔2019〕3号")
    r = arc.search.query("临时救助")
    assert [h.ref for h in r.hits] == ["Z001-WS·2026-D30-FW-0001"] and "【" in r.hits[0].snippet
    assert arc.search.query("国办发〔2019〕3号").hits[0].title == "转发通知"
    assert arc.search.query("救助").total == 2
    assert arc.search.query("救助", category="行政").total == 1
    assert "search" in [e.action for e in arc.kernel.audit.entries()]
    entry = [e for e in arc.kernel.audit.entries(decrypt=True) if e.action == "search"][0]
    assert entry.detail["query"] == "临时救助" and entry.ref is None


def test_hidden_records_are_not_even_counted(arc: Archive, home: Path, clock, make_file) -> None:
    w1 = _worker(arc, home, clock, "wangwu")
    w2 = _worker(arc, home, clock, "zhaoliu")
    try:
        w1.records.file([make_file("w1.txt", "困境儿童走访 王一")], category="FW")
        w2.records.file([make_file("w2.txt", "困境儿童走访 赵二")], category="FW")
        arc.records.file([make_file("rs.txt", "困境儿童 人事档案")], category="RS")
        r1 = w1.search.query("困境儿童")
        assert r1.total == 1 and [h.snippet for h in r1.hits][0].endswith("王一")
        assert w2.search.query("困境儿童").total == 1
        assert arc.search.query("困境儿童").total == 3  # the head reads all
    finally:
        w1.close()
        w2.close()


def test_rebuild_gives_same_results_and_index_is_ciphertext(arc: Archive, make_file) -> None:
    for i in range(5):
        arc.records.file([make_file(f"{i}.txt", f"社工站服务记录第{i}号 欧阳娜娜 临时救助")], category="FW")
    before = [(h.ref, h.snippet) for h in arc.search.query("欧阳").hits]
    arc.search.close()
    (arc.kernel.home.indexes / "service.db").unlink()  # one index per compartment
    assert arc.search.status()["needs_rebuild"]
    assert arc.search.rebuild() == 5
    assert [(h.ref, h.snippet) for h in arc.search.query("欧阳").hits] == before
    old_key = arc.kernel.keys.index_key("service")
    arc.keys.rotate(rewrap=True)  # new epochs: indexes re-keyed before the old ones go
    assert arc.kernel.keys.index_key("service") != old_key
    arc.search.close()
    assert len(arc.search.query("欧阳").hits) == 5
    arc.search.close()
    from archive.search.index import SearchIndex

    with SearchIndex.open(arc.kernel.home.indexes / "service.db",
                          arc.kernel.keys.index_key("service")) as idx:
        assert idx.status()["docs"] == 5
    arc.search.close()
    for p in arc.kernel.home.indexes.iterdir():
        data = p.read_bytes()
        for needle in ("欧阳娜娜", "临时救助"):
            assert needle.encode() not in data and needle.encode("utf-16-le") not in data


def test_no_text_records_are_counted(arc: Archive, make_file) -> None:
    import io

    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    buf = io.BytesIO()
    pdf.save(buf)
    arc.records.file([make_file("scan.pdf", buf.getvalue())], category="FW", title="空白扫描件")
    arc.records.file([make_file("t.txt", "文字 档案")], category="FW")
    assert arc.search.query("档案").no_text_count >= 1
    assert arc.search.status()["records_without_text"] == 1


def test_unlock_again_and_search(arc: Archive, home: Path, clock, make_file) -> None:
    arc.records.file([make_file("x.txt", "跟踪问效")], category="FW")
    arc.close()
    with Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=clock) as a2:
        assert a2.search.query("问效").total == 1


def test_utf16_and_gbk_text_are_searchable(arc: Archive, make_file) -> None:
    arc.records.file([make_file("a.txt", "特困供养人员名册".encode("utf-16"))], category="FW")
    arc.records.file([make_file("b.txt", "残疾人两项补贴".encode("gb18030"))], category="FW")
    assert arc.search.query("特困供养").total == 1
    assert arc.search.query("两项补贴").total == 1


def test_rebuild_extracts_in_the_pool_and_keeps_each_text_with_its_document(
        arc: Archive, make_file) -> None:
    """70 components: two door batches (64 + 6), each parsed by the pool's workers while the
    index takes the previous one; every text must land on its own document."""
    names = [a + b for a in "甲乙丙丁戊己庚辛壬癸" for b in "子丑寅卯辰巳午"]
    paths = [make_file(f"{i:02d}.txt", f"入户走访记录 第{i}件 对象代号{n}{n}")
             for i, n in enumerate(names)]
    refs = [r.ref for r in arc.records.file(paths, category="FW", index=False)]
    assert arc.search.status()["needs_rebuild"]
    assert arc.search.rebuild() == 70
    for ref, name in zip(refs, names, strict=True):
        assert [h.ref for h in arc.search.query(name + name).hits] == [ref], name
    reads = [e for e in arc.kernel.audit.entries(decrypt=True) if e.action == "index.read"]
    assert [len(e.detail["items"]) for e in reads] == [64, 6]
    assert sorted(i for e in reads for i in e.detail["items"]) == sorted(f"{r}#1" for r in refs)
    statuses = {c.text_status for r in arc.kernel.records.list()
                for c in arc.kernel.records.components(r.id)}
    assert statuses == {"ok"}
    assert arc.search._extraction is not None and arc.search._extraction.workers >= 1
