"""Extraction ahead of indexing in a pool of isolated workers (issue 12, small files): the
same texts with one worker or two, in input order; a worker killed by a hostile file fails
that file only; filing many files with indexing gives every record its text."""

from __future__ import annotations

import io
from pathlib import Path

from archive.app import Archive
from archive.search.extract import Extractor
from archive.search.extract_pool import POOL_MIN_ITEMS, ExtractionPool
from archive.search.limits import Extracted, Limits
from tests.test_search_extract import HEAD, cjk_pdf, make_docx, para


def docx(text: str) -> bytes:
    return make_docx({"word/document.xml": HEAD + f"<w:body>{para(text)}</w:body></w:document>"})


def _items() -> list[tuple[object, str, str | None]]:
    items: list[tuple[object, str, str | None]] = []
    for i in range(12):
        items.append((docx(f"第{i}号入户走访记录"), f"d{i}.docx", None))
        if i % 3 == 0:
            items.append((cjk_pdf([f"临时救助审批表{i}", "以下简称救助"]), f"p{i}.pdf",
                          "application/pdf"))
        if i % 4 == 0:
            items.append((io.BytesIO("低保名单".encode("gb18030")), f"t{i}.txt", None))
    items.append((b"PK\x03\x04broken", "bad.docx", None))
    items.append((b"%PDF-1.4 not really", "bad.pdf", None))
    # loaded by the feeding thread when its turn comes; an input decided without parsing
    items.append((lambda: docx("延迟读取的文件"), "lazy.docx", None))
    items.append((lambda: Extracted("", "failed", "文件过大", None), "huge.pdf", None))
    return items


def _fresh(items: list[tuple[object, str, str | None]]) -> list[tuple[object, str, str | None]]:
    """Streams are read once: give each run its own."""
    return [(io.BytesIO(d.getvalue()) if isinstance(d, io.BytesIO) else d, n, m)
            for d, n, m in items]


def _key(results: list[Extracted]) -> list[tuple[str, str, str | None, int | None]]:
    return [(r.status, r.text, r.reason, r.pages) for r in results]


def test_one_worker_two_workers_and_a_plain_extractor_agree() -> None:
    items = _items()
    assert len(items) >= POOL_MIN_ITEMS  # so the pool really deals to two workers
    with Extractor() as ex:
        want = ex.extract_many(_fresh(items))  # type: ignore[arg-type]
    with ExtractionPool(workers=1) as one:
        got1 = one.extract_many(_fresh(items))  # type: ignore[arg-type]
    with ExtractionPool(workers=2) as two:
        job = two.submit(_fresh(items))  # type: ignore[arg-type]
        got2 = job.results()
        assert len(two._extractors) == 2  # both lanes were used
    assert _key(got1) == _key(want) == _key(got2)
    assert got2[0].text == "第0号入户走访记录"
    assert "临时救助审批表0" in got2[1].text
    statuses = {name: r.status for (_d, name, _m), r in zip(items, got2, strict=True)}
    assert statuses["bad.docx"] == "failed" and statuses["huge.pdf"] == "failed"
    assert got2[-2].text == "延迟读取的文件"


def test_a_worker_killed_by_one_file_loses_no_other_file() -> None:
    ok = docx("慰问记录")
    # the PDF parser needs more than 48 MiB of address space (the worker starts in ~35 MiB
    # since it no longer imports the index): it fails under the cap; the other worker and
    # the same one afterwards finish every other file of the batch
    items: list[tuple[object, str, str | None]] = [(ok, f"a{i}.docx", None) for i in range(9)]
    items[3] = (cjk_pdf(["内存"]), "b.pdf", None)
    with ExtractionPool(Limits(memory=48 * 1024 * 1024, timeout=20), workers=2) as pool:
        got = pool.extract_many(items)  # type: ignore[arg-type]
        again = pool.extract_many([(ok, "c.docx", None)] * POOL_MIN_ITEMS)
    assert [g.status for g in got] == ["ok"] * 3 + ["failed"] + ["ok"] * 5
    assert all(g.text == "慰问记录" for i, g in enumerate(got) if i != 3)
    assert [g.text for g in again] == ["慰问记录"] * POOL_MIN_ITEMS


