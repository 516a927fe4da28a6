"""The age ASCII armor: strict PEM-like encoding with 64-column base64 lines.

Decoding follows the reference rules: LF or CRLF line ends, only whitespace-only lines before
the header and whitespace after the footer (at most 1 KiB each), every line but the last full,
canonical padded base64, nothing else.
"""

from __future__ import annotations

import binascii
import io
import re
from typing import Any

from archive.crypto.age_errors import ArmorError
from archive.crypto.age_stream import ByteSource, write_all

HEADER = b"-----BEGIN AGE ENCRYPTED FILE-----"
FOOTER = b"-----END AGE ENCRYPTED FILE-----"
COLUMNS = 64
BYTES_PER_LINE = COLUMNS // 4 * 3
MAX_WHITESPACE = 1024
_WHITESPACE = b" \t\r\n\v\f"
_FULL_LINES = re.compile(rb"(?:[A-Za-z0-9+/]{64}\r?\n)+")
_BLOCK = 1024 * (COLUMNS + 1)


def looks_armored(src: ByteSource) -> bool:
    """Whether the first non-whitespace bytes of src open a PEM-like block."""
    head = src.peek(MAX_WHITESPACE + 5)
    return head.lstrip(_WHITESPACE).startswith(b"-----")


def _strip_eol(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line


class ArmorReader(io.RawIOBase):
    """Decodes an armored age file from a ByteSource, raising ArmorError on any deviation."""

    def __init__(self, src: ByteSource) -> None:
        super().__init__()
        self._src = src
        self._started = False
        self._finished = False
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _line(self, limit: int = COLUMNS + 2) -> bytes:
        line = self._src.readline(limit)
        if not line:
            raise ArmorError("armor: unexpected end of file")
        if not line.endswith(b"\n") and len(line) >= limit:
            raise ArmorError("armor: line too long")
        return _strip_eol(line)

    def _start(self) -> None:
        skipped = 0
        while True:
            line = self._line(MAX_WHITESPACE + 2)
            if line.strip(_WHITESPACE):
                break
            skipped += len(line) + 1
            if skipped > MAX_WHITESPACE:
                raise ArmorError("armor: too much leading whitespace")
        if line != HEADER:
            raise ArmorError("armor: invalid first line")
        self._started = True

    def _finish(self) -> None:
        rest = self._src.read(MAX_WHITESPACE)
        if rest.strip(_WHITESPACE):
            raise ArmorError("armor: trailing data after armored file")
        if len(rest) == MAX_WHITESPACE:
            raise ArmorError("armor: too much trailing whitespace")
        self._finished = True

    def _decode_more(self) -> bytes:
        # Fast path: a run of full 64-column lines is always canonical and decodes in one call.
        block = self._src.peek(_BLOCK)
        m = _FULL_LINES.match(block)
        if m:
            self._src.read(m.end())
            return binascii.a2b_base64(m.group())
        line = self._line()
        if line == FOOTER:
            self._finish()
            return b""
        if not line or len(line) > COLUMNS:
            raise ArmorError("armor: invalid line length")
        try:
            data = binascii.a2b_base64(line, strict_mode=True)
        except binascii.Error:
            raise ArmorError("armor: invalid base64") from None
        if binascii.b2a_base64(data, newline=False) != line:
            raise ArmorError("armor: non-canonical base64")
        if len(data) < BYTES_PER_LINE:
            if self._line() != FOOTER:
                raise ArmorError("armor: short line before the end")
            self._finish()
        return data

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            if self._finished:
                return 0
            if not self._started:
                self._start()
            self._pending = memoryview(self._decode_more())
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class ArmorWriter:
    """Encodes written bytes as armor onto dst; finish() writes the last line and footer."""

    def __init__(self, dst: Any) -> None:
        self._dst = dst
        self._tail = bytearray()
        write_all(dst, HEADER + b"\n")

    def _emit(self, data: bytes | bytearray | memoryview) -> None:
        enc = binascii.b2a_base64(data, newline=False)
        lines = [enc[i : i + COLUMNS] for i in range(0, len(enc), COLUMNS)]
        write_all(self._dst, b"\n".join(lines) + b"\n")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._tail += data
        whole = len(self._tail) - len(self._tail) % BYTES_PER_LINE
        if whole >= 64 * BYTES_PER_LINE:
            self._emit(self._tail[:whole])
            del self._tail[:whole]
        return len(data)

    def finish(self) -> None:
        """Flush the remaining bytes and the footer; does not close dst."""
        if self._tail:
            self._emit(self._tail)
            self._tail.clear()
        write_all(self._dst, FOOTER + b"\n")
