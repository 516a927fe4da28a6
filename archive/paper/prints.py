"""One entry point for `sgz print catalogue|备考表|盒脊 -o FILE`: the output suffix picks the format."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePath

from archive.errors import UsageError, ValidationError
from archive.paper.boxes import BoxNote, beikao_docx, boxes_xlsx, spine_docx
from archive.paper.catalogue import catalogue_docx, catalogue_xlsx
from archive.paper.items import Fonds, PaperItem, boxes, group_items
from archive.paper.layout import docx_to_pdf_bytes

KINDS = {"catalogue": "catalogue", "目录": "catalogue", "归档文件目录": "catalogue",
         "备考表": "beikao", "beikao": "beikao", "盒脊": "spine", "spine": "spine"}
FORMATS = (".docx", ".pdf", ".xlsx")


def render_print(kind: str, items: Sequence[PaperItem], fonds: Fonds, out_name: str, *,
                 notes: dict[str, BoxNote] | None = None, thickness_mm: int = 40,
                 workdir: Path | None = None) -> bytes:
    """The bytes of the requested print; `out_name`'s suffix (.docx/.pdf/.xlsx) is the format.

    `items` are already filtered (year, category) and readable by the user; `notes` (盒号 →
    整理人/检查人/日期/remarks) is required for the 备考表. `workdir` is where LibreOffice's
    scratch files go for .pdf (the station's staging folder).
    """
    k = KINDS.get(kind.strip().lower()) or KINDS.get(kind.strip())
    if k is None:
        raise UsageError(f"未知的打印类型：{kind}，可选：catalogue（归档文件目录）、备考表、盒脊")
    fmt = PurePath(out_name).suffix.lower()
    if fmt not in FORMATS:
        raise UsageError(f"输出文件须为 .docx、.pdf 或 .xlsx：{out_name}")
    if not items:
        raise ValidationError("没有符合条件的档案")
    if fmt == ".xlsx":
        if k == "catalogue":
            return catalogue_xlsx(group_items(items), fonds)
        return boxes_xlsx(boxes(items), fonds, notes)
    if k == "catalogue":
        doc = catalogue_docx(group_items(items), fonds)
    elif k == "beikao":
        doc = beikao_docx(boxes(items), notes or {})
    else:
        doc = spine_docx(boxes(items), fonds, thickness_mm=thickness_mm)
    return docx_to_pdf_bytes(doc, name=k, workdir=workdir) if fmt == ".pdf" else doc
