"""Faithful results (issue 12): snippets show only the document's characters, highlights are
offsets, PDF line ends inside a Chinese word are joined, table cells stay apart."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from archive.search.extract import extract_here
from archive.search.extract_pdf import join_wrapped_lines
from archive.search.index import SearchIndex
from archive.search.normalize import fold
from archive.search.snippet import Snippet, make_snippet, render_snippet

WRAPPED = ("为规范社会工作服务站档案管理，根据有关规定制定本办法（以下简称办法）。本办法适用于"
           "乡镇（街道）社会工作服务站在开展服务过程中形成的各类文件材料。")


def wrapped_pdf(text: str, width: float) -> bytes:
    """A real PDF whose paragraph the layout wraps (reportlab, CJK word wrap)."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    style = ParagraphStyle("body", fontName="STSong-Light", fontSize=12, leading=18,
                           wordWrap="CJK")
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=(width, 842))
    doc.build([Paragraph(text, style), Paragraph("第一章　总则", style),
               Paragraph("第一条　档案应当齐全完整。", style)])
    return buf.getvalue()


def table_docx(rows: list[list[str]]) -> bytes:
    import docx

    d = docx.Document()
    d.add_paragraph("入户走访记录表")
    table = d.add_table(rows=len(rows), cols=len(rows[0]))
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            table.cell(i, j).text = value
    d.add_paragraph("填表人：社工甲")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def assert_faithful(snippet: Snippet, document: str) -> None:
    """The snippet is the document's characters in order (line breaks may show as a space)."""
    flat = " ".join(document.split())
    shown = " ".join(snippet.text.split())
    assert shown in flat, (shown, flat)
    for s, e in snippet.spans:
        assert 0 <= s < e <= len(snippet.text)
    assert all(a[1] <= b[0] for a, b in zip(snippet.spans, snippet.spans[1:], strict=False))


@pytest.mark.parametrize("width", [300.0, 340.0, 420.0])
def test_word_broken_by_pdf_line_end_is_joined(width: float, tmp_path: Path) -> None:
    data = wrapped_pdf(WRAPPED, width)
    raw = __import__("pypdfium2").PdfDocument(data)[0].get_textpage().get_text_range()
    assert raw.count("\n") >= 3  # the layout really wrapped the paragraph
    text = extract_here(data, filename="办法.pdf").text
    assert WRAPPED in text  # every wrap inside the paragraph joined, nothing added
    assert "办法。\r\n第一章" in text or "材料。\r\n第一章" in text or "\n第一章" in text
    assert "总则\r\n第一条" in text or "总则\n第一条" in text  # the heading keeps its line
    ix = SearchIndex.create(tmp_path / "f.db", os.urandom(32))
    ix.add("Z001-WS·2026-Y-XZ-0001", title="档案管理办法", text=text)
    for word in ("简称", "以下简称", "适用于", "各类文件材料"):
        hits = ix.search(word).hits
        assert [h.doc_id for h in hits] == ["Z001-WS·2026-Y-XZ-0001"], word
        snip = hits[0].snippet_obj
        assert_faithful(snip, text)
        assert [snip.text[s:e] for s, e in snip.spans] == [word]
    ix.close()


def test_join_keeps_short_lines_and_sentence_ends() -> None:
    full = "一二三四五六七八九十一二"
    assert join_wrapped_lines(f"{full}\n{full}\n短\n下一段") == f"{full}{full}短\n下一段"
    assert join_wrapped_lines(f"{full[:-1]}。\n{full}") == f"{full[:-1]}。\n{full}"
    assert join_wrapped_lines("第一章 总则\n第一条") == "第一章 总则\n第一条"
    assert join_wrapped_lines(f"{full}\nabc") == f"{full}\nabc"  # Latin line: not joined


