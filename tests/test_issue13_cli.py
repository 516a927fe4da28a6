"""Issue #13 through the CLI: what a station user reads is Chinese and in station time; `gen`
takes Chinese names and files into 一户一档; `access view|copy --component`.

Runs `sgz` in-process (fast) with the real home, real encryption and the real templates.
"""

from __future__ import annotations

import ast
import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from access_fixtures import pdf_bytes
from conftest import REPO, sgz_env

from archive.cli.main import main

UTC_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z|UTC")


class Sgz:
    """`sgz` as a station user would run it, in `cwd`."""

    def __init__(self, home: Path, cwd: Path, capsys: pytest.CaptureFixture[str],
                 monkeypatch: pytest.MonkeyPatch) -> None:
        self.home, self.cwd, self.capsys, self.mp = home, cwd, capsys, monkeypatch

    def __call__(self, user: str, *args: str) -> tuple[int, str, str]:
        for k, v in sgz_env(self.home, user=user).items():
            if k.startswith("SGZ_"):
                self.mp.setenv(k, v)
        self.mp.chdir(self.cwd)
        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def ok(self, user: str, *args: str) -> str:
        code, out, err = self(user, *args)
        assert code == 0, (args, err)
        return out


@pytest.fixture
def sgz(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Sgz:
    work = tmp_path / "work"
    work.mkdir()
    s = Sgz(home, work, capsys, monkeypatch)
    s.ok("zhangsan", "init", "--user", "zhangsan", "--role", "head")
    s.ok("zhangsan", "user", "add", "lisi", "--role", "deputy", "--display", "李四")
    s.ok("zhangsan", "user", "add", "wang", "--role", "archivist")
    return s


def _write(sgz: Sgz, name: str, data: bytes) -> str:
    p = sgz.cwd.parent / "src" / name
    p.parent.mkdir(exist_ok=True)
    p.write_bytes(data)
    return str(p)


def _approved_request(sgz: Sgz, items: str, *extra: str) -> str:
    letter = _write(sgz, "介绍信.pdf", pdf_bytes("介绍信"))
    no = sgz.ok("wang", "access", "request", "--unit", "示例评估中心", "--letter", letter,
                "--purpose", "第三方评估", "--items", items, *extra).strip()
    sgz.ok("lisi", "access", "approve", no, "--allow-copy")
    return no


# ---------------------------------------------------------------- finding 7: names
def test_gen_by_chinese_title_with_chinese_default_name(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SGZ_HOME", raising=False)
    main(["--home", str(tmp_path), "gen", "保密管理制度", "--sample"])
    out, err = capsys.readouterr()
    from archive.clock import StationClock

    today = StationClock().today().strftime("%Y%m%d")  # the station's date, not the machine's
    made = Path(out.strip())
    assert made.name == f"社工站保密管理制度-{today}.docx" and (tmp_path / made).is_file()
    assert "示例数据" in err and "样例" in err  # the sample note names what was filled
    with pytest.raises(SystemExit) as e:
        main(["--home", str(tmp_path), "gen", "保密管里制度"])
    assert e.value.code == 3
    assert "是否要找" in capsys.readouterr().err


# ---------------------------------------------------------------- finding 4: 一户一档
def test_gen_file_home_visit_files_under_fw_permanent_with_household(sgz: Sgz) -> None:
    from archive.docgen.engine import fill_placeholders, load_station_vars
    from archive.docgen.lookup import find_template
    from archive.docgen.manifest import default_templates_dir

    m = find_template(default_templates_dir(), "入户走访记录")
    station = load_station_vars(sgz.home / "station.toml")
    data = fill_placeholders(dict(m.sample), station)
    data_file = Path(_write(sgz, "走访.json", json.dumps(data, ensure_ascii=False,
                                                        default=str).encode()))
    code, _, err = sgz("zhangsan", "gen", "入户走访记录", "--sample", "--file")
    assert code == 6 and "不能归档" in err
    out = sgz.ok("zhangsan", "gen", "入户走访记录", "--data", str(data_file), "--file")
    ref = out.strip()
    assert re.fullmatch(r".+·\d{4}-Y-FW-\d{4}", ref), ref  # the template's 永久
    assert list(sgz.cwd.iterdir()) == []  # no plaintext copy left in the current folder
    listed = json.loads(sgz.ok("zhangsan", "ls", "--household", data["household_id"], "--json"))
    assert [(r["ref"], r["household"]) for r in listed] == [(ref, data["household_id"])]
    assert listed[0]["date"].replace("-", "") == str(data["visit_date"]).replace("-", "")
    assert listed[0]["retention"] == "Y" and listed[0]["title"] == m.title


# ---------------------------------------------------------------- finding 9: Chinese, station time
def test_lists_and_show_use_station_time_never_utc(sgz: Sgz) -> None:
    users = sgz.ok("zhangsan", "user", "list")
    assert "添加时间" in users and not UTC_STAMP.search(users)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", users)
    ref = sgz.ok("zhangsan", "file", _write(sgz, "总结.pdf", pdf_bytes("年度总结")), "-c", "XZ",
                 "-t", "年度工作总结").strip()
    shown = sgz.ok("zhangsan", "show", ref)
    assert "归档时间" in shown and not UTC_STAMP.search(shown)
    no = _approved_request(sgz, ref)
    for args in (("access", "list"), ("access", "show", no)):
        text = sgz.ok("wang", *args)
        assert "有效至" in text and not UTC_STAMP.search(text), text
    letter = _write(sgz, "介绍信2.pdf", pdf_bytes("介绍信二"))
    no2 = sgz.ok("wang", "access", "request", "--unit", "单位二", "--letter", letter,
                 "--purpose", "核查", "--items", ref).strip()
    code, _, err = sgz("lisi", "access", "approve", no2)
    assert code == 0 and "（北京时间）" in err and not UTC_STAMP.search(err), err


def test_audit_log_shows_chinese_actions_and_details(sgz: Sgz) -> None:
    ref = sgz.ok("zhangsan", "file", _write(sgz, "a.pdf", pdf_bytes("甲")), "-c", "XZ").strip()
    sgz.ok("zhangsan", "search", "甲")
    sgz.ok("zhangsan", "retention", "due")
    sgz.ok("zhangsan", "get", ref, "-o", str(sgz.cwd.parent / "out.pdf"), "--reason", "督导检查")
    rows = json.loads(sgz.ok("zhangsan", "audit", "log", "--json"))
    raw = {r["action"] for r in rows if r["action_name"] == r["action"]}
    assert raw == set(), raw
    text = sgz.ok("zhangsan", "audit", "log")
    assert "事由：督导检查" in text
    assert not re.search(r"\b[a-z_]+=|\['|\{'", text), text
    assert not UTC_STAMP.search(text)


def test_every_logged_action_has_a_chinese_name() -> None:
    """Every action literal the package logs or authorizes has a name in audit/names.py."""
    from archive.audit.names import ACTION_NAMES

    found: set[str] = set()
    for path in (REPO / "archive").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", "")
            if name in ("log", "authorize", "deny") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
                elif isinstance(arg, ast.JoinedStr):  # f"{action}.issued", f"access.{kind}"
                    shape = "".join(v.value if isinstance(v, ast.Constant) else "{}"
                                    for v in arg.values)
                    for k in ("view", "copy"):
                        found.add(shape.replace("{}", f"access.{k}" if shape.startswith("{}")
                                                else k, 1))
            for kw in node.keywords:
                if kw.arg == "action" and isinstance(kw.value, ast.Constant) \
                        and isinstance(kw.value.value, str) and "." in kw.value.value:
                    found.add(kw.value.value)
    assert len(found) > 40
    assert sorted(found - set(ACTION_NAMES)) == []


def test_no_design_references_in_user_facing_strings() -> None:
    """No string a user can read (any non-docstring literal with Chinese) cites DESIGN §."""
    offenders = []
    for path in (REPO / "archive").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef) and n.body
                      and isinstance(n.body[0], ast.Expr)
                      and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in docstrings and "DESIGN" in node.value:
                offenders.append(f"{path.name}: {node.value[:60]}")
    assert offenders == []
    assert "DESIGN" not in (REPO / "docs" / "access-policy.md").read_text(encoding="utf-8")


def test_click_leftovers_and_mistyped_commands_are_chinese(sgz: Sgz) -> None:
    helptext = sgz.ok("zhangsan", "access", "request", "--help")
    assert "[必填]" in helptext and "[required]" not in helptext
    code, _, err = sgz("zhangsan", "serach", "低保")
    assert code == 2 and "search" in err and "是否想用" in err
    bad = _write(sgz, "bad.toml", b"complainant = \n")
    code, _, err = sgz("zhangsan", "gen", "投诉登记表", "--data", bad)
    assert code == 6 and "Invalid value" not in err and "第 1 行" in err, err


def test_templates_list_blank_and_doctor(sgz: Sgz) -> None:
    listed = sgz.ok("zhangsan", "templates", "list")
    assert "永久" in listed and "定期30年" in listed
    assert not re.search(r"\b(D10|D30)\b", listed)
    out = sgz.cwd.parent / "志愿者.xlsx"
    sgz.ok("zhangsan", "templates", "blank", "志愿者登记表", "-o", str(out))
    from openpyxl import load_workbook

    assert load_workbook(out).sheetnames[0] == "填写"
    report = sgz.ok("zhangsan", "doctor")
    assert "仿宋_GB2312" in report


def test_register_shows_the_electronic_approval(sgz: Sgz) -> None:
    from docx import Document

    ref = sgz.ok("zhangsan", "file", _write(sgz, "z.pdf", pdf_bytes("总结")), "-c", "XZ").strip()
    _approved_request(sgz, ref)
    out = sgz.cwd.parent / "登记.docx"
    sgz.ok("wang", "access", "register", "-o", str(out))
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert "☑同意在社工站查阅" in text
    assert re.search(r"电子审批：李四于 \d{4}-\d\d-\d\d \d\d:\d\d（北京时间）批准，查阅期限至", text), text


def test_table_cells_and_titles_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    from archive.cli.common import col, emit_rows

    emit_rows(False, [{"title": "正常\x1b[31m红\u202e字"}], [col("题名", "title")])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\\x1b" in out and "\\u202e" in out


# ---------------------------------------------------------------- finding 10: --component
def _latin_pdf(text: str) -> bytes:
    """A one-page PDF whose text pdftotext can read back (a standard Latin font)."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setFont("Helvetica", 14)
    c.drawString(72, 720, text)
    c.showPage()
    c.save()
    return buf.getvalue()


def test_access_view_and_copy_default_to_the_signed_scan(sgz: Sgz) -> None:
    body = "正文内容 DOCX-BODY".encode()
    ref = sgz.ok("zhangsan", "file", _write(sgz, "记录.txt", body), "-c", "XZ",
                 "-t", "会议记录").strip()
    sgz.ok("zhangsan", "file", _write(sgz, "签字页.pdf", _latin_pdf("SIGNED-SCAN")), "--of", ref,
           "--kind", "签字扫描件")
    no = _approved_request(sgz, ref, "--copy")
    view = sgz.cwd.parent / "v.pdf"
    sgz.ok("wang", "access", "view", no, ref, "-o", str(view))
    copy_default = json.loads(sgz.ok("wang", "access", "copy", no, ref, "-o",
                                     str(sgz.cwd.parent / "c.pdf"), "--json"))
    copy_body = json.loads(sgz.ok("wang", "access", "copy", no, ref, "--component", "1", "-o",
                                  str(sgz.cwd.parent / "c.txt"), "--json"))
    assert copy_default["component_seq"] == 2 and copy_body["component_seq"] == 1
    assert (sgz.cwd.parent / "c.txt").read_bytes() == body
    shown = subprocess.run(["pdftotext", str(view), "-"], capture_output=True, text=True,
                           check=True).stdout
    assert "SIGNED-SCAN" in shown and "DOCX-BODY" not in shown
    code, _, err = sgz("wang", "access", "view", no, ref, "--component", "9", "-o",
                       str(sgz.cwd.parent / "v9.pdf"))
    assert code == 3 and "没有第 9 个组件" in err


@pytest.mark.slow
def test_pdf_rows_say_the_font_warning_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from archive.kernel.station import EXAMPLE_TOML
    from archive.pdf.fonts import font_report

    (tmp_path / "station.toml").write_text(EXAMPLE_TOML, encoding="utf-8")
    rows = tmp_path / "rows.csv"
    rows.write_text("档案柜钥匙保管人,check_frequency,adopted_date,effective_date\n"
                    "甲,每月,2026-01-01,2026-01-02\n乙,每季度,2026-01-01,2026-01-03\n",
                    encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    main(["--home", str(tmp_path), "gen", "保密管理制度", "--rows", str(rows), "-o", "批量",
          "--pdf"])
    out, err = capsys.readouterr()
    pdfs = sorted((tmp_path / "批量").glob("*.pdf"))
    assert [p.name for p in pdfs] == ["001-甲.pdf", "002-乙.pdf"]
    expected = 1 if font_report().warning() else 0
    assert err.count("本机未安装公文字体") == expected
    fonts = subprocess.run(["pdffonts", str(pdfs[0])], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts)  # every font embedded
