"""Finding 6: no page holds only the 落款, 第X章 centred, typed columns never wrap.

The LibreOffice test also checks the sample mark on every page (finding 1): it is there
exactly when a sample value was used.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from archive.docgen import ooxml
from archive.docgen.build import _col_widths, build_template
from archive.docgen.colwidth import DATE_CN_SAMPLE, column_floor, text_ems
from archive.docgen.engine import merge_sample, render
from archive.docgen.manifest import default_templates_dir, get_manifest, load_manifest
from archive.docgen.markup import Table, parse_body
from archive.pdf.docx_fonts import docx_to_pdf_with_fonts
from tests.docgen_helpers import chalu, have, pdf_pages

ROOT = default_templates_dir()
TODAY = dt.date(2026, 12, 1)
PREVIEWS = Path(__file__).resolve().parent.parent / "build" / "previews"


def _doc_xml(tid: str) -> str:
    return zipfile.ZipFile(io.BytesIO(build_template(ROOT / tid))).read(
        "word/document.xml").decode()


def test_chapter_headings_centred_and_closing_kept_with_text() -> None:
    xml = _doc_xml("archive-rules")
    assert re.search(r'<w:pStyle w:val="SgzChapter"/></w:pPr><w:r><w:t[^>]*>第一章', xml)
    styles = zipfile.ZipFile(io.BytesIO(build_template(ROOT / "archive-rules"))).read(
        "word/styles.xml").decode()
    chapter = re.search(r'w:styleId="SgzChapter".*?</w:style>', styles)[0]
    assert '<w:jc w:val="center"/>' in chapter and "firstLineChars" in chapter
    assert 'w:firstLineChars="0"' in chapter
    # the last article and the station name keep with what follows them
    tail = xml[xml.rindex("第三十七条") - 200:]
    assert tail.count("<w:keepNext/>") == 2


def test_typed_columns_are_wide_enough() -> None:
    for tid in ("archive-catalogue", "satisfaction-survey", "complaint-register",
                "case-record"):
        m = load_manifest(ROOT / tid)
        lay = ooxml.LAYOUTS[m.layout]
        for table in (b for b in parse_body(m.body_path.read_text("utf-8"))
                      if isinstance(b, Table)):
            floors = [column_floor(table, i, lay.table.size_pt, m)
                      for i in range(len(table.widths_mm))]
            widths = _col_widths(table, lay.text_width_twips, floors)
            assert sum(widths) <= lay.text_width_twips + len(widths)
            assert all(w >= f for w, f in zip(widths, floors, strict=True)), (tid, widths, floors)
    m = load_manifest(ROOT / "satisfaction-survey")
    survey = next(b for b in parse_body(m.body_path.read_text("utf-8")) if isinstance(b, Table)
                  and any("非常满意" in c.text for c in b.header.cells))
    col = next(i for i, c in enumerate(survey.header.cells) if c.text.startswith("非常满意"))
    lay = ooxml.LAYOUTS[m.layout]
    assert column_floor(survey, col, lay.table.size_pt, m) >= 4 * lay.table.size_pt * 20
    assert text_ems(DATE_CN_SAMPLE) > 7


def _last_pages_ok(pages: list[str], station: str) -> None:
    last = [ln.strip() for ln in pages[-1].splitlines() if ln.strip()]
    body = [ln for ln in last if station not in ln and not re.fullmatch(
        r"[—\-\s\d]+|\d{4}\s*年\s*\d+\s*月\s*\d+\s*日|样例.*", ln)]
    assert body, f"最后一页只有落款：{last}"


@pytest.mark.slow
@pytest.mark.libreoffice
@pytest.mark.skipif(not (have("soffice") and have("pdftotext")), reason="需要 LibreOffice 与 poppler")
@pytest.mark.parametrize("tid", ["archive-rules", "service-procedure"])
def test_no_page_holds_only_the_closing(tid: str, tmp_path: Path) -> None:
    m = get_manifest(ROOT, tid)
    st = chalu()
    docs = {}
    docs["sample"] = render(m, {}, st, today=TODAY, sample=True).data
    full, _ = merge_sample(m, {}, st)
    docs["real"] = render(m, full, st, today=TODAY).data
    for kind, blob in docs.items():
        path = tmp_path / f"{tid}-{kind}.docx"
        path.write_bytes(blob)
        pdf = docx_to_pdf_with_fonts(path)
        pages = pdf_pages(pdf)
        assert len(pages) > 2
        _last_pages_ok(pages, st["name"])
        marked = [("样例" in p) for p in pages]
        assert all(marked) if kind == "sample" else not any(marked), (kind, marked)
        if kind == "real" and shutil.which("pdftoppm"):
            PREVIEWS.mkdir(parents=True, exist_ok=True)
            n = len(pages)
            subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", str(n), "-l", str(n),
                            "-singlefile", str(pdf), str(PREVIEWS / f"after-{tid}-last")],
                           check=True, timeout=60)


def test_an_agreements_closing_block_keeps_together_with_the_paragraph_before() -> None:
    """Signatures and 签订日期 (`<<` lines at the end) stood alone on a new page: the closing
    block and the paragraph before it now keep with what follows, to its last line."""
    from archive.docgen.build import _closing_run, _keep_flags
    from archive.docgen.markup import Para

    m = load_manifest(ROOT / "volunteer-agreement")
    blocks = parse_body(m.body_path.read_text("utf-8"))
    first, last = _closing_run(blocks) or (0, 0)
    kinds = [b.kind for b in blocks[first:last + 1] if isinstance(b, Para)]
    assert kinds[0] == "body" and set(kinds[1:]) <= {"plain", "tag"}
    assert blocks[last].text.startswith("签订日期")  # type: ignore[union-attr]
    flags = _keep_flags(blocks)
    assert all(flags[first:last]) and not flags[last]
    # a document that does not end in a `<<` block is left as it was
    rules = parse_body(load_manifest(ROOT / "archive-rules").body_path.read_text("utf-8"))
    assert _closing_run(rules) is None
