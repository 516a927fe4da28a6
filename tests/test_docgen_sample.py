"""Finding 1: `--sample` fills only what the caller left out, never another township's data,
and a document with any sample value carries the 样例 mark and says so."""

from __future__ import annotations

import datetime as dt

import pytest

from archive.docgen.engine import merge_sample, render, sample_station_vars
from archive.docgen.manifest import default_templates_dir, get_manifest, list_manifests
from archive.docgen.mark import SAMPLE_TEXT, add_sample_mark, has_sample_mark
from tests.docgen_helpers import FOREIGN, chalu, docx_text

TODAY = dt.date(2026, 12, 1)
ROOT = default_templates_dir()


@pytest.mark.parametrize("manifest", list_manifests(ROOT), ids=lambda m: m.id)
def test_every_template_with_a_real_station_has_no_foreign_data(manifest) -> None:
    st = chalu()
    res = render(manifest, {}, st, today=TODAY, sample=True, fmt="svg")
    text = docx_text(res.data) if res.fmt == "docx" else res.data.decode("utf-8")
    leaked = [w for w in FOREIGN if w in text]
    assert not leaked, f"{manifest.id} 含有其他乡镇的数据：{leaked}"
    assert res.sample_used
    assert "样例" in text
    if manifest.layout != "plaque":
        assert st["name"] in text or st["township"] in text or manifest.kind == "表单"


def test_station_fields_always_from_station_and_placeholders_filled() -> None:
    m = get_manifest(ROOT, "service-charter")
    res = render(m, {}, chalu(), today=TODAY, sample=True)
    text = docx_text(res.data)
    assert "岔路河镇所辖" in text            # sample 服务范围 follows the station in use
    m = get_manifest(ROOT, "archive-rules")
    text = docx_text(render(m, {}, chalu(), today=TODAY, sample=True).data)
    assert "郑雨桐" in text and "永吉县岔路河镇社会工作服务站" in text


def test_sample_fills_only_missing_fields() -> None:
    m = get_manifest(ROOT, "confidentiality-rules")
    label = m.field_named("key_keeper").label
    for given in ({"key_keeper": "吴海燕"}, {label: "吴海燕"}):
        merged, used = merge_sample(m, given, chalu())
        assert "key_keeper" not in used
        assert "吴海燕" in merged.values()
        assert set(used) == {k for k in m.sample if k != "key_keeper"}
    text = docx_text(render(m, {label: "吴海燕"}, chalu(), today=TODAY, sample=True).data)
    assert "吴海燕" in text


def test_no_sample_no_mark_and_all_given_means_no_mark() -> None:
    m = get_manifest(ROOT, "confidentiality-rules")
    full, _ = merge_sample(m, {}, chalu())
    res = render(m, full, chalu(), today=TODAY)
    assert not res.sample_used and res.sample_fields == ()
    assert not has_sample_mark(res.data) and "样例" not in docx_text(res.data)
    # --sample with every field given: nothing came from the sample, so no mark
    res2 = render(m, full, chalu(), today=TODAY, sample=True)
    assert not res2.sample_used and not has_sample_mark(res2.data)


def test_sample_station_is_itself_a_sample() -> None:
    m = get_manifest(ROOT, "confidentiality-rules")
    full, _ = merge_sample(m, {}, chalu())
    res = render(m, full, sample_station_vars(), today=TODAY, sample_station=True)
    assert res.sample_used and has_sample_mark(res.data)


def test_mark_is_idempotent_in_structure() -> None:
    m = get_manifest(ROOT, "complaint-register")
    res = render(m, {}, chalu(), today=TODAY, sample=True)
    text = docx_text(res.data)
    assert text.count(SAMPLE_TEXT) == 1          # one header part, referenced by every section
    twice = add_sample_mark(res.data)
    assert docx_text(twice).count(SAMPLE_TEXT) == 1
