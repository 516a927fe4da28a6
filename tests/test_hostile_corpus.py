"""Hostile corpus (finding 3): every file is answered in bounded time and memory, with a reason.

Each file goes to a fresh isolated worker, so the worker's peak RSS (its own or an OCR child's)
is that file's cost. The bound is the one the review set: ≤ 10 s and ≤ 300 MB per file.
"""

from __future__ import annotations

import io
import random
import re
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from archive.search.extract import Extractor, extract_here
from archive.search.limits import DEFAULT_LIMITS, Extracted, Limits
from archive.search.pdf_guard import check_pdf, decoded_size

pytestmark = pytest.mark.slow  # ~30 s: bombs of 512 MiB are built and defused per test

MAX_SECONDS = 10.0
MAX_RSS = 300 * 1024 * 1024
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _zeros_flate(size: int) -> bytes:
    c = zlib.compressobj(9)
    block = b"\0" * (1 << 20)
    return b"".join(c.compress(block) for _ in range(size >> 20)) + c.flush()


def _pdf(streams: Callable[[pikepdf.Pdf, pikepdf.Page], None], *,
         encryption: pikepdf.Encryption | None = None, size: tuple[int, int] = (595, 842)) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=size)
    streams(pdf, pdf.pages[0])
    buf = io.BytesIO()
    pdf.save(buf, compress_streams=False, encryption=encryption or False)
    return buf.getvalue()


def _content_bomb(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    s = pikepdf.Stream(pdf, _ZEROS)
    s.Filter = pikepdf.Name.FlateDecode
    page.Contents = s


def _image_bomb(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    s = pikepdf.Stream(pdf, _ZEROS)
    s.Filter = pikepdf.Name.FlateDecode
    s.Type, s.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    s.Width, s.Height = 16384, 32768
    s.ColorSpace, s.BitsPerComponent = pikepdf.Name.DeviceGray, 8
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=s))
    page.Contents = pdf.make_stream(b"q 595 0 0 842 0 0 cm /Im0 Do Q")


def _small_image(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
    s = pikepdf.Stream(pdf, zlib.compress(b"\xff" * 64 * 64))
    s.Filter = pikepdf.Name.FlateDecode
    s.Type, s.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    s.Width = s.Height = 64
    s.ColorSpace, s.BitsPerComponent = pikepdf.Name.DeviceGray, 8
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=s))
    w, h = (float(x) for x in page.MediaBox[2:])
    page.Contents = pdf.make_stream(f"q {w:g} 0 0 {h:g} 0 0 cm /Im0 Do Q".encode())


_ZEROS = _zeros_flate(512 << 20)  # one 512 MiB stream of zeros, ~0.5 MB compressed


def _docx(document: str | bytes, extra: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", document)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def _dense_docx(megabytes: int) -> bytes:
    """Tiny random-text paragraphs: a 64 KiB block repeated (beyond deflate's 32 KiB window)."""
    rnd = random.Random(7)
    block = []
    size = 0
    while size < 64 * 1024:
        text = "".join(chr(0x4E00 + rnd.randrange(3000)) for _ in range(3))
        p = f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"
        block.append(p)
        size += len(p.encode())
    body = "".join(block) * (megabytes * 16)
    return _docx(f'<w:document xmlns:w="{W_NS}"><w:body>' + body + "</w:body></w:document>")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width × height gray pixels but carries only a few bytes of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1))) + chunk(b"IEND", b""))


def _measure(data: bytes, filename: str, limits: Limits = DEFAULT_LIMITS
             ) -> tuple[Extracted, float, int]:
    with Extractor(limits) as ex:
        start = time.monotonic()
        got = ex.extract(data, filename=filename)
        seconds = time.monotonic() - start
        peak = ex.peak_memory()
    assert peak is not None, f"{filename}: worker died ({got.reason})"
    return got, seconds, peak


def _assert_bounded(got: Extracted, seconds: float, peak: int, name: str) -> None:
    assert seconds <= MAX_SECONDS, f"{name}: {seconds:.1f} s"
    assert peak <= MAX_RSS, f"{name}: {peak >> 20} MiB"


def _assert_refused(got: Extracted, seconds: float, peak: int, name: str) -> None:
    _assert_bounded(got, seconds, peak, name)
    assert got.status in ("failed", "no_text") and got.reason, (name, got)


def test_finding3_pdf_bomb_bounded() -> None:
    data = _pdf(_content_bomb)
    assert len(data) < 600_000
    got, seconds, peak = _measure(data, "bomb.pdf")
    _assert_refused(got, seconds, peak, "bomb.pdf")
    assert got.status == "failed" and "压缩炸弹" in (got.reason or "")


def test_finding3_pdf_image_bomb_not_rendered() -> None:
    got, seconds, peak = _measure(_pdf(_image_bomb), "scan.pdf")
    _assert_refused(got, seconds, peak, "scan.pdf")
    assert got.status == "no_text" and got.reason.startswith("未识别文字：")  # type: ignore[union-attr]
    assert "图像过大" in (got.reason or "")


