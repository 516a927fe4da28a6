"""归档章 and PDF/A-2b renditions: rendered, measured, and the original's fixity checked."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from reportlab.pdfgen import canvas

from archive.errors import ValidationError
from archive.pdf import pdfa
from archive.pdf.fonts import cjk_ttf
from archive.pdf.stamp import HEIGHT_MM, WIDTH_MM, StampFields, stamp_pdf

A4 = (595.28, 841.89)
FIELDS = StampFields("Z001", "2026", "0007", "服务", "D30")
needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils 未安装")


def _source_pdf(pages: int = 2, *, top_text_mm: float = 40.0, font: str | None = None) -> bytes:
    """A GB/T 9704-like page: text starting `top_text_mm` below the top edge."""
    buf = io.BytesIO()
    name = font or cjk_ttf().name
    c = canvas.Canvas(buf, pagesize=A4, initialFontName=name)
    for p in range(pages):
        c.setFont(name, 16)
        y = A4[1] - top_text_mm * 72 / 25.4 - 16
        for i in range(20):
            c.drawString(80, y - i * 28, f"第{p + 1}页 第{i + 1}行 社会工作服务站档案管理")
        c.showPage()
    c.save()
    return buf.getvalue()


def _red_bbox(png: Path) -> tuple[int, int, int, int] | None:
    img = Image.open(png).convert("RGB")
    r, g, b = img.split()
    red = Image.eval(r, lambda v: 255 if v > 150 else 0)
    notg = Image.eval(g, lambda v: 255 if v < 120 else 0)
    notb = Image.eval(b, lambda v: 255 if v < 120 else 0)
    from PIL import ImageChops

    mask = ImageChops.multiply(ImageChops.multiply(red, notg), notb)
    return mask.getbbox()


@needs_poppler
def test_stamp_top_centre_text_fonts_and_original_untouched(tmp_path: Path) -> None:
    src = tmp_path / "original.pdf"
    src.write_bytes(_source_pdf())
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    out = tmp_path / "stamped.pdf"
    with src.open("rb") as f, out.open("wb") as g:
        res = stamp_pdf(f, g, FIELDS)
    assert res.pages == 2 and res.clear
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before

    dpi = 100
    subprocess.run(["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-png", str(out),
                    str(tmp_path / "p")], check=True)
    png = next(tmp_path.glob("p-*.png"))
    bbox = _red_bbox(png)
    assert bbox is not None
    width_px = Image.open(png).width
    px_mm = dpi / 25.4
    left, top, right, bottom = bbox
    assert abs((left + right) / 2 - width_px / 2) < 2 * px_mm  # centred
    assert abs((right - left) - WIDTH_MM * px_mm) < 2 * px_mm  # 45 mm wide
    assert abs((bottom - top) - HEIGHT_MM * px_mm) < 2 * px_mm  # 16 mm high
    assert top < 12 * px_mm  # in the top margin band
    # page 2 carries no stamp
    subprocess.run(["pdftoppm", "-r", "50", "-f", "2", "-l", "2", "-png", str(out),
                    str(tmp_path / "q")], check=True)
    assert _red_bbox(next(tmp_path.glob("q-*.png"))) is None

    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(out), "-"], check=True,
                          capture_output=True, text=True).stdout
    for value in ("Z001", "2026", "0007", "服务", "30年"):
        assert value in text
    fonts = subprocess.run(["pdffonts", str(out)], check=True, capture_output=True,
                           text=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts


def test_stamp_moves_up_when_text_starts_high_and_reports_overlap() -> None:
    moved = stamp_pdf(_source_pdf(1, top_text_mm=23.0), io.BytesIO(), FIELDS)
    assert moved.clear and moved.top_mm < 8.0
    covered = stamp_pdf(_source_pdf(1, top_text_mm=2.0), io.BytesIO(), FIELDS)
    assert not covered.clear


def test_stamp_refuses_empty_field_and_broken_pdf() -> None:
    with pytest.raises(ValidationError):
        stamp_pdf(_source_pdf(1), io.BytesIO(), StampFields("Z001", "2026", "", "FW", "Y"))
    with pytest.raises(ValidationError):
        stamp_pdf(b"%PDF-1.7 not really", io.BytesIO(), FIELDS)


def test_pdf_and_image_renditions_pass_pdfa_check() -> None:
    out = io.BytesIO()
    pdfa.pdf_to_pdfa(_source_pdf(1), out)
    assert pdfa.check_pdfa(out.getvalue()).passed
    stamped = io.BytesIO()
    stamp_pdf(out.getvalue(), stamped, FIELDS)
    assert pdfa.check_pdfa(stamped.getvalue()).passed  # the stamp keeps PDF/A-2b

    img = io.BytesIO()
    Image.new("RGBA", (600, 400), (200, 30, 30, 128)).save(img, format="PNG", dpi=(150, 150))
    rend = io.BytesIO()
    pdfa.image_to_pdfa(img.getvalue(), rend)
    check = pdfa.check_pdfa(rend.getvalue())
    assert check.passed and check.claimed


def test_unembedded_font_is_refused_not_mislabelled() -> None:
    with pytest.raises(ValidationError) as e:
        pdfa.pdf_to_pdfa(_source_pdf(1, font="Helvetica"), io.BytesIO())
    assert e.value.details  # the validator's findings are named
    assert not pdfa.check_pdfa(_source_pdf(1)).passed  # a plain PDF is not PDF/A


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice 未安装")
def test_docx_rendition_is_pdfa2b(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph("关于社工站档案管理工作的通知")
    buf = io.BytesIO()
    d.save(buf)
    out = io.BytesIO()
    pdfa.rendition("通知.docx", buf.getvalue(), out, workdir=tmp_path)
    check = pdfa.check_pdfa(out.getvalue())
    assert check.passed, check.findings
    assert list(tmp_path.rglob("*.docx")) == [] and list(tmp_path.rglob("*.pdf")) == []
