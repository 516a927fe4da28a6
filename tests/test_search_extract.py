"""Extraction: docx parts, PDF text layers (CJK without ToUnicode), OCR, hostile files."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pikepdf
import pytest

from archive.search.extract import Extractor, extract_here
from archive.search.limits import DEFAULT_LIMITS, Limits
from archive.search.ocr import ocr_available

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
HEAD = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{W_NS}" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">')


def para(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def make_docx(parts: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


def cjk_pdf(lines: list[str], pages: int = 1) -> bytes:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for _ in range(pages):
        c.setFont("STSong-Light", 14)
        for i, line in enumerate(lines):
            c.drawString(72, 750 - 20 * i, line)
        c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    ex = Extractor(Limits(timeout=60))
    yield ex
    ex.close()


def test_docx_body_tables_headers_footers_textboxes() -> None:
    textbox = ('<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:txbx>'
               f'<w:txbxContent>{para("文本框里的困境儿童")}</w:txbxContent></wps:txbx></w:drawing>'
               f'</mc:Choice><mc:Fallback><w:pict><w:txbxContent>{para("文本框里的困境儿童")}'
               '</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>')
    table = f"<w:tbl><w:tr><w:tc>{para('表格单元格低保')}</w:tc></w:tr></w:tbl>"
    doc = make_docx({
        "word/document.xml": HEAD + f"<w:body>{para('正文临时救助')}{table}{textbox}</w:body></w:document>",
        "word/header1.xml": f'<w:hdr xmlns:w="{W_NS}">{para("页眉奢岭街道")}</w:hdr>',
        "word/footer1.xml": f'<w:ftr xmlns:w="{W_NS}">{para("页脚第一页")}</w:ftr>',
    })
    got = extract_here(doc, filename="a.docx")
    assert got.status == "ok"
    for text in ("正文临时救助", "表格单元格低保", "页眉奢岭街道", "页脚第一页"):
        assert text in got.text
    assert got.text.count("文本框里的困境儿童") == 1


def test_docx_from_python_docx() -> None:
    import docx

    d = docx.Document()
    d.add_heading("社会工作服务站章程", 1)
    d.add_table(rows=1, cols=1).cell(0, 0).text = "档案管理员"
    d.sections[0].header.paragraphs[0].text = "吉林省"
    buf = io.BytesIO()
    d.save(buf)
    got = extract_here(buf.getvalue(), filename="章程.docx")
    assert got.status == "ok" and "社会工作服务站章程" in got.text
    assert "档案管理员" in got.text and "吉林省" in got.text


def test_zip_bomb_disguised_as_docx(extractor: Extractor) -> None:
    bomb = make_docx({"word/document.xml": HEAD + "<w:body>" + " " * 100_000_000})
    assert len(bomb) < 1_000_000
    got = extractor.extract(bomb, filename="bomb.docx")
    assert got.status == "failed" and "压缩炸弹" in (got.reason or "")


def test_zip_member_lying_about_its_size() -> None:
    small = Limits(max_part=1000)
    doc = make_docx({"word/document.xml": HEAD + "<w:body>" + para("字" * 5000) + "</w:body></w:document>"})
    got = extract_here(doc, filename="x.docx", limits=small)
    assert got.status == "failed"
    # shrink the declared sizes: reads stay bounded and the CRC check fails
    data = bytearray(doc)
    info = next(i for i in zipfile.ZipFile(io.BytesIO(doc)).infolist()
                if i.filename == "word/document.xml")
    real = info.file_size.to_bytes(4, "little")
    data = bytearray(bytes(data).replace(real, (500).to_bytes(4, "little")))
    got = extract_here(bytes(data), filename="x.docx", limits=small)
    assert got.status == "failed"


def test_xml_entity_bomb(extractor: Extractor) -> None:
    dtd = ('<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "哈哈哈哈哈哈哈哈哈哈">'
           + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
           + ']>')
    doc = make_docx({"word/document.xml": dtd + f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r>'
                     "<w:t>&j;</w:t></w:r></w:p></w:body></w:document>"})
    got = extractor.extract(doc, filename="laughs.docx")
    assert got.status == "failed" and "实体" in (got.reason or "")


def test_not_a_zip_and_missing_document() -> None:
    assert extract_here(b"PK\x03\x04garbage", filename="a.docx").status == "failed"
    assert extract_here(make_docx({"x.xml": "<a/>"}), filename="a.docx").status == "failed"


def test_pdf_cjk_font_without_tounicode(extractor: Extractor) -> None:
    data = cjk_pdf(["关于做好临时救助工作的通知", "国办发〔2019〕3号"])
    assert b"ToUnicode" not in data
    got = extractor.extract(data, filename="通知.pdf")
    assert got.status == "ok" and got.pages == 1
    assert "临时救助" in got.text and "国办发〔2019〕3号" in got.text


def test_corrupt_and_encrypted_pdf(extractor: Extractor) -> None:
    got = extractor.extract(b"%PDF-1.7\n1 0 obj <<>> garbage", filename="bad.pdf")
    assert got.status == "failed" and "损坏" in (got.reason or "")
    src = pikepdf.open(io.BytesIO(cjk_pdf(["机密"])))
    buf = io.BytesIO()
    src.save(buf, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    got = extractor.extract(buf.getvalue(), filename="enc.pdf")
    assert got.status == "failed" and "加密" in (got.reason or "")


def many_page_pdf(n: int) -> bytes:
    """A valid PDF of n pages sharing one font and one content stream, written by hand."""
    content = b"BT /F1 12 Tf 72 720 Td (dibao page text) Tj ET"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (5 + i) for i in range(n))
            + b"] /Count %d >>" % n,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Length %d >>stream\n" % len(content) + content + b"\nendstream"]
    objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
             b" /Resources << /Font << /F1 3 0 R >> >> >>"] * n
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objs):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def test_ten_thousand_page_pdf_is_capped(extractor: Extractor) -> None:
    data = many_page_pdf(10_000)
    got = extractor.extract(data, filename="huge.pdf")
    assert got.status == "truncated" and got.pages == 10000
    assert f"仅提取前 {DEFAULT_LIMITS.max_pages} 页" in (got.reason or "")
    assert "dibao page text" in got.text
    fast = extract_here(data, filename="huge.pdf", limits=Limits(timeout=0.0))
    assert fast.status in ("truncated", "no_text", "failed") and fast.status != "ok"


def test_worker_crash_is_reported_not_raised() -> None:
    with Extractor(Limits(memory=48 * 1024 * 1024, timeout=20)) as ex:
        got = ex.extract(cjk_pdf(["内存"]), filename="a.pdf")
        assert got.status == "failed"


def test_image_without_ocr_is_no_text() -> None:
    got = extract_here(b"\x89PNG\r\n\x1a\n....", filename="scan.png", ocr=False)
    assert got.status == "no_text" and got.reason == "未识别文字"


def test_unknown_type_and_plain_text() -> None:
    assert extract_here(b"\x00\x01", filename="a.bin").status == "no_text"
    got = extract_here("低保名单".encode("gb18030"), filename="a.txt")
    assert got.text == "低保名单"


def _scan_png(text: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    # Ask fontconfig for a font covering Simplified Chinese instead of assuming a system path.
    fc = shutil.which("fc-list")
    listing = subprocess.run([fc, ":lang=zh-cn", "file"], capture_output=True, text=True,
                             check=False).stdout if fc else ""
    fonts = sorted(ln.split(":", 1)[0] for ln in listing.splitlines() if ln.strip())
    if not fonts:
        pytest.skip("no CJK font to draw a test scan")
    font = ImageFont.truetype(str(fonts[0]), 48)
    img = Image.new("L", (1400, 200), 255)
    ImageDraw.Draw(img).text((20, 60), text, font=font, fill=0)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.ocr
def test_ocr_image_and_scanned_pdf(extractor: Extractor, tmp_path: Path) -> None:
    if not ocr_available():
        pytest.skip("tesseract with chi_sim is not installed")
    png = _scan_png("关于做好临时救助工作的通知")
    got = extractor.extract(png, filename="scan.png")
    assert got.status == "ocr" and "临时救助" in got.text
    from PIL import Image

    buf = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(buf, "PDF", resolution=150)
    got = extract_here(buf.getvalue(), filename="scan.pdf", tmpdir=str(tmp_path))
    assert got.status == "ocr" and "救助" in got.text
    assert list(tmp_path.iterdir()) == []
