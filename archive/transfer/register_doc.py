"""The printable 电子档案移交与接收登记表 (档发〔2012〕7号) as .docx, signed on paper by both sides.

Filled from the package's 其他/移交登记表.XML and the 四性检测 report; the receiving unit's
columns (接收检验结果, 接收人, 日期) stay blank for them to fill.
"""

from __future__ import annotations

import docx

from archive.paper import layout
from archive.transfer.checks import PROPERTIES, Report
from archive.transfer.model import ExportSummary, Station


def register_docx(station: Station, year: int, summary: ExportSummary, report: Report, *,
                  reason: str, approved_by: str, exported_by: str, date: str) -> bytes:
    doc = docx.Document()
    layout.page(doc, landscape=False, margins_mm=(25, 20, 20, 20))
    layout.text(doc.add_paragraph(), "电子档案移交与接收登记表", size=18, font=layout.HEI,
                align="center")
    rows = [
        ("交接工作名称", f"{station.name}{year}年度电子档案移交"),
        ("内容描述", f"{year}年度文书类电子档案（全宗号 {station.fonds}），含元数据封装包、"
                     "原件及PDF/A-2b长期保存版本"),
        ("移交电子档案数量", f"{summary.records} 件（文件 {summary.files} 个）"),
        ("移交数据量", f"{summary.bytes} 字节"),
        ("载体类型、规格", ""),
        ("移交事由", reason),
    ]
    for prop in PROPERTIES:
        found = [f for f in report.findings if f.prop == prop]
        bad = [f for f in found if f.status == "不通过"]
        todo = [f for f in found if f.status == "未检测"]
        verdict = "不通过" if bad else ("部分未检测：" + "；".join(f.message for f in todo)
                                       if todo else "通过")
        rows.append((f"{prop}检验（移交方）", verdict))
    rows += [(f"{prop}检验（接收方）", "") for prop in PROPERTIES]
    t = layout.ruled_table(doc, len(rows), [45.0, 125.0])
    for r, (label, value) in enumerate(rows):
        layout.cell_text(t.rows[r].cells[0], label, size=11, font=layout.HEI)
        layout.cell_text(t.rows[r].cells[1], value, size=11, align="left")
        layout.row_height(t, r, 11, exact=False)
    doc.add_paragraph()
    sig = layout.ruled_table(doc, 5, [45.0, 62.5, 62.5])
    for c, head in enumerate(("", "移交单位", "接收单位")):
        layout.cell_text(sig.rows[0].cells[c], head, size=11, font=layout.HEI)
    filled = [("单位名称", station.name, station.archive_name), ("填表人", exported_by, ""),
              ("审核人（批准人）", approved_by, ""), ("日期", date, "")]
    for r, (label, ours, theirs) in enumerate(filled, start=1):
        for c, value in enumerate((label, ours, theirs)):
            layout.cell_text(sig.rows[r].cells[c], value, size=11)
        layout.row_height(sig, r, 12, exact=False)
    layout.text(doc.add_paragraph(), "（单位盖章）", size=10.5, align="right")
    return layout.save(doc)
