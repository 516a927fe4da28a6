"""Bound what a PDF would decode before any parser sees it (decompression bombs).

A 0.5 MB PDF can hold a Flate stream that inflates to 512 MiB; pdfium and pdfminer would
decode it whole. This pre-scan walks every stream of the file, counts its decoded size with
bounded streaming decoders (nothing larger than one stream cap is ever held) and checks the
declared size of every image, so a bomb is refused in well under a second.

Unencrypted files are scanned from their bytes (no object model, so object and xref streams
are covered too). Encrypted files that open without a password are scanned through pikepdf,
which decrypts the raw stream data.
"""

from __future__ import annotations

import base64
import io
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from archive.search.limits import Limits

_STREAM = re.compile(rb"(?<![A-Za-z])stream\r?\n")
_OBJ = re.compile(rb"\d+\s+\d+\s+obj\b")
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[A-Za-z0-9]+)")
_FILTER_REF = re.compile(rb"/Filter\s*(\d+)\s+(\d+)\s+R")
_NAME = re.compile(rb"/([A-Za-z0-9]+)")
_INT = {k: re.compile(rb"/" + k + rb"\s+(\d+)(?!\s+\d+\s+R)") for k in
        (b"Length", b"Width", b"Height", b"BitsPerComponent")}
_IMAGE = re.compile(rb"/Subtype\s*/Image\b")
_FONT = re.compile(rb"/Length[123]\b|/Subtype\s*/(?:Type1C|CIDFontType0C|OpenType)\b")
_CHANNELS = ((b"/DeviceCMYK", 4), (b"/DeviceRGB", 3), (b"/CalRGB", 3), (b"/Lab", 3),
             (b"/DeviceGray", 1), (b"/CalGray", 1), (b"/Indexed", 1))
_IMAGE_CODECS = {"DCTDecode", "DCT", "JPXDecode", "JBIG2Decode", "CCITTFaxDecode", "CCF"}
_CHUNK = 1 << 20


class _TooBig(Exception):
    """Internal: a decoder passed its output cap."""


@dataclass
class PdfVerdict:
    """What the scan found: `refuse` fails the file; `no_ocr` only forbids rendering its pages."""

    refuse: str | None = None
    no_ocr: str | None = None
    decoded: int = 0  # total decoded bytes of the non-image streams counted
    content: int = 0  # of which not font programs: what a pure-Python parser would lex


def _mib(n: int) -> str:
    return f"{n >> 20} MiB"


def _flate(raw: bytes, cap: int, keep: bool) -> tuple[int, bytes]:
    """Inflate `raw` up to `cap` bytes; returns (size, data if keep). Stops at a stream error."""
    d = zlib.decompressobj()
    size, out = 0, []
    buf = raw
    try:
        while buf and not d.eof:
            chunk = d.decompress(buf, _CHUNK)
            buf = d.unconsumed_tail
            size += len(chunk)
            if size > cap:
                raise _TooBig
            if keep:
                out.append(chunk)
            if not chunk and not buf:
                break
    except zlib.error:
        pass  # damaged data: a reader decodes no further than this either
    return size, b"".join(out)


def _lzw(raw: bytes, cap: int, early: int = 1) -> bytes:
    """LZW decode (PDF variant, early change) with an output cap."""
    table: list[bytes] = [bytes([i]) for i in range(256)] + [b"", b""]
    out = bytearray()
    width, bits, nbits, prev = 9, 0, 0, b""
    for byte in raw:
        bits = (bits << 8) | byte
        nbits += 8
        while nbits >= width:
            nbits -= width
            code = (bits >> nbits) & ((1 << width) - 1)
            if code == 256:
                table, width, prev = table[:258], 9, b""
                continue
            if code == 257:
                return bytes(out)
            if code < len(table):
                entry = table[code]
            elif code == len(table) and prev:
                entry = prev + prev[:1]
            else:
                return bytes(out)  # damaged
            out += entry
            if len(out) > cap:
                raise _TooBig
            if prev and len(table) < 4096:
                table.append(prev + entry[:1])
            prev = entry
            if len(table) + early >= (1 << width) and width < 12:
                width += 1
        bits &= (1 << nbits) - 1
    return bytes(out)


