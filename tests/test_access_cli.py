"""CLI wiring of `sgz access`, `subject`, `refer`, `export`: ids on stdout, JSON, exit codes;
every refusal names its rule (in Chinese), exits 5 and is audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from access_fixtures import USERS, pdf_bytes
from conftest import CHEAP_WF, PASS, sgz_env

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


class Cli:
    def __init__(self, home: Path, tmp: Path, capsys, monkeypatch) -> None:
        self.home, self.tmp, self.capsys, self.mp = home, tmp, capsys, monkeypatch

    def __call__(self, user: str, *args: str) -> tuple[int, str, str]:
        return sgz(self.capsys, self.mp, sgz_env(self.home, user=user), *args)

    def ok(self, user: str, *args: str) -> str:
        code, out, err = self(user, *args)
        assert code == 0, (args, err)
        return out.strip()

    def refused(self, user: str, needle: str, *args: str) -> str:
        before = self.denied()
        code, out, err = self(user, *args)
        assert code == 5, (args, code, err)
        assert needle in err and err.startswith("错误："), err
        assert out == ""
        assert self.denied() == before + 1  # logged
        return err

    def denied(self) -> int:
        from archive.audit.log import AuditLog
        from archive.kernel.home import HomePaths

        vault_id = HomePaths(self.home).read_vault_id()
        log = AuditLog(self.home / "vault" / "audit", vault_id=vault_id,
                       clock=lambda: datetime.now(UTC))  # keyless reader
        return sum(1 for e in log.entries() if e.action == "denied")

    def write(self, name: str, data: bytes) -> str:
        p = self.tmp / "src" / name
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data)
        return str(p)

    def file(self, name: str, data: bytes, *opts: str) -> str:
        return self.ok("zhangsan", "file", self.write(name, data), *opts)


@pytest.fixture
def cli(home: Path, tmp_path: Path, capsys, monkeypatch) -> Cli:
    c = Cli(home, tmp_path, capsys, monkeypatch)
    c.ok("zhangsan", "init", "--user", "zhangsan", "--role", "head")
    for name, role in USERS.items():
        c.ok("zhangsan", "user", "add", name, "--role", role)
    return c


def _request(cli: Cli, user: str, items: str, *extra: str) -> str:
    letter = cli.write(f"letter-{user}-{items[-4:]}-{len(extra)}.pdf", pdf_bytes("介绍信", user, items, *extra))
    return cli.ok(user, "access", "request", "--unit", "示例评估中心", "--letter", letter,
                  "--purpose", "第三方评估", "--items", items, *extra)


def test_full_outside_access_flow(cli: Cli, tmp_path: Path) -> None:
    a = cli.file("a.pdf", pdf_bytes("工作总结"), "-c", "XZ", "-t", "工作总结")
    b = cli.file("b.pdf", pdf_bytes("管理制度"), "-c", "XZ", "-t", "管理制度")
    req = _request(cli, "wang", f"{a}，{b}", "--copy")
    assert req == "CY-2026-0001" or (req.startswith("CY-") and req.endswith("-0001"))
    code, out, _ = cli("wang", "access", "request", "--unit", "单位二", "--letter",
                       cli.write("l2.pdf", pdf_bytes("第二封")), "--purpose", "核查",
                       "--items", a, "--json")
    second = json.loads(out)
    assert code == 0 and second["id"].endswith("-0002") and second["status"] == "pending"
    assert cli.ok("zhangsan", "access", "approve", req, "--allow-copy") == req
    assert cli.ok("lisi", "access", "deny", second["id"], "--reason", "未盖章") == second["id"]
    listed = json.loads(cli.ok("wang", "access", "list", "--json"))
    assert [(r["no"], r["status"]) for r in listed] == [(req, "approved"), (second["id"], "denied")]
    assert "已驳回" in cli.ok("wang", "access", "list")
    assert cli.ok("wang", "access", "list", "--status", "pending", "--json") == "[]"
    view = cli.ok("wang", "access", "view", req, a, "-o", str(tmp_path / "v.pdf"))
    assert view == f"{req}-01" and (tmp_path / "v.pdf").read_bytes().startswith(b"%PDF")
    copy = json.loads(cli.ok("wang", "access", "copy", req, b, "-o", str(tmp_path / "c.pdf"),
                             "--json"))
    assert copy["id"].startswith("FZ-") and copy["kind"] == "copy"
    shown = cli.ok("wang", "access", "show", req)
    assert "示例评估中心" in shown and f"{req}-01" in shown and copy["id"] in shown
    out_doc = tmp_path / "登记.docx"
    assert cli.ok("wang", "access", "register", "-o", str(out_doc)) == str(out_doc)
    assert out_doc.read_bytes().startswith(b"PK")
    assert cli("wang", "access", "register", "-o", str(out_doc))[0] == 4  # exists
    assert cli.ok("zhangsan", "access", "flags", "--json") == "[]"
    code, _, err = cli("wang", "access", "approve", "CY-2026-0099")
    assert code == 3 and "不存在" in err
    code, _, err = cli("zhangsan", "access", "approve", req)
    assert code == 4 and "已批准" in err


def test_every_refusal_names_the_rule_exits_5_and_is_logged(cli: Cli, tmp_path: Path) -> None:
    a = cli.file("a.pdf", pdf_bytes("工作总结"), "-c", "XZ", "-t", "工作总结")
    b = cli.file("b.pdf", pdf_bytes("管理制度"), "-c", "XZ", "-t", "管理制度")
    precious = cli.file("p.pdf", pdf_bytes("建站批复"), "-c", "XZ", "-t", "建站批复", "--precious")
    # wrong role: a social worker cannot register, an archivist cannot approve
    cli.refused("zhao", "档案管理员（或站长、副站长）登记", "access", "request", "--unit", "某单位",
                "--letter", cli.write("l.pdf", pdf_bytes("x")), "--purpose", "p", "--items", a)
    req = _request(cli, "wang", f"{a},{precious}")
    cli.refused("sun", "签字批准", "access", "approve", req)
    # self-approval
    own = _request(cli, "zhangsan", a)
    cli.refused("zhangsan", "不得审批本人登记的申请", "access", "approve", own)
    cli.refused("zhangsan", "不得审批本人登记的申请", "access", "deny", own, "--reason", "x")
    # precious: no copying approved, and no copy ever made
    cli.refused("zhangsan", "珍贵档案一律不得复制", "access", "approve", req, "--allow-copy")
    cli.ok("zhangsan", "access", "approve", req)
    cli.refused("wang", "珍贵档案一律不得复制", "access", "copy", req, precious,
                "-o", str(tmp_path / "p.pdf"))
    cli.refused("wang", "未获准复制", "access", "copy", req, a, "-o", str(tmp_path / "a.pdf"))
    # item not in the request
    cli.refused("wang", "不在批准的查阅范围内", "access", "view", req, b, "-o", str(tmp_path / "b.pdf"))
    # expired approval: approved (through the library) with a clock three weeks back
    from archive.app import Archive

    old = _request(cli, "wang", a)
    past = datetime.now(UTC) - timedelta(days=21)
    with Archive.unlock(cli.home, user="lisi", passphrase=PASS, clock=lambda: past,
                        kdf_work_factor=CHEAP_WF) as deputy:
        deputy.access.approve(old)
    cli.refused("wang", "不在批准的查阅期限内", "access", "view", old, a, "-o", str(tmp_path / "o.pdf"))
    assert json.loads(cli.ok("wang", "access", "list", "--status", "expired", "--json"))[0]["no"] == old
    # only the head sees the flags
    cli.refused("wang", "审计详情", "access", "flags")
    assert not list(tmp_path.glob("*.pdf"))


def test_people_rights_commands(cli: Cli, tmp_path: Path) -> None:
    hh = "H0012"
    rec = cli.file("r.txt", "服务对象王淑芬，电话13812345678".encode(), "-c", "FW", "-t", "个案记录",
                   "--household", hh, "--responsible", "zhao")
    out = cli.ok("zhao", "subject", "export", "--household", hh, "-o", str(tmp_path / "s"),
                 "--reason", "服务对象本人申请")
    assert out == str(tmp_path / "s") and (tmp_path / "s" / "清单.csv").exists()
    cli.refused("zhao", "未存档已签署的转介同意书", "refer", "--household", hh, "--to", "区残联",
                "-o", str(tmp_path / "r0"))
    code, out, err = cli("zhao", "refer", "--household", hh, "--to", "派出所", "-o",
                         str(tmp_path / "r1"), "--override-reason", "人身安全", "--json")
    assert code == 0 and json.loads(out)["flagged"] is True and "站长关注" not in err
    flags = json.loads(cli.ok("zhangsan", "access", "flags", "--json"))
    assert [f["action"] for f in flags] == ["record.refer"]
    cli.ok("zhangsan", "access", "flags", "--ack", str(flags[0]["id"]))
    assert cli.ok("zhangsan", "access", "flags", "--json") == "[]"
    code, _, err = cli("zhao", "export", rec, "-o", str(tmp_path / "e0"))
    assert code == 2 and "--anonymize" in err
    out = cli.ok("zhao", "export", rec, "--anonymize", "-o", str(tmp_path / "e"), "--names", "王淑芬")
    masked = next((tmp_path / "e").glob("*.txt")).read_text(encoding="utf-8")
    assert "王淑芬" not in masked and "13812345678" not in masked and "王**" in masked
    # correction: a new version, the original still retrievable
    new = cli.write("r2.txt", "服务对象王淑芬，电话13812345679".encode())
    assert cli.ok("zhao", "file", new, "--of", rec, "--reason", "电话笔误") == rec
    cli.ok("zhao", "get", rec, "-o", str(tmp_path / "orig.txt"), "--reason", "核对",
           "--component", "1")
    assert (tmp_path / "orig.txt").read_text(encoding="utf-8").endswith("13812345678")


def test_help_is_chinese_with_examples(cli: Cli) -> None:
    for args in (["access", "--help"], ["access", "view", "--help"], ["subject", "export", "--help"],
                 ["refer", "--help"], ["export", "--help"]):
        code, out, _ = cli("zhangsan", *args)
        assert code == 0 and ("示例" in out or "流程" in out), args
