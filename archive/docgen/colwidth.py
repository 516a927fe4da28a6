"""Minimum table column widths from what the column holds, so short values never wrap inside.

A date (`2026年12月31日`), an 档号 (`Z001-2026-D30-FW-0001`), a person's name, a choice
(`非常满意`) or a short header must fit on one line; wrapping them ("2026030/9", "刘佳/琪")
makes a form unreadable. Widths are estimated from the table font size: a CJK character is one
em, a Latin capital 0.7 em, a digit or other Latin character 0.6 em (generous for Times New
Roman and its metric twin Liberation Serif); cell margins and a little slack are added.
"""

from __future__ import annotations

import re

from archive.docgen.manifest import Field, Manifest
from archive.docgen.markup import Table

CELL_MARGINS = 2 * 108 + 80      # twips: left/right cell margins plus slack for bold/kerning
_NAME_HEADERS = re.compile(r"(姓名|签名|签字|人$|人（|审批|经办|登记人|负责人|社工$|督导$)")
_VAR = re.compile(r"\{\{\s*(?:[a-z_]\w*\.)?([a-z_]\w*)")
ARCHIVAL_CODE_SAMPLE = "Z001-WS·2026-D30-FW-0001"
DATE_CN_SAMPLE = "2026年12月31日"
DATE_ISO_SAMPLE = "2026-12-31"
MONTH_DAY_SAMPLE = "12月31日"
NAME_EMS = 4.0
MAX_CHOICE_CHARS = 6         # longer choices are phrases and may wrap


def text_ems(text: str) -> float:
    """Width of `text` in ems: CJK and full-width one em, capitals 0.7, other Latin 0.6."""
    return sum(1.0 if ord(c) > 0x2E7F else 0.7 if c.isupper() else 0.6 for c in text)


def _fields_by_name(manifest: Manifest | None) -> dict[str, Field]:
    out: dict[str, Field] = {}
    if manifest is None:
        return out
    for f in manifest.fields:
        out.setdefault(f.name, f)
        for c in f.columns:
            out.setdefault(c.name, c)
    return out


def _clean_header(text: str) -> str:
    return re.sub(r"\{[wh]=[\d.]+\}", "", text).strip()


def column_floor(table: Table, col: int, font_pt: float, manifest: Manifest | None) -> int:
    """The narrowest width (twips) column `col` may have without wrapping a typed value."""
    header = _clean_header(table.header.cells[col].text) if col < len(table.header.cells) else ""
    cells = [r.cells[col].text for r in table.rows if col < len(r.cells)]
    fields = _fields_by_name(manifest)
    ems = 0.0
    if header and "<br>" not in header and len(header) <= 5:
        ems = text_ems(header)
    if "档号" in header:
        ems = max(ems, text_ems(ARCHIVAL_CODE_SAMPLE))
    if _NAME_HEADERS.search(header):
        ems = max(ems, NAME_EMS)
    for text in cells:
        if "{{" not in text:
            continue
        if "cn_date" in text and "month" not in text:
            ems = max(ems, text_ems(DATE_CN_SAMPLE))
        elif ".month" in text:
            ems = max(ems, text_ems(MONTH_DAY_SAMPLE))
        for name in _VAR.findall(text):
            f = fields.get(name)
            if f is None:
                continue
            if f.type == "date" and "cn_date" not in text and ".month" not in text:
                ems = max(ems, text_ems(DATE_ISO_SAMPLE))
            elif f.type == "choice" and "<br>" not in text and \
                    max(len(c) for c in f.choices) <= MAX_CHOICE_CHARS:
                ems = max(ems, max(text_ems(c) for c in f.choices))
            elif f.type == "money":
                ems = max(ems, text_ems("999,999.00"))
    if not ems:
        return 0
    return round(ems * font_pt * 20) + CELL_MARGINS
