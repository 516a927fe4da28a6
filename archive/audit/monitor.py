"""Every user is a monitor: at each unlock, prove the log consistent with the last tree head
*this user* saw, then remember the new one (DESIGN §5).

The remembered head (archive.audit.head.Head: size, byte offset, the last line's leaf hash, the
Merkle frontier, the key set, the newest checkpoint seen) is signed with the user's Ed25519 key
and encrypted to the user's X25519 identity (an age file), so nobody else can read, forge or
edit it. The check reads only that one remembered line and the lines written since:

- the file is shorter than what the user saw → LogTruncated;
- the last line the user saw has other bytes now → LogRewritten (a rewrite from there back
  cannot re-attach: the next line's `prev` is that line's leaf hash);
- the new lines are verified like `verify` does, continuing the frontier, so a checkpoint
  signed over a rewritten log (any size the user has not yet passed) fails → LogForked;
- the newest checkpoint the user had checked is gone → CheckpointsDeleted, or has a different
  root → CheckpointConflict;
- a stored checkpoint beyond the end → LogTruncated.

So consistency costs O(log n) + the new tail, not the log's length. A first unlock (no state
yet) verifies from line 0; `seed` lets whoever creates a user hand over a head instead.
Limit: a user's state file replaced by an older copy of itself (taken earlier) hides a
truncation back to that point from this user; every other user who saw more still catches it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from archive.audit import tail
from archive.audit.checkpoint import parse_body
from archive.audit.errors import (
    AuditTampered,
    CheckpointConflict,
    CheckpointsDeleted,
    LogForked,
    LogRewritten,
    LogTruncated,
    MonitorStateInvalid,
)
from archive.audit.head import Head
from archive.audit.log import AuditLog, checkpoint_due
from archive.audit.merkle import leaf_hash
from archive.audit.note import NoteInvalid, split_note
from archive.audit.verify import check_beyond, load_notes
from archive.audit.walk import Walk, check_note_signature
from archive.crypto.age import (
    AgeError,
    X25519Identity,
    X25519Recipient,
    decrypt_bytes,
    encrypt_bytes,
)
from archive.crypto.ed25519 import BadSignature, SigningKey, VerifyKey
from archive.errors import UsageError
from archive.fs.atomic import ensure_private_dir, write_atomic

DOMAIN_SEEN = b"sgz-audit/v2/seen\n"
STATE_FORMAT = 1


def seen_path(audit_dir: Path, member: str) -> Path:
    """Where a user's sealed state lives: `<audit>/seen/<member id>.age` (the keyslot's hashed
    id, so no name appears in clear)."""
    return Path(audit_dir) / "seen" / f"{member}.age"


@dataclass(frozen=True)
class MonitorReport:
    """What one unlock's consistency check found (it raises instead when it finds tampering)."""

    user: str
    first: bool  # no earlier state: verified from line 0
    seen_before: int  # entries this user had seen
    size: int  # entries now (up to the last finished batch)
    root: bytes
    checkpoint: int  # size of the newest checkpoint checked (0: none)
    unproven: int  # entries after it
    due: bool  # a station signer should write a checkpoint now

    @property
    def new_entries(self) -> int:
        return self.size - self.seen_before


