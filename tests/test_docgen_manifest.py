"""Manifest loading/validation and input validation (all problems at once, in Chinese)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from archive.docgen.fields import parse_assignments, validate_data
from archive.docgen.manifest import (
    default_templates_dir,
    get_manifest,
    load_manifest,
    parse_manifest,
    template_folders,
)
from archive.errors import NotFound, ValidationError

BASE = {"id": "demo", "title": "示例", "kind": "制度", "clause": "指引 四", "category": "XZ",
        "retention": "Y", "layout": "gbt9704"}


def manifest(**extra: object):
    return parse_manifest({**BASE, **extra}, "demo/manifest.toml")


def test_every_shipped_manifest_is_valid() -> None:
    folders = template_folders(default_templates_dir())
    assert {"confidentiality-rules", "archive-catalogue", "plaque"} <= {f.name for f in folders}
    for folder in folders:
        m = load_manifest(folder)
        assert m.id == folder.name


def test_unknown_keys_are_named() -> None:
    with pytest.raises(ValidationError) as ei:
        manifest(colour="red", fields=[{"name": "a", "label": "甲", "type": "string",
                                        "requird": True}])
    text = str(ei.value)
    assert "colour" in text and "requird" in text
    assert len(ei.value.details) == 2


def test_bad_enumerations_are_all_reported() -> None:
    with pytest.raises(ValidationError) as ei:
        parse_manifest({**BASE, "kind": "通知", "category": "ZZ", "retention": "D5",
                        "layout": "poster"}, "x")
    msg = str(ei.value)
    for word in ("kind", "category", "retention", "layout"):
        assert word in msg
    assert len(ei.value.details) == 4


def test_field_definition_errors() -> None:
    with pytest.raises(ValidationError) as ei:
        manifest(fields=[
            {"name": "BadName", "label": "甲"},
            {"name": "kind_of", "label": "乙", "type": "choice"},
            {"name": "station", "label": "丙"},
            {"name": "d", "label": "丁", "type": "date", "default": "not a date"},
            {"name": "t", "label": "戊", "type": "table"},
        ], sample={"nope": 1})
    details = ei.value.details
    assert len(details) == 6, details


def test_get_manifest_not_found_lists_known() -> None:
    with pytest.raises(NotFound) as ei:
        get_manifest(default_templates_dir(), "no-such-template")
    assert "confidentiality-rules" in str(ei.value)
    with pytest.raises(NotFound):
        get_manifest(default_templates_dir(), "../etc")


FIELDS = [
    {"name": "who", "label": "姓名", "type": "string", "required": True},
    {"name": "when", "label": "日期", "type": "date", "required": True},
    {"name": "n", "label": "人数", "type": "int"},
    {"name": "amount", "label": "金额", "type": "decimal"},
    {"name": "ok", "label": "是否同意", "type": "bool"},
    {"name": "sex", "label": "性别", "type": "choice", "choices": ["男", "女"]},
    {"name": "tags", "label": "事项", "type": "list"},
    {"name": "rows", "label": "明细", "type": "table",
     "columns": [{"name": "hours", "label": "服务时数", "type": "decimal", "required": True}]},
    {"name": "memo", "label": "备注", "type": "text", "default": "无"},
]


def test_all_input_problems_reported_at_once_with_labels() -> None:
    m = manifest(fields=FIELDS)
    with pytest.raises(ValidationError) as ei:
        validate_data(m, {"when": "2026-02-30", "n": "三", "amount": "abc", "ok": "也许",
                          "sex": "未知", "rows": [{"hours": "x"}], "typo": 1})
    msg = str(ei.value)
    assert "姓名（who）：缺少必填项" in msg
    assert "日期（when）：不是有效日期" in msg
    assert "人数（n）：不是整数" in msg
    assert "金额（amount）：不是有效数值" in msg
    assert "不在可选值中" in msg
    assert "第 1 行" in msg and "服务时数" in msg
    assert "“typo”：不是本模板的字段" in msg
    assert len(ei.value.details) == 8


def test_values_are_coerced_to_types() -> None:
    m = manifest(fields=FIELDS)
    v = validate_data(m, {"姓名": "王五", "when": "2026年1月5日", "n": "12", "amount": "1,234.5",
                          "ok": "是", "sex": "女", "tags": "甲；乙;丙", "rows": [{"服务时数": 3}]})
    assert v["who"] == "王五" and v["when"] == dt.date(2026, 1, 5) and v["n"] == 12
    assert v["amount"] == Decimal("1234.5") and v["ok"] is True and v["sex"] == "女"
    assert v["tags"] == ["甲", "乙", "丙"] and v["rows"] == [{"hours": Decimal("3")}]
    assert v["memo"] == "无"


def test_optional_blank_values_render_as_nothing() -> None:
    v = validate_data(manifest(fields=FIELDS), {"who": "甲", "when": dt.date(2026, 1, 1)})
    assert v["n"] is None and v["tags"] == [] and v["rows"] == []


def test_parse_assignments() -> None:
    assert parse_assignments(["a=1", "姓名=王 五=x"]) == {"a": "1", "姓名": "王 五=x"}
    with pytest.raises(ValidationError):
        parse_assignments(["novalue"])


def test_manifest_id_must_match_folder(tmp_path: Path) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "manifest.toml").write_text(
        "\n".join(f'{k} = "{v}"' for k, v in BASE.items()), encoding="utf-8")
    with pytest.raises(ValidationError, match="不一致"):
        load_manifest(folder)
