"""Recovery from a backup made by `sgz backup`, with only Debian `age`, the recovery code and
the POSIX shell steps of docs/recovery.md (issue 15's CI test)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import run_sgz, sgz_env
from test_recovery_export import _doc_blocks, _run_sh_on_pty

from archive.app import Archive
from archive.kernel.home import HomePaths

pytestmark = pytest.mark.agecli


@pytest.mark.skipif(shutil.which("age") is None, reason="age 命令行工具未安装（apt install age）")
def test_sgz_backup_recovers_with_stock_age_and_the_documented_shell(tmp_path: Path) -> None:
    home, src, backup, out = (tmp_path / n for n in ("station", "src", "backup", "recovered"))
    src.mkdir()
    env = sgz_env(home)
    r = run_sgz(["init", "--user", "zhangsan", "--role", "head"], env)
    assert r.returncode == 0, r.stderr
    code = r.stdout.strip().splitlines()[-1]
    meta = json.loads(HomePaths(home).vault_json.read_text())
    assert meta["recovery_recipient"].startswith("age1")
    assert HomePaths(home).recovery_identity.is_file()
    plain: dict[str, bytes] = {}
    for i in range(1, 5):
        p = src / f"记录{i}.txt"
        p.write_bytes(os.urandom(3000 + i) + f"入户走访记录{i}".encode())
        r = run_sgz(["file", str(p), "--category", "XZ", "--title", f"走访记录 第{i}号"], env)
        assert r.returncode == 0, r.stderr
        plain[r.stdout.strip()] = p.read_bytes()
    r = run_sgz(["backup", "create", str(backup)], env)
    assert r.returncode == 0, r.stderr
    assert (backup / "open-export.age").is_file()
    assert (backup / "keys" / "vault" / "keys" / "recovery-identity.age").is_file()
    assert run_sgz(["backup", "verify", str(backup)], env).returncode == 0
    raw = (backup / "open-export.age").read_bytes()
    assert b"AGE-SECRET-KEY" not in raw and "走访".encode() not in raw

    blocks = [b for b in _doc_blocks() if "apt-get" not in b]
    setup, unlock, listing, one, _all, cleanup = blocks
    setup = re.sub(r"^BACKUP=.*$", f"BACKUP='{backup}'", setup, flags=re.M)
    setup = re.sub(r"^OUT=.*$", f"OUT='{out}'", setup, flags=re.M)
    chosen = list(plain)[:3]
    singles = [re.sub(r"^REF=.*$", f"REF='{ref}'", one, flags=re.M) for ref in chosen]
    # no sgz on PATH and no Python: only sh, coreutils, awk, grep and age
    script = "set -e\n" + "\n".join([setup, unlock, listing, *singles])
    rc, transcript = _run_sh_on_pty(script, code.encode())
    assert rc == 0, transcript
    for ref in plain:
        assert ref in transcript and "在库" in transcript
    assert "走访记录 第2号" in transcript
    for ref in chosen:
        assert (out / ref / "01.txt").read_bytes() == plain[ref]
    rc, _ = _run_sh_on_pty("\n".join([setup, cleanup]), b"")
    assert rc == 0 and not (out / "export.tsv").exists()
    # the bulk unwrap for the export is one audit entry
    with Archive.unlock(home, user="zhangsan", passphrase=env["SGZ_PASSPHRASE"]) as arc:
        hist = arc.audit.history(action="backup.open_export")
        assert len(hist) == 1 and hist[0]["detail"]["objects"] == 4


def test_home_without_recovery_identity_warns_and_still_backs_up(tmp_path: Path) -> None:
    home, backup = tmp_path / "station", tmp_path / "backup"
    env = sgz_env(home)
    assert run_sgz(["init", "--user", "zhangsan", "--role", "head"], env).returncode == 0
    hp = HomePaths(home)  # as a home made before issue 15: no recipient in vault.json
    meta = json.loads(hp.vault_json.read_text())
    del meta["recovery_recipient"]
    hp.vault_json.write_text(json.dumps(meta))
    r = run_sgz(["backup", "create", str(backup)], env)
    assert r.returncode == 0, r.stderr
    assert "警告" in r.stderr and "open-export.age" in r.stderr
    assert not (backup / "open-export.age").exists()
    assert run_sgz(["backup", "verify", str(backup)], env).returncode == 0


def test_archivist_backup_leaves_out_only_keys_she_does_not_hold(tmp_path: Path) -> None:
    """Format 2: the archivist holds no service key. Her backup still succeeds; its open export
    lists every record but carries identities only for her compartments, and says so."""
    from archive.crypto import age
    from archive.recovery.open_export import read_open_export
    from archive.vault.keyslots import recovery_passphrase

    home, backup, src = tmp_path / "station", tmp_path / "backup", tmp_path / "src"
    src.mkdir()
    env = sgz_env(home)
    r = run_sgz(["init", "--user", "zhangsan", "--role", "head"], env)
    code = r.stdout.strip().splitlines()[-1]
    assert run_sgz(["user", "add", "lisi", "--role", "archivist"], env).returncode == 0
    arch = sgz_env(home, user="lisi")
    refs = {}
    for cls, text in (("服务", "走访记录 孙桂芝"), ("行政", "行政通知")):
        p = src / f"{cls}.txt"
        p.write_text(text, encoding="utf-8")
        r = run_sgz(["file", str(p), "--category", cls], arch)
        assert r.returncode == 0, r.stderr
        refs[cls] = r.stdout.strip()
    r = run_sgz(["backup", "create", str(backup)], arch)
    assert r.returncode == 0, r.stderr
    assert "警告" in r.stderr and "站长" in r.stderr
    ident_file = backup / "keys" / "vault" / "keys" / "recovery-identity.age"
    ident = age.decrypt_bytes(ident_file.read_bytes(),
                              [age.ScryptIdentity(recovery_passphrase(code))]).decode()
    x25519 = age.X25519Identity.parse(next(line for line in ident.splitlines()
                                           if line.startswith("AGE-SECRET-KEY-1")))
    records, comps = read_open_export(age.decrypt_bytes((backup / "open-export.age").read_bytes(),
                                                        [x25519]))
    listed = {row[1] for row in records}
    assert {refs["服务"], refs["行政"]} <= listed
    keyed = {row[1] for row in comps}
    assert refs["行政"] in keyed and refs["服务"] not in keyed
