"""Wiring of `sgz gen` and `sgz templates`: outputs, exit codes, messages."""

from __future__ import annotations

import io
import json
import types
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from docx import Document

from archive.cli.main import cli


def run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args)
    code = getattr(result.exception, "exit_code", None) if result.exception else result.exit_code
    if result.exception and code is None:
        raise result.exception
    message = str(result.exception) if result.exception else ""
    return code, result.stdout, result.stderr + message


def test_templates_list_json() -> None:
    code, out, _ = run(["templates", "list", "--json"])
    assert code == 0
    items = {i["id"]: i for i in json.loads(out)}
    assert items["confidentiality-rules"]["title"] == "社工站保密管理制度"
    assert items["plaque"]["kind"] == "牌匾"
    assert {"id", "title", "kind", "clause"} <= set(items["archive-catalogue"])


def test_templates_show() -> None:
    code, out, _ = run(["templates", "show", "archive-catalogue"])
    assert code == 0
    assert "year" in out and "年度" in out and "必填" in out and "题名" in out
    code, _, err = run(["templates", "show", "nope"])
    assert code == 3


def test_gen_sample(tmp_path: Path) -> None:
    out = tmp_path / "保密.docx"
    code, stdout, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--sample",
                             "-o", str(out), "--set", "key_keeper=王五"])
    assert code == 0, err
    assert stdout.strip() == str(out)
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert "钥匙由王五妥善保管" in text and "示例站点" in err


def test_gen_reports_every_problem_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "x.docx"
    code, _, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--sample",
                        "-o", str(out), "--set", "effective_date=明天", "--set",
                        "check_frequency=每天", "--set", "key_keeper="])
    assert code == 6
    assert "施行日期（effective_date）：不是有效日期" in err
    assert "不在可选值中" in err
    assert "key_keeper" not in err  # a blank field takes the sample value under --sample
    assert not out.exists()
    code, _, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules",
                        "-o", str(out), "--set", "key_keeper="])
    assert code == 3 and "station.toml" in err


def test_gen_needs_station_without_sample(tmp_path: Path) -> None:
    code, _, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "-o",
                        str(tmp_path / "x.docx")])
    assert code == 3 and "station.toml" in err


def test_gen_uses_station_toml_and_data_file(tmp_path: Path) -> None:
    from archive.kernel.station import EXAMPLE_TOML

    (tmp_path / "station.toml").write_text(EXAMPLE_TOML, encoding="utf-8")
    data = tmp_path / "d.yaml"
    data.write_text("key_keeper: 赵六\ncheck_frequency: 每月\nadopted_date: 2026-02-01\n"
                    "effective_date: 2026-02-02\n", encoding="utf-8")
    out = tmp_path / "a.docx"
    code, _, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--data",
                        str(data), "-o", str(out)])
    assert code == 0, err
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert "每月检查一次" in text and "2026年2月2日起施行" in text


def test_gen_rows_csv(tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("钥匙保管人,check_frequency,adopted_date,effective_date\n"
                    "甲,每月,2026-01-01,2026-01-02\n乙,每季度,2026-01-01,2026-01-03\n",
                    encoding="utf-8-sig")
    outdir = tmp_path / "out"
    bad = tmp_path / "bad.csv"
    bad.write_text("key_keeper,effective_date\n甲,2026-13-01\n乙,昨天\n", encoding="gbk")
    code, _, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--sample",
                        "--rows", str(bad), "-o", str(outdir)])
    assert code == 6 and "第 1 行" in err and "第 2 行" in err and not outdir.exists()
    # header "钥匙保管人" is not the label (档案柜钥匙保管人): reported, nothing written
    code, _, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--rows",
                        str(rows), "-o", str(outdir), "--sample"])
    assert code == 6 and "钥匙保管人" in err
    rows.write_text(rows.read_text(encoding="utf-8-sig").replace("钥匙保管人", "档案柜钥匙保管人"),
                    encoding="utf-8")
    code, stdout, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--rows",
                             str(rows), "-o", str(outdir), "--sample"])
    assert code == 0, err
    files = sorted(outdir.iterdir())
    assert [f.name for f in files] == ["001-甲.docx", "002-乙.docx"]
    assert "[2/2]" in err


def test_gen_rows_xlsx(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["key_keeper", "adopted_date", "effective_date"])
    import datetime as dt

    ws.append(["丙", dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 5)])
    path = tmp_path / "p.xlsx"
    wb.save(path)
    code, _, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--rows",
                        str(path), "-o", str(tmp_path / "o")])
    assert code == 3      # no station.toml and no --sample
    code, _, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--sample",
                        "--rows", str(path), "-o", str(tmp_path / "o")])
    assert code == 0, err and (tmp_path / "o" / "001-丙.docx").is_file()


def test_pdf_without_libreoffice_is_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import archive.pdf.office

    monkeypatch.setattr(archive.pdf.office, "find_soffice", lambda: None)
    code, _, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--sample",
                        "-o", str(tmp_path / "a.docx"), "--pdf"])
    assert code == 3 and "LibreOffice" in err and "--pdf" in err


def test_gen_plaque(tmp_path: Path) -> None:
    out = tmp_path / "p.svg"
    code, stdout, err = run(["--home", str(tmp_path), "gen", "plaque", "--sample", "--size",
                             "70x50", "-o", str(out)])
    assert code == 0, err
    assert 'width="70cm"' in out.read_text(encoding="utf-8")
    code, _, _ = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--sample",
                      "--size", "60x40"])
    assert code == 2


