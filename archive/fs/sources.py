"""A file to be filed that exists only in memory (a browser upload, a generated document).

`RecordService.file` takes these beside paths, so plaintext that arrived over the network or
was rendered in memory goes straight into the vault's encrypted staging without ever being
written to disk in clear.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import BinaryIO


@dataclass(frozen=True)
class InMemoryFile:
    """`name` is the user's file name (its extension is checked against the bytes)."""

    filename: str
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        # only the last part of what a browser sends: never a path
        base = PurePath(self.filename.replace("\\", "/")).name.strip() or "upload"
        object.__setattr__(self, "filename", base)

    @property
    def name(self) -> str:
        return self.filename

    @property
    def stem(self) -> str:
        return PurePath(self.filename).stem

    @property
    def suffix(self) -> str:
        return PurePath(self.filename).suffix

    @property
    def size(self) -> int:
        return len(self.data)

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data)

    def __str__(self) -> str:
        return self.filename


def open_source(src: object) -> BinaryIO:
    """A binary stream over a path or an in-memory file."""
    if isinstance(src, InMemoryFile):
        return src.open()
    return open(src, "rb", buffering=1 << 16)  # type: ignore[call-overload,no-any-return]
