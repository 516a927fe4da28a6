"""tlog-checkpoint bodies (https://c2sp.org/tlog-checkpoint) and the on-disk checkpoint store.

Body: `sgz/<vault-id>\\n<size>\\n<base64 root>\\n`. Stored notes live in
`<audit_dir>/checkpoints/<size:012d>.note`; an exported one also has `<size:012d>.exported`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path

from archive.audit.errors import CheckpointConflict
from archive.audit.note import NoteInvalid
from archive.fs.atomic import ensure_private_dir, write_atomic

_NAME = re.compile(r"^(\d{12})\.note$")
_SIZE = re.compile(r"^(0|[1-9][0-9]{0,19})$")


def origin_for(vault_id: str) -> str:
    """Checkpoint origin (and signing key name) for a vault."""
    return f"sgz/{vault_id}"


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint body."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The checkpoint body text, as signed."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_body(text: str) -> Checkpoint:
    """Parse a checkpoint body; extension lines after the root are rejected (sgz writes none)."""
    lines = text.split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise NoteInvalid("检查点正文应为三行：来源、大小、根哈希")
    origin, size_s, root_s = lines[:3]
    if not origin or not _SIZE.match(size_s):
        raise NoteInvalid("检查点的来源或大小无效")
    try:
        root = base64.b64decode(root_s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise NoteInvalid("检查点根哈希的 base64 无效") from e
    if len(root) != 32 or base64.b64encode(root).decode("ascii") != root_s:
        raise NoteInvalid("检查点根哈希长度应为 32 字节")
    return Checkpoint(origin, int(size_s), root)


class CheckpointStore:
    """The folder of signed checkpoint notes kept next to the log."""

    def __init__(self, audit_dir: Path) -> None:
        self.dir = Path(audit_dir) / "checkpoints"

    def path(self, size: int) -> Path:
        return self.dir / f"{size:012d}.note"

    def sizes(self) -> list[int]:
        """Sizes of stored checkpoints, ascending."""
        if not self.dir.is_dir():
            return []
        out = [int(m.group(1)) for p in self.dir.iterdir() if (m := _NAME.match(p.name))]
        return sorted(out)

    def read(self, size: int) -> str:
        return self.path(size).read_bytes().decode("utf-8")

    def exported_sizes(self) -> list[int]:
        """Sizes of checkpoints that were exported (handed out), ascending."""
        return [s for s in self.sizes() if (self.dir / f"{s:012d}.exported").exists()]

    def store(self, size: int, note: str, *, export: bool) -> None:
        """Write a note (temp, fsync, rename); a different note already stored for `size` is a fork."""
        ensure_private_dir(self.dir)
        target = self.path(size)
        data = note.encode("utf-8")
        if target.exists():
            if target.read_bytes() != data:
                raise CheckpointConflict(f"大小为 {size} 的检查点已存在且内容不同", ref=str(size))
        else:
            _write_atomic(target, data)
        if export:
            marker = self.dir / f"{size:012d}.exported"
            if not marker.exists():
                _write_atomic(marker, b"")


def _write_atomic(target: Path, data: bytes) -> None:
    write_atomic(target, data)  # 0600, fsynced, folder fsynced
