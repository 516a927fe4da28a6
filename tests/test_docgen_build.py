"""body.md → template.docx builder: determinism, markup, and committed files match sources."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from archive.docgen.build import build_docx, build_template, buildable_folders, main
from archive.docgen.dump import dump_docx
from archive.docgen.manifest import DOCX_FILE, default_templates_dir, parse_manifest
from archive.docgen.markup import parse_body, split_cells
from archive.errors import ValidationError

M = parse_manifest({"id": "t", "title": "测试", "kind": "制度", "clause": "无",
                    "category": "XZ", "retention": "Y", "layout": "gbt9704"}, "t")


@pytest.mark.parametrize("folder", buildable_folders(default_templates_dir()),
                         ids=lambda p: p.name)
def test_committed_docx_matches_body_md(folder: Path) -> None:
    committed = folder / DOCX_FILE
    assert committed.is_file(), f"{folder.name}: 缺少 template.docx，请运行 make templates"
    assert dump_docx(committed.read_bytes()) == dump_docx(build_template(folder)), (
        f"{folder.name}: template.docx 与 body.md 不一致，请运行 python -m archive.docgen.build")


def test_build_is_deterministic_with_fixed_zip_times() -> None:
    body = "# 标题\n\n正文 {{ station.name }}\n"
    a, b = build_docx(M, body), build_docx(M, body)
    assert a == b
    with zipfile.ZipFile(io.BytesIO(a)) as zf:
        infos = zf.infolist()
        assert infos[0].filename == "[Content_Types].xml"
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_markup_kinds() -> None:
    blocks = parse_body("# 题\n^ 副\n## 一、总则\n### （一）范围\n正文\n> 落款\n<< 顶格\n"
                        "---pagebreak---\n{%p if x %}\n")
    assert [b.kind for b in blocks] == ["title", "subtitle", "h1", "h2", "body", "right",
                                        "plain", "pagebreak", "tag"]


def test_markup_errors_name_lines() -> None:
    with pytest.raises(ValidationError, match="第一行必须是标题"):
        parse_body("正文\n")
    with pytest.raises(ValidationError, match="第 3 行"):
        parse_body("# 甲\n\n# 乙\n")
    with pytest.raises(ValidationError, match="分隔行"):
        parse_body("# 甲\n| a | b |\n| x | y |\n")


def test_split_cells_keeps_pipes_in_tags_and_escapes() -> None:
    assert split_cells("| {{ d | cn_date }} | a\\|b | {% if x|length %}y{% endif %} |") == [
        "{{ d | cn_date }}", "a|b", "{% if x|length %}y{% endif %}"]


def test_table_widths_merges_heights() -> None:
    body = "# 表\n\n| 名称{w=30} | 内容 | 备注 |\n|---|:---:|---:|\n| 甲 | < | 丙 |\n| ^ | 乙 | {h=25} |\n"
    xml = zipfile.ZipFile(io.BytesIO(build_docx(M, body))).read("word/document.xml").decode()
    assert '<w:gridCol w:w="1701"/>' in xml                     # 30 mm
    assert '<w:gridSpan w:val="2"/>' in xml
    assert '<w:vMerge w:val="restart"/>' in xml and "<w:vMerge/>" in xml
    assert '<w:trHeight w:val="1417" w:hRule="atLeast"/>' in xml
    assert "<w:tblHeader/>" in xml and "SgzTableHead" in xml


def test_build_cli_check_reports_stale(tmp_path: Path) -> None:
    src = default_templates_dir() / "confidentiality-rules"
    folder = tmp_path / "confidentiality-rules"
    folder.mkdir()
    for name in ("manifest.toml", "body.md"):
        (folder / name).write_bytes((src / name).read_bytes())
    assert main(["--root", str(tmp_path), "--check"]) == 1
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--root", str(tmp_path), "--check"]) == 0
    (folder / "body.md").write_text((src / "body.md").read_text(encoding="utf-8") + "\n新增一段\n",
                                    encoding="utf-8")
    assert main(["--root", str(tmp_path), "--check"]) == 1
