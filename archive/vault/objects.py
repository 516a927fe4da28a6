"""Write-once age objects under `vault/objects/xx/<sha256 of ciphertext>.age`.

Writing is two-phase so that a crash never leaves a half item visible: `stage()` encrypts into
`vault/tmp/` (temp → fsync → rename to its final name, still in tmp/); the caller commits the
catalogue rows; `publish()` moves the staged file into `objects/`. `recover()` at the next start
publishes staged files the catalogue knows and deletes the rest.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from archive.crypto import age
from archive.crypto.keys import Fingerprinter
from archive.errors import IntegrityError, NotFound
from archive.vault.atomic import fsync_dir

_OBJECT_RE = re.compile(r"^[0-9a-f]{64}\.age$")


@dataclass(frozen=True)
class StagedObject:
    object_id: str  # hex SHA-256 of the ciphertext
    identity: bytes  # the object's X25519 secret (to be wrapped by the caller)
    plain_size: int
    cipher_size: int
    fp_sha: str
    fp_sm3: str


class _HashingReader:
    """Wraps the plaintext source: counts bytes and feeds the keyed fingerprint."""

    def __init__(self, src: BinaryIO, fp: Fingerprinter) -> None:
        self.src, self.fp, self.size = src, fp, 0

    def read(self, n: int = -1) -> bytes:
        data = self.src.read(n)
        if data:
            self.fp.update(data)
            self.size += len(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:
        n = self.src.readinto(b)  # type: ignore[attr-defined]
        if n:
            self.fp.update(memoryview(b)[:n])
            self.size += n
        return n or 0


class _HashingWriter:
    """Wraps the ciphertext sink: SHA-256 of the ciphertext names the object."""

    def __init__(self, fd: int) -> None:
        self.fd, self.sha, self.size = fd, hashlib.sha256(), 0

    def write(self, data: bytes | memoryview) -> int:
        self.sha.update(data)
        view = memoryview(data)
        total = len(view)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.size += total
        return total

    def flush(self) -> None:
        pass


class ObjectStore:
    """The ciphertext files of one vault."""

    def __init__(self, vault_dir: Path) -> None:
        self.objects = Path(vault_dir) / "objects"
        self.tmp = Path(vault_dir) / "tmp"

    def create_dirs(self) -> None:
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, object_id: str) -> Path:
        return self.objects / object_id[:2] / f"{object_id}.age"

    def stage(self, src: BinaryIO, fingerprint_key: bytes, *, sm3: bool = False,
              sync: bool = True) -> StagedObject:
        """Encrypt `src` to a fresh X25519 identity, streaming; memory does not grow with size.

        With `sync=False` the caller must `sync_staged()` before committing (batching lets
        the file system flush many small objects in one journal commit)."""
        ident = age.X25519Identity.generate()
        fp = Fingerprinter(fingerprint_key, sm3=sm3)
        reader = _HashingReader(src, fp)
        part = self.tmp / f"{uuid.uuid4().hex}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            writer = _HashingWriter(fd)
            age.encrypt(reader, writer, [ident.recipient()])
            if sync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                part.unlink()
            raise
        os.close(fd)
        object_id = writer.sha.hexdigest()
        os.replace(part, self.tmp / f"{object_id}.age")
        fp_sha, fp_sm3 = fp.finalize()
        return StagedObject(object_id, ident.secret_bytes(), reader.size, writer.size, fp_sha, fp_sm3)

    def sync_staged(self, object_ids: list[str]) -> None:
        """fsync staged objects, then the tmp folder, so their names survive a crash."""
        for oid in object_ids:
            fd = os.open(self.tmp / f"{oid}.age", os.O_RDWR | getattr(os, "O_BINARY", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(self.tmp)

    def discard(self, object_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.tmp / f"{object_id}.age").unlink()

    def publish(self, object_id: str) -> None:
        """Move a staged object into place (idempotent). No folder fsync: if the rename is
        lost in a crash, the file is back in tmp/ and `recover()` publishes it again."""
        dest = self.path(object_id)
        staged = self.tmp / f"{object_id}.age"
        if dest.exists():
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()
            return
        dest.parent.mkdir(exist_ok=True)
        os.replace(staged, dest)

    def recover(self, is_known: Callable[[str], bool]) -> tuple[int, int]:
        """Finish or undo interrupted writes; return (published, discarded)."""
        published = discarded = 0
        if not self.tmp.exists():
            return 0, 0
        for p in self.tmp.iterdir():
            if _OBJECT_RE.match(p.name) and is_known(p.name[:-4]):
                self.publish(p.name[:-4])
                published += 1
            else:
                with contextlib.suppress(OSError):
                    p.unlink()
                discarded += 1
        return published, discarded

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

    def require(self, object_id: str) -> None:
        if not self.exists(object_id):
            raise NotFound(f"对象文件缺失：{object_id[:12]}…", ref=object_id)
