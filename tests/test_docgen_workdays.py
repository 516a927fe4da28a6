"""Finding 3: deadlines count working days on the holiday calendar, with 调休 and overrides."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from archive.docgen.engine import merge_sample, render
from archive.docgen.manifest import default_templates_dir, get_manifest
from archive.docgen.render import add_workdays
from archive.docgen.workdays import WorkCalendar, calendar_from_station, parse_overrides
from archive.errors import ValidationError
from tests.docgen_helpers import STATION_TOML, chalu, docx_text

D = dt.date


def test_national_day_2026() -> None:
    # 2026: 10月1日—7日 放假，9月20日(日)、10月10日(六) 上班
    assert add_workdays(D(2026, 9, 30), 3) == D(2026, 10, 10)
    assert add_workdays(D(2026, 9, 30), 1) == D(2026, 10, 8)
    cal = WorkCalendar()
    assert cal.is_workday(D(2026, 9, 20)) and not cal.is_workday(D(2026, 10, 5))
    assert "2026年" in cal.note()
    # an ordinary week still skips the weekend
    assert add_workdays("2026-11-27", 1) == D(2026, 11, 30)


def test_unknown_year_needs_station_data() -> None:
    with pytest.raises(ValidationError, match=r"2030.*calendar\.2030"):
        add_workdays(D(2030, 12, 30), 3)


def test_station_override_for_unknown_year(tmp_path: Path) -> None:
    cal = calendar_from_station(STATION_TOML)
    # [calendar.2027] holidays = ["2027-01-01"]: Friday 1 January is off
    assert cal.add_workdays(D(2026, 12, 31), 1) == D(2027, 1, 4)
    assert "本站 station.toml 设定" in cal.note()
    with pytest.raises(ValidationError) as err:
        parse_overrides({"2027": {"holidays": ["2027-13-01", "2028-01-01"],
                                  "workdays": ["2027-01-02"], "extra": 1}, "x": {}})
    text = str(err.value)
    assert "2027-13-01" in text and "不属于 2027 年" in text and "extra" in text
    assert "[calendar.x]" in text
    assert calendar_from_station(tmp_path / "none.toml").overrides == {}


def test_complaint_form_deadline_and_calendar_note() -> None:
    m = get_manifest(ROOT := default_templates_dir(), "complaint-register")
    data, _ = merge_sample(m, {}, chalu())
    item = dict(data["items"][0])
    item.update(received_date="2026-09-30", reply_date="")
    data.update(year=2026, items=[item])
    res = render(m, data, chalu(), today=D(2026, 9, 30))
    text = docx_text(res.data)
    assert "10月10日" in text and "10月5日" not in text
    assert "2026年（国务院办公厅节假日安排）" in text
    assert res.calendar_note and ROOT