def test_gen_file_calls_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--file: class from the template, retention from the template when the station's table
    has no row for it (a review found 入户走访记录 filed 30 years while the station's own
    档案管理制度 says 永久), the date it was made (通过/印发, not 施行) from the data; no copy
    left behind without -o; a sample document is refused."""
    import datetime as dt

    from archive.docgen.engine import sample_station_vars
    from archive.docgen.service import GenerationService
    from archive.retention.schedule import parse_schedule

    calls: list[dict[str, Any]] = []

    class FakeRecords:
        def file(self, paths: list[Path], **kw: Any) -> list[Any]:
            calls.append({"paths": paths, "existed": paths[0].is_file(), **kw})
            return [types.SimpleNamespace(ref="Z001-WS·2026-Y-XZ-0001")]

    import archive.cli.gen_cmds as gen_cmds

    stage = tmp_path / "stage"
    stage.mkdir()
    fake = types.SimpleNamespace(gen=GenerationService(
        station_vars=sample_station_vars(), today=lambda: dt.date(2026, 12, 1),
        records=FakeRecords(), schedule=lambda: parse_schedule({}, {}),  # type: ignore[arg-type]
        workdir=lambda: stage))
    monkeypatch.setattr(gen_cmds, "open_archive", lambda ctx: fake)
    code, _, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--sample",
                        "--file"])
    assert code == 6 and "不能归档" in err and calls == []
    code, stdout, err = run(["--home", str(tmp_path), "gen", "保密管理制度", "--file",
                             "--set", "key_keeper=王五", "--set", "check_frequency=每月",
                             "--set", "adopted_date=2026-02-01",
                             "--set", "effective_date=2026-02-02"])
    assert code == 0, err
    assert stdout.splitlines() == ["Z001-WS·2026-Y-XZ-0001"]
    (call,) = calls
    assert call["existed"] and call["paths"][0].parent.parent == stage
    assert call["paths"][0].name == "社工站保密管理制度-20261201.docx"
    assert list(stage.iterdir()) == []  # the staged copy is gone once filed
    assert {k: call[k] for k in ("category", "retention", "date", "household", "title")} == {
        "category": "XZ", "retention": "Y", "date": "2026-02-01", "household": "",
        "title": "社工站保密管理制度"}


def test_rendered_title_property(tmp_path: Path) -> None:
    out = tmp_path / "a.docx"
    run(["--home", str(tmp_path), "gen", "archive-catalogue", "--sample", "-o", str(out)])
    doc = Document(io.BytesIO(out.read_bytes()))
    assert doc.core_properties.title == "归档文件目录"
    assert [c.text for c in doc.tables[0].rows[3].cells][:2] == ["3", "Z001-WS·2026-D30-FW-0003"]


def test_gen_never_replaces_a_file_without_force(tmp_path: Path) -> None:
    """A CLI review found `gen -o keep.docx` (and its .pdf) silently replaced: like `get`,
    `templates blank` and `print`, it now refuses, naming every file, and writes nothing."""
    keep = tmp_path / "keep.docx"
    keep.write_bytes(b"important")
    args = ["--home", str(tmp_path), "gen", "confidentiality-rules", "--sample", "-o", str(keep)]
    code, _, err = run(args)
    assert code == 4 and "已存在" in err and "--force" in err and str(keep) in err
    assert keep.read_bytes() == b"important"
    code, _, err = run([*args, "--force"])
    assert code == 0, err
    assert "钥匙" in "\n".join(p.text for p in Document(str(keep)).paragraphs)
    # a batch checks every file first: the first row's name is taken, nothing is written
    rows = tmp_path / "rows.csv"
    rows.write_text("key_keeper,adopted_date,effective_date\n甲,2026-01-01,2026-01-02\n"
                    "乙,2026-01-01,2026-01-03\n", encoding="utf-8")
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "001-甲.docx").write_bytes(b"earlier")
    code, _, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--sample",
                        "--rows", str(rows), "-o", str(outdir)])
    assert code == 4 and "001-甲.docx" in err and not (outdir / "002-乙.docx").exists()


@pytest.mark.parametrize("folder", ["vault", "indexes", "vault/tmp"])
def test_gen_never_writes_plaintext_into_the_encrypted_folders(tmp_path: Path,
                                                               folder: str) -> None:
    (tmp_path / folder).mkdir(parents=True)
    out = tmp_path / folder / "client.docx"
    code, _, err = run(["--home", str(tmp_path), "gen", "confidentiality-rules", "--sample",
                        "-o", str(out)])
    assert code == 6 and "加密目录" in err and not out.exists()


def test_gen_warns_while_the_station_is_still_the_built_in_example(tmp_path: Path) -> None:
    """A new station's walkthrough generated and filed under the example's name and 全宗号
    Z001 with no word said: the example station is now named on stderr."""
    from archive.kernel.station import EXAMPLE_TOML

    (tmp_path / "station.toml").write_text(EXAMPLE_TOML, encoding="utf-8")
    args = ["--home", str(tmp_path), "gen", "confidentiality-rules", "--sample", "-o"]
    code, _, err = run([*args, str(tmp_path / "a.docx")])
    assert code == 0 and "仍是内置的示例站点" in err and "全宗号 Z001" in err
    own = EXAMPLE_TOML.replace('fonds = "Z001"', 'fonds = "Z017"').replace(
        "长春市双阳区奢岭街道社会工作服务站", "柳河县安口镇社会工作服务站")
    (tmp_path / "station.toml").write_text(own, encoding="utf-8")
    code, _, err = run([*args, str(tmp_path / "b.docx")])
    assert code == 0 and "仍是内置的示例站点" not in err
