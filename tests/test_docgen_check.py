"""`templates check`: split tags, proofing marks, smart quotes, syntax errors, unknown fields."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli.main import cli
from archive.docgen.check import check_docx
from archive.docgen.manifest import default_templates_dir

ROOT = default_templates_dir()
SRC = ROOT / "confidentiality-rules" / "template.docx"


def edited(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    """Copy the template with a raw edit of document.xml, as Word/WPS would leave it."""
    out = tmp_path / "edited.docx"
    zin = zipfile.ZipFile(SRC)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "word/document.xml":
                text = data.decode()
                assert old in text, old
                data = text.replace(old, new, count).encode()
            zout.writestr(info, data)
    out.write_bytes(buf.getvalue())
    return out


def kinds(path: Path) -> list[str]:
    return [p.kind for p in check_docx(path, ROOT).problems]


def test_clean_template_has_no_problems() -> None:
    report = check_docx(SRC, ROOT)
    assert report.template_id == "confidentiality-rules"
    assert report.problems == []


def test_split_by_other_formatting(tmp_path: Path) -> None:
    path = edited(tmp_path, "{{ key_keeper }}",
                  '{{ key_</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>keeper }}')
    report = check_docx(path, ROOT)
    assert [p.kind for p in report.problems] == ["split"]
    assert report.problems[0].where.startswith("第 ") and "key_" in report.problems[0].excerpt


def test_split_with_same_formatting_is_fine(tmp_path: Path) -> None:
    path = edited(tmp_path, "{{ key_keeper }}",
                  '{{ key_</w:t></w:r><w:r><w:t xml:space="preserve">keeper }}')
    assert kinds(path) == []


def test_proofing_mark_inside_tag(tmp_path: Path) -> None:
    path = edited(tmp_path, "{{ key_keeper }}",
                  '{{ key_</w:t></w:r><w:proofErr w:type="spellStart"/><w:r><w:t>keeper }}')
    assert kinds(path) == ["proofing"]


def test_smart_quotes_and_unknown_field_and_station_attr(tmp_path: Path) -> None:
    path = edited(tmp_path, "{{ key_keeper }}", "{{ keeper_name or “无” }}{{ station.mayor }}")
    problems = check_docx(path, ROOT).problems
    assert sorted(p.kind for p in problems) == ["smart_quote", "unknown_field", "unknown_field"]
    unknown = [p for p in problems if p.kind == "unknown_field"]
    assert any("keeper_name" in p.message for p in unknown)
    assert any("station.mayor" in p.message for p in unknown)


def test_syntax_error_and_unclosed(tmp_path: Path) -> None:
    path = edited(tmp_path, "{{ key_keeper }}", "{{ key_keeper | }}")
    problems = check_docx(path, ROOT).problems
    assert [p.kind for p in problems] == ["syntax"]
    assert "key_keeper" in problems[0].excerpt
    path2 = edited(tmp_path, "{{ key_keeper }}", "{{ key_keeper ")
    assert "unclosed" in kinds(path2)


def test_table_cell_location(tmp_path: Path) -> None:
    src = ROOT / "archive-catalogue" / "template.docx"
    dst = tmp_path / "cat.docx"
    shutil.copy(src, dst)
    data = zipfile.ZipFile(dst).read("word/document.xml").decode()
    assert "{{ r.title }}" in data
    global SRC
    old_src, SRC = SRC, dst
    try:
        path = edited(tmp_path, "{{ r.title }}", "{{ r.title ”}}")
    finally:
        SRC = old_src
    problems = check_docx(path, ROOT).problems
    assert problems and problems[0].where == "表格 1 第 3 行第 5 列"


def test_cli_exit_6_on_problems(tmp_path: Path) -> None:
    path = edited(tmp_path, "{{ key_keeper }}", "{{ nobody }}")
    result = CliRunner().invoke(cli, ["templates", "check", str(path)])
    assert getattr(result.exception, "exit_code", None) == 6
    assert "nobody" in result.output
    ok = CliRunner().invoke(cli, ["templates", "check", str(SRC)])
    assert ok.exit_code == 0, ok.output


def _shipped() -> list[Path]:
    from archive.docgen.build import buildable_folders

    return [f for f in buildable_folders(ROOT) if (f / "template.docx").is_file()]


@pytest.mark.parametrize("folder", _shipped(), ids=lambda p: p.name)
def test_every_shipped_template_passes_check(folder: Path) -> None:
    report = check_docx(folder / "template.docx", ROOT)
    assert report.template_id == folder.name
    assert [str(p) for p in report.problems] == []


def test_fullwidth_symbols_outside_string_literals(tmp_path: Path) -> None:
    path = edited(tmp_path, "{{ key_keeper }}", "{{ key_keeper ｜ default(\"（无）\") }}")
    problems = check_docx(path, ROOT).problems
    assert [p.kind for p in problems] == ["fullwidth", "syntax"] and "｜" in problems[0].message
