"""Reading the end of the log file: the last closed line (for writers), the lines after a
verified head (for monitors and checkpoints), without reading the file from the start."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from archive.audit.line import is_closed
from archive.errors import IntegrityError

_CHUNK = 1 << 16
_SEQ = re.compile(rb'\{"v":[12],"seq":(0|[1-9][0-9]{0,17}),')


def seq_of(raw: bytes) -> int:
    """The seq of a (format 1 or 2) line, from its first bytes; ValueError if absent."""
    m = _SEQ.match(raw)
    if m is None:
        raise ValueError("no seq")
    return int(m.group(1))


def read_exact(fd: int, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def lines_backwards(fd: int, size: int) -> Iterator[tuple[bytes, int]]:
    """Complete lines (without newline) from the last one backwards, each with its start offset.
    Bytes after the last newline (a torn line) are skipped."""
    buf = b""
    pos = size
    end: int | None = None  # offset just after the newline of the line being assembled
    while True:
        if end is None:
            cut = buf.rfind(b"\n")
            if cut >= 0:
                end = pos + cut + 1
                buf = buf[:cut]
                continue
        else:
            start = buf.rfind(b"\n")
            if start >= 0:
                line_start = pos + start + 1
                yield buf[start + 1:], line_start
                buf = buf[:start]
                end = line_start
                continue
            if pos == 0:
                yield buf, 0
                return
        if pos == 0:
            return
        step = min(_CHUNK, pos)
        pos -= step
        os.lseek(fd, pos, os.SEEK_SET)
        buf = read_exact(fd, step) + buf


def last_closed(fd: int, size: int) -> tuple[bytes, int]:
    """(last line that ends a batch, offset just after it); (b"", 0) for an empty file."""
    for raw, start in lines_backwards(fd, size):
        if is_closed(raw):
            return raw, start + len(raw) + 1
    return b"", 0


def lines_after(path: Path, offset: int) -> list[bytes]:
    """Complete lines (each with its newline) from `offset` to the end; a torn tail is left out."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError as e:
        raise IntegrityError("审计日志不存在") from e
    cut = data.rfind(b"\n") + 1
    return [x + b"\n" for x in data[:cut].split(b"\n")[:-1]]


def closed_prefix(lines: list[bytes]) -> int:
    """How many of `lines` (with newlines) to read so the last one read ends a batch."""
    for k in range(len(lines), 0, -1):
        if is_closed(lines[k - 1][:-1]):
            return k
    return 0
