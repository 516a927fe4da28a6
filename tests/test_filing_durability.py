"""Filing many files: each batch's objects are made durable together, before the catalogue
names them (issue 12: one `syncfs` per batch on Linux instead of an fsync per file), and a
failed flush files nothing of its batch."""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys
from pathlib import Path

import pytest

from archive.errors import StorageError
from archive.fs import atomic
from archive.records.service import FILE_BATCH

N = FILE_BATCH + 6  # two batches


def _files(make_file, n: int = N) -> list[Path]:
    return [make_file(f"服务记录{i:03d}.txt", f"第 {i} 份入户走访记录，困难家庭编号{i:03d}")
            for i in range(n)]


def _linux_at_least(major: int, minor: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    got = tuple(int(x) for x in platform.release().split(".")[:2])
    return got >= (major, minor)


def test_syncfs_is_used_exactly_where_it_reports_errors() -> None:
    """Linux ≥ 5.8 (syncfs returns write-back errors): the group flush; elsewhere None, and
    `FolderSync` falls back to an fsync per file."""
    assert (atomic._SYNCFS is not None) == _linux_at_least(5, 8)


def test_dirty_bytes_reads_the_kernels_counters() -> None:
    if not sys.platform.startswith("linux"):
        pytest.fail("this test runs on Linux")
    assert 0 <= atomic._dirty_bytes() < 1 << 40


def test_each_batch_is_flushed_once_before_its_commit(arc, make_file, monkeypatch) -> None:
    monkeypatch.setattr(atomic, "_dirty_bytes", lambda: 0)  # a quiet machine
    real = atomic._SYNCFS
    if real is None:  # the fallback is tested below; here the group flush must exist
        pytest.fail("syncfs not available: this test runs on Linux ≥ 5.8")
    commits: list[int] = []
    seen_at_sync: list[int] = []  # audit batches written when each flush ran
    fsynced: list[str] = []
    orig_append = arc.kernel.audit.append_many
    orig_fsync = os.fsync

    def append_many(items):  # noqa: ANN001, ANN202
        commits.append(len(items))
        return orig_append(items)

    def syncfs(fd: int) -> int:
        seen_at_sync.append(len(commits))
        return real(fd)

    def fsync(fd: int) -> None:
        fsynced.append(os.readlink(f"/proc/self/fd/{fd}"))
        orig_fsync(fd)

    monkeypatch.setattr(arc.kernel.audit, "append_many", append_many)
    monkeypatch.setattr(atomic, "_SYNCFS", syncfs)
    monkeypatch.setattr(os, "fsync", fsync)
    results = arc.records.file(_files(make_file), category="FW", index=False)
    assert [r.status for r in results] == ["filed"] * N
    assert commits == [FILE_BATCH, N - FILE_BATCH]  # one audit batch per file batch
    assert seen_at_sync == [0, 1]  # each flush before its batch's commit
    # no fsync per object or of the session folder (the audit log and new object folders
    # still have theirs)
    assert not [p for p in fsynced if "/tmp/s-" in p or Path(p).name.startswith("s-")]
    assert any(p.endswith("log.jsonl") for p in fsynced)  # the spy sees Python's fsyncs
    for i, r in enumerate(results):  # published, and they read back
        _comp, data = arc.records.read(r.ref, reason="核对")
        assert data.decode() == f"第 {i} 份入户走访记录，困难家庭编号{i:03d}"


@pytest.mark.parametrize("why", ["no syncfs", "much else to write"])
def test_without_syncfs_every_object_is_fsynced(arc, make_file, monkeypatch, why: str) -> None:
    """Where syncfs does not report errors, or when other programs left more than
    SYNCFS_DIRTY_MAX unwritten (syncfs would wait for all of it): an fsync per object."""
    if why == "no syncfs":
        monkeypatch.setattr(atomic, "_SYNCFS", None)
    else:
        def syncfs(fd: int) -> int:
            raise AssertionError("syncfs called with 1 GiB dirty")

        monkeypatch.setattr(atomic, "_SYNCFS", syncfs)
        monkeypatch.setattr(atomic, "_dirty_bytes", lambda: 1 << 30)
    synced: list[str] = []
    orig_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        orig_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    results = arc.records.file(_files(make_file), category="FW", index=False)
    assert [r.status for r in results] == ["filed"] * N
    staged = [p for p in synced if p.endswith(".age") and "/tmp/s-" in p]
    assert len(staged) == N == len(set(staged))
    folders = [p for p in synced if Path(p).name.startswith("s-")]
    assert len(folders) == 2  # the session folder, once per batch


@pytest.mark.parametrize("group", [True, False])
def test_a_failed_flush_files_nothing_of_its_batch(arc, make_file, monkeypatch,
                                                   group: bool) -> None:
    def failing_syncfs(fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    if group:
        monkeypatch.setattr(atomic, "_SYNCFS", failing_syncfs)
        monkeypatch.setattr(atomic, "_dirty_bytes", lambda: 0)
    else:
        monkeypatch.setattr(atomic, "_SYNCFS", None)
        monkeypatch.setattr(atomic.os, "fsync", failing_fsync)
    with pytest.raises(StorageError, match="磁盘读写出错.*归档未完成") as exc:
        arc.records.file(_files(make_file, 5), category="FW", index=False)
    assert "error" not in str(exc.value).lower()  # the system's English text stays out
    monkeypatch.undo()
    assert arc.records.ls() == []
    assert not [e for e in arc.kernel.audit.entries() if e.action == "record.file"]
    session = arc.kernel.objects.session_dir()
    assert list(session.iterdir()) == []  # the staged objects were discarded
    # the next filing works and is numbered from 1
    again = arc.records.file(_files(make_file, 2), category="FW", index=False)
    assert [r.ref[-4:] for r in again] == ["0001", "0002"]


def test_a_failed_publish_after_the_commit_says_so_and_the_next_start_finishes(
        arc, make_file, monkeypatch, home, clock) -> None:
    """The batch is committed and durable when publishing fails (here: the disk fills up while
    object folders are made): a clear Chinese error saying the records are filed, and the
    next unlock moves the objects in place — every record reads back."""
    from conftest import PASS

    from archive.app import Archive
    from archive.vault.objects import ObjectStore

    real, calls = ObjectStore.publish, {"n": 0}

    def publish(self, object_id: str) -> None:  # noqa: ANN001
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, object_id)

    monkeypatch.setattr(ObjectStore, "publish", publish)
    files = _files(make_file, 5)
    with pytest.raises(StorageError, match="磁盘空间不足.*本批档案已登记，下次打开档案库时自动补完"):
        arc.records.file(files, category="FW", index=False)
    monkeypatch.undo()
    refs = [r.ref for r in arc.records.ls()]
    assert len(refs) == 5  # committed before publishing
    arc.close()
    with Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=clock) as again:
        for i, ref in enumerate(sorted(refs)):
            _comp, data = again.records.read(ref, reason="核对")
            assert data.decode() == f"第 {i} 份入户走访记录，困难家庭编号{i:03d}"


