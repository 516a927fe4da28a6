"""Durable, private file writes: the one place sgz creates files and folders (finding 4).

- `write_atomic`: temp file in the same folder (0600, O_EXCL, no symlink follow) → write →
  fsync → rename over the target → fsync the folder. A crash or a full disk leaves either
  the old or the new content, never a torn file, and never a stray temp file on error.
- `atomic_writer`: the same as a context manager, for streams (exports, backups).
- `ensure_private_dir`: folders 0700, created or tightened.
- `private_open_for_write`: a new file opened 0600 (exclusive by default), for appends and
  files written in place.
- `FolderSync`: many new files in one folder made durable together (one `syncfs` on Linux).

Modes are set with fchmod/chmod after creation, so the result does not depend on the umask.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import secrets
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, cast

FILE_MODE = 0o600
DIR_MODE = 0o700
CHUNK = 1 << 20
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def fsync_dir(path: Path) -> None:
    """Persist a rename/creation in `path` (a no-op where folders cannot be opened, e.g. Windows)."""
    if os.name == "nt":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2), where it reports write-back errors: since 5.8 it returns the error
    of any file on the file system that failed to reach the disk since the descriptor was
    opened (before, it returned 0 regardless, which is no proof of durability)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        major, minor = (int(x) for x in platform.release().split(".")[:2])
    except ValueError:
        return None
    if (major, minor) < (5, 8):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


_SYNCFS = _load_syncfs()
# `syncfs` also writes what other programs left dirty on the file system. Past this much
# (Dirty + Writeback in /proc/meminfo, all file systems), an fsync per file is used instead:
# 64 MiB take about as long on a desktop disk (~100 MB/s) as 64 fsyncs (~10 ms each).
SYNCFS_DIRTY_MAX = 64 << 20
FSYNC_THREADS = 4  # fsyncs at once where there is no group flush (Windows, macOS, old Linux)


def _dirty_bytes() -> int:
    """Bytes waiting to be written back on this machine (Linux); unknown → a large number."""
    total = 0
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith((b"Dirty:", b"Writeback:")):
                    total += int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 1 << 62
    return total


class FolderSync:
    """Make the contents and names of new files in `folder` durable together.

    Open it *before* the files are written. On Linux ≥ 5.8 `sync` is one `syncfs` of the
    folder's whole file system (one journal commit instead of an fsync per file; ~0.3 ms each
    here, more on a desktop disk), and `syncfs` reports every write-back error recorded on
    the file system since this descriptor was opened — even one another program's `syncfs`
    saw first — so opened before the first write it proves what an fsync per file would.
    When other programs left more than SYNCFS_DIRTY_MAX to write (which `syncfs` would wait
    for), and where there is no such `syncfs`, each file is fsynced (on FSYNC_THREADS
    threads), then the folder. `sync` raises OSError; the caller commits nothing then."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd = os.open(folder, os.O_RDONLY) if _SYNCFS is not None else None

    def sync(self, files: Sequence[Path]) -> None:
        if self._fd is not None and _SYNCFS is not None and _dirty_bytes() <= SYNCFS_DIRTY_MAX:
            if _SYNCFS(self._fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err), str(self.folder))
            return

        def fsync_one(path: Path) -> None:
            fd = os.open(path, os.O_RDWR | _O_BINARY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

        # the caller waits here anyway, so threads that only open and fsync overlap the
        # disk's waits without competing with it for the GIL (the first error is raised
        # after all ran)
        with ThreadPoolExecutor(max(1, min(FSYNC_THREADS, len(files))),
                                thread_name_prefix="sgz-fsync") as pool:
            list(pool.map(fsync_one, files))
        fsync_dir(self.folder)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _chmod_fd(fd: int, mode: int) -> None:
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)


def ensure_private_dir(path: Path | str, *, parents: bool = True) -> Path:
    """Create `path` (and missing parents, if asked) as 0700 folders; tighten it if it exists.

    Parents that already exist are left as they are (they may be the user's own folders);
    every folder this call creates is 0700, and `path` itself ends 0700. A symlink or a file
    at `path` raises FileExistsError rather than being followed or replaced.
    """
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not os.path.lexists(p):
        missing.append(p)
        if not parents or p.parent == p:
            break
        p = p.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            continue  # created concurrently: `path` itself is checked below
        os.chmod(folder, DIR_MODE)  # mkdir's mode passes through the umask
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise FileExistsError(f"{path} 已存在但不是文件夹")
    if os.name != "nt" and stat.S_IMODE(st.st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    if missing:
        fsync_dir(path.parent)
    return path


def private_open_for_write(path: Path | str, *, exclusive: bool = True,
                           mode: int = FILE_MODE) -> BinaryIO:
    """Open `path` for binary writing as a 0600 file; never follows a symlink at `path`.

    `exclusive` (the default) refuses an existing file (FileExistsError); otherwise an
    existing file is truncated and its mode reset to `mode`.
    """
    flags = os.O_WRONLY | os.O_CREAT | _O_BINARY | _O_NOFOLLOW
    flags |= os.O_EXCL if exclusive else os.O_TRUNC
    fd = os.open(path, flags, mode)
    try:
        _chmod_fd(fd, mode)
        return cast(BinaryIO, os.fdopen(fd, "wb"))
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def atomic_writer(path: Path | str, *, mode: int = FILE_MODE, overwrite: bool = True,
                  durable: bool = True) -> Iterator[BinaryIO]:
    """Write `path` through a temp file that replaces it only when the block ends cleanly.

    On any exception (a full disk included) the temp file is removed and the old `path`, if
    any, is untouched. With `overwrite=False` an existing `path` raises FileExistsError
    before anything is written. `durable` fsyncs the file and its folder.
    """
    path = Path(path)
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(f"{path} 已存在")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    f = private_open_for_write(tmp, exclusive=True, mode=mode)
    try:
        with f:
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        if not overwrite:
            # link(2) fails if the name appeared meanwhile; no silent overwrite
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)


def write_atomic(path: Path | str, data: bytes | Iterable[bytes] | BinaryIO, *,
                 mode: int = FILE_MODE, overwrite: bool = True, durable: bool = True,
                 parents: bool = False) -> int:
    """Replace `path` with `data` (bytes, chunks or a readable stream); return bytes written.

    A crash leaves either the old or the new content; the new file has exactly `mode`.
    With `parents`, missing folders are created (0700).
    """
    if parents:
        ensure_private_dir(Path(path).parent)
    size = 0
    with atomic_writer(path, mode=mode, overwrite=overwrite, durable=durable) as f:
        if isinstance(data, bytes | bytearray | memoryview):
            f.write(data)
            size = len(data)
        elif hasattr(data, "read"):
            stream = cast(BinaryIO, data)
            while chunk := stream.read(CHUNK):
                f.write(chunk)
                size += len(chunk)
        else:
            for chunk in cast(Iterable[bytes], data):
                f.write(chunk)
                size += len(chunk)
    return size


def read_chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    """A stream's content in chunks (memory stays flat), closing it at the end."""
    with stream:
        while chunk := stream.read(size):
            yield chunk


__all__ = ["DIR_MODE", "FILE_MODE", "atomic_writer", "ensure_private_dir", "fsync_dir",
           "private_open_for_write", "read_chunks", "write_atomic"]
