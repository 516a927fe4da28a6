"""The streaming paths of big files: ObjectStore.stage (encryption a block at a time, the two
hashes and the writing on background threads, reused buffers) and `get` (decryption a block at
a time straight into the reader's buffer), at chunk and block boundaries and past the point
where threads start and buffers are reused; errors on a background thread; the buffer pool."""

from __future__ import annotations

import errno
import hashlib
import hmac
import io
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from archive.app import Archive
from archive.crypto import age
from archive.crypto.age import CHUNK
from archive.crypto.age_stream import BLOCK_CHUNKS
from archive.errors import DecryptionFailed
from archive.fs import background
from archive.fs.background import INLINE, BufferPool, OrderedWorker
from archive.vault.objects import SMALL, ObjectStore

BLOCK = BLOCK_CHUNKS * CHUNK
# up to SMALL in memory; past it streaming; past INLINE the threads start; past
# 2 * DEPTH + 4 blocks every pool buffer has been reused
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 7 * CHUNK + 1, 31 * CHUNK + 1, SMALL, SMALL + 1,
         BLOCK, INLINE + BLOCK + 17, 24 * BLOCK + CHUNK + 1]
EVERY_SOURCE = (0, 31 * CHUNK + 1, SMALL, SMALL + 1, 24 * BLOCK + CHUNK + 1)
KEY = bytes(range(32))


def _data(n: int) -> bytes:
    """n bytes that differ from block to block (a reused buffer would show)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(i.to_bytes(8, "big")).digest() * 1024
        i += 1
    return bytes(out[:n])


class _ShortReads(io.RawIOBase):
    """At most 1000 bytes per read, like a pipe."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data, self._pos = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), 1000, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


class _ReadOnly:
    """Only read(n): no readinto."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)


SOURCES: dict[str, Callable[[Path, bytes], BinaryIO]] = {
    "file": lambda p, d: open(p, "rb"),  # noqa: SIM115 - closed by the test
    "short reads": lambda p, d: _ShortReads(d),  # type: ignore[dict-item,return-value]
    "read only": lambda p, d: _ReadOnly(d),  # type: ignore[dict-item,return-value]
}


@pytest.mark.parametrize("size", SIZES)
def test_stage_at_boundaries_names_hashes_and_encrypts_exactly(tmp_path: Path, size: int) -> None:
    data = _data(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    store = ObjectStore(tmp_path / "vault")
    store.create_dirs()
    for name, make in SOURCES.items():
        if name != "file" and size not in EVERY_SOURCE:
            continue
        f = make(src, data)
        try:
            obj = store.stage(f, KEY, sync=False)
        finally:
            if hasattr(f, "close"):
                f.close()
        staged = store.session_dir() / f"{obj.object_id}.age"
        ct = staged.read_bytes()
        assert hashlib.sha256(ct).hexdigest() == obj.object_id, name
        assert obj.fp_sha == hmac.new(KEY, data, "sha256").hexdigest(), name
        assert (obj.plain_size, obj.cipher_size) == (size, len(ct)), name
        ident = age.X25519Identity.from_secret_bytes(obj.identity)
        assert age.decrypt_bytes(ct, [ident]) == data, name
        store.discard(obj.object_id)
    assert [t.name for t in threading.enumerate() if t.name.startswith("sgz-")] == []


def test_a_write_error_on_the_writing_thread_fails_the_stage_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data(INLINE + 6 * BLOCK)
    store = ObjectStore(tmp_path / "vault")
    store.create_dirs()
    real_write, calls = os.write, {"n": 0}

    def full(fd: int, buf: Any) -> int:
        calls["n"] += 1
        if threading.current_thread().name == "sgz-write":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, buf)

    monkeypatch.setattr(background.os, "write", full)
    with pytest.raises(OSError) as exc:
        store.stage(io.BytesIO(data), KEY)
    assert exc.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert calls["n"] > 0
    assert list(store.session_dir().iterdir()) == []
    assert [t.name for t in threading.enumerate() if t.name.startswith("sgz-")] == []


@pytest.mark.parametrize("size", [100, SMALL])
def test_a_write_error_on_a_small_object_fails_the_stage_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    store = ObjectStore(tmp_path / "vault")
    store.create_dirs()

    def full(fd: int, buf: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(background.os, "write", full)
    with pytest.raises(OSError) as exc:
        store.stage(io.BytesIO(_data(size)), KEY)
    assert exc.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert list(store.session_dir().iterdir()) == []


def test_get_of_a_big_file_round_trips_and_a_damaged_block_leaves_no_file(
        arc: Archive, make_file: Callable[..., Path], tmp_path: Path) -> None:
    data = b"sgz\n" + _data(24 * BLOCK + CHUNK + 1)  # a text start: never a program's magic
    [r] = arc.records.file([make_file("活动录像.bin", data)], category="FW", index=False)
    out = tmp_path / "back.bin"
    arc.records.get(r.ref, out, reason="核对")
    assert out.read_bytes() == data
    assert [t.name for t in threading.enumerate() if t.name.startswith("sgz-")] == []
    rec = arc.kernel.records.get(r.ref)
    [comp] = arc.kernel.records.components(rec.id)
    path = arc.kernel.objects.path(comp.object_id)
    ct = bytearray(path.read_bytes())
    ct[len(ct) - 3 * (CHUNK + 16)] ^= 1  # a chunk in the last block: earlier blocks are written
    os.chmod(path, 0o600)
    path.write_bytes(bytes(ct))
    bad = tmp_path / "bad.bin"
    with pytest.raises(DecryptionFailed):
        arc.records.get(r.ref, bad, reason="核对")
    assert not bad.exists() and list(tmp_path.glob(".bad.bin*")) == []


def test_buffer_pool_hands_a_buffer_out_again_only_when_nobody_holds_it() -> None:
    pool = BufferPool(limit=2)  # per size
    a = pool.get(8)
    view = memoryview(a)[2:5]
    pool.hold(view)  # a worker's job on a slice of it
    pool.put(a)  # the taker is done; the job is not
    b = pool.get(8)
    assert b is not a  # a second buffer is made instead
    pool.put(b)
    assert pool.get(8) is b
    got: list[bytearray] = []
    t = threading.Thread(target=lambda: got.append(pool.get(8)))
    t.start()  # both buffers are held: the limit makes it wait
    t.join(0.2)
    assert t.is_alive() and got == []
    pool.put(view)  # the job ran
    t.join(5)
    assert got == [a]
    pool.put(b"not from the pool")  # ignored


def test_ordered_worker_keeps_order_inline_and_on_its_thread() -> None:
    seen: list[int] = []
    worker = OrderedWorker("sgz-test", inline=3)
    for i in range(50):
        worker.submit(lambda b: seen.append(b[0]), bytes([i]))
    worker.close()
    assert seen == list(range(50))
