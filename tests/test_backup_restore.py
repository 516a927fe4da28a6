"""Backup, verify and restore: a real backup restored elsewhere round-trips every document."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import CHEAP_WF, PASS, run_sgz, sgz_env

from archive.app import Archive
from archive.errors import Conflict, DecryptionFailed, IntegrityError, ValidationError

DOCS = {
    "走访记录.txt": "服务对象欧阳某某，低保边缘户，需要临时救助。".encode(),
    "照片.bin": os.urandom(300_000),
    "制度.txt": "档案管理制度\n第一条".encode(),
}


@pytest.fixture
def filled(arc, make_file):
    refs = {}
    for name, data in DOCS.items():
        refs[name] = arc.records.file([make_file(name, data)], category="FW", title=f"题名{name}",
                              household="H-0042")[0].ref
    return arc, refs


def _unlocker(clock):
    def unlock(root: Path) -> Archive:
        return Archive.unlock(root, user="zhangsan", passphrase=PASS, clock=clock,
                              kdf_work_factor=CHEAP_WF)
    return unlock


def test_backup_layout_manifest_and_audit(filled, tmp_path: Path) -> None:
    arc, refs = filled
    dest = tmp_path / "bk"
    rep = arc.maintenance.backup(dest)
    assert rep.ok and rep.objects == 3 and not (tmp_path / "bk.partial").exists()
    m = json.loads((dest / "MANIFEST.json").read_text(encoding="utf-8"))
    parts = {(f["part"], f["path"]) for f in m["files"]}
    keys = {p for part, p in parts if part == "keys"}
    assert keys == {"vault/keyring"} | {f"vault/keys/{p.name}" for p in arc.kernel.home.keys.glob("*.age")}
    data = {p for part, p in parts if part == "data"}
    assert {"station.toml", "vault/vault.json", "vault/catalog.db", "vault/audit/log.jsonl"} <= data
    assert not any("indexes" in p or "/keys/" in p or p.endswith("keyring") for p in data)
    assert not list((dest / "data").rglob("keyring")) and not (dest / "data" / "vault" / "keys").exists()
    # the manifest holds no names, titles, file names or household ids
    raw = (dest / "MANIFEST.json").read_text(encoding="utf-8")
    for needle in ("zhangsan", "题名", "走访", "H-0042", "欧阳", *refs.values()):
        assert needle not in raw
    acts = [(e.action, e.ref) for e in arc.kernel.audit.entries()]
    assert acts[-1] == ("backup", None) and ("backup.begin", None) in acts
    last = list(arc.kernel.audit.entries(decrypt=True))[-1]
    assert last.detail["dest"] == str(dest.absolute()) and last.detail["files"] == rep.files
    assert arc.verify_backup(dest).ok


def test_restore_round_trips_every_document(filled, tmp_path: Path, clock) -> None:
    arc, refs = filled
    arc.users.add("lisi", "deputy", "another-passphrase")  # a service-record key holder
    dest = tmp_path / "bk"
    arc.maintenance.backup(dest)
    new = tmp_path / "elsewhere" / "station"
    rep = Archive.restore(dest, new, unlock=_unlocker(clock), clock=clock)
    assert rep.check.ok and rep.check.read == 3 and not new.with_name("station.partial").exists()
    assert (new / "indexes").is_dir() and not (new / "vault" / ".sgz-partial").exists()
    with Archive.unlock(new, user="lisi", passphrase="another-passphrase", clock=clock,
                        kdf_work_factor=CHEAP_WF) as r:
        for name, ref in refs.items():
            out = tmp_path / f"back-{name}"
            r.records.get(ref, out, reason="恢复核对")
            assert out.read_bytes() == DOCS[name]
    with Archive.unlock(new, user="zhangsan", passphrase=PASS, clock=clock,
                        kdf_work_factor=CHEAP_WF) as r:
        assert r.maintenance.check(read_data=True).ok
        restored = [e for e in r.kernel.audit.entries() if e.action == "restore"]
        assert len(restored) == 1
    from archive.audit.verify import verify_log

    assert verify_log(new / "vault" / "audit").entries > 0


def test_restore_refuses_initialised_or_nonempty_target(filled, tmp_path: Path, clock) -> None:
    arc, _ = filled
    arc.maintenance.backup(tmp_path / "bk")
    with pytest.raises(Conflict, match="已经是一个 sgz 站点目录"):
        Archive.restore(tmp_path / "bk", arc.kernel.home.root, unlock=_unlocker(clock), clock=clock)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    with pytest.raises(Conflict, match="不是空文件夹"):
        Archive.restore(tmp_path / "bk", busy, unlock=_unlocker(clock), clock=clock)


def test_restore_wrong_passphrase_leaves_nothing(filled, tmp_path: Path, clock) -> None:
    arc, _ = filled
    arc.maintenance.backup(tmp_path / "bk")
    new = tmp_path / "new"

    def bad(root: Path) -> Archive:
        return Archive.unlock(root, user="zhangsan", passphrase="wrong-passphrase", clock=clock,
                              kdf_work_factor=CHEAP_WF)

    with pytest.raises(DecryptionFailed):
        Archive.restore(tmp_path / "bk", new, unlock=bad, clock=clock)
    assert not new.exists() and not (tmp_path / "new.partial").exists()


def test_backup_refuses_nonempty_dest_and_dest_inside_home(filled, tmp_path: Path) -> None:
    arc, _ = filled
    d = tmp_path / "d"
    d.mkdir()
    (d / "keep.txt").write_text("keep")
    with pytest.raises(Conflict):
        arc.maintenance.backup(d)
    with pytest.raises(ValidationError):
        arc.maintenance.backup(arc.kernel.home.root / "bk")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert arc.maintenance.backup(empty).ok and (empty / "MANIFEST.json").exists()


@pytest.mark.parametrize("damage", ["flip", "missing", "extra", "log"])
def test_verify_catches_damage(filled, tmp_path: Path, damage: str, clock) -> None:
    arc, _ = filled
    dest = tmp_path / "bk"
    arc.maintenance.backup(dest)
    obj = next((dest / "data" / "vault" / "objects").glob("??/*.age"))
    if damage == "flip":
        b = bytearray(obj.read_bytes())
        b[100] ^= 1
        obj.write_bytes(bytes(b))
        want = "文件内容被改动或损坏（SHA-256 不符）"
    elif damage == "missing":
        (dest / "keys" / "vault" / "keyring").unlink()
        want = "缺少文件：keys/vault/keyring"
    elif damage == "extra":
        (dest / "data" / "vault" / "objects" / "stray.age").write_bytes(b"x")
        want = "清单中没有的多余文件：data/vault/objects/stray.age"
    else:
        log = dest / "data" / "vault" / "audit" / "log.jsonl"
        log.write_bytes(log.read_bytes().replace(b'"zhangsan"', b'"zhangsam"', 1))
        want = "文件内容被改动或损坏"
    rep = arc.verify_backup(dest)
    assert not rep.ok and any(want in p for p in rep.problems), rep.problems
    with pytest.raises(IntegrityError, match="备份校验失败"):
        Archive.restore(dest, tmp_path / "new", unlock=_unlocker(clock), clock=clock)
    assert not (tmp_path / "new").exists()


def test_cli_backup_verify_restore(cli_home, tmp_path: Path) -> None:
    home, env = cli_home
    src = tmp_path / "记录.txt"
    src.write_bytes("一户一档 走访记录".encode())
    r = run_sgz(["file", str(src), "--category", "FW"], env)
    ref = r.stdout.strip()
    bk = tmp_path / "bk"
    r = run_sgz(["backup", str(bk)], env)
    assert r.returncode == 0 and r.stdout.strip() == str(bk.absolute()), r.stderr
    r = run_sgz(["backup", "verify", str(bk)], {k: v for k, v in env.items() if k != "SGZ_PASSPHRASE"})
    assert r.returncode == 0 and r.stdout.startswith("完好："), r.stderr
    r = run_sgz(["backup", str(bk)], env)
    assert r.returncode == 4
    new = tmp_path / "restored"
    r = run_sgz(["restore", str(bk), "--home", str(new)], env)
    assert r.returncode == 0 and r.stdout.strip() == str(new), r.stderr
    for args in (["check", "--read-data"], ["audit", "verify"]):
        r = run_sgz(["--home", str(new), *args], env)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    out = tmp_path / "back.txt"
    r = run_sgz(["--home", str(new), "get", ref, "-o", str(out), "--reason", "核对"], env)
    assert r.returncode == 0 and out.read_bytes() == src.read_bytes()
    (bk / "data" / "station.toml").write_text("damaged", encoding="utf-8")
    r = run_sgz(["backup", "verify", str(bk), "--json"], env)
    assert r.returncode == 8 and not json.loads(r.stdout)["ok"]


def test_keys_rotate_cli_is_head_only(cli_home, tmp_path: Path) -> None:
    home, env = cli_home
    assert run_sgz(["user", "add", "lisi", "--role", "archivist"], env).returncode == 0
    r = run_sgz(["keys", "rotate"], sgz_env(home, user="lisi"))
    assert r.returncode == 5
    r = run_sgz(["keys", "rotate", "--json"], env)
    assert r.returncode == 0 and json.loads(r.stdout)["epoch"] == 2
    assert run_sgz(["check"], env).returncode == 0
