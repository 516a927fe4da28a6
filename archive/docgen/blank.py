"""Blank input sheets for a template (`templates blank ID -o 文件.xlsx|.toml`) and reading them.

The .xlsx opens in Excel or WPS: labels in Chinese, help and an example for every field,
drop-down lists for choices and 是/否, text format for 身份证 and phone numbers (so Excel does
not turn them into 2.2E+17). Two shapes:

- record sheet (for `gen --data 文件.xlsx`): sheet 「填写」 has one field per row — 字段 | 填写内容
  | 说明 | 示例; every table field gets its own sheet, one row per table row;
- rows sheet (for `gen --rows 文件.xlsx`): the first sheet has one column per field and one row
  per document.

`read_data_xlsx` reads a record sheet back into the `{label: value}` mapping `validate_data`
takes; a rows sheet is read by `archive.docgen.rows.read_rows`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archive.docgen.manifest import TYPE_LABELS, Field, Manifest
from archive.errors import NotFound, ValidationError

RECORD_SHEET = "填写"
HELP_SHEET = "说明"
_HEAD = ("字段", "填写内容", "说明", "示例")
_MAX_ROWS = 500
_TEXT_TYPES = ("string", "text", "idcard", "list", "choice")


def _help(f: Field) -> str:
    parts = [TYPE_LABELS[f.type], "必填" if f.required else "选填"]
    if f.choices:
        parts.append("可选：" + "、".join(f.choices))
    if f.type == "date":
        parts.append("如 2026-01-01")
    if f.type == "money":
        parts.append("单位元，最多两位小数；大写自动生成")
    if f.type == "list":
        parts.append("多项用分号“；”或换行分隔")
    if f.default not in (None, ""):
        default = {True: "是", False: "否"}.get(f.default, f.default) if isinstance(
            f.default, bool) else f.default
        parts.append(f"默认：{default}")
    text = "，".join(parts)
    return f"{text}。{f.help}" if f.help else text


def with_station(manifest: Manifest, station: Mapping[str, Any]) -> Manifest:
    """The manifest with its sample's `{station.x}` placeholders filled from `station`, so a
    blank form's examples read as this station's ("奢岭街道…", not "{station.township}")."""
    from archive.docgen.engine import fill_placeholders

    return dataclasses.replace(manifest, sample=fill_placeholders(dict(manifest.sample), station))


def _example(manifest: Manifest, f: Field, value: Any = None) -> Any:
    v = manifest.sample.get(f.name) if value is None else value
    if isinstance(v, list) and v and not isinstance(v[0], dict):
        return "；".join(str(x) for x in v)
    if isinstance(v, dt.date | int | float | str):
        return v
    return ""


def _validation(ws: Any, f: Field, cells: str) -> None:
    from openpyxl.worksheet.datavalidation import DataValidation

    choices = list(f.choices) if f.type == "choice" else ["是", "否"] if f.type == "bool" else []
    if not choices:
        return
    dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True,
                        showDropDown=False, showErrorMessage=True, errorTitle="不在可选值中",
                        error="请从下拉列表中选择：" + "、".join(choices))
    ws.add_data_validation(dv)
    dv.add(cells)


def _format(cell: Any, f: Field) -> None:
    if f.type in _TEXT_TYPES:
        cell.number_format = "@"
    elif f.type == "date":
        cell.number_format = "yyyy-mm-dd"
    elif f.type == "money":
        cell.number_format = "#,##0.00"


def _table_sheet(wb: Any, manifest: Manifest, f: Field, bold: Any) -> None:
    """A table field's own sheet: one column per table column, examples from its first sample row."""
    rows = manifest.sample.get(f.name) or []
    first = rows[0] if rows and isinstance(rows[0], dict) else {}
    examples = [_example(manifest, col, first[col.name]) if first.get(col.name) not in (None, "")
                else None for col in f.columns]
    _column_sheet(wb.create_sheet(f.label[:31]), list(zip(f.columns, examples, strict=True)), bold)


def _column_sheet(ws: Any, columns: list[tuple[Field, Any]], bold: Any) -> None:
    """One column per field: bold label with help and example as a comment, validation, format."""
    from openpyxl.comments import Comment
    from openpyxl.utils import get_column_letter

    for j, (f, ex) in enumerate(columns, 1):
        head = ws.cell(row=1, column=j, value=f.label)
        head.font = bold
        head.comment = Comment(_help(f) + (f"\n示例：{ex}" if ex not in (None, "") else ""), "sgz")
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = max(12, len(f.label) * 2 + 4)
        _validation(ws, f, f"{letter}2:{letter}{_MAX_ROWS + 1}")
        for r in range(2, 12):
            _format(ws.cell(row=r, column=j), f)
    ws.freeze_panes = "A2"