def _runlength(raw: bytes, cap: int) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        n = raw[i]
        if n == 128:
            break
        if n < 128:
            out += raw[i + 1:i + 2 + n]
            i += n + 2
        else:
            out += raw[i + 1:i + 2] * (257 - n)
            i += 2
        if len(out) > cap:
            raise _TooBig
    return bytes(out)


def _ascii85(raw: bytes) -> bytes:
    body = re.sub(rb"\s", b"", raw)
    body = body[2:] if body.startswith(b"<~") else body
    body = body.split(b"~>", 1)[0]
    try:
        return base64.a85decode(body)
    except ValueError:
        return b""


def _asciihex(raw: bytes) -> bytes:
    body = re.sub(rb"[^0-9A-Fa-f]", b"", raw.split(b">", 1)[0])
    return bytes.fromhex(body.decode() + ("0" if len(body) % 2 else ""))


def decoded_size(raw: bytes, filters: list[str], cap: int) -> int:
    """Decoded size of a stream through its filter chain; raises _TooBig past `cap`.

    Image codecs (DCT, JPX, JBIG2, CCITT) end the chain: their output is bounded by the
    image's declared size, which the caller checks.
    """
    data = raw
    for i, name in enumerate(filters):
        last = i == len(filters) - 1
        if name in ("FlateDecode", "Fl"):
            size, data = _flate(data, cap, keep=not last)
            if last:
                return size
        elif name in ("LZWDecode", "LZW"):
            data = _lzw(data, cap)
        elif name in ("RunLengthDecode", "RL"):
            data = _runlength(data, cap)
        elif name in ("ASCII85Decode", "A85"):
            data = _ascii85(data)
        elif name in ("ASCIIHexDecode", "AHx"):
            data = _asciihex(data)
        else:  # image codec, Crypt or unknown: stop here
            break
    return len(data)


def _int(dict_bytes: bytes, key: bytes) -> int | None:
    m = _INT[key].search(dict_bytes)
    return int(m.group(1)) if m else None


def _channels(dict_bytes: bytes) -> int:
    for name, n in _CHANNELS:
        if name in dict_bytes:
            return n
    return 3


def _raw_streams(data: bytes, deadline: float) -> Iterator[tuple[bytes, bytes]]:
    """(dictionary bytes, raw stream bytes) for every stream found in the file's bytes."""
    pos = 0
    while True:
        m = _STREAM.search(data, pos)
        if m is None:
            return
        if time.monotonic() > deadline:
            raise TimeoutError
        head_start = max(0, m.start() - 4096)
        head = data[head_start:m.start()]
        objs = list(_OBJ.finditer(head))
        if objs:
            head = head[objs[-1].end():]
        start = m.end()
        length = _int(head, b"Length")
        if length is not None and data[start + length:start + length + 12].lstrip().startswith(
                b"endstream"):
            end = start + length
        else:
            found = data.find(b"endstream", start)
            end = len(data) if found < 0 else found
        yield head, data[start:end]
        pos = max(end, start)


def _filters(dict_bytes: bytes, data: bytes) -> list[str]:
    """The stream's filter chain; an indirect /Filter is looked up in the file's bytes."""
    m = _FILTER.search(dict_bytes)
    if m is not None:
        return [n.decode() for n in _NAME.findall(m.group(1))]
    ref = _FILTER_REF.search(dict_bytes)
    if ref is None:
        return []
    obj = re.search(rb"(?<!\d)" + ref.group(1) + rb"\s+" + ref.group(2) + rb"\s+obj\s*(.{0,512}?)"
                    rb"endobj", data, re.DOTALL)
    names = [n.decode() for n in _NAME.findall(obj.group(1))] if obj else []
    # not found (e.g. inside an object stream): assume Flate, which fails fast on other data
    return names or ["FlateDecode"]