def test_the_flush_is_opened_before_the_batch_is_written(arc, make_file, monkeypatch) -> None:
    """`syncfs` reports the write-back errors recorded since its descriptor was opened (even
    ones another program's `syncfs` saw first): so the descriptor of each batch's flush is
    opened before its first object is written, and that descriptor is the one flushed."""
    from archive.vault.objects import ObjectStore

    if atomic._SYNCFS is None:
        pytest.fail("syncfs not available: this test runs on Linux ≥ 5.8")
    monkeypatch.setattr(atomic, "_dirty_bytes", lambda: 0)
    events: list[str] = []
    opened: list[int] = []
    real_init, real_stage, real_syncfs = (atomic.FolderSync.__init__, ObjectStore.stage,
                                          atomic._SYNCFS)

    def init(self, folder):  # noqa: ANN001, ANN202
        real_init(self, folder)
        events.append("open")
        opened.append(self._fd)

    def stage(self, *a, **k):  # noqa: ANN002, ANN003, ANN202
        events.append("stage")
        return real_stage(self, *a, **k)

    def syncfs(fd: int) -> int:
        events.append(f"flush {'own' if fd == opened[-1] else 'other'}")
        return real_syncfs(fd)

    monkeypatch.setattr(atomic.FolderSync, "__init__", init)
    monkeypatch.setattr(ObjectStore, "stage", stage)
    monkeypatch.setattr(atomic, "_SYNCFS", syncfs)
    arc.records.file(_files(make_file), category="FW", index=False)
    assert events == (["open"] + ["stage"] * FILE_BATCH + ["flush own"]
                      + ["open"] + ["stage"] * (N - FILE_BATCH) + ["flush own"])
