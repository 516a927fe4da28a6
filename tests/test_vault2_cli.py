"""The format-2 commands through the real `sgz` process: a format-1 home is refused naming
`sgz upgrade`; `sgz upgrade` converts it and prints a new recovery code; other users log in
with their old passphrases; `sgz user role` and `sgz keys rotate --rewrap` revoke."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_sgz, sgz_env
from vault2_fixtures import PASS, golden_copy


def test_format1_home_refused_then_upgraded(tmp_path: Path) -> None:
    home = golden_copy(tmp_path)
    env = sgz_env(home, user="zhangsan", passphrase=PASS)
    r = run_sgz(["ls"], env)
    assert r.returncode == 4 and "sgz upgrade" in r.stderr, r.stderr
    r = run_sgz(["upgrade", "--json"], env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["records"] == 6 and len(out["recovery_code"]) == 31
    assert sorted(out["pending_users"]) == ["lisi", "sunqi", "wangwu", "zhaoliu", "zhouba"]
    r = run_sgz(["ls", "--json"], env)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == 6
    # the archivist logs in with her unchanged passphrase; service titles are sealed to her
    r = run_sgz(["ls", "--json"], sgz_env(home, user="wangwu", passphrase=PASS))
    assert r.returncode == 0, r.stderr
    titles = {row["ref"]: row["title"] for row in json.loads(r.stdout)}
    assert [t for ref, t in titles.items() if "-FW-" in ref] == ["（无权查看）"] * 2
    assert "社工站例会制度" in titles.values()
    r = run_sgz(["get", next(ref for ref in titles if "-FW-" in ref), "-o",
                 str(tmp_path / "x.txt"), "--reason", "核对"],
                sgz_env(home, user="wangwu", passphrase=PASS))
    assert r.returncode == 5 and "密钥" in r.stderr
    # the new recovery code works; the old one does not
    rec = sgz_env(home, user="recovery", passphrase=out["recovery_code"])
    assert run_sgz(["ls"], rec).returncode == 0
    old = (Path(__file__).parent / "golden" / "format1" / "recovery.txt").read_text().strip()
    assert run_sgz(["ls"], sgz_env(home, user="recovery", passphrase=old)).returncode == 7


def test_role_change_and_rotate_rewrap(tmp_path: Path) -> None:
    home = golden_copy(tmp_path)
    env = sgz_env(home, user="zhangsan", passphrase=PASS)
    assert run_sgz(["upgrade"], env).returncode == 0
    sw = sgz_env(home, user="lisi", passphrase=PASS)
    r = run_sgz(["ls", "--json"], sw)
    fw = [row["ref"] for row in json.loads(r.stdout) if "-FW-" in row["ref"]]
    assert run_sgz(["get", fw[0], "-o", str(tmp_path / "a.txt"), "--reason", "跟进"],
                   sw).returncode == 0
    r = run_sgz(["user", "role", "lisi", "archivist"], env)
    assert r.returncode == 0, r.stderr
    r = run_sgz(["get", fw[0], "-o", str(tmp_path / "b.txt"), "--reason", "跟进"], sw)
    assert r.returncode == 5, r.stderr
    r = run_sgz(["keys", "rotate", "--rewrap", "--json"], env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rewrap"] is True
    assert run_sgz(["get", fw[0], "-o", str(tmp_path / "c.txt"), "--reason", "核对"],
                   env).returncode == 0
