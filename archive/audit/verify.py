"""Verify an audit log and its checkpoints with no secret key (DESIGN §5).

One streaming pass (archive.audit.walk) from line 0: canonical form, seq, hash chain, every
signature against the key set the log itself builds from its genesis and key entries, the
RFC 6962 root at every checkpoint's size, each checkpoint's signature by the station key in
force at that size. A log that no checkpoint covers is never called complete: the report says
how many entries no checkpoint covers (`unproven`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from archive.audit.checkpoint import CheckpointStore, origin_for, parse_body
from archive.audit.errors import (
    BadGenesis,
    CheckpointInvalid,
    CheckpointUnknownKey,
    LogTruncated,
)
from archive.audit.head import Head
from archive.audit.note import NoteInvalid, SignatureInvalid, UnknownKey, Verifier, split_note
from archive.audit.walk import Note, Walk
from archive.errors import NotFound


@dataclass(frozen=True)
class VerifyReport:
    """What a successful verification established."""

    entries: int
    last_seq: int
    root: bytes
    vault_id: str
    verifier_key: str  # the station key in force at the end
    checkpoints_checked: int
    newest_checkpoint: int | None  # tree size of the newest checkpoint (stored or given)
    newest_exported: int | None  # tree size of the newest exported checkpoint, if any
    uncovered: int  # entries after the newest exported checkpoint
    unproven: int  # entries no checkpoint covers at all: edits or cuts there are undetectable
    unsigned: int  # lines of the unsigned kind (failed unlocks): claims nobody vouches for
    legacy: int  # format-1 lines before the upgrade entry
    upgraded_at: int | None  # 1-based line of the upgrade entry
    users: dict[str, str]  # name -> role of the users with keys at the end
    head: Head

    @property
    def complete(self) -> bool:
        """True only when a checkpoint covers every entry."""
        return self.unproven == 0

    def summary_zh(self) -> str:
        """The one-paragraph result for people (CLI and web)."""
        checked = "哈希链无误" if self.legacy and self.upgraded_at is None else "签名与哈希链无误"
        if self.complete:
            out = (f"完整：共 {self.entries} 条记录，{checked}，已核对 {self.checkpoints_checked} 个检查点，"
                   f"最新检查点覆盖全部条目；其中 {self.uncovered} 条尚未被导出的检查点覆盖")
        else:
            out = (f"未能证明完整：共 {self.entries} 条记录，{checked}，但没有检查点覆盖其中最后 "
                   f"{self.unproven} 条（这部分被删改或截短时校验无法发现，只有见过它们的用户下次登录时会发现）；"
                   f"已核对 {self.checkpoints_checked} 个检查点，{self.uncovered} 条尚未被导出的检查点覆盖")
        if self.unsigned:
            out += f"。另有 {self.unsigned} 条无签名记录（登录失败等），不能证明是谁写入的"
        if self.legacy:
            out += (f"。前 {self.legacy} 条为旧格式（格式 1）记录，由第 {self.upgraded_at} 条升级条目的站点签名担保"
                    if self.upgraded_at else f"。全部 {self.legacy} 条为旧格式（格式 1）记录，尚未升级（sgz upgrade），"
                    "没有操作者签名")
        return out


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb", buffering=1 << 20) as f:
        yield from f


def load_notes(store: CheckpointStore, vault_id: str | None, given: Sequence[str] = (), *,
               min_size: int = 0) -> dict[int, list[Note]]:
    """Stored checkpoints of at least `min_size` entries and the given ones, parsed (signatures
    are checked during the walk, with the station key in force at each size)."""
    exported = set(store.exported_sizes())
    texts: list[tuple[str, str | bytes, int | None, bool]] = []
    for size in store.sizes():
        if size < min_size:
            continue
        texts.append((f"检查点文件 {store.path(size).name}", store.path(size).read_bytes(), size,
                      size in exported))
    for k, note in enumerate(given, 1):
        texts.append((f"第 {k} 个外部检查点", note, None, True))
    out: dict[int, list[Note]] = {}
    for label, text, named, is_exported in texts:
        try:
            s = text.decode("utf-8") if isinstance(text, bytes) else text
            body, _ = split_note(s)
            cp = parse_body(body)
        except UnicodeDecodeError as e:
            raise CheckpointInvalid(f"{label}不是有效的 UTF-8 文本", ref=str(named)) from e
        except NoteInvalid as e:
            raise CheckpointInvalid(f"{label}无效：{e}", ref=str(named)) from e
        if vault_id is not None and cp.origin != origin_for(vault_id):
            raise CheckpointInvalid(f"{label}的来源 {cp.origin} 与本日志不符", ref=str(cp.size))
        if named is not None and named != cp.size:
            raise CheckpointInvalid(f"{label}的大小 {cp.size} 与文件名不符", ref=str(cp.size))
        if cp.size == 0:
            raise CheckpointInvalid(f"{label}的大小为 0", ref="0")
        out.setdefault(cp.size, []).append(Note(label, s, cp.size, cp.root, is_exported))
    return out


def check_beyond(head: Head, notes: dict[int, list[Note]]) -> None:
    """Checkpoints larger than the log: signed by a station key the log knows → truncated."""
    beyond = sorted(s for s in notes if s > head.size)
    if not beyond:
        return
    size = beyond[-1]
    note = notes[size][0]
    for _, vkey in reversed(head.stations):
        try:
            Verifier.parse(vkey).verify(note.text)
        except (UnknownKey, SignatureInvalid, NoteInvalid):
            continue
        raise LogTruncated(f"日志只有 {head.size} 条，短于已签名的检查点（{size} 条）：末尾条目被删除",
                           ref=str(size), expected=size, found=head.size)
    raise CheckpointUnknownKey(f"{note.label}声称覆盖 {size} 条（多于日志的 {head.size} 条），"
                               "但不是日志中任何站点密钥签名的", ref=str(size))


def verify_log(audit_dir: Path, *, checkpoints: Sequence[str] = (), threads: int = 2) -> VerifyReport:
    """Verify `audit_dir/log.jsonl` and its checkpoints; raise an AuditTampered subclass on the first problem."""
    path = Path(audit_dir) / "log.jsonl"
    store = CheckpointStore(Path(audit_dir))
    if not path.exists():
        if store.sizes() or checkpoints:
            raise LogTruncated("审计日志不存在，但有已签名的检查点：日志被删除", ref="1")
        raise NotFound("审计日志不存在")
    notes = load_notes(store, None, checkpoints)
    walk = Walk(Head(), notes={s: list(v) for s, v in notes.items()}, threads=threads)
    head = walk.run(_lines(path), end=True)
    if head.size == 0:
        raise BadGenesis("日志为空，没有创世条目", ref="1")
    check_beyond(head, notes)
    checked = walk.verified_notes
    newest = max((n.size for n in checked), default=None)
    newest_exp = max((n.size for n in checked if n.exported), default=None)
    vkey = head.station_key_at(head.size) or ""
    return VerifyReport(
        entries=head.size, last_seq=head.size - 1, root=head.root(), vault_id=head.vault or "",
        verifier_key=vkey, checkpoints_checked=len(checked), newest_checkpoint=newest,
        newest_exported=newest_exp, uncovered=head.size - (newest_exp or 0),
        unproven=head.size - (newest or 0), unsigned=head.unsigned, legacy=head.legacy,
        upgraded_at=None if head.upgraded_at is None else head.upgraded_at + 1,
        users={n: r for n, (r, _) in sorted(head.users.items())}, head=head,
    )

