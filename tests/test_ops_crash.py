"""kill -9 during file, get, backup, restore and key rotation: afterwards `sgz check` and
`sgz audit verify` pass (or say exactly what to finish) and no document is lost.

Each crash is a real `sgz` subprocess that SIGKILLs itself at a chosen point (before or after
the Nth call of a function), so every interesting moment is hit deterministically.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_sgz, sgz_env

KILLER = r"""
import importlib, os, signal, sys, threading
target, when, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
mod_name, _, path = target.partition(":")
owner = importlib.import_module(mod_name)
*parents, attr = path.split(".")
for p in parents:
    owner = getattr(owner, p)
orig = getattr(owner, attr)
calls = [0]
lock = threading.Lock()  # staging runs on several threads: each call knows its own number
def wrapped(*a, **k):
    with lock:
        calls[0] += 1
        mine = calls[0]
    if when == "before" and mine == n:
        os.kill(os.getpid(), signal.SIGKILL)
    r = orig(*a, **k)
    if when == "after" and mine == n:
        os.kill(os.getpid(), signal.SIGKILL)
    return r
setattr(owner, attr, wrapped)
from archive.cli.main import main
sys.exit(main(sys.argv[4:]))
"""

DOCS = {f"doc{i}.txt": f"第 {i} 份档案：服务记录 ".encode() * (50 * (i + 1)) for i in range(4)}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("crash")
    home = root / "station"
    env = sgz_env(home)
    assert run_sgz(["init", "--user", "zhangsan", "--role", "head"], env).returncode == 0
    srcs = []
    for name, data in DOCS.items():
        (root / name).write_bytes(data)
        srcs.append(str(root / name))
    r = run_sgz(["file", *srcs, "--category", "FW"], env)
    assert r.returncode == 0, r.stderr
    refs = dict(zip(DOCS, r.stdout.split(), strict=True))
    return home, refs


@pytest.fixture
def station(base, tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    home, refs = base
    h = tmp_path / "station"
    shutil.copytree(home, h)
    return h, sgz_env(h), refs


def crash(env: dict[str, str], target: str, when: str, n: int, *args: str) -> None:
    r = subprocess.run([sys.executable, "-c", KILLER, target, when, str(n), *args], env=env,
                       capture_output=True, text=True)
    assert r.returncode == -9, (r.returncode, r.stdout, r.stderr)


def healthy(home: Path, env: dict[str, str], refs: dict[str, str], extra: int = 0) -> None:
    """check --read-data passes (every object re-hashed, decrypted and its keyed fingerprint
    matched: no document lost or changed) and the audit log verifies."""
    r = run_sgz(["--home", str(home), "check", "--read-data", "--json"], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["read"] == len(refs) + extra
    r = run_sgz(["--home", str(home), "audit", "verify"], env)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("target, when", [
    ("archive.vault.objects:ObjectStore.stage", "after"),   # encrypted, nothing committed
    ("archive.vault.objects:ObjectStore.publish", "before"),  # committed, not yet published
])
def test_kill_during_file(station, tmp_path: Path, target: str, when: str) -> None:
    home, env, refs = station
    src = tmp_path / "new.txt"
    src.write_bytes("新归档的文件".encode())
    crash(env, target, when, 1, "file", str(src), "--category", "FW")
    healthy(home, env, refs, extra=1 if when == "before" else 0)
    r = run_sgz(["ls", "--json"], env)
    assert r.stdout.count('"ref"') == len(refs) + (1 if when == "before" else 0)
    assert not any((home / "vault" / "tmp").iterdir())


@pytest.mark.parametrize("target, when, n, filed", [
    # objects staged in turn, extraction running ahead in workers
    ("archive.vault.objects:ObjectStore.stage", "after", 7, 0),
    ("archive.vault.objects:ObjectStore.sync_staged", "after", 1, 0),  # durable, not committed
    ("archive.audit.log:AuditLog.append_many", "after", 2, 64),  # batch 1 committed, 2 not
    ("archive.vault.objects:ObjectStore.publish", "before", 70, 128),  # both committed
    ("archive.search.service:SearchService.index_batch", "before", 2, 128),
])
def test_kill_during_a_many_file_filing(station, tmp_path: Path, target: str, when: str,
                                        n: int, filed: int) -> None:
    """A crash in a 150-file `sgz file` (batches of 64) leaves whole batches or nothing:
    never a catalogue row whose object is missing or partial."""
    home, env, refs = station
    srcs = []
    for i in range(150):
        src = tmp_path / f"many{i:03d}.txt"
        src.write_bytes(f"第 {i} 份批量归档的服务记录".encode() * 20)
        srcs.append(str(src))
    crash(env, target, when, n, "file", *srcs, "--category", "FW")
    healthy(home, env, refs, extra=filed)
    r = run_sgz(["ls", "--json"], env)
    assert r.stdout.count('"ref"') == len(refs) + filed
    assert not any((home / "vault" / "tmp").iterdir())


def test_kill_during_get(station, tmp_path: Path) -> None:
    home, env, refs = station
    out = tmp_path / "got.txt"
    ref = refs["doc3.txt"]
    crash(env, "archive.kernel.door:PlaintextDoor.open", "after", 1,
          "get", ref, "-o", str(out), "--reason", "核对")
    assert not out.exists()  # at most a hidden .sgz-part next to it, never the target
    healthy(home, env, refs)
    r = run_sgz(["get", ref, "-o", str(out), "--reason", "核对"], env)
    assert r.returncode == 0 and out.read_bytes() == DOCS["doc3.txt"]
    r = run_sgz(["audit", "log", "--action", "record.get", "--json"], env)
    assert ref in r.stdout  # the interrupted export is on record


def test_kill_during_backup_then_rerun(station, tmp_path: Path) -> None:
    home, env, refs = station
    bk = tmp_path / "bk"
    crash(env, "archive.ops.backup:copy_file", "after", 3, "backup", str(bk))
    assert not bk.exists() and (tmp_path / "bk.partial").exists()
    healthy(home, env, refs)
    r = run_sgz(["backup", str(bk)], env)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "bk.partial").exists()
    assert run_sgz(["backup", "verify", str(bk)], env).returncode == 0


@pytest.mark.parametrize("target, when, n", [
    ("archive.ops.backup:copy_file", "after", 4),   # while copying
    ("archive.ops.check:read_data", "before", 1),   # unlocked and audited, before the check
])
def test_kill_during_restore_then_rerun(station, tmp_path: Path, target: str, when: str, n: int) -> None:
    home, env, refs = station
    bk = tmp_path / "bk"
    assert run_sgz(["backup", str(bk)], env).returncode == 0
    new = tmp_path / "restored"
    crash(env, target, when, n, "restore", str(bk), "--home", str(new))
    assert not new.exists() and (tmp_path / "restored.partial").exists()
    r = run_sgz(["restore", str(bk), "--home", str(new)], env)
    assert r.returncode == 0, r.stderr
    healthy(new, env, refs)


@pytest.mark.parametrize("target, when, n", [
    ("archive.vault.lifecycle:save", "after", 1),      # new epochs saved, catalogue not re-keyed
    ("archive.vault.revocation:rekey_catalogue", "after", 1),  # re-keyed, old epoch not erased
    ("archive.vault.objectkeys:wrap_identity", "after", 2),  # mid re-wrap transaction
    ("archive.vault.keybag:KeyBag.forget_before", "before", 2),  # re-wrapped, old epochs kept
])
def test_kill_during_key_rotation(station, tmp_path: Path, target: str, when: str, n: int) -> None:
    home, env, refs = station
    crash(env, target, when, n, "keys", "rotate", "--rewrap")
    healthy(home, env, refs)
    r = run_sgz(["keys", "rotate", "--rewrap", "--json"], env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["epoch"] == 3
    healthy(home, env, refs)
