"""Retention table, expiry dates, due lists, holds and extensions (library API)."""

from __future__ import annotations

from datetime import date

import pytest

from archive.errors import AccessDenied, Conflict, ValidationError
from archive.retention.schedule import expires_on, is_longer, parse_schedule

CLASSES = {"XZ": "行政", "FW": "服务", "RS": "人事", "CW": "财务"}


def _file(arc, make_file, name: str, *, year: int, retention: str, cls: str = "XZ",
          title: str | None = None) -> str:
    p = make_file(name, f"{name} 内容 {year} {retention}")
    return arc.records.file([p], category=cls, year=year, retention=retention, title=title or name)[0].ref


def test_expiry_counts_from_jan_first_after_the_year() -> None:
    assert expires_on(2015, "D10") == date(2026, 1, 1)
    assert expires_on(2015, "D30") == date(2046, 1, 1)
    assert expires_on(2015, "Y") is None
    assert is_longer("D30", "D10") and is_longer("Y", "D30") and not is_longer("D10", "D10")


def test_schedule_defaults_and_accounting_table() -> None:
    s = parse_schedule({}, CLASSES)
    assert s.for_class("XZ") == "Y" and s.for_class("FW") == "D30"
    assert s.match("2020年度财务会计报告").code == "Y"
    assert s.match("2020年第三季度财务会计报告").code == "D10"
    assert s.match("2020年记账凭证（第1册）").code == "D30"
    assert s.match("固定资产卡片").code is None
    assert s.match("入户走访记录") is None


def test_schedule_station_overrides_and_unknown_keys_named() -> None:
    s = parse_schedule({"classes": {"FW": "D10"}, "types": {"年度工作总结": "永久"}}, CLASSES)
    assert s.for_class("FW") == "D10"
    assert s.match("2026年度工作总结").code == "Y"
    with pytest.raises(ValidationError) as e:
        parse_schedule({"clases": {}, "classes": {"ZZ": "Y", "FW": "D7"}, "types": {"x": "5年"}},
                       CLASSES)
    text = str(e.value)
    for needle in ("clases", "ZZ", "D7", "x"):
        assert needle in text
    assert len(e.value.details) == 4


def test_due_lists_only_expired_and_never_permanent(arc, make_file) -> None:
    old = _file(arc, make_file, "a.txt", year=2015, retention="D10")
    _file(arc, make_file, "b.txt", year=2016, retention="D10")
    _file(arc, make_file, "c.txt", year=1990, retention="Y")
    assert [d["ref"] for d in arc.retention.due(as_of=date(2025, 12, 31))] == []
    due = arc.retention.due(as_of=date(2026, 1, 1))
    assert [d["ref"] for d in due] == [old]
    assert due[0]["expired_on"] == "2026-01-01"
    assert len(arc.retention.due(as_of=date(2999, 1, 1))) == 2  # the Y record never expires
    assert all(arc.kernel.records.get(r).status == "active" for r in [old])  # listing deletes nothing


def test_due_hints_when_schedule_says_longer(arc, make_file) -> None:
    _file(arc, make_file, "r.txt", year=2010, retention="D10", cls="CW", title="2010年度财务会计报告")
    due = arc.retention.due(as_of=date(2026, 6, 1))
    assert "永久" in due[0]["hint"]


def test_hold_blocks_proposal_and_is_logged(arc, make_file) -> None:
    ref = _file(arc, make_file, "a.txt", year=2015, retention="D10")
    arc.holds.add(ref, reason="涉及未结投诉")
    assert arc.kernel.facts(arc.kernel.records.get(ref)).held
    with pytest.raises(Conflict):
        arc.holds.add(ref, reason="again")
    with pytest.raises(AccessDenied, match="冻结"):
        arc.disposal.propose([ref], as_of=date(2026, 6, 1))
    assert arc.retention.due(as_of=date(2026, 6, 1))[0]["held"] is True
    with pytest.raises(Exception, match="没有可提出销毁"):
        arc.disposal.propose(due=True, as_of=date(2026, 6, 1))
    arc.holds.remove(ref, reason="投诉已办结")
    assert not arc.kernel.facts(arc.kernel.records.get(ref)).held
    with pytest.raises(Conflict):
        arc.holds.remove(ref, reason="x")
    actions = [e.action for e in arc.kernel.audit.entries()]
    assert "hold.add" in actions and "hold.remove" in actions and "denied" in actions


def test_hold_needs_reason_and_role(arc, make_file, clock) -> None:
    from conftest import CHEAP_WF, PASS

    from archive.app import Archive

    ref = _file(arc, make_file, "a.txt", year=2015, retention="D10")
    with pytest.raises(ValidationError):
        arc.holds.add(ref, reason=" ")
    arc.users.add("wangwu", "social_worker", PASS)
    sw = Archive.unlock(arc.kernel.home.root, user="wangwu", passphrase=PASS, clock=clock,
                        kdf_work_factor=CHEAP_WF)
    with sw, pytest.raises(AccessDenied, match="冻结"):
        sw.holds.add(ref, reason="x")


def test_extend_gives_a_longer_period_and_keeps_the_ref(arc, make_file) -> None:
    ref = _file(arc, make_file, "a.txt", year=2015, retention="D10")
    res = arc.retention.extend(ref, to="D30", reason="涉及未结个案，鉴定后延长")
    assert res == {"id": ref, "ref": ref, "old": "D10", "new": "D30", "expires_on": "2046-01-01"}
    assert arc.retention.due(as_of=date(2030, 1, 1)) == []
    assert arc.kernel.records.get(ref).retention == "D10"  # 档号 never changes
    with pytest.raises(ValidationError, match="更长"):
        arc.retention.extend(ref, to="D10", reason="x")
    with pytest.raises(ValidationError):
        arc.retention.extend(ref, to="Y", reason="")
    with pytest.raises(Conflict, match="未到期"):
        arc.disposal.propose([ref], as_of=date(2030, 1, 1))
