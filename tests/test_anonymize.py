"""Anonymisation: detection and masks, and no canary survives in docx or PDF output."""

from __future__ import annotations

import io
import re
import zipfile

import docx
import pikepdf
import pypdfium2 as pdfium
import pytest
from conftest import DATA
from reportlab.pdfgen import canvas

from archive.anonymize.detect import find_pii, id_checksum_ok, mask_text
from archive.anonymize.docx import anonymize_docx
from archive.anonymize.pdf import anonymize_pdf
from archive.errors import ValidationError
from archive.pdf.watermark import cjk_font

VALID_ID = "220112195803151238"
INVALID_ID = "22011219580315123X"
KNOWN = ["王淑芬", "李建国"]
CANARIES = [
    "王淑芬", "李建国", "赵德明",  #赵德明 only found through the 姓名： marker
    "淑芬", "建国", "德明",
    VALID_ID, INVALID_ID, "220112580315123",
    "13812345678", "138-1234-5678", "84561234", "6222021234567890123",
    "长岭村3组18号", "长岭村", "幸福社区3栋2单元501室",
]
KEEP = ["个案服务记录", "本月共开展入户走访", "社会工作服务站", "情绪稳定"]


def test_id_checksum() -> None:
    assert id_checksum_ok(VALID_ID) and not id_checksum_ok(INVALID_ID)
    spans = find_pii(f"身份证{VALID_ID}，另一号码{INVALID_ID}。")
    assert [(s.kind, s.valid) for s in spans] == [("id", True), ("id", False)]


@pytest.mark.parametrize("text,expected", [
    ("姓名：张桂兰性别：女", "姓名：张**性别：女"),
    ("服务对象李建民，男", "服务对象李**，男"),
    ("王淑芬阿姨今年78岁", "王**阿姨今年78岁"),
    ("电话13812345678。", "电话138****5678。"),
    ("电话138-1234-5678。", "电话138-****-5678。"),
    ("座机0431-84561234", "座机0431-****1234"),
    ("电话043184561234", "电话043*****1234"),
    ("身份证22011219580315123X", "身份证2201**********123X"),
    ("旧证220112580315123", "旧证2201*******5123"),
    ("卡号6222021234567890123", "卡号6222***********0123"),
    ("家住吉林省长春市双阳区奢岭街道长岭村3组18号，", "家住***，"),
    ("住在幸福社区3栋2单元501室。", "住在***。"),
    ("欧阳明华老人", "欧阳**老人"),
])
def test_masks(text: str, expected: str) -> None:
    assert mask_text(text)[0] == expected


def test_precision_on_ordinary_text() -> None:
    """The guideline text has one phone number and no other personal data."""
    text = (DATA / "guideline-jilin-2021.txt").read_text(encoding="utf-8")
    kinds = {s.kind for s in find_pii(text)}
    assert kinds <= {"landline"}
    station = "长春市双阳区奢岭街道社会工作服务站2026年度工作总结，地址：双阳区奢岭街道民政办公室"
    assert mask_text(station)[0] == station


def _encodings(s: str) -> list[bytes]:
    return [s.encode("utf-8"), s.encode("utf-16-le"), s.encode("utf-16-be")]


def _assert_no_canary(blobs: dict[str, bytes]) -> None:
    for where, blob in blobs.items():
        for canary in CANARIES:
            for enc in _encodings(canary):
                assert enc not in blob, (where, canary)


def _make_docx() -> bytes:
    d = docx.Document()
    d.core_properties.author = "王淑芬"
    d.core_properties.last_modified_by = "李建国"
    d.core_properties.title = "李建国个案服务记录"
    d.sections[0].header.paragraphs[0].text = "服务对象：王淑芬 电话13812345678"
    d.sections[0].footer.paragraphs[0].text = "身份证 " + VALID_ID
    d.add_heading("个案服务记录", 1)
    p = d.add_paragraph("服务对象")
    p.add_run("李建")  # the name is split across two runs
    p.add_run("国").bold = True
    p.add_run("，本月共开展入户走访两次，情绪稳定。")
    d.add_paragraph("姓名：赵德明性别：男，家住吉林省长春市双阳区奢岭街道长岭村3组18号。")
    d.add_paragraph(f"旧证220112580315123，另号{INVALID_ID}，手机138-1234-5678，"
                    "座机0431-84561234，银行卡6222021234567890123。")
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text = "王淑芬"
    t.cell(0, 1).text = "幸福社区3栋2单元501室"
    t.cell(1, 0).text = "社会工作服务站"
    t.cell(1, 1).text = "李建国"
    d.add_comment(p.runs[1], text="与王淑芬核实", author="李建国", initials="LJG")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_docx_no_canary_survives() -> None:
    src = _make_docx()
    assert "王淑芬".encode() in zipfile.ZipFile(io.BytesIO(src)).read("docProps/core.xml")
    out = io.BytesIO()
    report = anonymize_docx(io.BytesIO(src), out, KNOWN)
    data = out.getvalue()
    z = zipfile.ZipFile(io.BytesIO(data))
    parts = {n: z.read(n) for n in z.namelist()}
    assert "word/comments.xml" in parts and "word/header1.xml" in parts
    # Tags stripped, the text of runs is contiguous: catches a name left split across runs.
    texts = {f"{n}:text": re.sub(rb"<[^>]+>", b"", b) for n, b in parts.items()}
    _assert_no_canary({"raw": data, **parts, **texts})
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    for keep in KEEP[:2] + ["情绪稳定"]:
        assert keep in text
    assert "服务对象李**" in text and "家住***" in text
    cells = docx.Document(io.BytesIO(data)).tables[0]
    assert cells.cell(1, 0).text == "社会工作服务站" and cells.cell(0, 0).text == "王**"
    assert report.people_masked() >= 6 and report.masked["id"] >= 3
    assert docx.Document(io.BytesIO(data)).core_properties.author == "匿名"


