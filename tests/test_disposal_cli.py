"""CLI wiring for `sgz retention`, `hold`, `disposal`: ids on stdout, exit codes 4/5/6."""

from __future__ import annotations

import json

from conftest import run_sgz, sgz_env

W = ["--witness", "李四（副站长）", "--witness", "赵敏（街道社会事务办）"]


def _file(env, make_file, name: str, year: int = 2015) -> str:
    p = make_file(name, f"内容 {name}")
    r = run_sgz(["file", str(p), "--category", "XZ", "--year", str(year), "--retention", "D10"],
                env)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_full_disposal_flow_and_refusals(cli_home, make_file) -> None:
    home, env = cli_home
    ref = _file(env, make_file, "a.txt")
    other = _file(env, make_file, "b.txt")
    r = run_sgz(["retention", "due", "--as-of", "2026-01-01", "--json"], env)
    assert r.returncode == 0 and [d["ref"] for d in json.loads(r.stdout)] == [ref, other]

    r = run_sgz(["hold", "add", ref, "--reason", "涉及未结投诉"], env)
    assert (r.returncode, r.stdout.strip()) == (0, ref)
    r = run_sgz(["disposal", "propose", ref], env)
    assert r.returncode == 5 and "冻结" in r.stderr
    assert run_sgz(["hold", "remove", ref, "--reason", "已办结"], env).returncode == 0

    r = run_sgz(["retention", "extend", other, "--to", "D30", "--reason", "鉴定后延长"], env)
    assert (r.returncode, r.stdout.strip()) == (0, other)
    r = run_sgz(["disposal", "propose", other], env)
    assert r.returncode == 4 and "未到期" in r.stderr

    r = run_sgz(["disposal", "propose", "--due", "--json"], env)
    assert r.returncode == 0, r.stderr
    batch = json.loads(r.stdout)
    bid = batch["id"]
    assert bid == "XH-2026-0001" and [i["ref"] for i in batch["items"]] == [ref]
    # the title is a sealed field: shown opened (a review saw it empty, even to the head)
    shown = json.loads(run_sgz(["disposal", "show", bid, "--json"], env).stdout)
    assert [i["title"] for i in shown["items"]] == ["a"]

    r = run_sgz(["disposal", "execute", bid, *W], env)
    assert r.returncode == 4 and "未经站长批准" in r.stderr
    assert run_sgz(["user", "add", "wangli", "--role", "archivist"], env).returncode == 0
    arch = sgz_env(home, user="wangli")
    r = run_sgz(["disposal", "approve", bid], arch)
    assert r.returncode == 5 and "站长" in r.stderr
    r = run_sgz(["disposal", "approve", bid], env)
    assert (r.returncode, r.stdout.strip()) == (0, bid)

    r = run_sgz(["disposal", "execute", bid], arch)
    assert r.returncode == 5 and "监销人" in r.stderr
    r = run_sgz(["disposal", "execute", bid, "--witness", "李四"], arch)
    assert r.returncode == 5 and "两名以上" in r.stderr
    r = run_sgz(["disposal", "execute", bid, "--witness", "wangli", "--witness", "李四"], arch)
    assert r.returncode == 5 and "执行人本人" in r.stderr
    r = run_sgz(["disposal", "execute", bid, *W], arch)
    assert (r.returncode, r.stdout.strip()) == (0, bid), r.stderr

    r = run_sgz(["disposal", "show", bid, "--json"], env)
    shown = json.loads(r.stdout)
    assert shown["state"] == "executed" and shown["items"][0]["state"] == "destroyed"
    r = run_sgz(["disposal", "list"], env)
    assert bid in r.stdout and "已销毁" in r.stdout
    r = run_sgz(["get", ref, "-o", str(home.parent / "x.txt"), "--reason", "r"], env)
    assert r.returncode == 4
    r = run_sgz(["disposal", "execute", bid, *W], env)
    assert r.returncode == 4


def test_bad_input_exit_codes_and_help(cli_home) -> None:
    home, env = cli_home
    assert run_sgz(["disposal", "show", "XH-2026-0009"], env).returncode == 3
    assert run_sgz(["disposal", "show", "batch-1"], env).returncode == 6
    assert run_sgz(["disposal", "propose"], env).returncode == 2
    assert run_sgz(["retention", "due", "--as-of", "明天"], env).returncode == 6
    r = run_sgz(["retention", "table", "--json"], env)
    assert r.returncode == 0 and any(row["name"] == "记账凭证" for row in json.loads(r.stdout))
    for group in ("retention", "hold", "disposal"):
        r = run_sgz([group, "--help"], env)
        assert r.returncode == 0 and "示例" in r.stdout


def test_unknown_retention_key_is_named(cli_home) -> None:
    home, env = cli_home
    toml = home / "station.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + '\n[retention]\nkeep = "Y"\n',
                    encoding="utf-8")
    r = run_sgz(["retention", "table"], env)
    assert r.returncode == 6 and "keep" in r.stderr
