"""Cross-field rules declared in a manifest (`[[rules]]`) and the 身份证 check (GB 11643).

Rule kinds:
- `sum`: the column `column` of table `table` adds up to field `equals` (money or decimal);
- `order`: the dates in `fields` are in order (each no earlier than the one before);
- `min_age`: the person is at least `years` old on the date field `at` (default: today),
  from the date field `birth` and/or the 身份证 field `id_number` (both are checked, and
  must agree when both are given).
Rules run only on values that passed their own field checks, so a bad date is reported once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archive.docgen.manifest import Manifest

RULE_KINDS = ("sum", "order", "min_age")
_RULE_KEYS = {"kind", "table", "column", "equals", "fields", "birth", "id_number", "at",
              "years", "message"}
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


@dataclass(frozen=True)
class Rule:
    """One declared cross-field rule (see the module docstring for the kinds)."""

    kind: str
    table: str = ""
    column: str = ""
    equals: str = ""
    fields: tuple[str, ...] = ()
    birth: str = ""
    id_number: str = ""
    at: str = ""
    years: int = 0
    message: str = ""


def id_check_digit(first17: str) -> str:
    """The GB 11643—1999 check character (ISO 7064 MOD 11-2) for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def check_id_number(text: str) -> str:
    """Validate an 18-digit 公民身份号码: format, birth date, check digit. Returns it upper-cased."""
    s = text.strip().replace(" ", "").upper()
    if not _ID_RE.match(s):
        raise ValueError("身份证号码应为18位（最后一位可为 X）")
    try:
        dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        raise ValueError("身份证号码中的出生日期无效") from None
    if id_check_digit(s[:17]) != s[17]:
        raise ValueError("身份证号码校验位不正确，请核对")
    return s


def birth_from_id(number: str) -> dt.date:
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def age_on(birth: dt.date, day: dt.date) -> int:
    """Full years of age on `day` (a person born on 29 Feb turns a year older on 1 Mar)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def parse_rules(raw: Any, fields: Mapping[str, Any], problems: list[str]) -> tuple[Rule, ...]:
    """Validate `[[rules]]` against the manifest's fields (a name → Field mapping)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("rules 必须写成 [[rules]] 数组")
        return ()
    out: list[Rule] = []
    for i, r in enumerate(raw, 1):
        where = f"第 {i} 条规则"
        if not isinstance(r, dict):
            problems.append(f"{where} 必须是表")
            continue
        for key in r:
            if key not in _RULE_KEYS:
                problems.append(f"{where} 有未知的键 {key}")
        kind = r.get("kind")
        if kind not in RULE_KINDS:
            problems.append(f"{where} 的 kind“{kind}”无效，可选：{' '.join(RULE_KINDS)}")
            continue
        rule = Rule(kind=kind, table=str(r.get("table", "")), column=str(r.get("column", "")),
                    equals=str(r.get("equals", "")),
                    fields=tuple(str(f) for f in r.get("fields", []) or []),
                    birth=str(r.get("birth", "")), id_number=str(r.get("id_number", "")),
                    at=str(r.get("at", "")), years=r.get("years", 0) if isinstance(
                        r.get("years", 0), int) else -1,
                    message=str(r.get("message", "")))

        def need(name: str, types: tuple[str, ...], what: str, rule_where: str = where) -> None:
            f = fields.get(name)
            if f is None or f.type not in types:
                problems.append(f"{rule_where} 的 {what}“{name}”应为本模板的"
                                f"{'/'.join(types)} 字段")

        if kind == "sum":
            tbl = fields.get(rule.table)
            if tbl is None or tbl.type != "table":
                problems.append(f"{where} 的 table“{rule.table}”应为本模板的表格字段")
            elif not any(c.name == rule.column and c.type in ("money", "decimal", "int")
                         for c in tbl.columns):
                problems.append(f"{where} 的 column“{rule.column}”应为该表格的数值列")
            need(rule.equals, ("money", "decimal", "int"), "equals")
        elif kind == "order":
            if len(rule.fields) < 2:
                problems.append(f"{where} 的 fields 至少要有两个日期字段")
            for name in rule.fields:
                need(name, ("date",), "fields")
        else:
            if not rule.birth and not rule.id_number:
                problems.append(f"{where} 须给出 birth 或 id_number")
            if rule.birth:
                need(rule.birth, ("date",), "birth")
            if rule.id_number:
                need(rule.id_number, ("idcard",), "id_number")
            if rule.at:
                need(rule.at, ("date",), "at")
            if rule.years <= 0:
                problems.append(f"{where} 的 years 应为正整数")
        out.append(rule)
    return tuple(out)


def _label(manifest: Manifest, name: str) -> str:
    f = manifest.field_named(name)
    return f"{f.label}（{name}）" if f else name


def _present(values: Mapping[str, Any], name: str) -> bool:
    return values.get(name) not in (None, "", [])


def check_rules(manifest: Manifest, values: Mapping[str, Any], today: dt.date) -> list[str]:
    """Problems (Chinese, one line each) with the manifest's rules; empty when all hold."""
    problems: list[str] = []
    for rule in manifest.rules:
        if rule.kind == "sum":
            rows = values.get(rule.table)
            if not isinstance(rows, list) or not rows or not _present(values, rule.equals):
                continue
            if any(rule.column not in r or r[rule.column] in (None, "") for r in rows):
                continue
            total = sum((Decimal(str(r[rule.column])) for r in rows), Decimal(0))
            want = Decimal(str(values[rule.equals]))
            if total != want:
                tbl = manifest.field_named(rule.table)
                col = next((c.label for c in tbl.columns if c.name == rule.column),
                           rule.column) if tbl else rule.column
                problems.append(rule.message or
                                f"{_label(manifest, rule.table)}：各行“{col}”合计 {total:,.2f}，"
                                f"与{_label(manifest, rule.equals)} {want:,.2f} 不符")
        elif rule.kind == "order":
            present = [n for n in rule.fields if _present(values, n)]
            for a, b in zip(present, present[1:], strict=False):
                if values[a] > values[b]:
                    problems.append(rule.message or f"{_label(manifest, b)}不能早于"
                                    f"{_label(manifest, a)}（{values[b]} 早于 {values[a]}）")
        else:
            problems += _age_problems(manifest, rule, values, today)
    return problems


def _age_problems(manifest: Manifest, rule: Rule, values: Mapping[str, Any],
                  today: dt.date) -> list[str]:
    at = values.get(rule.at) if rule.at else None
    day: dt.date = at if isinstance(at, dt.date) else today
    births: list[tuple[str, dt.date]] = []
    if rule.birth and _present(values, rule.birth):
        births.append((rule.birth, values[rule.birth]))
    if rule.id_number and _present(values, rule.id_number):
        births.append((rule.id_number, birth_from_id(values[rule.id_number])))
    out: list[str] = []
    if len(births) == 2 and births[0][1] != births[1][1]:
        out.append(f"{_label(manifest, rule.birth)}与{_label(manifest, rule.id_number)}"
                   "中的出生日期不一致")
    for name, born in births[:1]:
        age = age_on(born, day)
        if age < rule.years:
            out.append(rule.message or f"{_label(manifest, name)}：须年满{rule.years}周岁"
                       f"（至 {day.year}年{day.month}月{day.day}日 为 {max(age, 0)} 周岁）")
    return out