class _Scan:
    def __init__(self, limits: Limits, deadline: float) -> None:
        self.limits = limits
        self.deadline = deadline
        self.verdict = PdfVerdict()

    def stream(self, filters: list[str], raw: bytes, image: tuple[int, int, int, int] | None,
               font: bool = False) -> bool:
        """Account for one stream; False once the file is refused."""
        lim, v = self.limits, self.verdict
        if image is not None:
            width, height, bpc, channels = image
            pixels = width * height
            if pixels > lim.max_pixels or pixels * channels * max(bpc, 1) // 8 > lim.max_stream:
                v.no_ocr = v.no_ocr or (f"PDF 内图像过大（{width}×{height}），未做文字识别")
                return True
        try:
            size = decoded_size(raw, filters, lim.max_stream)
        except _TooBig:
            if image is not None:
                v.no_ocr = v.no_ocr or f"PDF 内图像解压后超过 {_mib(lim.max_stream)}，未做文字识别"
                return True
            v.refuse = (f"PDF 中有数据流解压后超过 {_mib(lim.max_stream)}，"
                        "疑似压缩炸弹，未提取文字")
            return False
        if image is None:
            v.decoded += size
            v.content += 0 if font else size
            if v.decoded > lim.max_decoded:
                v.refuse = (f"PDF 解压后总大小超过 {_mib(lim.max_decoded)}，"
                            "疑似压缩炸弹，未提取文字")
                return False
        return True


def _image_of(dict_bytes: bytes) -> tuple[int, int, int, int] | None:
    """(width, height, bits, channels) of an image XObject; 0 × 0 where they are indirect."""
    if not _IMAGE.search(dict_bytes):
        return None
    w, h = _int(dict_bytes, b"Width"), _int(dict_bytes, b"Height")
    if w is None or h is None:
        return 0, 0, 8, 1  # still an image: decoded size capped, not counted in the total
    return w, h, _int(dict_bytes, b"BitsPerComponent") or 8, _channels(dict_bytes)


def _scan_pikepdf(data: bytes, scan: _Scan) -> None:
    """Encrypted files: qpdf decrypts each stream's raw data; filters are decoded by us."""
    import pikepdf

    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except Exception:  # wrong password or damage: the PDF reader reports it
        return
    with pdf:
        for obj in pdf.objects:
            if time.monotonic() > scan.deadline:
                raise TimeoutError
            if not isinstance(obj, pikepdf.Stream):
                continue
            flt = obj.get("/Filter")
            names = [str(f)[1:] for f in (flt if isinstance(flt, pikepdf.Array) else [flt])
                     if f is not None]
            image = None
            if obj.get("/Subtype") == pikepdf.Name.Image:
                try:
                    cs = str(obj.get("/ColorSpace", "/DeviceRGB")).encode()
                    image = (int(obj.Width), int(obj.Height),
                             int(obj.get("/BitsPerComponent", 8)), _channels(cs))
                except (AttributeError, TypeError, ValueError):
                    image = None
            try:
                raw = obj.read_raw_bytes()
            except Exception:  # damaged stream: pdfium skips it too
                continue
            font = any(k in obj for k in ("/Length1", "/Length2", "/Length3"))
            if not scan.stream(names, raw, image, font):
                return


def check_pdf(data: bytes, limits: Limits, deadline: float) -> PdfVerdict:
    """Scan a PDF's streams against the decoding limits; never raises for bad input."""
    scan = _Scan(limits, deadline)
    try:
        for head, raw in _raw_streams(data, deadline):
            if not scan.stream(_filters(head, data), raw, _image_of(head),
                               bool(_FONT.search(head))):
                return scan.verdict
        if b"/Encrypt" in data:
            _scan_pikepdf(data, scan)
    except TimeoutError:
        scan.verdict.refuse = "检查 PDF 数据流超时，未提取文字"
    return scan.verdict
