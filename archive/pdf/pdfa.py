"""PDF/A-2b renditions of filed components (DA/T 47 long-term format; 档发〔2012〕7号).

- .docx/.doc/.odt/.wps: LibreOffice's PDF export with `SelectPdfVersion` 2 (PDF/A-2b, fonts
  embedded), then checked.
- PDF: repaired for PDF/A-2b with `pikepdf.pdfa` (sRGB OutputIntent, XMP `pdfaid`, metadata
  sync) and written only if pikepdf's allowlist validator passes what was written; a PDF it
  cannot make conform (say, a font that is not embedded) is refused with the findings named,
  never labelled PDF/A falsely.
- Images (JPEG/PNG/TIFF): one page per frame at the image's own resolution, then as a PDF.

`check_pdfa(data)` is the receiving side's check (transfer verify): the allowlist validator
on the bytes as they are. It approves only what it recognises, so a "pass" is trustworthy and a
"fail" may be conservative. veraPDF is not packaged for Debian; this is the check we can ship.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from archive.errors import ValidationError
from archive.pdf.office import ConversionFailed, _require_soffice

FLAVOUR = "2b"
PDFA2_FILTER = 'pdf:writer_pdf_Export:{"SelectPdfVersion":{"type":"long","value":"2"}}'
OFFICE_SUFFIXES = frozenset({".docx", ".doc", ".odt", ".wps", ".rtf"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"})


@dataclass(frozen=True)
class PdfaCheck:
    """Outcome of checking bytes as PDF/A-2b: `passed`, and the findings as Chinese-led text."""

    passed: bool
    claimed: bool  # the XMP says pdfaid part 2
    findings: tuple[str, ...]


def check_pdfa(data: bytes | Path) -> PdfaCheck:
    """Validate a PDF (bytes in memory, or a file read in place) as PDF/A-2b; no repair."""
    import pikepdf.pdfa  # its validator (jsonschema, fontTools) costs every command 0.17 s

    src: Path | io.BytesIO = data if isinstance(data, Path) else io.BytesIO(data)
    try:
        with pikepdf.open(src) as pdf:
            claimed = str(pdf.open_metadata().get("pdfaid:part", "")) == "2"
        if isinstance(src, io.BytesIO):
            src.seek(0)
        report = pikepdf.pdfa.validate_written(src, FLAVOUR)
    except pikepdf.PasswordError:
        return PdfaCheck(False, False, ("文件已加密",))
    except (pikepdf.PdfError, ValueError) as e:
        return PdfaCheck(False, False, (f"无法解析 PDF：{type(e).__name__}",))
    findings = tuple(f"{f.rule}: {f.message}" for f in report.findings)
    return PdfaCheck(report.passed and claimed, claimed, findings)


def pdf_to_pdfa(src: BinaryIO | bytes, dst: BinaryIO) -> None:
    """Write a PDF/A-2b rendition of a PDF, or raise ValidationError naming why it cannot."""
    import pikepdf.pdfa  # see check_pdfa

    data = src if isinstance(src, bytes) else src.read()
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as e:
        raise ValidationError("PDF 已加密，无法制作 PDF/A 长期保存版本") from e
    except (pikepdf.PdfError, ValueError) as e:
        raise ValidationError("PDF 文件损坏或格式无效，无法制作 PDF/A 版本") from e
    out = io.BytesIO()
    try:
        # LibreOffice writes a private trailer key the allowlist cannot vouch for; it is a
        # checksum of the document as LibreOffice wrote it, meaningless after any re-save.
        if "/DocChecksum" in pdf.trailer:
            del pdf.trailer["/DocChecksum"]
        # An /OpenAction only sets the first view (or runs a script, which PDF/A forbids); the
        # validator cannot vouch for it, and an archival rendition needs neither.
        if "/OpenAction" in pdf.Root:
            del pdf.Root["/OpenAction"]
        for page in pdf.pages:  # slide-show transitions (reportlab writes an empty one)
            if "/Trans" in page.obj:
                del page.obj["/Trans"]
        # pikepdf.pdfa.save() would validate through a temp file in the system temp folder;
        # doing its three steps here keeps the plaintext in memory.
        kw = pikepdf.pdfa.resolve_save_kwargs(FLAVOUR)
        pikepdf.pdfa.prepare(pdf, FLAVOUR)
        pdf.save(out, **kw)
    finally:
        pdf.close()
    out.seek(0)
    report = pikepdf.pdfa.validate_written(out, FLAVOUR, save_kwargs=kw)
    if not report.passed:
        found = [f"{f.rule}: {f.message}" for f in report.findings][:10]
        raise ValidationError("该 PDF 无法转为 PDF/A-2b（如字体未嵌入），请用原软件重新导出为 "
                              "PDF/A 后再归档", details=found)
    dst.write(out.getvalue())


def image_to_pdfa(src: BinaryIO | bytes, dst: BinaryIO) -> None:
    """Put each frame of an image on its own page (size from its DPI, default 300), as PDF/A-2b.

    Pixels are kept exactly: a baseline RGB/grey JPEG is embedded as is (DCTDecode), anything
    else is flattened onto white and stored losslessly (Flate).
    """
    import pikepdf  # loaded by the commands that make PDF/A, not by every command
    from PIL import Image, ImageSequence

    data = src if isinstance(src, bytes) else src.read()
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (OSError, ValueError) as e:
        raise ValidationError("图片无法读取，无法制作 PDF/A 版本") from e
    pdf = pikepdf.new()
    for frame in ImageSequence.Iterator(img):
        dpi = frame.info.get("dpi", (300, 300))
        xdpi, ydpi = (float(dpi[0]) or 300.0, float(dpi[1]) or 300.0)
        if img.format == "JPEG" and frame.mode in ("RGB", "L"):
            raw, filt, mode = data, pikepdf.Name.DCTDecode, frame.mode
        else:
            if frame.mode in ("RGBA", "LA", "P", "PA"):
                rgba = frame.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.split()[3])
            else:
                flat = frame.convert("L" if frame.mode in ("1", "L", "I", "I;16") else "RGB")
            raw, filt, mode = zlib.compress(flat.tobytes(), 6), pikepdf.Name.FlateDecode, flat.mode
        w, h = frame.width * 72.0 / xdpi, frame.height * 72.0 / ydpi
        xobj = pdf.make_stream(raw)
        xobj.Type, xobj.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        xobj.Width, xobj.Height, xobj.BitsPerComponent = frame.width, frame.height, 8
        xobj.ColorSpace = pikepdf.Name.DeviceRGB if mode == "RGB" else pikepdf.Name.DeviceGray
        xobj.Filter = filt
        page = pdf.add_blank_page(page_size=(w, h))
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=xobj))
        page.Contents = pdf.make_stream(f"q {w:.4f} 0 0 {h:.4f} 0 0 cm /Im0 Do Q".encode())
    buf = io.BytesIO()
    pdf.save(buf)
    pdf_to_pdfa(buf.getvalue(), dst)


def office_to_pdfa(source: Path, out_dir: Path, *, timeout: float = 180.0) -> Path:
    """Convert an office document to PDF/A-2b with LibreOffice; return the PDF's path."""
    exe = _require_soffice()
    source, out_dir = Path(source).resolve(), Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sgz-lo-") as profile:
        cmd = [exe, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless",
               "--norestore", "--nolockcheck", "--convert-to", PDFA2_FILTER, "--outdir",
               str(out_dir), str(source)]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ConversionFailed(f"LibreOffice 转换超时（{timeout:.0f} 秒）") from None
    pdf = out_dir / (source.stem + ".pdf")
    if proc.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        raise ConversionFailed(f"LibreOffice 未能生成 PDF/A（退出码 {proc.returncode}）",
                               ref=source.name)
    return pdf


