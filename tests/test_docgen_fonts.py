"""Finding 5: real, embedded Simplified-Chinese fonts in every PDF sgz writes."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from archive.docgen.engine import render
from archive.docgen.manifest import default_templates_dir, get_manifest
from archive.docgen.plaque import render_plaque
from archive.pdf.docx_fonts import docx_to_pdf_with_fonts, font_map, pdf_ready_docx
from archive.pdf.fonts import ROLES, choose, font_report, subset_truetype
from archive.pdf.watermark import make_view_copy
from tests.docgen_helpers import (
    chalu,
    docx_text,
    glyph_language_problems,
    have,
    pdf_pages,
    pdffonts,
)

pytestmark = pytest.mark.skipif(not have("pdffonts"), reason="需要 poppler-utils")
ROOT = default_templates_dir()


def _all_embedded(pdf: Path) -> list[dict[str, str]]:
    rows = pdffonts(pdf)
    assert rows, "PDF 中没有字体"
    assert all(r["emb"] == "yes" for r in rows), [r["line"] for r in rows]
    return rows


def _retag(docx: bytes) -> bytes:
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            blob = src.read(info)
            if info.filename.endswith(".xml"):
                blob = (blob.replace(b"Noto Serif CJK SC", b"Noto Serif CJK JP")
                        .replace(b"Noto Sans CJK SC", b"Noto Sans CJK JP")
                        .replace(b'w:eastAsia="zh-CN"', b'w:eastAsia="ja-JP"'))
            zf.writestr(info, blob)
    return out.getvalue()


def test_font_report_names_every_role() -> None:
    rep = font_report()
    assert set(rep.choices) == set(ROLES)
    for c in rep.choices.values():
        assert c.face is not None and Path(c.face.file).is_file()
        assert "JP" not in c.family and "KR" not in c.family and "TC" not in c.family
    warning = rep.warning()
    if rep.missing:
        assert warning.count("提示") == 1 and all(n in warning for n in rep.missing)
    assert len(rep.lines()) == len(ROLES)


def test_subset_is_truetype_and_small() -> None:
    from fontTools.ttLib import TTFont

    face = choose("xiaobiaosong").face
    assert face is not None
    font = TTFont(io.BytesIO(subset_truetype(face, "社工站档案")))
    assert "glyf" in font and "CFF " not in font
    assert font.getBestCmap().keys() >= {ord(c) for c in "社工站档案"}
    assert len(font.getGlyphOrder()) < 20


def test_plaque_pdf_embeds_a_real_font(tmp_path: Path) -> None:
    pdf = tmp_path / "牌匾.pdf"
    pdf.write_bytes(render_plaque(chalu(), "70x50", "pdf"))
    rows = _all_embedded(pdf)
    assert not any("STSong" in r["name"] for r in rows)
    assert "永吉县岔路河镇" in pdf_pages(pdf)[0].replace(" ", "")


def test_sample_plaque_is_marked(tmp_path: Path) -> None:
    pdf = tmp_path / "样例.pdf"
    pdf.write_bytes(render_plaque(chalu(), "60x40", "pdf", sample=True))
    assert "样例" in pdf_pages(pdf)[0]
    assert "样例" in render_plaque(chalu(), "60x40", "svg", sample=True).decode()
    assert "样例" not in render_plaque(chalu(), "60x40", "svg").decode()


def test_view_copy_watermark_embeds_its_font(tmp_path: Path) -> None:
    src = tmp_path / "src.pdf"
    src.write_bytes(render_plaque(chalu(), "60x40", "pdf"))
    out = io.BytesIO()
    make_view_copy(io.BytesIO(src.read_bytes()), out, lines=["永吉县民政局", "查阅单 CY-7"],
                   copy_id="C-1", owner_password=b"x" * 16)
    dst = tmp_path / "copy.pdf"
    dst.write_bytes(out.getvalue())
    rows = _all_embedded(dst)
    assert not any("STSong" in r["name"] for r in rows)


def test_docx_for_pdf_names_installed_sc_faces() -> None:
    m = get_manifest(ROOT, "confidentiality-rules")
    blob = render(m, {}, chalu(), today=dt.date(2026, 12, 1), sample=True).data
    mapping = font_map(font_report())
    ready, warning = pdf_ready_docx(blob)
    import zipfile

    styles = zipfile.ZipFile(io.BytesIO(ready)).read("word/styles.xml").decode()
    for old, new in mapping.items():
        assert f'"{old}"' not in styles and f'"{new}"' in styles
        assert old in warning
    assert docx_text(ready) == docx_text(blob)
    # the .docx the station keeps still names the 公文 fonts
    assert "仿宋_GB2312" in zipfile.ZipFile(io.BytesIO(blob)).read("word/styles.xml").decode()


@pytest.mark.slow
@pytest.mark.libreoffice
@pytest.mark.skipif(not have("soffice"), reason="需要 LibreOffice")
def test_libreoffice_pdf_fonts_embedded_and_sc(tmp_path: Path) -> None:
    m = get_manifest(ROOT, "confidentiality-rules")
    docx = tmp_path / "保密管理制度.docx"
    docx.write_bytes(render(m, {}, chalu(), today=dt.date(2026, 12, 1), sample=True).data)
    warnings: list[str] = []
    pdf = docx_to_pdf_with_fonts(docx, warn=warnings.append)
    _all_embedded(pdf)
    assert len(warnings) == (1 if font_report().missing else 0)
    checked, problems = glyph_language_problems(pdf)
    assert checked > 5 and not problems, problems[:5]
    # the check bites: the same text in the JP face and tagged Japanese takes JP glyphs
    # (tagged zh-CN, as our documents are, even a JP face picks SC forms through 'locl')
    jp = tmp_path / "jp.docx"
    ready, _ = pdf_ready_docx(docx.read_bytes())
    jp.write_bytes(_retag(ready))
    from archive.pdf.office import docx_to_pdf

    _, bad = glyph_language_problems(docx_to_pdf(jp, tmp_path))
    assert bad


def test_a_bold_stand_in_is_asked_for_bold() -> None:
    """方正小标宋's stand-in is Noto Serif CJK SC *Bold*: the family name alone gave the
    regular face (a review saw every title in the body's weight)."""
    import zipfile

    from archive.pdf.fonts import Choice, Face, FontReport

    report = FontReport({"xiaobiaosong": Choice(
        "xiaobiaosong", "方正小标宋简体", "Noto Serif CJK SC",
        Face(("Noto Serif CJK SC",), "Bold", "/fonts/NotoSerifCJK-Bold.ttc", 0), exact=False)})
    m = get_manifest(ROOT, "confidentiality-rules")
    blob = render(m, {}, chalu(), today=dt.date(2026, 12, 1), sample=True).data
    ready, _ = pdf_ready_docx(blob, report)
    parts = zipfile.ZipFile(io.BytesIO(ready))
    xml = parts.read("word/document.xml").decode() + parts.read("word/styles.xml").decode()
    assert "方正小标宋简体" not in xml
    import re

    fonts = re.findall(r'<w:rFonts\b[^>]*"Noto Serif CJK SC"[^>]*/>(<w:b/>)?', xml)
    assert fonts and all(fonts), "every run in the stand-in is bold"
    assert docx_text(ready) == docx_text(blob)


@pytest.mark.slow
@pytest.mark.libreoffice
@pytest.mark.skipif(not have("soffice"), reason="需要 LibreOffice")
def test_the_stamped_pdfa_copy_uses_the_same_faces_as_gen(tmp_path: Path, caplog) -> None:
    """The long-term PDF/A copy of a generated .docx (sgz stamp) and an outside unit's view
    copy were converted without the 公文 stand-ins: set entirely in a sans face. And
    fontTools' English warnings no longer reach the terminal."""
    from archive.access.viewcopy import _docx_to_pdf
    from archive.pdf.pdfa import rendition

    m = get_manifest(ROOT, "confidentiality-rules")
    blob = render(m, {}, chalu(), today=dt.date(2026, 12, 1), sample=True).data
    docx = tmp_path / "制度.docx"
    docx.write_bytes(blob)

    def faces(pdf: Path) -> set[str]:
        return {r["name"].split("+", 1)[-1] for r in _all_embedded(pdf)}

    want = faces(docx_to_pdf_with_fonts(docx))
    work = tmp_path / "work"
    work.mkdir()
    out = io.BytesIO()
    rendition("制度.docx", blob, out, workdir=work)
    stamped = tmp_path / "pdfa.pdf"
    stamped.write_bytes(out.getvalue())
    view = tmp_path / "view.pdf"
    view.write_bytes(_docx_to_pdf(blob, tmp_path / "v"))
    assert faces(stamped) == want and faces(view) == want
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("fontTools")]
    if font_report().missing:  # the stand-ins are in use: a bold serif title, a serif body
        assert any("Serif" in f and "Bold" in f for f in want), want


def test_an_oversized_docx_is_converted_as_it_is(monkeypatch) -> None:
    """A filed .docx is untrusted: one whose parts declare more than READY_MAX_BYTES is not
    decompressed in this process to swap its fonts (LibreOffice converts it on its own)."""
    import zipfile

    import archive.pdf.docx_fonts as docx_fonts

    m = get_manifest(ROOT, "confidentiality-rules")
    blob = render(m, {}, chalu(), today=dt.date(2026, 12, 1), sample=True).data
    total = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(blob)).infolist())
    from archive.pdf.fonts import Choice, Face, FontReport

    report = FontReport({"fangsong": Choice(  # a machine without 仿宋_GB2312, whatever this one has
        "fangsong", "仿宋_GB2312", "Noto Serif CJK SC",
        Face(("Noto Serif CJK SC",), "Regular", "/fonts/NotoSerifCJK.ttc", 0), exact=False)})
    monkeypatch.setattr(docx_fonts, "READY_MAX_BYTES", total - 1)
    assert pdf_ready_docx(blob, report)[0] == blob
    monkeypatch.setattr(docx_fonts, "READY_MAX_BYTES", total)
    assert pdf_ready_docx(blob, report)[0] != blob
