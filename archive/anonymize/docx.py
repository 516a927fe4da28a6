"""Anonymise a .docx: mask personal data in every XML part, metadata included.

Word splits text into runs at will (spell check, edits, formatting), so a name can sit in
two runs. A paragraph that contains personal data therefore has its text merged into its
first text element before masking (that paragraph loses inner formatting; others keep it).
Deleted text of tracked changes, field codes, alt text, comment and revision authors and
the core properties (author, last modified by) are masked too. Binary parts (images,
embedded objects, thumbnails) cannot be masked: images are replaced by a blank picture,
other binary parts by empty ones, and each is listed in the report. Embedded fonts are kept.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from typing import BinaryIO

from lxml import etree

from archive.anonymize.detect import mask_text
from archive.anonymize.report import Report
from archive.errors import ValidationError

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MAX_UNZIPPED = 200 * 1024 * 1024
ANON_AUTHOR = "匿名"
# Attributes that carry free text or people: masked (authors replaced outright).
_TEXT_ATTRS = {"descr", "title", "name", "Target", "displayText", "value", "val", "alias", "tag"}
_PERSON_ATTRS = {"author", "initials", "userId", "providerId"}
_PERSON_TAGS = {
    "{http://purl.org/dc/elements/1.1/}creator",
    "{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}lastModifiedBy",
    "{http://schemas.openxmlformats.org/officeDocument/2006/extended-properties}Manager",
    "{http://schemas.openxmlformats.org/officeDocument/2006/extended-properties}Company",
}
_FONT_SUFFIXES = (".odttf", ".ttf", ".otf")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".emf", ".wmf",
                   ".svg", ".wdp")
# A valid 1×1 white PNG.
BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c63f8ffff3f0005fe02fe0def46b80000000049454e44ae426082")


class _Masker:
    def __init__(self, known_names: Iterable[str], report: Report) -> None:
        self.names = list(known_names)
        self.report = report

    def __call__(self, text: str) -> str:
        out, spans = mask_text(text, self.names)
        self.report.masked.update(sp.kind for sp in spans)
        return out


def _nearest_paragraph(el: etree._Element) -> etree._Element | None:
    for anc in el.iterancestors(f"{W}p"):
        return anc
    return None


def _paragraphs(root: etree._Element, mask: _Masker) -> set[etree._Element]:
    """Mask paragraph text across runs; return the text elements handled."""
    done: set[etree._Element] = set()
    for p in root.iter(f"{W}p"):
        ts = [t for t in p.iter(f"{W}t") if _nearest_paragraph(t) is p]
        done.update(ts)
        if not ts:
            continue
        whole = "".join(t.text or "" for t in ts)
        masked = mask(whole)
        if masked == whole:
            continue
        ts[0].text = masked
        ts[0].set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        for t in ts[1:]:
            t.text = ""
    return done


def _rest(root: etree._Element, mask: _Masker, done: set[etree._Element]) -> None:
    """Everything else: other text nodes (delText, instrText, properties), attributes."""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag in _PERSON_TAGS:
            el.text = ANON_AUTHOR if el.text else el.text
        elif el not in done and el.text and el.text.strip():
            el.text = mask(el.text)
        if el.tail and el.tail.strip():
            el.tail = mask(el.tail)
        for name, value in el.attrib.items():
            local = etree.QName(name).localname
            if local in _PERSON_ATTRS:
                el.set(name, ANON_AUTHOR if local == "author" else "")
            elif local in _TEXT_ATTRS and value:
                el.set(name, mask(value))


def _xml_part(data: bytes, mask: _Masker) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(data, parser)
    done = _paragraphs(root, mask)
    _rest(root, mask, done)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def anonymize_docx(src: BinaryIO, dst: BinaryIO, known_names: Iterable[str] = ()) -> Report:
    """Write an anonymised copy of the .docx `src` to `dst`; `known_names` are always masked."""
    report = Report()
    mask = _Masker(known_names, report)
    try:
        zin = zipfile.ZipFile(io.BytesIO(src.read()))
        infos = zin.infolist()
    except (zipfile.BadZipFile, OSError) as e:
        raise ValidationError("不是有效的 .docx 文件") from e
    if sum(i.file_size for i in infos) > MAX_UNZIPPED:
        raise ValidationError("docx 解压后过大", expected=f"≤{MAX_UNZIPPED}")
    if "word/document.xml" not in zin.namelist():
        raise ValidationError("不是有效的 .docx 文件：缺少 word/document.xml")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in infos:
            name = info.filename
            data = zin.read(info)
            if name.endswith((".xml", ".rels")):
                try:
                    data = _xml_part(data, mask)
                except etree.XMLSyntaxError as e:
                    raise ValidationError(f"docx 部件无法解析：{name}") from e
                report.parts.append(name)
            elif not name.endswith("/") and not name.lower().endswith(_FONT_SUFFIXES):
                image = name.lower().endswith(_IMAGE_SUFFIXES)
                data = BLANK_PNG if image else b""
                report.dropped.append(name)
                report.warnings.append(f"无法匿名化的二进制部件已{'替换为空白图片' if image else '清空'}：{name}")
            zout.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                          compress_type=zipfile.ZIP_DEFLATED)
    dst.write(buf.getvalue())
    return report
