"""Finding 8: blank sheets to fill in Excel/WPS, read back by `gen --data` / `--rows`."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest
from openpyxl import load_workbook

from archive.docgen.blank import (
    RECORD_SHEET,
    read_data_xlsx,
    write_blank_toml,
    write_blank_xlsx,
)
from archive.docgen.engine import load_data_file, render
from archive.docgen.fields import validate_data
from archive.docgen.manifest import default_templates_dir, get_manifest
from archive.docgen.rows import read_rows
from archive.docgen.rules import id_check_digit
from tests.docgen_helpers import chalu, docx_text

ROOT = default_templates_dir()
TODAY = dt.date(2026, 12, 1)


def _fill(ws, label: str, value: object) -> None:
    for row in ws.iter_rows(min_row=2):
        if row[0].value == label:
            row[1].value = value
            return
    raise AssertionError(label)


def test_record_sheet_round_trip(tmp_path: Path) -> None:
    m = get_manifest(ROOT, "service-purchase-agreement")
    path = write_blank_xlsx(m, tmp_path / "协议.xlsx")
    wb = load_workbook(path)
    ws = wb[RECORD_SHEET]
    labels = [c.value for c in ws["A"][1:]]
    assert labels == [f.label for f in m.fields if f.type != "table"]
    helps = {r[0].value: r[2].value for r in ws.iter_rows(min_row=2)}
    assert "可选：公开招标" in helps["采购方式"] and "大写自动生成" in helps["协议总金额（元）"]
    lists = [dv.formula1 for dv in ws.data_validations.dataValidation]
    assert any("竞争性磋商" in f for f in lists)
    examples = {r[0].value: r[3].value for r in ws.iter_rows(min_row=2)}
    assert examples["采购方式"] == "竞争性磋商"
    # fill in what a station would type in Excel
    values = {"协议编号": "永民购〔2026〕7号", "采购方式": "竞争性磋商", "服务周期起始年度": 2026,
              "本协议为服务周期第几年": 1, "服务期限起始日": dt.datetime(2026, 3, 1),
              "服务期限截止日": dt.datetime(2027, 2, 28), "协议总金额（元）": 186500,
              "甲方法定代表人（负责人）": "孙志刚", "甲方地址": "永吉县政府路1号",
              "甲方联系电话": "0432-64000000", "乙方法定代表人": "吴海燕", "乙方地址": "永吉县岔路河镇",
              "乙方联系电话": "0432-64200000", "乙方统一社会信用代码": "52220221MJ1234567X",
              "乙方开户银行": "某银行永吉支行", "乙方银行账号": "0000 1111", "签订日期": dt.datetime(2026, 2, 20),
              "签订地点": "永吉县民政局"}
    for label, value in values.items():
        if label in labels:
            _fill(ws, label, value)
    targets = wb["年度目标任务"]
    targets.append(["入户走访", "不少于300户", ""])
    pay = wb["付款安排"]
    pay.append(["第一期", "签订", "3月", 40, 74600])
    pay.append(["第二期", "验收", "12月", 60, 111900])
    wb.save(path)
    data = load_data_file(path)
    assert data["付款安排"][1]["金额（元）"] == 111900
    values_ok = validate_data(m, data, TODAY)
    assert values_ok["period_start"] == dt.date(2026, 3, 1)
    text = docx_text(render(m, data, chalu(), today=TODAY).data)
    assert "壹拾捌万陆仟伍佰元整" in text and "永民购〔2026〕7号" in text


def test_rows_sheet_round_trip(tmp_path: Path) -> None:
    m = get_manifest(ROOT, "volunteer-registration")
    path = write_blank_xlsx(m, tmp_path / "志愿者.xlsx", rows=True)
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    assert header == [f.label for f in m.fields if f.type != "table"]
    assert ws.cell(row=1, column=1).comment is not None
    id_col = header.index("身份证号码") + 1
    assert ws.cell(row=2, column=id_col).number_format == "@"
    gender = next(dv for dv in ws.data_validations.dataValidation if "男" in dv.formula1)
    assert str(gender.sqref).endswith("501")
    people = []
    for i, (name, born) in enumerate((("郑雨桐", "20010304"), ("孙悦", "19990712")), 2):
        first = "220221" + born + "00" + str(i)
        people.append({"会员编号": f"HY-00{i}", "登记日期": dt.datetime(2026, 6, 1), "姓名": name,
                       "性别": "女", "出生日期": dt.datetime(int(born[:4]), int(born[4:6]),
                                                        int(born[6:])),
                       "身份证号码": first + id_check_digit(first), "联系电话": "13900000000",
                       "现住址": "岔路河镇", "紧急联系人（姓名、关系、电话）": "郑某 父 139"})
    for p in people:
        ws.append([p.get(h) for h in header])
    wb.save(path)
    rows = read_rows(path)
    assert [r["姓名"] for r in rows] == ["郑雨桐", "孙悦"]
    for r in rows:
        v = validate_data(m, r, TODAY)
        assert v["birth_date"].year in (2001, 1999)


def test_blank_toml_parses_and_lists_fields() -> None:
    m = get_manifest(ROOT, "service-purchase-agreement")
    text = write_blank_toml(m)
    data = tomllib.loads(text)
    assert "amount" in data and "payment_schedule" in data
    assert "# 协议总金额（元）：金额（元），必填" in text


def test_plaque_has_no_blank(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="牌匾"):
        write_blank_xlsx(get_manifest(ROOT, "plaque"), tmp_path / "x.xlsx")


def test_reading_a_non_record_sheet_says_what_to_do(tmp_path: Path) -> None:
    m = get_manifest(ROOT, "volunteer-registration")
    path = write_blank_xlsx(m, tmp_path / "行.xlsx", rows=True)
    with pytest.raises(Exception, match="--rows"):
        read_data_xlsx(path)


def test_blank_forms_show_examples_in_this_stations_words(tmp_path: Path) -> None:
    """18 of the 38 blanks showed "{station.township}" and the like as examples, and a yes/no
    default as "False": `sgz templates blank` now fills them from station.toml."""
    import zipfile

    from click.testing import CliRunner

    from archive.cli.main import cli
    from archive.kernel.station import EXAMPLE_TOML

    own = EXAMPLE_TOML.replace("奢岭街道", "安口镇")
    (tmp_path / "station.toml").write_text(own, encoding="utf-8")
    found = []
    for tid in ("case-record", "destruction-register", "volunteer-agreement"):
        for suffix in ("xlsx", "toml"):
            out = tmp_path / f"{tid}.{suffix}"
            r = CliRunner().invoke(cli, ["--home", str(tmp_path), "templates", "blank", tid,
                                         "-o", str(out)])
            assert r.exit_code == 0, r.output
            text = (out.read_text("utf-8") if suffix == "toml" else "".join(
                zipfile.ZipFile(out).read(n).decode("utf-8", "replace")
                for n in zipfile.ZipFile(out).namelist() if n.endswith(".xml")))
            assert "{station." not in text and "False" not in text, (tid, suffix)
            found.append("安口镇" in text or "Z001-WS" in text)
    assert any(found)
