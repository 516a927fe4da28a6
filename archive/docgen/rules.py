"""Cross-field rules declared in a manifest (`[[rules]]`) and the 身份证 check (GB 11643).

Rule kinds:
- `sum`: the column `column` of table `table` adds up to field `equals` (money or decimal);
- `order`: the dates in `fields` are in order (each no earlier than the one before);
- `min_age`: the person is at least `years` old on the date field `at` (default: today),
  from the date field `birth` and/or the 身份证 field `id_number` (both are checked, and
  must agree when both are given); with `unless` (a yes/no field), only when that is no;
- `sum` with `equals_value` instead of `equals`: the column adds up to that number (the
  payment ratios of an agreement to 100);
- `required_if`: the `fields` must be filled when the yes/no field `when` is yes (a minor's
  guardian);
- `range`: the number `fields` lie within `min` … `max`;
- `min_count`: the list or table `fields` has at least `count` entries when filled (two
  witnesses to a destruction);
- `archival_ref`: the `column` of `table` (or the `fields`) holds 档号 of this station's
  全宗 (DA/T 22 form, as `sgz` accepts them).
Rules run only on values that passed their own field checks, so a bad date is reported once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archive.docgen.manifest import Manifest

RULE_KINDS = ("sum", "order", "min_age", "required_if", "range", "min_count", "archival_ref")
_RULE_KEYS = {"kind", "table", "column", "equals", "equals_value", "fields", "birth",
              "id_number", "at", "years", "message", "unless", "when", "min", "max", "count"}
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
    equals_value: Decimal | None = None
    unless: str = ""
    when: str = ""
    low: Decimal | None = None
    high: Decimal | None = None
    count: int = 0


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
                    message=str(r.get("message", "")),
                    equals_value=_number(r.get("equals_value")), unless=str(r.get("unless", "")),
                    when=str(r.get("when", "")), low=_number(r.get("min")),
                    high=_number(r.get("max")),
                    count=r.get("count", 0) if isinstance(r.get("count", 0), int) else -1)

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
            if rule.equals_value is None:
                need(rule.equals, ("money", "decimal", "int"), "equals")
        elif kind == "required_if":
            need(rule.when, ("bool",), "when")
            if not rule.fields:
                problems.append(f"{where} 的 fields 不能为空")
            for name in rule.fields:
                if name not in fields:
                    problems.append(f"{where} 的 fields 中“{name}”不是本模板的字段")
        elif kind == "range":
            if rule.low is None and rule.high is None:
                problems.append(f"{where} 须给出 min 或 max")
            for name in rule.fields:
                need(name, ("int", "decimal", "money"), "fields")
        elif kind == "min_count":
            if rule.count <= 0:
                problems.append(f"{where} 的 count 应为正整数")
            for name in rule.fields:
                need(name, ("list", "table"), "fields")
        elif kind == "archival_ref":
            if rule.table:
                tbl = fields.get(rule.table)
                if tbl is None or tbl.type != "table" or not any(
                        c.name == rule.column for c in tbl.columns):
                    problems.append(f"{where} 的 table/column 应为本模板的表格及其一列")
            elif not rule.fields:
                problems.append(f"{where} 须给出 table 和 column，或 fields")
            for name in rule.fields:
                need(name, ("string",), "fields")
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
            if rule.unless:
                need(rule.unless, ("bool",), "unless")
            if rule.years <= 0:
                problems.append(f"{where} 的 years 应为正整数")
        out.append(rule)
    return tuple(out)


def _number(value: Any) -> Decimal | None:
    """A rule's numeric setting; None when absent or not a number (then reported as missing)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _label(manifest: Manifest, name: str) -> str:
    f = manifest.field_named(name)
    return f"{f.label}（{name}）" if f else name


def _present(values: Mapping[str, Any], name: str) -> bool:
    return values.get(name) not in (None, "", [])


def _column_label(manifest: Manifest, table: str, column: str) -> str:
    tbl = manifest.field_named(table)
    return next((c.label for c in tbl.columns if c.name == column), column) if tbl else column