def seal_state(head: Head, *, user: str, vault_id: str, key: SigningKey,
               recipient: X25519Recipient) -> bytes:
    """The state file: age(recipient) of `json \\n base64(Ed25519 signature)`."""
    body = json.dumps({"v": STATE_FORMAT, "user": user, "vault": vault_id, "head": head.to_json()},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    sig = key.sign(DOMAIN_SEEN + body)
    return encrypt_bytes(body + b"\n" + base64.b64encode(sig), [recipient])


def open_state(data: bytes, *, user: str, vault_id: str, public_key: bytes,
               identity: X25519Identity) -> Head:
    """Decrypt and check a state file; MonitorStateInvalid if it does not open, is not signed by
    `public_key`, or belongs to another user or vault."""
    bad = MonitorStateInvalid(f"{user} 的审计日志核对状态无法打开或签名不符：该文件被替换或损坏")
    try:
        plain = decrypt_bytes(data, [identity])
        body, sig = plain.rsplit(b"\n", 1)
        VerifyKey(public_key).verify(base64.b64decode(sig, validate=True), DOMAIN_SEEN + body)
        o = json.loads(body)
        if o.get("v") != STATE_FORMAT or o.get("user") != user or o.get("vault") != vault_id:
            raise bad
        return Head.from_json(o["head"])
    except (AgeError, BadSignature, ValueError, KeyError, TypeError, binascii.Error):
        raise bad from None


class Monitor:
    """The per-user consistency check run at every unlock."""

    @staticmethod
    def seed(head: Head, state_path: Path, *, user: str, vault_id: str, seed: bytes,
             recipient: X25519Recipient) -> None:
        """Write `user`'s first state from a head the creator verified (at user add, upgrade),
        so the new user's first unlock does not read the log from line 0."""
        ensure_private_dir(Path(state_path).parent)
        write_atomic(Path(state_path), seal_state(head, user=user, vault_id=vault_id,
                                                  key=SigningKey(seed), recipient=recipient))

    @staticmethod
    def check_and_update(log: AuditLog, identity: X25519Identity, state_path: Path, *,
                         now: datetime | None = None) -> MonitorReport:
        """Check the log against this user's last seen head, verify what is new, save the new head
        and leave it on `log.head` (so `log.checkpoint` costs only what is written later)."""
        key = log.signing_key
        if key is None or log.actor is None:
            raise UsageError("核对审计日志需要当前用户的签名密钥")
        state_path = Path(state_path)
        old: Head | None = None
        if state_path.exists():
            old = open_state(state_path.read_bytes(), user=log.actor, vault_id=log.vault_id,
                             public_key=key.public, identity=identity)
        with log._lock:
            head = _resume(log, old)
            if old is not None and old.cp_size:
                _remembered_checkpoint(log, old)
            lines = tail.lines_after(log.path, head.offset)
            lines = lines[: tail.closed_prefix(lines)]
            notes = load_notes(log.checkpoints, log.vault_id, min_size=head.size)
            at_head = notes.pop(head.size, [])
            for note in at_head:
                check_note_signature(note, head.station_key_at(head.size), log.vault_id)
                if note.root != head.root():
                    raise LogForked(f"{note.label}与 {log.actor} 上次看到的前 {head.size} 条不符：日志被改写",
                                    ref=str(head.size))
            if at_head and head.size >= head.cp_size:
                head.cp_size, head.cp_root = head.size, head.root()
            Walk(head, notes=notes, threads=log.threads).run(lines, end=True)
            check_beyond(head, notes)
        ensure_private_dir(state_path.parent)
        write_atomic(state_path, seal_state(head, user=log.actor, vault_id=log.vault_id,
                                            key=key, recipient=identity.recipient()))
        log.head = head
        return MonitorReport(
            user=log.actor, first=old is None, seen_before=old.size if old else 0, size=head.size,
            root=head.root(), checkpoint=head.cp_size, unproven=head.size - head.cp_size,
            due=checkpoint_due(head, now or datetime.now(UTC)),
        )


def _resume(log: AuditLog, old: Head | None) -> Head:
    """The head to continue from, after checking the file still holds what it describes."""
    if old is None:
        return Head()
    head = Head.from_json(old.to_json())
    who = log.actor
    try:
        fsize = os.stat(log.path).st_size
    except FileNotFoundError:
        raise LogTruncated(f"审计日志不存在：{who} 上次看到 {old.size} 条", ref=str(old.size)) from None
    if fsize < old.offset:
        raise LogTruncated(f"审计日志被截短：{who} 上次看到 {old.size} 条，现在的日志比那时短",
                           ref=str(old.size), expected=old.size)
    if old.size:
        with open(log.path, "rb") as f:
            f.seek(old.offset - old.last_len)
            line = f.read(old.last_len)
        if not line.endswith(b"\n") or leaf_hash(line[:-1]) != old.last_leaf:
            raise LogRewritten(f"{who} 上次看到的第 {old.size} 条已被改动或删除：日志被改写",
                               ref=str(old.size))
    return head


def _remembered_checkpoint(log: AuditLog, old: Head) -> None:
    """The newest checkpoint this user had checked must still be there, with the same root."""
    who = log.actor
    if old.cp_size not in log.checkpoints.sizes():
        raise CheckpointsDeleted(f"检查点被删除：{who} 上次核对过覆盖 {old.cp_size} 条的检查点，现在找不到",
                                 ref=str(old.cp_size))
    try:
        body, _ = split_note(log.checkpoints.read(old.cp_size))
        root = parse_body(body).root
    except (NoteInvalid, UnicodeDecodeError) as e:
        raise CheckpointConflict(f"覆盖 {old.cp_size} 条的检查点已被改动", ref=str(old.cp_size)) from e
    if root != old.cp_root:
        raise CheckpointConflict(f"覆盖 {old.cp_size} 条的检查点已被替换为另一个根哈希：日志被改写",
                                 ref=str(old.cp_size))


__all__ = ["AuditTampered", "Monitor", "MonitorReport", "open_state", "seal_state", "seen_path"]