def test_docx_table_cells_are_separated_and_found(tmp_path: Path) -> None:
    rows = [["次数", "走访日期", "走访内容"], ["第1次走访", "2026年3月5日", "了解低保待遇落实"],
            ["第2次走访", "2026年4月1日", "协助办理残疾证换证"]]
    text = extract_here(table_docx(rows), filename="走访.docx").text
    assert "第1次走访\t2026年3月5日\t了解低保待遇落实" in text
    assert "次数\t走访日期\t走访内容" in text
    ix = SearchIndex.create(tmp_path / "f.db", os.urandom(32))
    ix.add("Z001-WS·2026-D30-FW-0001", title="入户走访记录", text=text)
    hit = ix.search("走访日期").hits[0]
    snip = hit.snippet_obj
    assert_faithful(snip, text)
    assert "走访日期" in [snip.text[s:e] for s, e in snip.spans]
    assert ix.search("访日期").total == 1 and ix.search("数走").total == 0  # cells apart
    ix.close()


def test_ideographic_spaces_kept_and_adjacent_highlights_not_merged() -> None:
    text = "第1次走访　　走访日期：2026年3月5日"
    snip = make_snippet(text, ["走访"])
    assert snip.text == text
    assert [snip.text[s:e] for s, e in snip.spans] == ["走访", "走访"]
    assert render_snippet(snip) == "第1次【走访】　　【走访】日期：2026年3月5日"
    assert "走访走访" not in render_snippet(snip)


def test_highlights_are_offsets_and_brackets_only_in_rendering() -> None:
    text = "OCR 原文【注】：服务对象臨時救助金已发放〔2019〕3号"
    snip = make_snippet(text, ["临时救助", "[2019]3"])
    assert snip.text == text and "【注】" in snip.text
    assert [snip.text[s:e] for s, e in snip.spans] == ["臨時救助", "〔2019〕3"]
    assert render_snippet(snip, color=True).count("\x1b[1;31m") == 2
    assert snip.as_dict()["spans"] == [list(s) for s in snip.spans]


def test_spaces_between_chinese_characters_of_a_word_are_highlighted_not_dropped() -> None:
    text = "扫描件：困 境 儿 童 基本生活保障"
    snip = make_snippet(text, ["困境儿童"])
    assert snip.text == text
    assert [snip.text[s:e] for s, e in snip.spans] == ["困 境 儿 童"]


def test_window_cut_marks_and_line_breaks() -> None:
    text = "甲" * 100 + "\n\n特困供养\n" + "乙" * 100
    snip = make_snippet(text, ["特困供养"])
    assert snip.cut_before and snip.cut_after and len(snip.text) == 60
    assert " 特困供养 " in snip.text and "\n" not in snip.text
    r = render_snippet(snip)
    assert r.startswith("…") and r.endswith("…") and "【特困供养】" in r


def test_snippets_from_the_index_are_faithful(tmp_path: Path) -> None:
    docs = {
        "Z001-WS·2026-D30-FW-0001": "第1次走访　　走访日期：3月5日\n服务对象反映冬季取暖困难。",
        "Z001-WS·2026-D30-FW-0002": "臨時救助金發放登記（繁體掃描件），共計 12 戶。",
        "Z001-WS·2026-D30-FW-0003": "【备注】低保户走访走访记录，重复字样保留。",
    }
    ix = SearchIndex.create(tmp_path / "f.db", os.urandom(32))
    for doc_id, text in docs.items():
        ix.add(doc_id, title="记录", text=text)
    for q in ("走访", "临时救助", "登记", "取暖困难", "低保"):
        for hit in ix.search(q).hits:
            snip = hit.snippet_obj
            assert_faithful(snip, docs[hit.doc_id])
            for s, e in snip.spans:
                assert fold(snip.text[s:e]).replace("　", "") in (fold(q), "走访")
    hit = ix.search("走访").hits
    marks = {h.doc_id: render_snippet(h.snippet_obj) for h in hit}
    assert marks["Z001-WS·2026-D30-FW-0003"] == "【备注】低保户【走访】【走访】记录，重复字样保留。"
    ix.close()
