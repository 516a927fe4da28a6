"""CLI wiring: exit codes per error family (DESIGN §8), stdout = data, stderr = messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PASS, sgz_env

from archive.cli.main import main


def sgz(capsys, monkeypatch, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    for k, v in env.items():
        if k.startswith("SGZ_"):
            monkeypatch.setenv(k, v)
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def env(home: Path, capsys, monkeypatch) -> dict[str, str]:
    e = sgz_env(home)
    code, out, err = sgz(capsys, monkeypatch, e, "init", "--user", "zhangsan", "--role", "head")
    assert code == 0, err
    assert len(out.strip().split("-")) == 6  # the recovery code, once, on stdout
    return e


def test_help_lists_commands_in_chinese(capsys, monkeypatch) -> None:
    code, out, _ = sgz(capsys, monkeypatch, {}, "--help")
    assert code == 0 and "归档文件" in out and "file" in out


def test_file_prints_ref_and_json_has_id(env, capsys, monkeypatch, tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("内容", encoding="utf-8")
    code, out, err = sgz(capsys, monkeypatch, env, "file", str(f), "-c", "FW", "-r", "D30")
    assert code == 0 and out.strip().startswith("Z001-WS·") and out.strip().endswith("-FW-0001")
    g = tmp_path / "b.txt"
    g.write_text("别的内容", encoding="utf-8")
    code, out, err = sgz(capsys, monkeypatch, env, "file", str(g), "-c", "FW", "--json")
    assert code == 0 and json.loads(out)["id"].endswith("-FW-0002")


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["file"], 2, ""),                                                # usage
        (["show", "Z001-WS·2026-D30-FW-0009"], 3, "不存在"),               # not found
        (["show", "not-a-ref"], 6, "档号格式"),                            # validation
        (["file", "/nonexistent/x.pdf", "-c", "FW"], 3, "文件不存在"),
        (["file", "{tmp}/a.txt", "-c", "娱乐"], 6, "未知的档案类别"),
        (["file", "{tmp}/a.txt", "-c", "FW", "-r", "D99"], 6, "保管期限"),
    ],
)
def test_error_families(env, capsys, monkeypatch, tmp_path: Path, args, code, needle) -> None:
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    got, out, err = sgz(capsys, monkeypatch, env, *args)
    assert got == code, err
    assert needle in err
    if code != 2:
        assert err.startswith("错误：") and "Traceback" not in err


def test_wrong_passphrase_is_7_and_conflict_is_4(env, capsys, monkeypatch, tmp_path: Path) -> None:
    got, _, err = sgz(capsys, monkeypatch, {**env, "SGZ_PASSPHRASE": "wrong-wrong"}, "ls")
    assert got == 7 and "口令" in err and "wrong-wrong" not in err
    got, _, err = sgz(capsys, monkeypatch, env, "init", "--user", "x1", "--role", "head")
    assert got == 4 and "重复初始化" in err


def test_access_denied_is_5(env, capsys, monkeypatch, tmp_path: Path) -> None:
    pf = tmp_path / "p"
    pf.write_text("worker-passphrase\n", encoding="utf-8")
    got, out, err = sgz(capsys, monkeypatch, env, "user", "add", "wangwu", "--role", "社工",
                        "--new-passphrase-file", str(pf))
    assert got == 0 and out.strip() == "wangwu"
    worker = {**env, "SGZ_USER": "wangwu", "SGZ_PASSPHRASE": "worker-passphrase"}
    got, _, err = sgz(capsys, monkeypatch, worker, "user", "add", "eve", "--role", "head")
    assert got == 5 and "无权" in err


def test_get_and_overwrite(env, capsys, monkeypatch, tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("内容", encoding="utf-8")
    _, out, _ = sgz(capsys, monkeypatch, env, "file", str(f), "-c", "FW")
    ref = out.strip()
    dest = tmp_path / "o.txt"
    got, out, _ = sgz(capsys, monkeypatch, env, "get", ref, "-o", str(dest), "--reason", "核对")
    assert got == 0 and dest.read_text(encoding="utf-8") == "内容"
    got, _, err = sgz(capsys, monkeypatch, env, "get", ref, "-o", str(dest), "--reason", "核对")
    assert got == 4 and "--force" in err
    got, _, err = sgz(capsys, monkeypatch, env, "get", ref, "-o", str(dest))
    assert got == 2


def test_passphrase_file_env(env, capsys, monkeypatch, tmp_path: Path) -> None:
    pf = tmp_path / "pass"
    pf.write_text(PASS + "\n", encoding="utf-8")
    e = {k: v for k, v in env.items() if k != "SGZ_PASSPHRASE"}
    monkeypatch.delenv("SGZ_PASSPHRASE", raising=False)
    got, out, err = sgz(capsys, monkeypatch, {**e, "SGZ_PASSPHRASE_FILE": str(pf)}, "ls", "--json")
    assert got == 0 and json.loads(out) == []


def test_usage_errors_are_in_chinese(capsys, monkeypatch) -> None:
    got, _, err = sgz(capsys, monkeypatch, {}, "get")
    assert got == 2 and "缺少参数" in err and "用法" in err and "Missing" not in err
    got, _, err = sgz(capsys, monkeypatch, {}, "ls", "--bogus")
    assert got == 2 and "没有选项" in err
    got, _, err = sgz(capsys, monkeypatch, {}, "file", "--year", "abc", "x.pdf")
    assert got == 2 and "不是有效的整数" in err


def test_init_as_another_role_writes_nothing(home: Path, capsys, monkeypatch) -> None:
    """A CLI review found `init --role archivist` refused late, after station.toml and vault/
    were written, so a retry as head was then refused too: the role is checked first."""
    e = sgz_env(home)
    code, _, err = sgz(capsys, monkeypatch, e, "init", "--user", "lisi", "--role", "archivist")
    assert code == 6 and "站长" in err and "--role head" in err
    assert not home.exists() or list(home.iterdir()) == []
    code, _, err = sgz(capsys, monkeypatch, e, "init", "--user", "zhangsan", "--role", "head")
    assert code == 0, err


def test_new_passphrase_from_a_file_named_in_the_environment(env, capsys, monkeypatch,
                                                             tmp_path: Path) -> None:
    """`sgz user add --help` shows SGZ_NEW_PASSPHRASE_FILE=…: it is read, like
    SGZ_PASSPHRASE_FILE; a missing file is reported in Chinese."""
    pf = tmp_path / "new"
    pf.write_text("a-new-passphrase-of-length\n", encoding="utf-8")
    e = {k: v for k, v in env.items() if k != "SGZ_NEW_PASSPHRASE"}
    monkeypatch.delenv("SGZ_NEW_PASSPHRASE", raising=False)
    code, out, err = sgz(capsys, monkeypatch, {**e, "SGZ_NEW_PASSPHRASE_FILE": str(pf)},
                         "user", "add", "zhaoliu", "--role", "社工")
    assert code == 0 and out.strip() == "zhaoliu", err
    code, _, err = sgz(capsys, monkeypatch, {**e, "SGZ_NEW_PASSPHRASE_FILE": str(tmp_path / "no")},
                       "user", "add", "sunqi", "--role", "社工")
    assert code == 2 and "文件不存在" in err and "No such file" not in err


def test_filing_under_the_built_in_example_station_says_so(env, capsys, monkeypatch,
                                                           tmp_path: Path) -> None:
    """`sgz init` without --station writes the example station: records filed under it get
    its 全宗号 (Z001), so the filer is told, once filing succeeded."""
    f = tmp_path / "a.txt"
    f.write_text("内容", encoding="utf-8")
    code, out, err = sgz(capsys, monkeypatch, env, "file", str(f), "-c", "XZ")
    assert code == 0 and out.startswith("Z001-") and "仍是内置的示例站点" in err


def test_small_cli_review_findings(env, capsys, monkeypatch, tmp_path: Path) -> None:
    """`get --json` names the record by its canonical 档号 (not as typed); a box number must
    be a positive whole number; the reserved user name is a validation error (6), not 5."""
    f = tmp_path / "a.txt"
    f.write_text("内容", encoding="utf-8")
    code, out, err = sgz(capsys, monkeypatch, env, "file", str(f), "-c", "XZ")
    ref = out.strip()
    typed = ref.lower().replace("·", "-")
    code, out, err = sgz(capsys, monkeypatch, env, "get", typed, "-o", str(tmp_path / "b.txt"),
                         "--reason", "核对", "--json")
    assert code == 0 and json.loads(out)["id"] == ref, err
    code, _, err = sgz(capsys, monkeypatch, env, "paper", "place", ref, "--box", "-5")
    assert code == 6 and "盒号应为正整数" in err
    code, out, err = sgz(capsys, monkeypatch, env, "paper", "place", ref, "--box", "007")
    assert code == 0, err
    code, _, err = sgz(capsys, monkeypatch, env, "user", "add", "recovery", "--role", "社工")
    assert code == 6 and "保留名称" in err


@pytest.mark.parametrize("raised", ["interrupt", "abort"])
def test_ctrl_c_is_an_interruption_not_a_usage_error(monkeypatch, capsys, raised) -> None:
    """click turns Ctrl-C into Abort, which read '已取消' with exit 2 (the usage-error code):
    an interrupted command exits 130 and says what was kept."""
    import click

    import archive.cli.main as cli_main

    def interrupted(**kw: object) -> None:
        if raised == "interrupt":
            raise KeyboardInterrupt
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise click.exceptions.Abort() from None

    monkeypatch.setattr(cli_main.cli, "main", interrupted)
    with pytest.raises(SystemExit) as exc:
        main(["ls"])
    assert exc.value.code == 130 and "已中断" in capsys.readouterr().err


def test_init_takes_the_first_users_name_and_yaml_errors_are_chinese(home: Path, capsys,
                                                                      monkeypatch,
                                                                      tmp_path: Path) -> None:
    """The 备考表 named its 整理人 by login (the first user had no way to give her name), and a
    bad YAML data file answered in PyYAML's English."""
    e = sgz_env(home, user="zhaolh")
    code, _, err = sgz(capsys, monkeypatch, e, "init", "--user", "zhaolh", "--display",
                       "赵丽华\u202e", "--role", "head")
    assert code == 0, err
    code, out, err = sgz(capsys, monkeypatch, e, "user", "list", "--json")
    assert [u["display"] for u in json.loads(out) if u["name"] == "zhaolh"] == ["赵丽华"]
    bad = tmp_path / "d.yaml"
    bad.write_text("key_keeper: 王五\n  check_frequency: [每月\n", encoding="utf-8")
    code, _, err = sgz(capsys, monkeypatch, e, "gen", "confidentiality-rules", "--sample",
                       "--data", str(bad), "-o", str(tmp_path / "x.docx"))
    assert code == 6 and "不是有效的 YAML" in err and "第 " in err
    assert not any(w in err for w in ("mapping", "expected", "while"))


