"""No log, no key: when the audit log cannot be written, every path to plaintext (and every
audited state change) refuses with AuditUnavailable and releases nothing."""

from __future__ import annotations

import errno
import stat
from pathlib import Path

import pytest
from conftest import run_sgz

from archive.errors import AuditUnavailable


@pytest.fixture
def full_disk(arc, make_file, monkeypatch):
    """An archive with one item, whose audit log then hits ENOSPC on every write."""
    ref = arc.records.file([make_file("a.txt", "服务对象资料")], category="FW")[0].ref

    def no_space(fd: int, data: bytes, *, restore_to: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("archive.audit.log._write_all", no_space)  # format 2
    return arc, ref


def test_get_refuses_and_writes_nothing(full_disk, tmp_path: Path) -> None:
    arc, ref = full_disk
    out = tmp_path / "out.txt"
    with pytest.raises(AuditUnavailable):
        arc.records.get(ref, out, reason="核对")
    assert not out.exists() and not list(tmp_path.glob(".out.txt*"))


def test_open_plaintext_refuses_before_the_key(full_disk, monkeypatch) -> None:
    arc, ref = full_disk
    rec = arc.kernel.records.get(ref)
    comp = arc.kernel.records.components(rec.id)[0]
    opened = []
    monkeypatch.setattr(arc.kernel.objects, "open", lambda oid: opened.append(oid))
    with pytest.raises(AuditUnavailable):
        arc.kernel.door.open(arc.kernel.authorize("record.read", rec, reason="t"), rec, comp,
                             action="record.get", detail={})
    assert opened == []


def test_file_refuses_and_leaves_no_item(full_disk, make_file) -> None:
    arc, _ = full_disk
    with pytest.raises(AuditUnavailable):
        arc.records.file([make_file("b.txt", "另一份")], category="FW")
    assert len(list(arc.kernel.records.list())) == 1
    assert arc.kernel.objects.leftovers() == [] and not any(arc.kernel.objects.session_dir().iterdir())
    assert len(arc.kernel.objects.iter_ids()) == 1


@pytest.mark.parametrize("call", [
    lambda a, ref, tmp: a.maintenance.check(read_data=True),
    lambda a, ref, tmp: a.maintenance.check(),
    lambda a, ref, tmp: a.maintenance.backup(tmp / "bk"),
    lambda a, ref, tmp: a.audit.history(),
    lambda a, ref, tmp: a.audit.checkpoint(),
    lambda a, ref, tmp: a.keys.rotate(),
    lambda a, ref, tmp: a.records.show(ref),
    lambda a, ref, tmp: a.records.ls(),
], ids=["check-read-data", "check", "backup", "audit-log", "checkpoint", "rotate", "show", "ls"])
def test_other_paths_refuse(full_disk, tmp_path: Path, call) -> None:
    arc, ref = full_disk
    epoch = arc.kernel.keys.ring.current
    with pytest.raises(AuditUnavailable):
        call(arc, ref, tmp_path)
    assert not (tmp_path / "bk").exists() and not (tmp_path / "bk.partial").exists()
    assert arc.kernel.keys.ring.current == epoch


def test_cli_read_only_log_refuses_get_and_file(cli_home, tmp_path: Path) -> None:
    home, env = cli_home
    src = tmp_path / "a.txt"
    src.write_text("服务对象资料", encoding="utf-8")
    ref = run_sgz(["file", str(src), "--category", "FW"], env).stdout.strip()
    log = home / "vault" / "audit" / "log.jsonl"
    log.chmod(stat.S_IRUSR | stat.S_IRGRP)  # read-only (refused even for root: the bit is checked)
    out = tmp_path / "out.txt"
    r = run_sgz(["get", ref, "-o", str(out), "--reason", "核对"], env)
    assert r.returncode == 8 and "审计日志" in r.stderr and not out.exists()
    r = run_sgz(["file", str(tmp_path / "a.txt"), "--category", "XZ"], env)
    assert r.returncode == 8 and r.stdout == ""
    for args in (["check", "--read-data"], ["backup", str(tmp_path / "bk")]):
        r = run_sgz(args, env)
        assert r.returncode == 8 and "审计日志" in r.stderr, args
    assert not (tmp_path / "bk").exists()
    log.chmod(stat.S_IRUSR | stat.S_IWUSR)
    r = run_sgz(["ls", "--json"], env)
    assert r.returncode == 0 and r.stdout.count("Z001-") == 1
