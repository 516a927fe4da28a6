"""Sandboxed rendering, filters, and every shipped template rendering with its sample data."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document

from archive.docgen.build import build_docx, buildable_folders
from archive.docgen.engine import generate, render, sample_station_vars
from archive.docgen.manifest import default_templates_dir, load_manifest, parse_manifest
from archive.docgen.render import add_workdays, cn_date, cn_money, render_docx, star_level
from archive.errors import ValidationError

TODAY = dt.date(2026, 3, 2)
MANIFEST = parse_manifest({"id": "t", "title": "测试", "kind": "表单", "clause": "无",
                           "category": "FW", "retention": "D10", "layout": "form"}, "t")


def tpl(body: str) -> bytes:
    return build_docx(MANIFEST, "# 测试\n\n" + body)


def text_of(docx: bytes) -> str:
    d = Document(io.BytesIO(docx))
    parts = [p.text for p in d.paragraphs]
    for t in d.tables:
        parts += [c.text for row in t.rows for c in row.cells]
    return "\n".join(parts)


def test_filters() -> None:
    assert cn_date(dt.date(2021, 5, 6)) == "2021年5月6日"
    assert cn_date("2026-01-10") == "2026年1月10日"
    assert cn_money(Decimal("1234.5")) == "1,234.50"
    assert cn_money(Decimal("0.005")) == "0.01"
    assert add_workdays(dt.date(2026, 3, 6), 3) == dt.date(2026, 3, 11)   # Fri + 3 → Wed
    assert add_workdays(dt.date(2026, 3, 7), 1) == dt.date(2026, 3, 9)    # Sat + 1 → Mon
    assert [star_level(h) for h in (0, 99, 100, 250, 500, 900)] == [0, 0, 1, 2, 5, 5]


@pytest.mark.parametrize("expr", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ station.__class__.__subclasses__() }}",
])
def test_sandbox_blocks_python_internals(expr: str) -> None:
    with pytest.raises(ValidationError) as ei:
        render_docx(tpl(expr), {"station": {"name": "x"}})
    assert "模板" in str(ei.value)


def test_undefined_name_is_an_error() -> None:
    with pytest.raises(ValidationError, match="未定义"):
        render_docx(tpl("{{ no_such_name }}"), {})


def test_values_are_xml_escaped_and_newlines_break() -> None:
    out = render_docx(tpl("值：{{ v }}"), {"v": "a<b>&c\n第二行"})
    assert "a<b>&c" in text_of(out)


def test_row_loop_and_pipes_inside_tags() -> None:
    body = ("| 日期 | 事项 |\n|---|---|\n| {%tr for r in rows %} | |\n"
            "| {{ r.d | cn_date }} | {{ r.what }} |\n| {%tr endfor %} | |\n")
    out = render_docx(tpl(body), {"rows": [{"d": dt.date(2026, 1, 2), "what": "走访"},
                                           {"d": dt.date(2026, 1, 3), "what": "回访"}]})
    d = Document(io.BytesIO(out))
    assert [c.text for c in d.tables[0].rows[2].cells] == ["2026年1月3日", "回访"]
    assert len(d.tables[0].rows) == 3


def test_paragraph_if() -> None:
    body = "{%p if flag %}\n有\n{%p else %}\n无\n{%p endif %}\n"
    assert "有" in text_of(render_docx(tpl(body), {"flag": True}))
    txt = text_of(render_docx(tpl(body), {"flag": False}))
    assert "无" in txt and "有" not in txt and "{%" not in txt


def test_generate_validates_before_rendering() -> None:
    m = load_manifest(default_templates_dir() / "confidentiality-rules")
    with pytest.raises(ValidationError) as ei:
        generate(m, {}, sample_station_vars(), today=TODAY)
    assert "施行日期（effective_date）：缺少必填项" in str(ei.value)
    assert len(ei.value.details) == 3     # key_keeper, adopted_date, effective_date


@pytest.mark.parametrize("folder", buildable_folders(default_templates_dir()),
                         ids=lambda p: p.name)
def test_every_template_renders_with_sample(folder: Path) -> None:
    m = load_manifest(folder)
    out = render(m, {}, sample_station_vars(), today=TODAY, sample=True).data
    text = text_of(out)
    assert "{{" not in text and "{%" not in text
    assert len(text.strip()) > 20


def test_confidentiality_rules_content() -> None:
    m = load_manifest(default_templates_dir() / "confidentiality-rules")
    text = text_of(render(m, {}, sample_station_vars(), today=TODAY, sample=True).data)
    assert "长春市双阳区奢岭街道社会工作服务站保密管理制度" in text
    assert "涉密信息不公开、公开信息不涉密" in text and "生命第一" in text
    assert "本制度自2026年1月10日起施行" in text and "钥匙由李四妥善保管" in text