def rendition(name: str, data: bytes, dst: BinaryIO, *, workdir: Path) -> None:
    """A PDF/A-2b rendition of a component named `name` (its suffix picks the route).

    `workdir` is a private folder for LibreOffice's input and output (inside the station's
    staging area for plaintext); it is emptied of the files used here before returning.
    """
    suffix = Path(name).suffix.lower()
    if suffix == ".pdf":
        pdf_to_pdfa(data, dst)
    elif suffix in IMAGE_SUFFIXES:
        image_to_pdfa(data, dst)
    elif suffix in OFFICE_SUFFIXES:
        if suffix == ".docx":  # the 公文 faces' stand-ins, as `gen --pdf` uses them
            from archive.pdf.docx_fonts import pdf_ready_docx

            with contextlib.suppress(zipfile.BadZipFile, UnicodeDecodeError, KeyError):
                data = pdf_ready_docx(data)[0]
        src = workdir / f"component{suffix}"
        src.write_bytes(data)
        try:
            out = office_to_pdfa(src, workdir / "out")
            try:
                pdf_to_pdfa(out.read_bytes(), dst)
            finally:
                out.unlink(missing_ok=True)
        finally:
            src.unlink(missing_ok=True)
    else:
        raise ValidationError(f"不支持为该格式制作 PDF/A 版本：{suffix or name}", found=suffix)
