"""Finding 2 (and 8's age check): money fields, generated 大写, cross-field rules, 身份证."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from archive.docgen.engine import merge_sample, render
from archive.docgen.fields import validate_data
from archive.docgen.manifest import default_templates_dir, get_manifest, parse_manifest
from archive.docgen.render import rmb_upper
from archive.docgen.rules import age_on, check_id_number, id_check_digit
from archive.errors import ValidationError
from tests.docgen_helpers import chalu, docx_text

ROOT = default_templates_dir()
TODAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize(("amount", "words"), [
    ("186500", "壹拾捌万陆仟伍佰元整"),
    ("196800.00", "壹拾玖万陆仟捌佰元整"),
    ("1000.05", "壹仟元零伍分"),
    ("100010", "壹拾万零壹拾元整"),
    ("3.5", "叁元伍角整"),  # 会计基础工作规范 第五十二条: 整 after 元 or 角, never after 分
    ("1005.50", "壹仟零伍元伍角整"),
    ("208040.60", "贰拾万捌仟零肆拾元陆角整"),
    ("0.10", "壹角整"),
    ("100000.07", "壹拾万元零柒分"),
    ("0.05", "伍分"),
    ("0", "零元整"),
])
def test_rmb_upper(amount: str, words: str) -> None:
    assert rmb_upper(Decimal(amount)) == words


def test_id_check_digit_gb11643() -> None:
    # the worked example of GB 11643—1999 附录A: 11010519491231002X
    assert id_check_digit("11010519491231002") == "X"
    assert check_id_number("11010519491231002x") == "11010519491231002X"
    with pytest.raises(ValueError, match="校验位"):
        check_id_number("110105194912310021")
    with pytest.raises(ValueError, match="出生日期"):
        check_id_number("110105194913310021")
    with pytest.raises(ValueError, match="18位"):
        check_id_number("1101051949")
    assert age_on(dt.date(2012, 12, 2), TODAY) == 13
    assert age_on(dt.date(2012, 12, 1), TODAY) == 14


def _agreement(**over: object) -> dict:
    m = get_manifest(ROOT, "service-purchase-agreement")
    data, _ = merge_sample(m, {}, chalu())
    data.update(over)
    return data


def test_agreement_prints_generated_words_and_no_typed_field() -> None:
    m = get_manifest(ROOT, "service-purchase-agreement")
    assert all("大写" not in f.label for f in m.fields)
    data = _agreement(amount="186500", payment_schedule=[
        {"stage": "第一期", "condition": "签订", "due": "3月", "ratio": "40", "amount": "74600"},
        {"stage": "第二期", "condition": "中期", "due": "9月", "ratio": "60",
         "amount": "111900.00"}])
    text = docx_text(render(m, data, chalu(), today=TODAY).data)
    assert "人民币186,500.00元（大写：壹拾捌万陆仟伍佰元整）" in text


def test_all_problems_at_once_with_rules() -> None:
    m = get_manifest(ROOT, "service-purchase-agreement")
    data = _agreement(amount="186500", period_start="2027-03-01", period_end="2026-03-01",
                      party_a_rep="")
    data["payment_schedule"] = [
        {"stage": "一", "condition": "a", "due": "b", "ratio": "40", "amount": "74600"},
        {"stage": "二", "condition": "a", "due": "b", "ratio": "30", "amount": "55950"},
        {"stage": "三", "condition": "a", "due": "b", "ratio": "30", "amount": "50000"}]
    with pytest.raises(ValidationError) as err:
        validate_data(m, data, TODAY)
    details = err.value.details
    assert len(details) == 3, details
    assert any("合计 180,550.00" in d and "186,500.00" in d for d in details)
    assert any("服务期限截止日" in d and "不能早于" in d for d in details)
    assert any("party_a_rep" in d and "缺少必填项" in d for d in details)


@pytest.mark.parametrize(("value", "msg"), [("12.345", "两位小数"), ("-1", "负数"), ("abc", "数值")])
def test_money_type_rejects(value: str, msg: str) -> None:
    m = get_manifest(ROOT, "service-purchase-agreement")
    with pytest.raises(ValidationError, match=msg):
        validate_data(m, _agreement(amount=value), TODAY)


def test_money_type_accepts_yuan_forms() -> None:
    m = get_manifest(ROOT, "service-purchase-agreement")
    data = _agreement(amount="￥196,800元")
    assert validate_data(m, data, TODAY)["amount"] == Decimal("196800.00")


def test_volunteer_under_14_refused_by_birth_date_and_id() -> None:
    m = get_manifest(ROOT, "volunteer-registration")
    data, _ = merge_sample(m, {}, chalu())
    born = "22011220130501" + "000"
    data.update(birth_date="2013-05-01", id_number=born + id_check_digit(born),
                reg_date="2026-06-01")
    with pytest.raises(ValidationError) as err:
        validate_data(m, data, TODAY)
    assert any("须年满14周岁" in d and "13 周岁" in d for d in err.value.details)
    # birth date and ID number that disagree are reported as well as a bad check digit
    data.update(birth_date="2003-11-21", id_number="220112200311210001")
    with pytest.raises(ValidationError, match="校验位"):
        validate_data(m, data, TODAY)
    good = "22011220031121000"
    data.update(id_number=good + id_check_digit(good))
    assert validate_data(m, data, TODAY)["id_number"].startswith("220112")


def test_manifest_rules_are_checked_when_loading() -> None:
    base = {"id": "t", "title": "测试", "kind": "表单", "clause": "无", "category": "FW",
            "retention": "D10", "layout": "form",
            "fields": [{"name": "a", "label": "甲", "type": "date"},
                       {"name": "n", "label": "金额", "type": "money"}]}
    with pytest.raises(ValidationError) as err:
        parse_manifest({**base, "rules": [{"kind": "order", "fields": ["a", "n"]},
                                          {"kind": "sum", "table": "x", "column": "y",
                                           "equals": "n"},
                                          {"kind": "min_age", "years": 14},
                                          {"kind": "nope"}]}, "t")
    text = str(err.value)
    assert "“n”应为本模板的date" in text and "table“x”" in text
    assert "须给出 birth 或 id_number" in text and "kind“nope”" in text