@pytest.mark.slow
def test_ctrl_c_stops_filing_between_batches_and_keeps_what_was_filed(cli_home,
                                                                      tmp_path: Path) -> None:
    """A Ctrl-C raised wherever the main thread was could leave a lock of the filing pipeline
    held, and `sgz file` hung for ever (seen with a 135 MB file). The first Ctrl-C now stops
    filing between batches: every batch before is filed whole and printed, the rest is not
    touched, and the command exits 130."""
    import signal
    import subprocess
    import sys

    home, env = cli_home
    files = []
    for i in range(300):
        f = tmp_path / f"n{i:03d}.txt"
        f.write_text(f"第{i}份记录：内容各不相同 {i * 7919}", encoding="utf-8")
        files.append(str(f))
    p = subprocess.Popen([sys.executable, "-m", "archive.cli.main", "file", *files, "-c", "XZ",
                          "--archive-pdf-now", "0"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    first = p.stdout.readline()  # the first batch is filed
    assert first.startswith("Z001-")
    p.send_signal(signal.SIGINT)
    out = p.stdout.read()  # (what readline buffered too)
    err = p.stderr.read() if p.stderr else ""
    p.wait(timeout=120)  # never hangs
    refs = [first.strip(), *out.split()]
    assert p.returncode == 130, err
    assert "正在停止" in err and "已中断" in err and "其余" in err
    assert len(refs) % 64 == 0 and 64 <= len(refs) < 300  # whole batches only
    r = subprocess.run([sys.executable, "-m", "archive.cli.main", "ls", "--json"], env=env,
                       capture_output=True, text=True)
    assert sorted(x["ref"] for x in json.loads(r.stdout)) == sorted(refs)
    r = subprocess.run([sys.executable, "-m", "archive.cli.main", "check"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
