"""Batch extraction (filing many small files): same results as one by one, in order."""

from __future__ import annotations

import io

from archive.search.extract import Extractor, extract_here
from archive.search.limits import Limits
from tests.test_search_extract import HEAD, cjk_pdf, make_docx, para


def docx(text: str) -> bytes:
    return make_docx({"word/document.xml": HEAD + f"<w:body>{para(text)}</w:body></w:document>"})


def test_extract_many_matches_one_by_one_and_keeps_order() -> None:
    items: list[tuple[bytes | io.BytesIO, str, str | None]] = []
    for i in range(30):
        items.append((docx(f"第{i}号走访记录，低保复核"), f"d{i}.docx", None))
        if i % 5 == 0:
            items.append((cjk_pdf([f"临时救助审批表{i}"]), f"p{i}.pdf", "application/pdf"))
        if i % 7 == 0:
            items.append((io.BytesIO("低保名单".encode("gb18030")), f"t{i}.txt", None))
    items.append((b"PK\x03\x04broken", "bad.docx", None))
    items.append((b"x" * 200_000, "big.txt", None))  # larger than the pipe: sent alone
    with Extractor() as ex:
        got = ex.extract_many(items)
    want = []
    for data, name, mime in items:
        raw = data.getvalue() if isinstance(data, io.BytesIO) else data
        want.append(extract_here(raw, filename=name, mime=mime))
    assert [(g.status, g.text) for g in got] == [(w.status, w.text) for w in want]
    assert got[0].text == "第0号走访记录，低保复核" and got[-2].status == "failed"


def test_a_crash_fails_only_its_item() -> None:
    ok = docx("慰问记录")
    with Extractor(Limits(memory=48 * 1024 * 1024, timeout=20)) as ex:
        # the PDF parser needs more than 48 MiB (the worker starts in ~35): it fails, the
        # rest goes on
        got = ex.extract_many([(ok, "a.docx", None), (cjk_pdf(["内存"]), "b.pdf", None),
                               (ok, "c.docx", None)])
    assert [g.status for g in got] == ["ok", "failed", "ok"]
    assert got[2].text == "慰问记录"
