"""The retention table (保管期限表): defaults per 问题 class and per document type.

DA/T 22—2015 gives the codes (Y 永久, D30, D10) but no national per-document table: each body
approves its own, so the table is data the station edits in station.toml `[retention]`. The
accounting rows are the minimums of 《会计档案管理办法》 附表1 (standards.md). Periods count
from the day after the year ends: a D10 record of 2015 expires on 2026-01-01.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from archive.catalog.numbering import RETENTIONS, parse_retention
from archive.errors import ValidationError

# Defaults per 问题 class; filing uses them too (RetentionService.default_for).
CLASS_DEFAULTS: dict[str, str] = {"XZ": "Y", "FW": "D30", "RS": "D30", "CW": "D30"}

ACCOUNTING_SOURCE = "会计档案管理办法（财政部 国家档案局令第79号）附表1"
STATION_SOURCE = "station.toml [retention.types]"


@dataclass(frozen=True)
class TypeRule:
    """One row of the per-document-type table; `code` None = not a fixed period (appraise)."""

    name: str
    code: str | None
    period: str
    source: str


def _acct(name: str, code: str | None, period: str = "") -> TypeRule:
    return TypeRule(name, code, period or RETENTIONS[code or "Y"], ACCOUNTING_SOURCE)


ACCOUNTING_TYPES: tuple[TypeRule, ...] = (
    _acct("原始凭证", "D30"), _acct("记账凭证", "D30"), _acct("总账", "D30"),
    _acct("明细账", "D30"), _acct("日记账", "D30"), _acct("其他辅助账簿", "D30"),
    _acct("固定资产卡片", None, "固定资产报废清理后保管5年"),
    _acct("月度财务会计报告", "D10"), _acct("季度财务会计报告", "D10"),
    _acct("半年度财务会计报告", "D10"), _acct("月度财务报告", "D10"),
    _acct("季度财务报告", "D10"), _acct("年度财务会计报告", "Y"), _acct("年度财务报告", "Y"),
    _acct("银行存款余额调节表", "D10"), _acct("银行对账单", "D10"), _acct("纳税申报表", "D10"),
    _acct("会计档案移交清册", "D30"), _acct("会计档案保管清册", "Y"),
    _acct("会计档案销毁清册", "Y"), _acct("会计档案鉴定意见书", "Y"),
    TypeRule("档案销毁清册", "Y", "永久", "档案法实施条例 第二十四条；销毁清册永久保存"),
    TypeRule("鉴定意见书", "Y", "永久", "档案法实施条例 第二十四条"),
)

_KEYS = {"classes", "types"}


@dataclass(frozen=True)
class Schedule:
    """The effective table: class defaults and type rules (station rows override built-ins)."""

    classes: dict[str, str] = field(default_factory=lambda: dict(CLASS_DEFAULTS))
    types: tuple[TypeRule, ...] = ACCOUNTING_TYPES

    def for_class(self, cls: str) -> str:
        return self.classes.get(cls, "D30")

    def match(self, title: str) -> TypeRule | None:
        """The type rule whose name the title contains (longest name wins), if any."""
        hits = [t for t in self.types if t.name and t.name in title]
        return max(hits, key=lambda t: len(t.name)) if hits else None

    def rows(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [
            {"kind": "class", "name": c, "code": code, "period": RETENTIONS[code],
             "source": "station.toml [retention.classes] / 默认"}
            for c, code in self.classes.items()
        ]
        out += [{"kind": "type", "name": t.name, "code": t.code, "period": t.period,
                 "source": t.source} for t in self.types]
        return out


def expires_on(year: int, code: str) -> date | None:
    """First day after the period: Jan 1 of year + 1 + N; None for 永久 (never expires)."""
    if code == "Y":
        return None
    return date(year + 1 + int(code[1:]), 1, 1)


def is_longer(new: str, old: str) -> bool:
    """True when retention `new` keeps a record longer than `old`."""
    def years(c: str) -> float:
        return float("inf") if c == "Y" else int(c[1:])
    return years(new) > years(old)


def period_label(code: str) -> str:
    """`D10` → `10年`, `Y` → `永久` (the 清册's wording)."""
    return "永久" if code == "Y" else f"{int(code[1:])}年"


def parse_schedule(raw: Mapping[str, Any], known_classes: Mapping[str, str]) -> Schedule:
    """Validate station.toml `[retention]`; every problem is reported at once, keys by name."""
    problems: list[str] = []
    for key in raw:
        if key not in _KEYS:
            problems.append(f"[retention] 中有未知的键 {key}（可用：classes、types）")
    classes = {c: code for c, code in CLASS_DEFAULTS.items() if c in known_classes}
    for c in known_classes:
        classes.setdefault(c, "D30")
    table = raw.get("classes", {})
    if not isinstance(table, Mapping):
        problems.append("[retention.classes] 必须是“类别代码 = 保管期限”的表")
        table = {}
    for c, value in table.items():
        if c not in known_classes:
            problems.append(f"[retention.classes] 中有未知的类别 {c}（站点类别：{'、'.join(known_classes)}）")
            continue
        try:
            classes[c] = parse_retention(str(value))
        except ValidationError:
            problems.append(f"[retention.classes] {c} 的保管期限“{value}”无效（可选 Y、D30、D10）")
    types = {t.name: t for t in ACCOUNTING_TYPES}
    ttable = raw.get("types", {})
    if not isinstance(ttable, Mapping):
        problems.append("[retention.types] 必须是“文件类型 = 保管期限”的表")
        ttable = {}
    for name, value in ttable.items():
        try:
            code = parse_retention(str(value))
        except ValidationError:
            problems.append(f"[retention.types] “{name}”的保管期限“{value}”无效（可选 Y、D30、D10）")
            continue
        types[str(name)] = TypeRule(str(name), code, RETENTIONS[code], STATION_SOURCE)
    if problems:
        raise ValidationError(
            f"station.toml [retention] 有 {len(problems)} 处错误：" + "；".join(problems),
            details=problems,
        )
    return Schedule(classes=classes, types=tuple(types.values()))

