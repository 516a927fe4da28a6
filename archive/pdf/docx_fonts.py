"""Make a rendered .docx convert to PDF with the right Chinese faces, then convert it.

The .docx names the 公文 fonts (仿宋_GB2312, 方正小标宋简体, 黑体, 楷体_GB2312, 宋体) so it opens
correctly in Word/WPS at the station. LibreOffice on a machine without them lets fontconfig pick
a substitute — often Noto Sans CJK **JP**, with Japanese glyph shapes and a sans face for body
text. For PDF conversion we therefore convert a copy in which each missing 公文 font is replaced
by the closest installed Simplified-Chinese face (archive.pdf.fonts), and say so once, in
Chinese. A stand-in chosen in its bold weight (Noto Serif CJK SC Bold for 方正小标宋, whose
single weight is heavy) is asked for bold as well: the family name alone gives its regular
face. LibreOffice embeds (subsets) every font it uses in the PDF.

Every conversion of a .docx to PDF goes through this: `gen --pdf`, the stamped PDF/A copy
(archive/pdf/pdfa.py) and the outside unit's view copy (archive/access/viewcopy.py).
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from archive.fs.atomic import write_atomic
from archive.pdf.fonts import DOCX_ROLE_OF, FontReport, font_report

_PARTS = re.compile(r"^word/(document|styles|fontTable|header\w*|footer\w*|numbering)\.xml$")
# A filed .docx (the PDF/A copy, a view copy) is untrusted: the copy is rewritten in this
# process only when its declared sizes are those of a document, not of a zip bomb (a member
# never decompresses past its declared size). Beyond them it converts as it is.
READY_MAX_BYTES, READY_MAX_MEMBERS = 64 * 1024 * 1024, 5000
LATIN_SERIF = "Times New Roman"


def font_map(report: FontReport) -> dict[str, str]:
    """docx font name → installed family, for every 公文 font that is not installed."""
    out: dict[str, str] = {}
    for docx_name, role in DOCX_ROLE_OF.items():
        choice = report.choices.get(role)
        if choice is not None and not choice.exact and choice.family:
            out[docx_name] = choice.family
    return out


def bold_stand_ins(report: FontReport) -> set[str]:
    """The docx font names whose stand-in is a bold or black face (to be asked for bold)."""
    out = set()
    for docx_name, role in DOCX_ROLE_OF.items():
        choice = report.choices.get(role)
        if (choice is not None and not choice.exact and choice.face is not None
                and choice.face.style.lower() in ("bold", "black", "heavy")):
            out.add(docx_name)
    return out


def _embolden(xml: str, font: str) -> str:
    """Add <w:b/><w:bCs/> right after every w:rFonts naming `font` (their place in w:rPr),
    unless the run or style is bold already."""
    rx = re.compile(r'(<w:rFonts\b[^>]*"' + re.escape(font) + r'"[^>]*/>)(?!\s*<w:b[\s/>])')
    return rx.sub(r"\1<w:b/><w:bCs/>", xml)


def pdf_ready_docx(docx: bytes, report: FontReport | None = None) -> tuple[bytes, str]:
    """A copy of `docx` whose missing 公文 fonts name installed SC faces, and the warning.

    The warning is one Chinese sentence naming the missing fonts ('' when all are installed).
    """
    report = report or font_report()
    mapping = font_map(report)
    if not mapping:
        return docx, ""
    bold = bold_stand_ins(report)
    src = zipfile.ZipFile(io.BytesIO(docx))
    infos = src.infolist()
    if len(infos) > READY_MAX_MEMBERS or sum(i.file_size for i in infos) > READY_MAX_BYTES:
        return docx, ""  # not rewritten: no stand-in to announce
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            blob = src.read(info)
            if _PARTS.match(info.filename):
                text = blob.decode("utf-8")
                for old in bold:
                    text = _embolden(text, old)
                for old, new in mapping.items():
                    text = text.replace(f'"{old}"', f'"{new}"')
                blob = text.encode("utf-8")
            zf.writestr(info, blob)
    return out.getvalue(), report.warning()


def docx_to_pdf_with_fonts(source: Path, out_dir: Path | None = None, *,
                           warn: Callable[[str], None] | None = None,
                           report: FontReport | None = None) -> Path:
    """Convert `source` (.docx) to PDF next to it (or in `out_dir`) with SC faces substituted.

    `warn` receives the single Chinese font warning, if any. The .docx itself is not changed.
    """
    from archive.pdf.office import docx_to_pdf

    source = Path(source)
    target_dir = Path(out_dir) if out_dir else source.parent
    blob, warning = pdf_ready_docx(source.read_bytes(), report)
    if warning and warn is not None:
        warn(warning)
    # the staged copy is as plaintext as the source: keep it beside the source (for `gen
    # --file` that is the home's private staging folder), never in the system temp folder
    with tempfile.TemporaryDirectory(prefix=".sgz-pdf-", dir=source.parent) as tmp:
        staged = Path(tmp) / source.name
        staged.write_bytes(blob)
        produced = docx_to_pdf(staged, Path(tmp))
        target = target_dir / produced.name
        write_atomic(target, produced.read_bytes(), parents=True)
    return target