def write_blank_xlsx(manifest: Manifest, path: Path, *, rows: bool = False) -> Path:
    """Write the blank sheet for `manifest` to `path` (.xlsx); `rows` for a `--rows` sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    if manifest.layout == "plaque":
        raise ValidationError("牌匾没有需要填写的字段，无需空白表")
    bold = Font(bold=True)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    scalars = [f for f in manifest.fields if f.type != "table"]
    if rows:
        ws.title = manifest.title[:31].replace("/", "、")
        _column_sheet(ws, [(f, _example(manifest, f)) for f in scalars], bold)
    else:
        ws.title = RECORD_SHEET
        for j, text in enumerate(_HEAD, 1):
            ws.cell(row=1, column=j, value=text).font = bold
        for i, f in enumerate(scalars, 2):
            ws.cell(row=i, column=1, value=f.label).font = bold if f.required else Font()
            _format(ws.cell(row=i, column=2), f)
            if f.default not in (None, "", []):
                ws.cell(row=i, column=2, value=_example(manifest, f, f.default))
            ws.cell(row=i, column=3, value=_help(f)).alignment = Alignment(wrap_text=True)
            ex = ws.cell(row=i, column=4, value=_example(manifest, f))
            _format(ex, f)
            _validation(ws, f, f"B{i}")
        for letter, width in zip("ABCD", (22, 36, 50, 30), strict=True):
            ws.column_dimensions[letter].width = width
        ws.freeze_panes = "B2"
        for f in manifest.fields:
            if f.type == "table":
                _table_sheet(wb, manifest, f, bold)
    info = wb.create_sheet(HELP_SHEET)
    info.append([f"{manifest.title}（{manifest.id}）填写说明"])
    info.append(["加粗的字段为必填；把鼠标放在表头上可看到每列的说明和示例。"
                 "站名、站长等站点信息自动从 station.toml 填入，无需填写。"])
    if rows:
        info.append(["每一行生成一份文书：sgz gen " + manifest.id + " --rows 本文件.xlsx -o 输出文件夹/"])
        skipped = [f.label for f in manifest.fields if f.type == "table"]
        if skipped:
            info.append(["表格字段（" + "、".join(skipped) + "）不能逐行填写，请用单份填写表。"])
    else:
        info.append(["填好后：sgz gen " + manifest.id + " --data 本文件.xlsx"])
    info.column_dimensions["A"].width = 100
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_blank_toml(manifest: Manifest) -> str:
    """A commented TOML skeleton: one line per field with its label, type and help."""
    import tomli_w

    lines = [f"# {manifest.title}（{manifest.id}）的数据文件。填好后：sgz gen {manifest.id} --data 本文件.toml",
             "# 站名、站长等站点信息自动从 station.toml 填入，无需填写。", ""]
    for f in manifest.fields:
        if f.type == "table":
            continue
        lines.append(f"# {f.label}：{_help(f)}")
        ex = _example(manifest, f)
        if ex not in (None, ""):
            lines.append("# 示例：" + tomli_w.dumps({f.name: ex}).strip())
        default = "" if f.default in (None, "") else f.default
        if f.type == "list":
            default = []
        lines.append(tomli_w.dumps({f.name: default}).strip())
        lines.append("")
    for f in manifest.fields:
        if f.type != "table":
            continue
        lines.append(f"# {f.label}：{_help(f)}（每行一段 [[{f.name}]]，可复制多段）")
        for c in f.columns:
            lines.append(f"#   {c.name}：{c.label}，{_help(c)}")
        lines.append(f"[[{f.name}]]")
        lines += [tomli_w.dumps({c.name: ""}).strip() for c in f.columns]
        lines.append("")
    return "\n".join(lines)


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    if isinstance(value, str):
        return value.strip()
    return value


def read_data_xlsx(path: Path) -> dict[str, Any]:
    """Read a record sheet written by `write_blank_xlsx`: {label: value, table label: rows}."""
    from openpyxl import load_workbook

    path = Path(path)
    if not path.is_file():
        raise NotFound(f"找不到数据表 {path}")
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a non-xlsx file
        raise ValidationError(f"{path} 不是有效的 .xlsx 文件（{type(exc).__name__}）") from None
    try:
        if RECORD_SHEET not in wb.sheetnames:
            raise ValidationError(f"{path} 中没有“{RECORD_SHEET}”工作表：单份数据请用 "
                                  "sgz templates blank 生成的填写表；逐行数据请用 --rows")
        data: dict[str, Any] = {}
        it = wb[RECORD_SHEET].iter_rows(values_only=True)
        next(it, None)
        for row in it:
            if not row or row[0] is None:
                continue
            value = _cell(row[1] if len(row) > 1 else None)
            if value not in (None, ""):
                data[str(row[0]).strip()] = value
        for name in wb.sheetnames:
            if name in (RECORD_SHEET, HELP_SHEET):
                continue
            rows_it = wb[name].iter_rows(values_only=True)
            header = next(rows_it, None)
            if not header:
                continue
            labels = [str(h).strip() if h is not None else "" for h in header]
            table = []
            for r in rows_it:
                rec = {k: _cell(v) for k, v in zip(labels, r, strict=False)
                       if k and v not in (None, "")}
                if rec:
                    table.append(rec)
            if table:
                data[name] = table
        return data
    finally:
        wb.close()
