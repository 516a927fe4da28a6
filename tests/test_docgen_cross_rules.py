"""Cross-field rules a new station's walkthrough found missing: a destruction register with one
witness or another 全宗's 档号 on it; a minor volunteer without a guardian; an
agreement for the 5th year of a 3-year cycle or payments adding up to 105 %; a rule taking
effect before it was issued. Each is refused, in Chinese, with everything else that is wrong."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from archive.docgen.engine import merge_sample, render
from archive.docgen.manifest import default_templates_dir, get_manifest
from archive.errors import ValidationError
from tests.docgen_helpers import chalu

ROOT = default_templates_dir()
TODAY = dt.date(2026, 12, 1)
ADULT_ID = "220112199003010013"  # born 1990-03-01
MINOR_ID = "220112200803010017"  # born 2008-03-01: 17 on 2026-02-26


def _problems(tid: str, **data: Any) -> list[str]:
    """What validation says about the template's sample with `data` on top ([] when fine)."""
    m = get_manifest(ROOT, tid)
    full, _ = merge_sample(m, {}, chalu())
    try:
        render(m, {**full, **data}, chalu(), today=TODAY)
    except ValidationError as exc:
        return [str(d) for d in exc.details or [str(exc)]]
    return []


def _item(ref: str, retention: str = "10年") -> dict[str, Any]:
    return {"ref": ref, "title": "办公用品领用登记表", "year": 2015,
            "retention_required": retention, "retention_actual": retention}


def test_the_samples_pass_their_own_rules() -> None:
    for tid in ("destruction-register", "volunteer-agreement", "service-purchase-agreement",
                "referral-consent", "archive-rules"):
        assert _problems(tid) == [], tid


def test_a_destruction_register_needs_two_witnesses_and_this_stations_refs() -> None:
    """(A 永久 record may be on it: appraisal destroys duplicates of permanent records, as
    `sgz disposal` does for 重复件.)"""
    problems = _problems("destruction-register", witnesses=["王五（副站长）"],  # one
                         items=[_item("Z207-WS·2015-D10-XZ-0003"),
                                _item("Z207-WS·2015-Y-XZ-0004", "永久"),
                                _item("Z001-WS-2015-D10-XZ-3"),
                                _item("Z001-WS·2015-D10-XZ-0005")])
    assert any("监销人不少于两人" in p for p in problems)
    assert not any("第 2 行" in p for p in problems)
    assert any("第 3 行" in p and "不是有效的档号" in p for p in problems)
    assert any("第 4 行" in p and "不是本站全宗（Z207）" in p for p in problems)
    assert not any("第 1 行" in p for p in problems)
    # 档号 as people type them are accepted (lower case, "-" for "·", full-width)
    assert _problems("destruction-register", items=[_item("z207-ws-2015-d10-xz-0003")]) == []


def test_a_minor_volunteer_has_a_guardian() -> None:
    problems = _problems("volunteer-agreement", is_minor=False, id_number=MINOR_ID,
                         guardian_name="", guardian_relation="")
    assert any("未满十八周岁" in p for p in problems)
    problems = _problems("volunteer-agreement", is_minor=True, id_number=MINOR_ID,
                         guardian_name="", guardian_relation="")
    assert any("须填写" in p and "监护人姓名" in p and "监护人与志愿者关系" in p
               for p in problems)
    assert _problems("volunteer-agreement", is_minor=False, id_number=ADULT_ID,
                     guardian_name="", guardian_relation="") == []


def test_a_purchase_agreement_keeps_to_its_cycle_and_pays_100_percent() -> None:
    assert any("第1至3年" in p for p in _problems("service-purchase-agreement", cycle_year=5))
    rows = [{"stage": "首期", "condition": "签订后", "due": "10日内", "ratio": "40",
             "amount": "80000"},
            {"stage": "末期", "condition": "验收后", "due": "10日内", "ratio": "65",
             "amount": "120000"}]
    problems = _problems("service-purchase-agreement", payment_schedule=rows, amount="200000")
    assert any("比例（%）" in p and "105.00" in p and "100.00" in p for p in problems)


@pytest.mark.parametrize("tid", ["archive-rules", "finance-rules", "service-charter",
                                 "work-rules"])
def test_a_rule_does_not_take_effect_before_it_is_issued(tid: str) -> None:
    problems = _problems(tid, issue_date="2026-03-01", effective_date="2026-01-01")
    assert any("施行日期" in p and "不能早于" in p for p in problems), problems
