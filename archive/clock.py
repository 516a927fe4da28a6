"""Station time: the one place that knows the station's time zone.

China has one time zone (UTC+8) and no daylight saving. The library stores instants in UTC
(ISO 8601 with a trailing Z) and shows them to people in station time. Time is passed in as a
`Clock` (a callable returning an aware datetime) so tests can fix it; nothing here reads the
clock at import time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

from archive.errors import ValidationError

STATION_TZ = timezone(timedelta(hours=8), "北京时间")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """An instant as stored: UTC, seconds, trailing Z."""
    return _aware(dt).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def station_date(dt: datetime) -> date:
    """The calendar day at the station for an instant."""
    return _aware(dt).astimezone(STATION_TZ).date()


def parse_iso(text: str) -> datetime:
    """A stored instant (…Z) back to an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def station_text(value: str | datetime | None, *, seconds: bool = False) -> str:
    """An instant (stored ISO text or datetime) as people read it: station time, no zone noise."""
    if value is None or value == "":
        return ""
    dt = parse_iso(value) if isinstance(value, str) else value
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return _aware(dt).astimezone(STATION_TZ).strftime(fmt)


def parse_station_time(text: str) -> datetime:
    """2026-11-01, 2026/11/1, 20261101 or 2026-11-01T08:00 (station time) → UTC instant."""
    t = text.strip()
    m = re.fullmatch(r"(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})(?:[T ](\d{1,2}):(\d{2}))?", t)
    if not m:
        raise ValidationError(f"时间“{text}”无法识别，请写成 2026-11-01 或 2026-11-01T08:00",
                              found=text)
    try:
        local = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4] or 0), int(m[5] or 0),
                         tzinfo=STATION_TZ)
    except ValueError:
        raise ValidationError(f"时间“{text}”不存在", found=text) from None
    return local.astimezone(UTC)


def parse_date(text: str) -> str:
    """Accept 2026-05-06, 2026/5/6, 20260506 or 2026年5月6日; return 8 digits (DA/T 22)."""
    t = text.strip()
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", t) or re.fullmatch(
        r"(\d{4})(\d{2})(\d{2})", t
    )
    if not m:
        raise ValidationError(f"日期“{text}”无法识别，请写成 2026-05-06 或 20260506", found=text)
    try:
        d = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise ValidationError(f"日期“{text}”不存在", found=text) from None
    return d.strftime("%Y%m%d")


def parse_day(text: str | date) -> date:
    """A calendar day from any form `parse_date` accepts."""
    if isinstance(text, date):
        return text
    d8 = parse_date(text)
    return date(int(d8[:4]), int(d8[4:6]), int(d8[6:]))


class StationClock:
    """The kernel's clock: `now()` (aware UTC), `today()` (station date), `iso()` (stored form)."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock

    def __call__(self) -> datetime:
        return self.now()

    def now(self) -> datetime:
        return _aware(self._clock())

    def today(self) -> date:
        return station_date(self.now())

    def iso(self) -> str:
        return iso(self.now())
