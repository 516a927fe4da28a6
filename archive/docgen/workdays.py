"""Working days from the State Council holiday calendar (with 调休), plus station overrides.

The calendar data come from the maintained `chinese-calendar` package, which knows each year
once the 国务院办公厅 notice is out. For a year it does not know yet, a station can declare the
year in station.toml:

    [calendar.2027]
    holidays = ["2027-01-01", "2027-02-05", ...]     # 法定节假日（含调休放假的工作日）
    workdays = ["2027-02-20"]                          # 调休上班的周六、周日

Without either, a date in an unknown year is an error naming the year, never a silent guess.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.errors import ValidationError


@dataclass(frozen=True)
class YearOverride:
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()


@dataclass
class WorkCalendar:
    """Is a day a working day; which calendar years (and sources) were consulted."""

    overrides: dict[int, YearOverride] = field(default_factory=dict)
    used: dict[int, str] = field(default_factory=dict)

    def library_years(self) -> range:
        import chinese_calendar

        years = [d.year for d in chinese_calendar.holidays]
        return range(min(years), max(years) + 1)

    def is_workday(self, day: dt.date) -> bool:
        ov = self.overrides.get(day.year)
        if ov is not None:
            self.used[day.year] = "station.toml"
            if day in ov.workdays:
                return True
            if day in ov.holidays:
                return False
            return day.weekday() < 5
        if day.year not in self.library_years():
            raise ValidationError(
                f"节假日数据不含 {day.year} 年：请升级 chinese-calendar，或在 station.toml 中写 "
                f"[calendar.{day.year}] 的 holidays 与 workdays（按国务院办公厅通知）")
        import chinese_calendar

        self.used.setdefault(day.year, "chinese-calendar")
        return bool(chinese_calendar.is_workday(day))

    def add_workdays(self, start: dt.date, n: int) -> dt.date:
        """The date `n` working days after `start` (holidays and 调休 weekends respected)."""
        day, left = start, int(n)
        if left < 0:
            raise ValidationError("工作日天数不能为负数")
        while left > 0:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return day

    def note(self) -> str:
        """Which calendar data the deadlines on the form were computed with (Chinese)."""
        if not self.used:
            return ""
        parts = []
        for year in sorted(self.used):
            src = self.used[year]
            parts.append(f"{year}年（{'本站 station.toml 设定' if src == 'station.toml' else '国务院办公厅节假日安排'}）")
        return "期限按工作日计算，已扣除法定节假日并计入调休上班日，依据：" + "、".join(parts)


def _dates(raw: Any, where: str, problems: list[str]) -> frozenset[dt.date]:
    out: set[dt.date] = set()
    if not isinstance(raw, list):
        problems.append(f"{where} 应为日期列表")
        return frozenset()
    for item in raw:
        if isinstance(item, dt.date):
            out.add(item)
            continue
        try:
            out.add(dt.date.fromisoformat(str(item)))
        except ValueError:
            problems.append(f"{where} 中的“{item}”不是日期（应如 2027-01-01）")
    return frozenset(out)


def parse_overrides(section: Mapping[str, Any] | None) -> dict[int, YearOverride]:
    """Validate station.toml `[calendar]`: one sub-table per year with holidays/workdays."""
    if not section:
        return {}
    problems: list[str] = []
    out: dict[int, YearOverride] = {}
    for key, value in section.items():
        if not str(key).isdigit() or len(str(key)) != 4 or not isinstance(value, Mapping):
            problems.append(f"[calendar.{key}] 应为年份，如 [calendar.2027]")
            continue
        year = int(key)
        for k in value:
            if k not in ("holidays", "workdays"):
                problems.append(f"[calendar.{key}] 有未知的键 {k}")
        hol = _dates(value.get("holidays", []), f"[calendar.{key}] holidays", problems)
        work = _dates(value.get("workdays", []), f"[calendar.{key}] workdays", problems)
        if any(d.year != year for d in hol | work):
            problems.append(f"[calendar.{key}] 中有不属于 {year} 年的日期")
        if hol & work:
            problems.append(f"[calendar.{key}] 有日期同时列为节假日和上班日")
        out[year] = YearOverride(hol, work)
    if problems:
        raise ValidationError("station.toml 的节假日设定有误：\n  - " + "\n  - ".join(problems),
                              details=problems)
    return out


def calendar_from_station(path: Path | None) -> WorkCalendar:
    """A calendar with the overrides of `path` (station.toml), or the library data alone."""
    if path is None or not Path(path).is_file():
        return WorkCalendar()
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return WorkCalendar(parse_overrides(data.get("calendar")))
