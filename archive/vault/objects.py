"""Write-once age objects under `vault/objects/xx/<sha256 of ciphertext>.age`.

Writing is two-phase so that a crash never leaves a half item visible: `stage()` encrypts into
`vault/tmp/` (temp → fsync → rename to its final name, still in tmp/); the caller commits the
catalogue rows; `publish()` moves the staged file into `objects/`. `recover()` at the next start
publishes staged files the catalogue knows and deletes the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from archive.crypto import age
from archive.crypto.age_stream import readinto_full
from archive.crypto.keys import Fingerprinter
from archive.errors import Conflict, IntegrityError
from archive.fs.atomic import FolderSync, ensure_private_dir, fsync_dir
from archive.fs.background import BLOCK, BlockWriter, BufferPool, OrderedWorker
from archive.fs.filelock import FileLock

_OBJECT_RE = re.compile(r"^[0-9a-f]{64}\.age$")
# A plaintext up to this size is encrypted in memory and written with one call: for the many
# small files of a filing, the helper threads and per-block hand-offs cost more than they save.
SMALL = BLOCK


@dataclass(frozen=True)
class StagedObject:
    object_id: str  # hex SHA-256 of the ciphertext
    identity: bytes  # the object's X25519 secret (to be wrapped by the caller)
    plain_size: int
    cipher_size: int
    fp_sha: str
    fp_sm3: str


class _HashingReader:
    """Reads the plaintext straight into the encryptor's block buffers and hands each read to
    the fingerprint thread (the pool lends a buffer out again only once that thread is done)."""

    def __init__(self, src: _Prefixed, fp: Fingerprinter, worker: OrderedWorker) -> None:
        self.src, self.fp, self.worker, self.size = src, fp, worker, 0

    def readinto(self, view: memoryview) -> int:
        n = self.src.readinto(view)
        if n:
            self.worker.submit(self.fp.update, view[:n])
            self.size += n
        return n

    def read(self, n: int = -1) -> bytes:  # the ReadStream protocol; the encryptor uses readinto
        buf = bytearray(n if n > 0 else BLOCK)  # never reused: the worker may still hold it
        return bytes(buf[: self.readinto(memoryview(buf))])


class _HashingWriter:
    """Hands each ciphertext write (an encryptor's block buffer, or the header) to the hashing
    thread (SHA-256 names the object) and to the writing thread (the file); no copies."""

    def __init__(self, fd: int, hasher: OrderedWorker, writer: OrderedWorker) -> None:
        self.sha, self.hasher, self.writer = hashlib.sha256(), hasher, writer
        self.file = BlockWriter(fd)

    @property
    def size(self) -> int:
        return self.file.size

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.hasher.submit(self.sha.update, data)
        self.writer.submit(self.file.write, data)
        return len(data)

    def flush(self) -> None:
        pass


class _Prefixed:
    """`head` (already read to choose the path), then the rest of `src` (`readinto_full`:
    with or without a `readinto` of its own)."""

    def __init__(self, head: bytes, src: BinaryIO) -> None:
        self._head = memoryview(head)
        self._src = src

    def readinto(self, view: memoryview) -> int:
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return readinto_full(self._src, view)


def _read_up_to(src: BinaryIO, n: int) -> bytes:
    """Up to `n` bytes: fewer only at the end of `src` (a pipe or raw stream may return less
    per read)."""
    parts: list[bytes] = []
    left = n
    while left > 0:
        data = src.read(left)
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def _write_small(fd: int, plain: bytes, ident: age.X25519Identity,
                 fp: Fingerprinter) -> tuple[str, int, int]:
    """A small object: encrypted in memory, hashed, written with one call (no threads)."""
    fp.update(plain)
    out = io.BytesIO()
    age.encrypt(io.BytesIO(plain), out, [ident.recipient()])
    blob = out.getbuffer()
    try:
        BlockWriter(fd).write(blob)
        return hashlib.sha256(blob).hexdigest(), len(plain), len(blob)
    finally:
        blob.release()


def _write_streaming(fd: int, src: _Prefixed, ident: age.X25519Identity,
                     fp: Fingerprinter) -> tuple[str, int, int]:
    """A large object, streaming: three threads beside the encryption — the plaintext's
    fingerprint, the ciphertext's SHA-256 and the writing (each about as much work as the
    encryption itself)."""
    pool = BufferPool()  # the encryptor's block buffers, reused once every thread is done
    plain_hash = OrderedWorker("sgz-fp", pool=pool)
    cipher_hash = OrderedWorker("sgz-sha", pool=pool)
    writing = OrderedWorker("sgz-write", pool=pool)
    reader = _HashingReader(src, fp, plain_hash)
    writer = _HashingWriter(fd, cipher_hash, writing)
    try:
        age.encrypt(reader, writer, [ident.recipient()], buffers=pool)
    finally:
        # join every thread; re-raise the first error of any
        try:
            writing.close()
        finally:
            try:
                cipher_hash.close()
            finally:
                plain_hash.close()
    return writer.sha.hexdigest(), reader.size, writer.size


class ObjectStore:
    """The ciphertext files of one vault.

    Each process stages into its own session folder `tmp/s-<random>/`, held by an exclusive
    lock on `tmp/s-<random>.lock` for as long as the process uses the store. Recovery only
    touches sessions whose lock it can take (their process is gone), so concurrent `sgz`
    processes never publish or delete each other's work in progress.
    """

    def __init__(self, vault_dir: Path) -> None:
        self.objects = Path(vault_dir) / "objects"
        self.tmp = Path(vault_dir) / "tmp"
        self._session: Path | None = None
        self._session_lock: FileLock | None = None

    def create_dirs(self) -> None:
        ensure_private_dir(self.objects)
        ensure_private_dir(self.tmp)

    def path(self, object_id: str) -> Path:
        return self.objects / object_id[:2] / f"{object_id}.age"

    def session_dir(self) -> Path:
        """This process's private staging folder (created and locked on first use).

        Also the place for the rare plaintext scratch file a concern cannot avoid (e.g. a
        document converted by LibreOffice): a crash leaves it only here, and the next
        start deletes it.
        """
        if self._session is None:
            ensure_private_dir(self.tmp)
            name = f"s-{uuid.uuid4().hex}"
            lock = FileLock(self.tmp / f"{name}.lock", timeout=0, what="暂存区")
            lock.acquire()
            folder = self.tmp / name
            folder.mkdir(mode=0o700)
            fsync_dir(self.tmp)
            self._session, self._session_lock = folder, lock
        return self._session

    def close(self) -> None:
        """Release the session (its folder is empty once every batch was published)."""
        if self._session is None:
            return
        folder, lock = self._session, self._session_lock
        self._session = self._session_lock = None
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if empty: anything left is recovered by the next start
        assert lock is not None
        lock.release()
        if not folder.exists():
            with contextlib.suppress(OSError):
                lock.path.unlink()

    def stage(self, src: BinaryIO, fingerprint_key: bytes, *, sm3: bool = False,
              sync: bool = True) -> StagedObject:
        """Encrypt `src` to a fresh X25519 identity; memory does not grow with size.

        A plaintext of at most `SMALL` bytes is encrypted in memory and written at once; a
        larger one streams with hashing and writing on helper threads. With `sync=False` the
        caller opens a `batch_sync()` before staging and calls `sync_staged` before
        committing (the file system flushes many small objects in one journal commit)."""
        ident = age.X25519Identity.generate()
        fp = Fingerprinter(fingerprint_key, sm3=sm3)
        head = _read_up_to(src, SMALL + 1)
        session = self.session_dir()
        part = session / f"{uuid.uuid4().hex}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            if len(head) <= SMALL:
                object_id, plain_size, cipher_size = _write_small(fd, head, ident, fp)
            else:
                object_id, plain_size, cipher_size = _write_streaming(
                    fd, _Prefixed(head, src), ident, fp)
            if sync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                part.unlink()
            raise
        os.close(fd)
        os.replace(part, session / f"{object_id}.age")
        fp_sha, fp_sm3 = fp.finalize()
        return StagedObject(object_id, ident.secret_bytes(), plain_size, cipher_size, fp_sha,
                            fp_sm3)

    def batch_sync(self) -> FolderSync:
        """The flush of one batch of objects staged with `sync=False`: open it before the
        first is staged, call `sync_staged` before committing them, close it after."""
        return FolderSync(self.session_dir())

    def sync_staged(self, flush: FolderSync, object_ids: Sequence[str]) -> None:
        """Make staged objects (contents and names) durable before the catalogue names them:
        one `syncfs` for the whole batch where the system reports its errors (Linux ≥ 5.8),
        else an fsync per object and one for the session folder (`FolderSync`)."""
        session = self.session_dir()
        flush.sync([session / f"{oid}.age" for oid in object_ids])

    def discard(self, object_id: str) -> None:
        if self._session is not None:
            with contextlib.suppress(FileNotFoundError):
                (self._session / f"{object_id}.age").unlink()

    def publish(self, object_id: str) -> None:
        """Move a staged object into place (idempotent). No folder fsync: if the rename is
        lost in a crash, the file is back in the session folder and `recover()` publishes it."""
        self._publish_from(self.session_dir() / f"{object_id}.age", object_id)

    def _publish_from(self, staged: Path, object_id: str) -> None:
        dest = self.path(object_id)
        if dest.exists():
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()
            return
        ensure_private_dir(dest.parent, parents=False)
        os.replace(staged, dest)

    def recover(self, is_known: Callable[[str], bool]) -> tuple[int, int]:
        """Finish or undo the writes of processes that died; return (published, discarded).

        Sessions whose lock is held belong to a live process and are left alone. Loose files
        directly in tmp/ (older layout) are treated like a dead session's."""
        published = discarded = 0
        if not self.tmp.exists():
            return 0, 0
        for entry in sorted(self.tmp.iterdir()):
            if entry == self._session or entry.name.endswith(".lock"):
                continue
            if entry.is_dir():
                if not entry.name.startswith("s-"):
                    continue  # another concern's private folder; it sweeps its own
                lock = FileLock(self.tmp / f"{entry.name}.lock", timeout=0, what="暂存区")
                try:
                    lock.acquire()
                except Conflict:
                    continue  # its process is alive
                try:
                    for p in entry.iterdir():
                        n = self._recover_file(p, is_known)
                        published += n
                        discarded += 1 - n
                    with contextlib.suppress(OSError):
                        entry.rmdir()
                finally:
                    lock.release()
                with contextlib.suppress(OSError):
                    lock.path.unlink()
            else:
                n = self._recover_file(entry, is_known)
                published += n
                discarded += 1 - n
        # lock files whose session folder is gone and whose owner is gone
        for lockfile in self.tmp.glob("s-*.lock"):
            if (self.tmp / lockfile.name[:-5]).exists():
                continue
            lock = FileLock(lockfile, timeout=0, what="暂存区")
            try:
                lock.acquire()
            except Conflict:
                continue
            lock.release()
            with contextlib.suppress(OSError):
                lockfile.unlink()
        return published, discarded

    def _recover_file(self, p: Path, is_known: Callable[[str], bool]) -> int:
        if _OBJECT_RE.match(p.name) and is_known(p.name[:-4]):
            self._publish_from(p, p.name[:-4])
            return 1
        with contextlib.suppress(OSError):
            if p.is_dir():
                        shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink()
        return 0

    def leftovers(self) -> list[str]:
        """Entries of tmp/ that a crashed process left (live sessions, including ours, and
        other concerns' private folders excluded): what `recover()` would finish or delete."""
        if not self.tmp.exists():
            return []
        out = []
        for entry in sorted(self.tmp.iterdir()):
            if entry == self._session or entry.name.endswith(".lock"):
                continue
            if entry.is_dir():
                if not entry.name.startswith("s-"):
                    continue
                lock = FileLock(self.tmp / f"{entry.name}.lock", timeout=0, what="暂存区")
                try:
                    lock.acquire()
                except Conflict:
                    continue
                lock.release()
            out.append(entry.name)
        return out

    def open(self, object_id: str) -> BinaryIO:
        try:
            return open(self.path(object_id), "rb")
        except FileNotFoundError:
            raise IntegrityError(f"对象文件缺失：{object_id[:12]}…", ref=object_id) from None

    def delete(self, object_id: str) -> None:
        """Remove the ciphertext file (its key is already gone: crypto-shredding)."""
        try:
            self.path(object_id).unlink()
        except FileNotFoundError:
            return
        fsync_dir(self.path(object_id).parent)

    def iter_ids(self) -> list[str]:
        if not self.objects.exists():
            return []
        return sorted(p.name[:-4] for p in self.objects.glob("??/*.age") if _OBJECT_RE.match(p.name))

    def exists(self, object_id: str) -> bool:
        return self.path(object_id).exists()
