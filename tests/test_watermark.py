"""Watermarked view copies: every page stamped, restricted, encrypted, unique per issue."""

from __future__ import annotations

import io

import pikepdf
import pypdfium2 as pdfium
import pytest
from reportlab.lib.pagesizes import A3, A4, landscape
from reportlab.pdfgen import canvas

from archive.errors import ValidationError
from archive.pdf.watermark import make_view_copy

LINES = ["查阅单位：长春市公安局双阳分局", "申请号 REQ-2026-0007", "2026-03-01", "复制件 C-0007-01"]


def _source() -> bytes:
    """Four pages: A4, landscape A4 shown rotated 90°, A3, and A4 with an offset MediaBox."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for i, size in enumerate((A4, landscape(A4), A3, A4)):
        c.setPageSize(size)
        c.drawString(72, 72, f"Original page {i + 1}")
        c.showPage()
    c.save()
    pdf = pikepdf.open(io.BytesIO(buf.getvalue()))
    pdf.pages[1].obj.Rotate = 90
    last = pdf.pages[3]
    last.obj.MediaBox = pikepdf.Array([100, 50, 100 + A4[0], 50 + A4[1]])
    last.contents_add(pikepdf.Stream(pdf, b"BT /F1 12 Tf 150 100 Td (Offset page) Tj ET"))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _issue(src: bytes, copy_id: str = "C-0007-01", owner: bytes | None = None) -> bytes:
    dst = io.BytesIO()
    make_view_copy(io.BytesIO(src), dst, lines=LINES, copy_id=copy_id, owner_password=owner)
    return dst.getvalue()


@pytest.fixture(scope="module")
def src() -> bytes:
    return _source()


@pytest.fixture(scope="module")
def copy(src: bytes) -> bytes:
    return _issue(src)


def test_opens_without_password_with_restrictions(copy: bytes) -> None:
    with pikepdf.open(io.BytesIO(copy)) as pdf:
        assert pdf.is_encrypted
        assert pdf.encryption.R == 6 and pdf.encryption.bits == 256
        allow = pdf.allow
        assert not allow.extract and not allow.print_lowres and not allow.print_highres
        assert not (allow.modify_other or allow.modify_annotation or allow.modify_form
                    or allow.modify_assembly)
        assert allow.accessibility
        assert not pdf.owner_password_matched
        assert len(pdf.pages) == 4
        assert str(pdf.docinfo["/SgzCopyId"]) == "C-0007-01"
        assert pdf.open_metadata()["dc:identifier"] == "C-0007-01"


def test_every_page_carries_watermark_and_keeps_content(copy: bytes) -> None:
    doc = pdfium.PdfDocument(copy)
    for i in range(len(doc)):
        text = "".join(doc[i].get_textpage().get_text_range().split())
        for line in LINES:
            assert "".join(line.split()) in text, (i, line)
        assert ("Offsetpage" if i == 3 else f"Originalpage{i + 1}") in text


def test_watermark_covers_whole_visible_page(copy: bytes) -> None:
    """Tinted pixels in every sixteenth of every page, whatever its size or rotation."""
    doc = pdfium.PdfDocument(copy)
    for i in range(len(doc)):
        img = doc[i].render(scale=0.4).to_pil().convert("RGB")
        w, h = img.size
        if i == 1:
            assert w < h  # the rotated landscape page displays as portrait
        px = img.load()
        n = 4  # a 4×4 grid: a shrunken or misplaced overlay leaves some cells blank
        for gx in range(n):
            for gy in range(n):
                tinted = sum(
                    1 for x in range(gx * w // n, (gx + 1) * w // n, 2)
                    for y in range(gy * h // n, (gy + 1) * h // n, 2)
                    if px[x, y][0] - px[x, y][1] > 3)
                assert tinted > 10, (i, gx, gy, tinted)


def test_each_issue_differs(src: bytes, copy: bytes) -> None:
    again = _issue(src)
    assert again != copy
    with pikepdf.open(io.BytesIO(again)) as a, pikepdf.open(io.BytesIO(copy)) as b:
        assert a.trailer.ID != b.trailer.ID or a.encryption.encryption_key != b.encryption.encryption_key
    other = _issue(src, copy_id="C-0007-02")
    with pikepdf.open(io.BytesIO(other)) as pdf:
        assert str(pdf.docinfo["/SgzCopyId"]) == "C-0007-02"


def test_given_owner_password_unlocks(src: bytes) -> None:
    out = _issue(src, owner=b"0123456789abcdef0123456789abcdef")
    with pikepdf.open(io.BytesIO(out), password="0123456789abcdef0123456789abcdef") as pdf:
        assert pdf.owner_password_matched


@pytest.mark.parametrize("data", [b"", b"not a pdf at all", b"%PDF-1.7\n%%EOF\n"])
def test_corrupt_input_is_validation_error(data: bytes) -> None:
    with pytest.raises(ValidationError) as e:
        make_view_copy(io.BytesIO(data), io.BytesIO(), lines=LINES, copy_id="C-1")
    assert "PDF" in str(e.value)


def test_encrypted_input_and_empty_lines_refused(src: bytes, copy: bytes) -> None:
    locked = io.BytesIO()
    with pikepdf.open(io.BytesIO(src)) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="o", user="u", R=6))
    with pytest.raises(ValidationError):
        make_view_copy(io.BytesIO(locked.getvalue()), io.BytesIO(), lines=LINES, copy_id="C")
    with pytest.raises(ValidationError):
        make_view_copy(io.BytesIO(src), io.BytesIO(), lines=["  "], copy_id="C")
    with pytest.raises(ValidationError):
        make_view_copy(io.BytesIO(src), io.BytesIO(), lines=LINES, copy_id="")
