"""Real processes: concurrent filing keeps 档号 gap-free; kill -9 leaves all or nothing; locks."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_sgz

REF_PREFIX = "Z001-WS·2026-D30-FW-"


def _popen(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "archive.cli.main", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_filing_is_gap_free(cli_home, tmp_path: Path) -> None:
    home, env = cli_home
    procs = []
    for p in range(4):
        files = []
        for i in range(6):
            f = tmp_path / f"p{p}-{i}.txt"
            f.write_text(f"进程{p} 文件{i}", encoding="utf-8")
            files.append(str(f))
        procs.append(_popen(["file", *files, "--category", "FW", "--retention", "D30",
                             "--year", "2026"], env))
    refs = []
    for pr in procs:
        out, err = pr.communicate(timeout=120)
        assert pr.returncode == 0, err
        refs += out.split()
    assert sorted(refs) == [f"{REF_PREFIX}{n:04d}" for n in range(1, 25)]
    r = run_sgz(["ls", "--json"], env)
    assert r.returncode == 0 and r.stdout.count(REF_PREFIX) == 24


def test_kill_9_during_file_leaves_all_or_nothing(cli_home, tmp_path: Path) -> None:
    home, env = cli_home
    big = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    with open(big, "wb") as f:
        for _ in range(24):
            f.write(block)
    rng = random.Random(7)
    for attempt in range(6):
        src = tmp_path / f"doc{attempt}.bin"
        src.write_bytes(big.read_bytes() + attempt.to_bytes(2, "big"))
        pr = _popen(["file", str(src), "--category", "FW", "--retention", "D30", "--year", "2026"], env)
        time.sleep(rng.uniform(0.05, 1.2))
        pr.send_signal(signal.SIGKILL)
        pr.communicate()
    # The next command works and recovers; every visible item decrypts byte for byte.
    r = run_sgz(["ls", "--json"], env)
    assert r.returncode == 0, r.stderr
    import json

    items = json.loads(r.stdout)
    items.sort(key=lambda d: d["ref"])
    assert [d["ref"] for d in items] == [f"{REF_PREFIX}{n:04d}" for n in range(1, len(items) + 1)]
    for d in items:
        out = tmp_path / f"back-{d['item']}"
        g = run_sgz(["get", d["ref"], "-o", str(out), "--reason", "核对"], env)
        assert g.returncode == 0, g.stderr
        n = int.from_bytes(out.read_bytes()[-2:], "big")
        assert out.read_bytes() == (tmp_path / f"doc{n}.bin").read_bytes()
    assert not any((home / "vault" / "tmp").iterdir())
    # numbering continues without a gap
    nxt = tmp_path / "next.txt"
    nxt.write_text("下一件", encoding="utf-8")
    r = run_sgz(["file", str(nxt), "--category", "FW", "--retention", "D30", "--year", "2026"], env)
    assert r.stdout.strip() == f"{REF_PREFIX}{len(items) + 1:04d}"


def test_home_locked_by_another_writer(cli_home, tmp_path: Path) -> None:
    home, env = cli_home
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time; from archive.fs.filelock import FileLock; "
         f"l=FileLock(__import__('pathlib').Path(r'{home / 'vault' / 'lock'}')); l.acquire(); "
         "print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        f = tmp_path / "a.txt"
        f.write_text("内容", encoding="utf-8")
        r = run_sgz(["file", str(f), "--category", "FW"], {**env, "SGZ_LOCK_TIMEOUT": "0.5"})
        assert r.returncode == 4, r.stderr
        assert "正被另一个进程使用" in r.stderr
    finally:
        holder.kill()
        holder.wait()
    r = run_sgz(["ls", "--json"], env)
    assert r.returncode == 0 and r.stdout.strip() == "[]"


@pytest.mark.slow
def test_two_gib_file_round_trip_with_bounded_memory(cli_home, tmp_path: Path) -> None:
    """A 2 GiB file files and comes back byte-identical; child peak RSS stays under 150 MB."""
    import hashlib

    psutil = pytest.importorskip("psutil")
    home, env = cli_home
    src = tmp_path / "huge.bin"
    block = os.urandom(1 << 20)
    h = hashlib.sha256()
    with open(src, "wb") as f:
        for i in range(2048):
            chunk = block[:-4] + i.to_bytes(4, "big")
            f.write(chunk)
            h.update(chunk)
    peaks = []
    for args in (["file", str(src), "--category", "FW", "--title", "大文件"],
                 ["get", f"Z001-WS·{time.gmtime().tm_year}-D30-FW-0001", "-o",
                  str(tmp_path / "back.bin"), "--reason", "大文件测试"]):
        pr = subprocess.Popen([sys.executable, "-m", "archive.cli.main", *args], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc = psutil.Process(pr.pid)
        peak = 0
        while pr.poll() is None:
            try:
                peak = max(peak, proc.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)
        out, err = pr.communicate()
        assert pr.returncode == 0, err
        peaks.append(peak)
    src.unlink()
    h2 = hashlib.sha256()
    with open(tmp_path / "back.bin", "rb") as f:
        while chunk := f.read(1 << 20):
            h2.update(chunk)
    assert h2.hexdigest() == h.hexdigest()
    assert max(peaks) < 150 * 1024 * 1024, peaks


def test_recovery_never_touches_a_live_session(cli_home, tmp_path: Path) -> None:
    """A second process starting up while the first is mid-filing must not publish or
    delete the first one's staged objects (it found a live session and left it alone)."""
    from conftest import PASS, FixedClock

    from archive.app import Archive

    home, _env = cli_home
    with Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=FixedClock()) as a:
        import io

        staged = a.kernel.objects.stage(io.BytesIO(b"in progress"), a.kernel.keys.fingerprint_key)
        live = a.kernel.objects.session_dir() / f"{staged.object_id}.age"
        with Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=FixedClock()) as b:
            assert b.kernel.objects.leftovers() == []
            b.kernel.objects.recover(lambda _oid: True)
        assert live.exists()
    # once its owner is gone, the session is a leftover: unknown objects are deleted
    with Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=FixedClock()) as c:
        assert not live.exists() and c.kernel.objects.leftovers() == []