def test_finding3_encrypted_pdf_bomb_scanned_after_decryption() -> None:
    enc = pikepdf.Encryption(user="", owner="owner-secret", R=6)
    data = _pdf(_content_bomb, encryption=enc)
    assert b"/Encrypt" in data
    got, seconds, peak = _measure(data, "enc-bomb.pdf")
    _assert_refused(got, seconds, peak, "enc-bomb.pdf")
    assert "压缩炸弹" in (got.reason or "")


def test_finding3_password_pdf() -> None:
    enc = pikepdf.Encryption(user="open-sesame", owner="owner-secret", R=6)
    got, seconds, peak = _measure(_pdf(_small_image, encryption=enc), "locked.pdf")
    _assert_refused(got, seconds, peak, "locked.pdf")
    assert "加密" in (got.reason or "")


def test_finding3_many_streams_under_the_cap_stay_fast() -> None:
    """Streams each just under the per-stream cap: no pure-Python parser lexes 188 MiB."""
    blob = _zeros_flate(47 << 20)
    pdf = pikepdf.new()
    for i in range(4):
        pdf.add_blank_page()
        s = pikepdf.Stream(pdf, blob)
        s.Filter = pikepdf.Name.FlateDecode
        pdf.pages[i].Contents = s
    buf = io.BytesIO()
    pdf.save(buf, compress_streams=False)
    got, seconds, peak = _measure(buf.getvalue(), "zeros.pdf")
    _assert_refused(got, seconds, peak, "zeros.pdf")


def test_finding3_total_decoded_cap() -> None:
    limits = Limits(max_stream=8 << 20, max_decoded=20 << 20)
    blob = _zeros_flate(7 << 20)
    pdf = pikepdf.new()
    for i in range(3):
        pdf.add_blank_page()
        s = pikepdf.Stream(pdf, blob)
        s.Filter = pikepdf.Name.FlateDecode
        pdf.pages[i].Contents = s
    buf = io.BytesIO()
    pdf.save(buf, compress_streams=False)
    verdict = check_pdf(buf.getvalue(), limits, time.monotonic() + 10)
    assert verdict.refuse and "总大小" in verdict.refuse


def test_finding3_huge_page_rendered_within_pixel_cap() -> None:
    """A 5 m × 5 m page at 200 dpi would be 1.5 G pixels; the render scale is capped."""
    data = _pdf(_small_image, size=(14400, 14400))
    got, seconds, peak = _measure(data, "poster.pdf", Limits(max_pixels=4_000_000))
    _assert_refused(got, seconds, peak, "poster.pdf")


def test_finding3_filter_chains_are_bounded() -> None:
    from archive.search.pdf_guard import _TooBig

    a85 = b"<~" + __import__("base64").a85encode(_zeros_flate(64 << 20)) + b"~>"
    with pytest.raises(_TooBig):
        decoded_size(a85, ["ASCII85Decode", "FlateDecode"], 16 << 20)
    run_length = bytes([129, 0]) * 200_000 + b"\x80"  # each pair expands to 128 zeros
    with pytest.raises(_TooBig):
        decoded_size(run_length, ["RunLengthDecode"], 16 << 20)
    assert decoded_size(bytes([129, 0]) * 10 + b"\x80", ["RunLengthDecode"], 1 << 20) == 1280
    # LZW: 9-bit codes 65 66 then end-of-data (257), early change
    bits = "".join(format(c, "09b") for c in (256, 65, 66, 258, 257))
    raw = int(bits + "0" * (-len(bits) % 8), 2).to_bytes((len(bits) + 7) // 8, "big")
    assert decoded_size(raw, ["LZWDecode"], 1 << 20) == 4  # "A" "B" "AB"
    assert decoded_size(b"48656C6C6F>", ["ASCIIHexDecode"], 1 << 20) == 5


def test_finding3_fuzzed_pdfs_bounded() -> None:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for page in range(3):
        c.drawString(72, 750, f"home visit record page {page}")
        c.showPage()
    c.save()
    seed = buf.getvalue()
    rnd = random.Random(11)
    with Extractor() as ex:
        for i in range(25):
            data = bytearray(seed)
            for _ in range(rnd.randrange(1, 40)):
                data[rnd.randrange(len(data))] = rnd.randrange(256)
            if i % 5 == 0:
                data = data[: rnd.randrange(len(data))]
            start = time.monotonic()
            got = ex.extract(bytes(data), filename=f"fuzz{i}.pdf")
            assert time.monotonic() - start <= MAX_SECONDS, i
            assert got.status in ("ok", "no_text", "failed", "truncated")
        peak = ex.peak_memory()
    assert peak is not None and peak <= MAX_RSS


def test_finding3_docx_zip_bomb_bounded() -> None:
    bomb = _docx(f'<w:document xmlns:w="{W_NS}"><w:body>' + " " * 200_000_000)
    assert len(bomb) < 1_000_000
    got, seconds, peak = _measure(bomb, "bomb.docx")
    _assert_refused(got, seconds, peak, "bomb.docx")


def test_finding3_docx_dense_xml_bounded() -> None:
    """60 MiB of tiny elements (~10 MB zipped) would build a 1 GB tree: refused by tag count."""
    got, seconds, peak = _measure(_dense_docx(60), "dense.docx")
    _assert_refused(got, seconds, peak, "dense.docx")
    assert "元素过多" in (got.reason or "")


def test_finding3_docx_xxe_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("机密口令", encoding="utf-8")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
           f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p>'
           "</w:body></w:document>")
    got, seconds, peak = _measure(_docx(xxe), "xxe.docx")
    _assert_refused(got, seconds, peak, "xxe.docx")
    assert "机密口令" not in got.text
    # the same entity in a header part
    doc = f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r><w:t>正文</w:t></w:r></w:p></w:body></w:document>'
    got = extract_here(_docx(doc, {"word/header1.xml": xxe}), filename="h.docx")
    assert "机密口令" not in got.text and got.status == "failed"