def test_docx_blanks_binary_parts_and_rejects_garbage() -> None:
    d = docx.Document()
    d.add_paragraph("图片")
    png = io.BytesIO()
    from PIL import Image
    Image.new("RGB", (20, 20), (200, 0, 0)).save(png, "PNG")
    d.add_picture(io.BytesIO(png.getvalue()))
    src = io.BytesIO()
    d.save(src)
    out = io.BytesIO()
    report = anonymize_docx(io.BytesIO(src.getvalue()), out)
    assert "word/media/image1.png" in report.dropped
    docx.Document(io.BytesIO(out.getvalue()))  # still opens
    with pytest.raises(ValidationError):
        anonymize_docx(io.BytesIO(b"PK\x03\x04 broken"), io.BytesIO())


def _make_pdf() -> bytes:
    font = cjk_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=0)
    c.setAuthor("王淑芬")
    c.setTitle("李建国个案服务记录")
    lines = [
        "个案服务记录",
        "服务对象李建国，本月共开展入户走访两次，情绪稳定。",
        "姓名：赵德明性别：男，家住吉林省长春市双阳区奢岭街道长岭村3组18号。",
        f"身份证{VALID_ID}，另号{INVALID_ID}，旧证220112580315123。",
        "手机13812345678，138-1234-5678，座机0431-84561234。",
        "银行卡6222021234567890123，住幸福社区3栋2单元501室，联系人王淑芬。",
    ]
    for page in range(2):
        c.setFont(font, 11)
        for i, line in enumerate(lines):
            c.drawString(50, 780 - 20 * i, line)
        c.drawString(50, 500, f"社会工作服务站 第{page + 1}页")
        c.showPage()
    c.save()
    return buf.getvalue()


def _all_streams(data: bytes) -> dict[str, bytes]:
    """Every stream decoded, plus the raw bytes of every string shown in a content stream."""
    out = {}
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for i, obj in enumerate(pdf.objects):
            if isinstance(obj, pikepdf.Stream):
                out[f"stream{i}"] = obj.read_bytes()
                try:
                    ops = pikepdf.parse_content_stream(obj)
                except pikepdf.PdfError:
                    continue
                shown = b""
                for operands, _ in ops:
                    for o in operands:
                        items = list(o) if isinstance(o, pikepdf.Array) else [o]
                        shown += b"".join(bytes(x) for x in items if isinstance(x, pikepdf.String))
                out[f"shown{i}"] = shown
    return out


def test_pdf_no_canary_survives() -> None:
    src = _make_pdf()
    assert "赵德明".encode("utf-16-be") in b"".join(_all_streams(src).values())  # really there
    out = io.BytesIO()
    report = anonymize_pdf(io.BytesIO(src), out, KNOWN)
    data = out.getvalue()
    _assert_no_canary({"raw": data, **_all_streams(data)})
    doc = pdfium.PdfDocument(data)
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    _assert_no_canary({"text": text.encode("utf-8")})
    for keep in KEEP + ["匿名化摘录", "原文第 2 页"]:
        assert keep in text, keep
    assert report.people_masked() >= 6 and not report.warnings
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert str(pdf.docinfo.get("/Author", "")) == ""
        assert "/Names" not in pdf.Root and "/AcroForm" not in pdf.Root


def test_pdf_long_page_wraps_and_continues() -> None:
    font = cjk_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setFont(font, 6)
    for i in range(110):
        c.drawString(20, 820 - 7.4 * i, f"第{i}行 服务记录摘要" * 4)
    c.showPage()
    c.save()
    out = io.BytesIO()
    anonymize_pdf(io.BytesIO(buf.getvalue()), out)
    doc = pdfium.PdfDocument(out.getvalue())
    assert len(doc) >= 2
    assert "（续）" in doc[1].get_textpage().get_text_range()


def test_pdf_image_only_page_warns_and_garbage_refused() -> None:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.rect(100, 100, 200, 200, fill=1)
    c.showPage()
    c.save()
    report = anonymize_pdf(io.BytesIO(buf.getvalue()), io.BytesIO())
    assert report.warnings and "扫描件" in report.warnings[0]
    with pytest.raises(ValidationError):
        anonymize_pdf(io.BytesIO(b"%PDF-1.4 garbage"), io.BytesIO())
