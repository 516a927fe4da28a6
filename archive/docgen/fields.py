"""Coerce and validate template input against a manifest; every problem is reported at once."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from archive.clock import StationClock
from archive.docgen.manifest import Field, Manifest
from archive.errors import ValidationError

MISSING = "缺少必填项"
_TRUE = {"是", "true", "yes", "y", "1", "对", "有", "√"}
_FALSE = {"否", "false", "no", "n", "0", "无", "×"}
_DATE_RES = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_LIST_SPLIT = re.compile(r"[\n；;]")


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        s = value.strip()
        for rx in _DATE_RES:
            m = rx.match(s)
            if m:
                try:
                    return dt.date(int(m[1]), int(m[2]), int(m[3]))
                except ValueError:
                    break
    raise ValueError("不是有效日期（应如 2026-01-01 或 2026年1月1日）")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("不是有效数值")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            d = Decimal(value.strip().replace(",", "").replace("，", ""))
        except InvalidOperation:
            raise ValueError("不是有效数值") from None
        if d.is_finite():
            return d
    raise ValueError("不是有效数值")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("不是整数")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value.strip())
    raise ValueError("不是整数")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        s = value.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    raise ValueError("应为“是”或“否”")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip("\r\n").replace("\r\n", "\n")
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise ValueError("应为文本")


def _money(value: Any) -> Decimal:
    """Yuan with at most two decimals (分), not negative; returned quantized to 0.01."""
    text = value.strip().removeprefix("¥").removeprefix("￥").removesuffix("元") \
        if isinstance(value, str) else value
    d = _decimal(text)
    if d < 0:
        raise ValueError("金额不能为负数")
    if d != d.quantize(Decimal("0.01")):
        raise ValueError("金额最多保留两位小数（到分）")
    if d >= Decimal("1e12"):
        raise ValueError("金额过大")
    return d.quantize(Decimal("0.01"))


def coerce_value(fld: Field, value: Any) -> Any:
    """Convert one non-blank value to the field's Python type; ValueError says why not."""
    t = fld.type
    if t in ("string", "text"):
        return _text(value)
    if t == "money":
        return _money(value)
    if t == "idcard":
        from archive.docgen.rules import check_id_number

        return check_id_number(_text(value))
    if t == "int":
        return _int(value)
    if t == "decimal":
        return _decimal(value)
    if t == "date":
        return _date(value)
    if t == "bool":
        return _bool(value)
    if t == "choice":
        s = _text(value).strip()
        if s not in fld.choices:
            raise ValueError(f"“{s}”不在可选值中（可选：{'、'.join(fld.choices)}）")
        return s
    if t == "list":
        if isinstance(value, str):
            return [p.strip() for p in _LIST_SPLIT.split(value) if p.strip()]
        if isinstance(value, list | tuple):
            return [_text(v) for v in value]
        raise ValueError("应为列表")
    if t == "table":
        if not isinstance(value, list | tuple) or not all(isinstance(r, Mapping) for r in value):
            raise ValueError("应为表格（每行一组“列名 = 值”，须在数据文件中提供）")
        rows, problems = [], []
        for i, row in enumerate(value, 1):
            out, row_problems = _coerce_mapping(fld.columns, row)
            problems += [f"第 {i} 行{p}" for p in row_problems]
            rows.append(out)
        if problems:
            raise ValueError("；".join(problems))
        return rows
    raise ValueError(f"未知类型 {t}")


def _empty(fld: Field) -> Any:
    """The value of an optional field left blank: renders as nothing."""
    return [] if fld.type in ("list", "table") else ("" if fld.type in ("string", "text") else None)


def _coerce_mapping(fields: tuple[Field, ...], data: Mapping[str, Any]) -> tuple[dict, list[str]]:
    by_key: dict[str, Field] = {}
    for f in fields:
        by_key[f.name] = f
        by_key.setdefault(f.label, f)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, raw in data.items():
        found = by_key.get(str(key).strip())
        if found is None:
            problems.append(f"“{key}”：不是本模板的字段")
            continue
        values[found.name] = raw
    out: dict[str, Any] = {}
    for f in fields:
        raw = values.get(f.name)
        if _is_blank(raw):
            raw = f.default
        if _is_blank(raw):
            if f.required:
                problems.append(f"{f.label}（{f.name}）：{MISSING}")
            out[f.name] = _empty(f)
            continue
        try:
            out[f.name] = coerce_value(f, raw)
        except ValueError as exc:
            problems.append(f"{f.label}（{f.name}）：{exc}")
    return out, problems


def validate_data(manifest: Manifest, data: Mapping[str, Any],
                  today: dt.date | None = None, *, fonds: str = "") -> dict[str, Any]:
    """Return typed values for every field, or raise ValidationError listing all problems.

    Keys may be the field name or its Chinese label (handy for CSV headers). The manifest's
    cross-field rules (`[[rules]]`) run on the fields that coerced cleanly, and their
    problems are listed together with the per-field ones.
    """
    from archive.docgen.rules import check_rules

    out, problems = _coerce_mapping(manifest.fields, data)
    problems += check_rules(manifest, out, today or StationClock().today(),  # station date
                            fonds=fonds)
    if problems:
        raise ValidationError(
            f"“{manifest.title}”的输入有 {len(problems)} 处错误：\n  - " + "\n  - ".join(problems),
            details=problems,
        )
    return out


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """Parse `--set 字段=值` pairs (field name or Chinese label on the left)."""
    out: dict[str, str] = {}
    bad = [p for p in pairs if "=" not in p]
    if bad:
        raise ValidationError("--set 应写成 字段=值：" + "、".join(bad), details=bad)
    for p in pairs:
        key, _, value = p.partition("=")
        out[key.strip()] = value
    return out
