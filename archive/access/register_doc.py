"""The 档案查阅申请与登记表 for a year's requests: one form per request, rendered with the
docgen engine from the `archive-access-register` template and joined into one .docx.

Every form comes from the same template, so the forms share styles; each later form's body is
appended after a page break and the first form's section properties (page size, footer) apply
to all. The template's body carries no relationship ids (checked), so nothing dangles.
"""

from __future__ import annotations

import copy
import io
import zipfile
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from lxml import etree

from archive.docgen.engine import generate
from archive.docgen.manifest import default_templates_dir, get_manifest
from archive.errors import ValidationError

if TYPE_CHECKING:
    from archive.access.requests import AccessRequest

TEMPLATE_ID = "archive-access-register"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def request_data(req: AccessRequest, items: list[dict[str, Any]], archivist: str,
                 approver: str = "") -> dict[str, Any]:
    """Template input for one request (field names from the template's manifest).

    A decided request carries its electronic decision (who, when in station time, until when),
    so the printed form shows the approval that was given in the system."""
    from archive.clock import station_text

    decision = {"approved": "同意", "denied": "不同意"}.get(req.status, "")
    if req.status == "expired" and req.decided_at:
        decision = "同意"
    return {
        "decision": decision,
        "approver": approver if decision else "",
        "decided_at": station_text(req.decided_at) if decision and req.decided_at else "",
        "valid_until": station_text(req.valid_until) if decision == "同意" and req.valid_until
        else "",
        "copy_decision": ("准予复制" if req.copy_approved else "不得复制") if decision == "同意"
        else "",
        "request_no": req.no,
        "apply_date": req.registered_at[:10],
        "applicant_type": "外单位",
        "applicant": req.applicant or "（未登记）",
        "unit": req.unit,
        "id_doc": req.id_doc,
        "letter_no": req.letter_no or f"原件已归档 {req.letter_ref}",
        "phone": req.phone,
        "purpose": req.purpose,
        "items": items,
        "archivist": archivist,
    }


def _document_xml(blob: bytes) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return etree.fromstring(z.read("word/document.xml"),
                                etree.XMLParser(resolve_entities=False, no_network=True))


def join_documents(blobs: Sequence[bytes]) -> bytes:
    """Append the bodies of blobs[1:] to blobs[0], each after a page break."""
    if len(blobs) == 1:
        return blobs[0]
    root = _document_xml(blobs[0])
    body = root.find(f"{{{W}}}body")
    assert body is not None
    sect = body.find(f"{{{W}}}sectPr")
    for blob in blobs[1:]:
        other = _document_xml(blob).find(f"{{{W}}}body")
        assert other is not None
        brk = etree.SubElement(body, f"{{{W}}}p")
        run = etree.SubElement(brk, f"{{{W}}}r")
        etree.SubElement(run, f"{{{W}}}br").set(f"{{{W}}}type", "page")
        for child in other:
            if child.tag == f"{{{W}}}sectPr":
                continue
            if any(k.startswith(f"{{{R_NS}}}") for el in child.iter() for k in el.attrib):
                raise ValidationError("查阅登记表模板正文含有关系引用（图片、链接），无法合并")
            body.append(copy.deepcopy(child))
        if sect is not None:  # keep the section properties last
            body.remove(sect)
            body.append(sect)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blobs[0])) as zin, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = xml if info.filename == "word/document.xml" else zin.read(info)
            zout.writestr(info, data)
    return out.getvalue()


def render_register(rows: Sequence[tuple[AccessRequest, list[dict[str, Any]], str, str]],
                    station: dict[str, Any], *, today: date) -> bytes:
    """Render one form per (request, items, archivist, approver) and join them."""
    manifest = get_manifest(default_templates_dir(), TEMPLATE_ID)
    blobs = [generate(manifest, request_data(req, items, who, approver), station, today=today)
             for req, items, who, approver in rows]
    return join_documents(blobs)
