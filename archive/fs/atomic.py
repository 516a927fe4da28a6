"""Crash-safe file writes: temp file in the same folder → fsync → rename → fsync folder."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO


def fsync_dir(path: Path) -> None:
    """Persist a rename/creation in `path` (a no-op where folders cannot be opened, e.g. Windows)."""
    if os.name == "nt":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | Iterable[bytes], *, parents: bool = False,
                 mode: int = 0o600) -> int:
    """Replace `path` with `data` (bytes or an iterable of chunks) so a crash leaves either the
    old or the new content: temp file in the same folder (private mode) → fsync → rename →
    fsync folder. The one durable writer of the package; returns the bytes written."""
    path = Path(path)
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.sgz-part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), mode)
    size = 0
    try:
        for chunk in ([data] if isinstance(data, bytes | bytearray | memoryview) else data):
            view = memoryview(chunk)
            size += len(view)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return size


def read_chunks(stream: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    """A stream's content in chunks (memory stays flat), closing it at the end."""
    with stream:
        while chunk := stream.read(size):
            yield chunk
