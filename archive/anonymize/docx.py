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
import re
import zipfile
from collections.abc import Iterable
from typing import BinaryIO

from lxml import etree

from archive.anonymize.detect import mask_text
from archive.anonymize.names import PERSON_LABELS, Harvest, KnownNames
from archive.anonymize.report import Report
from archive.errors import ValidationError

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MAX_UNZIPPED = 200 * 1024 * 1024
ANON_AUTHOR = "匿名"
# Attributes that carry free text or people: masked (authors replaced outright).
_TEXT_ATTRS = {"descr", "title", "name", "Target", "displayText", "value", "val", "alias", "tag",
               "PartName"}
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
    def __init__(self, people: dict[str, list[str]], places: list[str], report: Report) -> None:
        self.people = people
        self.places = places
        self.report = report

    def __call__(self, text: str) -> str:
        out, spans = mask_text(text, people=self.people, places=self.places)
        self.report.masked.update(sp.kind for sp in spans)
        return out


_CUSTOM_PROP = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}property"


def _harvest(root: etree._Element, harvest: Harvest) -> None:
    """Person fields and places of one part: tables, other paragraphs, custom properties."""
    for tbl in root.iter(f"{W}tbl"):
        rows = [["".join(t.text or "" for t in tc.iter(f"{W}t")) for tc in tr.iterchildren(f"{W}tc")]
                for tr in tbl.iterchildren(f"{W}tr")]
        harvest.table(rows)
    for p in root.iter(f"{W}p"):
        if next(p.iterancestors(f"{W}tc"), None) is None:
            harvest.text("".join(t.text or "" for t in p.iter(f"{W}t")))
    for prop in root.iter(_CUSTOM_PROP):
        value = "".join(prop.itertext()).strip()
        if re.sub(r"[\s:：]", "", prop.get("name", "")) in PERSON_LABELS:
            harvest.fields += 1
            harvest.add_name(value)
        harvest.text(value)
    if not root.tag.startswith(W):  # core/app properties, other XML: key-value text only
        for el in root.iter():
            if isinstance(el.tag, str) and el.text and el.text.strip():
                harvest.text(el.text)


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


def _parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             load_dtd=False)
    return etree.fromstring(data, parser)


def anonymize_docx(src: BinaryIO, dst: BinaryIO, known_names: Iterable[str] = (), *,
                   known: KnownNames | None = None) -> Report:
    """Write an anonymised copy of the .docx `src` to `dst`.

    Every name in `known` (and `known_names`, as extra) is masked, as is every name the
    document's own person fields give and every place it names in context, in every part
    (body, tables, headers, footers, comments, notes, core and custom properties) and in the
    names of the package's parts.
    """
    report = Report()
    known = known or KnownNames()
    known = KnownNames(known.clients, known.staff, known.places, [*known.extra, *known_names])
    try:
        zin = zipfile.ZipFile(io.BytesIO(src.read()))
        infos = zin.infolist()
    except (zipfile.BadZipFile, OSError) as e:
        raise ValidationError("不是有效的 .docx 文件") from e
    if sum(i.file_size for i in infos) > MAX_UNZIPPED:
        raise ValidationError("docx 解压后过大", expected=f"≤{MAX_UNZIPPED}")
    if "word/document.xml" not in zin.namelist():
        raise ValidationError("不是有效的 .docx 文件：缺少 word/document.xml")
    trees: dict[str, etree._Element] = {}
    harvest = Harvest()
    for info in infos:
        if info.filename.endswith((".xml", ".rels")):
            try:
                trees[info.filename] = _parse(zin.read(info))
            except etree.XMLSyntaxError as e:
                raise ValidationError(f"docx 部件无法解析：{info.filename}") from e
            _harvest(trees[info.filename], harvest)
    report.person_fields, report.unrecognised = harvest.fields, harvest.unrecognised
    mask = _Masker(harvest.people(known), harvest.all_places(known), report)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in infos:
            name = info.filename
            if name in trees:
                root = trees.pop(name)
                _rest(root, mask, _paragraphs(root, mask))
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                      standalone=True)
                report.parts.append(name)
            elif not name.endswith("/") and not name.lower().endswith(_FONT_SUFFIXES):
                image = name.lower().endswith(_IMAGE_SUFFIXES)
                data = BLANK_PNG if image else b""
                report.dropped.append(name)
                report.warnings.append(f"无法匿名化的二进制部件已{'替换为空白图片' if image else '清空'}：{name}")
            else:
                data = zin.read(info)
            # part names carry names too (媒体/嵌入文件); relationship targets are masked alike
            out_name = mask(name)
            zout.writestr(zipfile.ZipInfo(out_name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                          compress_type=zipfile.ZIP_DEFLATED)
    dst.write(buf.getvalue())
    return report.finish()