def _cells(manifest: Manifest, rule: Rule, values: Mapping[str, Any]
           ) -> list[tuple[str, str]]:
    """(where, text) of every value a column rule looks at: the table column, row by row,
    or the named fields."""
    if rule.table:
        rows = values.get(rule.table)
        col = _column_label(manifest, rule.table, rule.column)
        return [(f"{_label(manifest, rule.table)}第 {i} 行“{col}”", str(r.get(rule.column) or ""))
                for i, r in enumerate(rows if isinstance(rows, list) else [], 1)
                if isinstance(r, Mapping) and r.get(rule.column) not in (None, "")]
    return [(_label(manifest, n), str(values[n])) for n in rule.fields if _present(values, n)]


def check_rules(manifest: Manifest, values: Mapping[str, Any], today: dt.date, *,
                fonds: str = "") -> list[str]:
    """Problems (Chinese, one line each) with the manifest's rules; empty when all hold.
    `fonds`: the station's 全宗号, which `archival_ref` rules hold 档号 to."""
    problems: list[str] = []
    for rule in manifest.rules:
        if rule.kind == "sum":
            rows = values.get(rule.table)
            if not isinstance(rows, list) or not rows or (
                    rule.equals_value is None and not _present(values, rule.equals)):
                continue
            if any(rule.column not in r or r[rule.column] in (None, "") for r in rows):
                continue
            total = sum((Decimal(str(r[rule.column])) for r in rows), Decimal(0))
            want = (rule.equals_value if rule.equals_value is not None
                    else Decimal(str(values[rule.equals])))
            if total != want:
                col = _column_label(manifest, rule.table, rule.column)
                against = (f"应为 {want:,.2f}" if rule.equals_value is not None
                           else f"与{_label(manifest, rule.equals)} {want:,.2f} 不符")
                problems.append(rule.message or
                                f"{_label(manifest, rule.table)}：各行“{col}”合计 {total:,.2f}，"
                                + against)
        elif rule.kind == "required_if":
            if values.get(rule.when) is True:
                missing = [n for n in rule.fields if not _present(values, n)]
                if missing:
                    problems.append(rule.message or f"{_label(manifest, rule.when)}为“是”时，"
                                    f"须填写{'、'.join(_label(manifest, n) for n in missing)}")
        elif rule.kind == "range":
            for name in rule.fields:
                if not _present(values, name):
                    continue
                v = Decimal(str(values[name]))
                if (rule.low is not None and v < rule.low) or (
                        rule.high is not None and v > rule.high):
                    span = f"{rule.low if rule.low is not None else ''}–" \
                           f"{rule.high if rule.high is not None else ''}"
                    problems.append(rule.message or f"{_label(manifest, name)}应在 {span} 之间"
                                    f"（现为 {values[name]}）")
        elif rule.kind == "min_count":
            for name in rule.fields:
                entries = values.get(name)
                n = len(entries) if isinstance(entries, list) else 0
                if 0 < n < rule.count:
                    problems.append(rule.message or f"{_label(manifest, name)}至少须有 "
                                    f"{rule.count} 项（现有 {n} 项）")
        elif rule.kind == "archival_ref":
            problems += _ref_problems(manifest, rule, values, fonds)
        elif rule.kind == "order":
            present = [n for n in rule.fields if _present(values, n)]
            for a, b in zip(present, present[1:], strict=False):
                if values[a] > values[b]:
                    problems.append(rule.message or f"{_label(manifest, b)}不能早于"
                                    f"{_label(manifest, a)}（{values[b]} 早于 {values[a]}）")
        elif rule.unless and values.get(rule.unless) is True:
            continue
        else:
            problems += _age_problems(manifest, rule, values, today)
    return problems


def _ref_problems(manifest: Manifest, rule: Rule, values: Mapping[str, Any],
                  fonds: str) -> list[str]:
    from archive.catalog.numbering import ArchivalRef
    from archive.errors import ValidationError

    out = []
    for where, text in _cells(manifest, rule, values):
        try:
            ref = ArchivalRef.parse(text)
        except ValidationError:
            out.append(f"{where}“{text}”不是有效的档号（应形如 Z001-WS·2026-D30-FW-0007）")
            continue
        if fonds and ref.fonds != fonds:
            out.append(f"{where}“{text}”不是本站全宗（{fonds}）的档号")
    return out


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