def test_finding3_hostile_docx_structures_bounded() -> None:
    deep = f'<w:document xmlns:w="{W_NS}"><w:body>' + "<w:p>" * 100_000 + "</w:p>" * 100_000 + "</w:body></w:document>"
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as zf:
        zf.writestr("word/document.xml", f'<w:document xmlns:w="{W_NS}"/>')
        for i in range(6000):
            zf.writestr(f"word/header{i}.xml", "<a/>")
    for name, data in (("deep.docx", _docx(deep)), ("many.docx", many.getvalue()),
                       ("garbage.docx", b"PK\x03\x04" + bytes(range(256)) * 100)):
        got, seconds, peak = _measure(data, name)
        _assert_refused(got, seconds, peak, name)


def test_finding3_image_bomb_not_ocred() -> None:
    for width, height in ((20000, 20000), (9000, 6000)):  # 400 M pixels; 54 M under PIL's cap
        data = _png_header_only(width, height)
        if width * height < Image.MAX_IMAGE_PIXELS:
            assert Image.open(io.BytesIO(data)).size == (width, height)
        got, seconds, peak = _measure(data, "scan.png")
        _assert_refused(got, seconds, peak, "scan.png")
        assert got.reason and got.reason.startswith("未识别文字：")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for VmHWM")
def test_finding3_title_sniffing_bounded(tmp_path: Path) -> None:
    """Filing reads a docx/PDF title in the main process: that read is bounded too."""
    import subprocess
    import sys

    dense = tmp_path / "家访记录.docx"
    dense.write_bytes(_dense_docx(60))
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(_pdf(_content_bomb))
    titled = tmp_path / "titled.docx"
    titled.write_bytes(_docx(f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r><w:t>正文</w:t>'
                             '</w:r></w:p><w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r>'
                             "<w:t>走访小结</w:t></w:r></w:p></w:body></w:document>"))
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from archive.records.sniff import inspect_file\n"
        "for p in sys.argv[1:]:\n"
        "    t = time.monotonic(); k = inspect_file(Path(p))\n"
        "    print(k.title, round(time.monotonic() - t, 2))\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(dense), str(bomb), str(titled)],
                         capture_output=True, text=True, check=True, timeout=120).stdout.split("\n")
    dense_title, bomb_title, titled_title = (line.rsplit(" ", 1) for line in out[:3])
    assert dense_title[0] and float(dense_title[1]) <= MAX_SECONDS
    assert bomb_title[0] == "None" and float(bomb_title[1]) <= MAX_SECONDS
    assert titled_title[0] == "走访小结"
    assert int(out[3]) * 1024 <= MAX_RSS


def test_finding3_many_page_tiff_not_ocred() -> None:
    frames = [Image.new("L", (64, 64), 255) for _ in range(DEFAULT_LIMITS.max_ocr_pages + 10)]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:])
    got, seconds, peak = _measure(buf.getvalue(), "scan.tif")
    _assert_refused(got, seconds, peak, "scan.tif")
    assert "页数过多" in (got.reason or "")


def test_finding3_bomb_behind_indirect_filter() -> None:
    def hidden(pdf: pikepdf.Pdf, page: pikepdf.Page) -> None:
        s = pikepdf.Stream(pdf, _ZEROS)
        s.Filter = pdf.make_indirect(pikepdf.Array([pikepdf.Name.FlateDecode]))
        page.Contents = s

    data = _pdf(hidden)
    assert re.search(rb"/Filter \d+ 0 R", data)
    verdict = check_pdf(data, DEFAULT_LIMITS, time.monotonic() + 10)
    assert verdict.refuse and "压缩炸弹" in verdict.refuse