def test_filing_many_files_indexes_each_with_its_own_text(arc: Archive, make_file) -> None:
    paths: list[Path] = []
    for i in range(20):
        if i % 2:
            paths.append(make_file(f"协议{i:02d}.pdf", cjk_pdf([f"服务协议编号甲{i:02d}乙"])))
        else:
            paths.append(make_file(f"记录{i:02d}.docx", docx(f"走访记录编号丙{i:02d}丁")))
    paths.append(make_file("坏文件.docx", make_docx({"word/document.xml": HEAD + "<w:body"})))
    results = arc.records.file(paths, category="FW")
    assert [r.status for r in results] == ["filed"] * 21
    for i, res in enumerate(results[:20]):
        word = f"甲{i:02d}乙" if i % 2 else f"丙{i:02d}丁"
        hits = arc.search.query(word).hits
        assert [h.ref for h in hits] == [res.ref], word
    shown = arc.records.show(results[20].ref)["components"][0]
    assert shown["text_status"] == "failed"
    assert {arc.records.show(r.ref)["components"][0]["text_status"]
            for r in results[:20]} == {"ok"}


def test_insert_record_returns_what_get_reads(arc: Archive, make_file) -> None:
    res = arc.records.file([make_file("a.txt", "内容")], category="FW", title="题名",
                           doc_no="社工〔2026〕1号", household="H0001", note="备注",
                           date="2026-05-06")
    rec = arc.kernel.records.get(res[0].ref)
    from archive.catalog.numbering import ArchivalRef

    ref = ArchivalRef(rec.fonds, rec.genre, rec.year, rec.retention, rec.cls, rec.item + 1)
    fields = {k: getattr(rec, k) for k in ("title", "title_source", "doc_no", "author", "date",
                                           "secrecy", "note", "household", "responsible",
                                           "filed_at", "filed_by")}
    with arc.kernel.db.transaction():
        made = arc.kernel.records.insert_record(ref, {**fields, "precious": 1})
    assert made == arc.kernel.records.get(str(ref))
    assert made.compartment == rec.compartment != ""


def test_titles_read_by_the_workers_are_those_the_filing_process_reads(arc: Archive,
                                                                       make_file) -> None:
    """With indexing, each document's own title is read by the extraction workers; without,
    by the filing process (records/sniff.py). Both give the same titles."""
    from archive.records.sniff import inspect_file
    from tests.test_vault_filing import _docx, _pdf

    def corpus(tag: str) -> list[Path]:
        return [
            make_file(f"{tag}1.docx", _docx("核心属性题名", f"一级标题{tag}")),
            make_file(f"{tag}2.docx", _docx(None, f"社工站档案管理制度{tag}")),
            make_file(f"{tag}3.pdf", _pdf(f"PDF 的题名{tag}")),
            make_file(f"{tag}4.docx", _docx("家访\u202efdp.exe\n第二行" + tag, "标题")),
            make_file(f"{tag}5.pdf", cjk_pdf([f"无题名的协议{tag}"])),
            make_file(f"{tag}6.docx", make_docx({"word/document.xml": HEAD + "<w:body>" + tag})),
            make_file(f"会议纪要{tag}.txt", f"纪要{tag}"),
            make_file(f"{tag}8.docx", docx(f"第一段即题名{tag}")),
        ]

    for tag, index in (("甲", True), ("乙", False)):
        paths = corpus(tag)
        assert len(paths) >= POOL_MIN_ITEMS
        results = arc.records.file(paths, category="XZ", index=index)
        got = [arc.records.show(r.ref)["title"] for r in results]
        want = [inspect_file(p).title or p.stem for p in paths]
        assert got == want, (tag, got)
    assert got[0] == "核心属性题名" and got[3] == "家访fdp.exe 第二行乙"


def test_a_failed_extraction_job_never_stops_the_filing(arc: Archive, make_file,
                                                        monkeypatch) -> None:
    class Broken:
        def results(self) -> list[Extracted]:
            raise RuntimeError("feeding thread died")

    monkeypatch.setattr(arc.records, "_extract_ahead", lambda items, titles=False: Broken())
    paths = [make_file(f"走访{i}.docx", docx(f"困难家庭走访编号戊{i}己")) for i in range(9)]
    results = arc.records.file(paths, category="FW")
    assert [r.status for r in results] == ["filed"] * 9
    # titles the workers would have read fall back to the file names; the texts are
    # extracted by the index hook itself
    assert [r.title for r in results] == [p.stem for p in paths]
    assert [h.ref for h in arc.search.query("戊3己").hits] == [results[3].ref]
