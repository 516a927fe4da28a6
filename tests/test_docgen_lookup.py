"""Finding 7 (names), 9 (Chinese period names) and 4 (filing metadata from gen)."""

from __future__ import annotations

import datetime as dt

import pytest

from archive.docgen.engine import merge_sample, render
from archive.docgen.filing_meta import filing_metadata
from archive.docgen.lookup import default_output_name, find_template, period_name
from archive.docgen.manifest import default_templates_dir, get_manifest, list_manifests
from archive.errors import NotFound, ValidationError
from archive.retention.schedule import Schedule, parse_schedule
from tests.docgen_helpers import chalu, docx_text

ROOT = default_templates_dir()
TODAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize(("name", "wanted"), [
    ("confidentiality-rules", "confidentiality-rules"),
    ("社工站保密管理制度", "confidentiality-rules"),
    ("保密管理制度", "confidentiality-rules"),
    ("保密制度", "confidentiality-rules"),
    ("《 社工站档案管理制度 》", "archive-rules"),
    ("投诉登记表", "complaint-register"),
    ("意见/投诉登记表", "complaint-register"),
    ("Plaque", "plaque"),
    ("志愿者登记表", "volunteer-registration"),
])
def test_find_by_id_title_alias(name: str, wanted: str) -> None:
    assert find_template(ROOT, name).id == wanted


def test_every_title_finds_its_template() -> None:
    for m in list_manifests(ROOT):
        assert find_template(ROOT, m.title).id == m.id


def test_unknown_name_suggests_in_chinese() -> None:
    with pytest.raises(NotFound) as err:
        find_template(ROOT, "保密管里制度")
    text = str(err.value)
    assert "没有名为“保密管里制度”的模板" in text and "社工站保密管理制度（confidentiality-rules）" in text
    with pytest.raises(NotFound) as err:
        find_template(ROOT, "制度")        # many match: no guess, a list
    assert "是否要找" in str(err.value)


def test_default_output_name_is_chinese_title() -> None:
    m = get_manifest(ROOT, "staff-code")
    assert default_output_name(m, TODAY) == "社工站社工守则-20261201.docx"
    m = get_manifest(ROOT, "complaint-register")
    assert default_output_name(m, TODAY, suffix=".pdf") == "意见_投诉登记表-20261201.pdf"


def test_period_names_chinese() -> None:
    assert [period_name(c) for c in ("Y", "D30", "d10", "10年")] == \
        ["永久", "定期30年", "定期10年", "10年"]
    m = get_manifest(ROOT, "destruction-register")
    data, _ = merge_sample(m, {}, chalu())
    data["items"] = [{**data["items"][0], "retention_required": "D10",
                      "retention_actual": "D30"}]
    text = docx_text(render(m, data, chalu(), today=TODAY).data)
    assert "定期10年" in text and "定期30年" in text and "D10" not in text.replace(
        data["items"][0]["ref"], "")


def test_filing_metadata_home_visit() -> None:
    m = get_manifest(ROOT, "home-visit-record")
    data, _ = merge_sample(m, {}, chalu())
    data.update(household_id="HH-0042", visit_date="2026-11-20")
    res = render(m, data, chalu(), today=TODAY)
    meta = filing_metadata(m, res.values, Schedule(), today=TODAY, sample_used=res.sample_used)
    # the template's own period (永久: "所有的服务记录应长期存档", and the station's 档案管理制度
    # lists 入户走访记录 as 永久), not the 服务 class default of 30 years
    assert (meta.category, meta.retention, meta.date, meta.household) == \
        ("FW", "Y", "2026-11-20", "HH-0042")
    assert "模板" in meta.retention_source
    assert meta.as_kwargs()["household"] == "HH-0042"
    classes = {"XZ": "行政", "FW": "服务", "RS": "人事", "CW": "财务"}
    # a class default does not override a template's own period …
    sched = parse_schedule({"classes": {"FW": "D10"}}, classes)
    assert filing_metadata(m, res.values, sched, today=TODAY).retention == "Y"
    # … a row of the station's table for this document type does
    sched = parse_schedule({"types": {"入户走访记录": "D30"}}, classes)
    assert filing_metadata(m, res.values, sched, today=TODAY).retention == "D30"


def test_filing_refuses_sample_and_uses_type_rows() -> None:
    m = get_manifest(ROOT, "destruction-register")
    res = render(m, {}, chalu(), today=TODAY, sample=True)
    with pytest.raises(ValidationError, match="样例"):
        filing_metadata(m, res.values, Schedule(), today=TODAY, sample_used=res.sample_used)
    meta = filing_metadata(m, res.values, Schedule(), today=TODAY)
    assert meta.retention == "Y" and "档案销毁清册" in meta.retention_source
