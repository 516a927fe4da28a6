"""Finding 4: one home for durable, private writes (0600 files, 0700 folders, atomic replace)."""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.audit.checkpoint import _write_atomic as checkpoint_write
from archive.fs.atomic import (
    atomic_writer,
    ensure_private_dir,
    private_open_for_write,
    write_atomic,
)

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)  # the worst case: nothing masked by the process
    try:
        yield
    finally:
        os.umask(old)


def test_finding4_write_atomic_is_private_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "keyring.age"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    assert write_atomic(target, b"new") == 3
    assert target.read_bytes() == b"new" and _mode(target) == 0o600
    assert write_atomic(tmp_path / "chunks", [b"a", b"bc"]) == 3
    assert write_atomic(tmp_path / "stream", io.BytesIO(b"x" * 3_000_000)) == 3_000_000
    assert {_mode(p) for p in tmp_path.iterdir()} == {0o600}
    assert write_atomic(tmp_path / "shared.txt", b"x", mode=0o640) == 1
    assert _mode(tmp_path / "shared.txt") == 0o640


def test_finding4_full_disk_keeps_old_content_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "catalog.json"
    target.write_bytes(b"old")

    def chunks() -> Iterator[bytes]:
        yield b"half of the new"
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as exc:
        write_atomic(target, chunks())
    assert exc.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.json"]


def test_finding4_no_overwrite_and_no_symlink_follow(tmp_path: Path) -> None:
    target = tmp_path / "export.docx"
    target.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        write_atomic(target, b"theirs", overwrite=False)
    assert target.read_bytes() == b"mine"
    with atomic_writer(tmp_path / "fresh.pdf", overwrite=False) as f:
        f.write(b"%PDF")
    assert (tmp_path / "fresh.pdf").read_bytes() == b"%PDF"
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(FileExistsError):
        private_open_for_write(link)
    with pytest.raises(OSError):
        private_open_for_write(link, exclusive=False)  # O_NOFOLLOW: ELOOP
    assert victim.read_bytes() == b"keep"
    write_atomic(link, b"replaced")  # the link itself is replaced, its target untouched
    assert victim.read_bytes() == b"keep" and not link.is_symlink()


def test_finding4_private_open_for_write(tmp_path: Path, open_umask: None) -> None:
    p = tmp_path / "audit.log"
    with private_open_for_write(p) as f:
        f.write(b"line\n")
    assert _mode(p) == 0o600
    with pytest.raises(FileExistsError):
        private_open_for_write(p)
    os.chmod(p, 0o644)
    with private_open_for_write(p, exclusive=False) as f:
        f.write(b"again\n")
    assert _mode(p) == 0o600 and p.read_bytes() == b"again\n"


def test_finding4_ensure_private_dir(tmp_path: Path, open_umask: None) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    deep = ensure_private_dir(shared / "home" / "vault" / "objects")
    assert _mode(deep) == _mode(deep.parent) == _mode(deep.parent.parent) == 0o700
    assert _mode(shared) == 0o755  # an existing parent (the user's folder) is left alone
    os.chmod(deep, 0o755)
    ensure_private_dir(deep)
    assert _mode(deep) == 0o700
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(FileExistsError):
        ensure_private_dir(tmp_path / "file")
    (tmp_path / "dirlink").symlink_to(deep)
    with pytest.raises(FileExistsError):
        ensure_private_dir(tmp_path / "dirlink")
    with pytest.raises(FileNotFoundError):
        ensure_private_dir(tmp_path / "no" / "parents", parents=False)


def test_finding4_audit_files_private(tmp_path: Path) -> None:
    from archive.audit.log import AuditLog

    home = tmp_path / "audit"
    old = os.umask(0o022)
    try:
        checkpoint_write(tmp_path / "note", b"checkpoint")
        from archive.crypto.age import X25519Identity

        audit_key = X25519Identity.generate()  # the audit-details compartment (format 2)
        log = AuditLog.create(home, vault_id="ab" * 16, station_signer=b"s" * 32,
                              signer=("张三", b"u" * 32), role="head",
                              clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
                              detail_recipients=[audit_key.recipient()])
        log.append(actor="张三", role="head", action="record.read", ref="Z001-1", detail={"reason": "测试"})
    finally:
        os.umask(old)
    assert _mode(tmp_path / "note") == 0o600
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files and {_mode(p) for p in files} == {0o600}
    assert _mode(home) == 0o700
