"""The visible 样例 mark: a header line on every page of a rendered .docx.

The mark is ordinary header text (red, bold), so it prints, shows in Word/WPS and survives
LibreOffice's PDF conversion (and pdftotext finds it on every page).
"""

from __future__ import annotations

import io
import zipfile

from lxml import etree

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
HEADER_TYPE = f"{R_NS}/header"
HEADER_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"
SAMPLE_MARK = "样例"
SAMPLE_TEXT = "样例　本文书含示例数据，仅供试用，不得印发或归档"
_W = f"{{{W_NS}}}"


def _mark_paragraph() -> str:
    return (f'<w:p xmlns:w="{W_NS}"><w:pPr><w:jc w:val="center"/></w:pPr>'
            '<w:r><w:rPr><w:rFonts w:ascii="Noto Sans CJK SC" w:hAnsi="Noto Sans CJK SC" '
            'w:eastAsia="黑体"/><w:b/><w:color w:val="C00000"/><w:sz w:val="28"/>'
            f'<w:szCs w:val="28"/></w:rPr><w:t xml:space="preserve">{SAMPLE_TEXT}</w:t></w:r></w:p>')


def _header_xml() -> bytes:
    hdr = etree.fromstring(f'<w:hdr xmlns:w="{W_NS}" xmlns:r="{R_NS}"/>')
    hdr.append(etree.fromstring(_mark_paragraph()))
    return etree.tostring(hdr, xml_declaration=True, encoding="UTF-8", standalone=True)


def add_sample_mark(docx: bytes) -> bytes:
    """Return `docx` with the 样例 line in the header of every page of every section."""
    if has_sample_mark(docx):
        return docx
    src = zipfile.ZipFile(io.BytesIO(docx))
    parts = {n: src.read(n) for n in src.namelist()}
    infos = {n: src.getinfo(n) for n in src.namelist()}
    doc = etree.fromstring(parts["word/document.xml"])
    rels = etree.fromstring(parts["word/_rels/document.xml.rels"])
    ctypes = etree.fromstring(parts["[Content_Types].xml"])
    settings = parts.get("word/settings.xml", b"")
    kinds = ["default"]
    if b"evenAndOddHeaders" in settings:
        kinds.append("even")
    targets: dict[str, str] = {r.get("Id"): r.get("Target") for r in rels}
    new_part = "word/headerSgzSample.xml"
    rid = "rIdSgzSample"
    for sect in doc.iter(f"{_W}sectPr"):
        sect_kinds = kinds + (["first"] if sect.find(f"{_W}titlePg") is not None else [])
        existing = {h.get(f"{_W}type", "default"): h for h in sect.findall(f"{_W}headerReference")}
        for kind in sect_kinds:
            ref = existing.get(kind)
            if ref is not None:
                # a header the template already has: add the mark line to its top
                name = "word/" + targets[ref.get(f"{{{R_NS}}}id")]
                hdr = etree.fromstring(parts[name])
                hdr.insert(0, etree.fromstring(_mark_paragraph()))
                parts[name] = etree.tostring(hdr, xml_declaration=True, encoding="UTF-8",
                                             standalone=True)
                continue
            el = etree.Element(f"{_W}headerReference")
            el.set(f"{_W}type", kind)
            el.set(f"{{{R_NS}}}id", rid)
            sect.insert(0, el)
    if rid.encode() in etree.tostring(doc):
        parts[new_part] = _header_xml()
        rel = etree.SubElement(rels, f"{{{PKG_NS}}}Relationship")
        rel.set("Id", rid)
        rel.set("Type", HEADER_TYPE)
        rel.set("Target", new_part.removeprefix("word/"))
        ov = etree.SubElement(ctypes, f"{{{CT_NS}}}Override")
        ov.set("PartName", "/" + new_part)
        ov.set("ContentType", HEADER_CT)
    parts["word/document.xml"] = etree.tostring(doc, xml_declaration=True, encoding="UTF-8",
                                                standalone=True)
    parts["word/_rels/document.xml.rels"] = etree.tostring(rels, xml_declaration=True,
                                                           encoding="UTF-8", standalone=True)
    parts["[Content_Types].xml"] = etree.tostring(ctypes, xml_declaration=True,
                                                  encoding="UTF-8", standalone=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in parts.items():
            info = infos.get(name) or zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, blob)
    return out.getvalue()


def has_sample_mark(docx: bytes) -> bool:
    """Whether a .docx carries the 样例 header (for filing to refuse it)."""
    with zipfile.ZipFile(io.BytesIO(docx)) as zf:
        return any(SAMPLE_TEXT.encode() in zf.read(n) for n in zf.namelist()
                   if n.startswith("word/header"))
