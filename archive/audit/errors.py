"""Why an audit log or checkpoint failed verification; all are IntegrityError (exit code 8).

`ref` is the 1-based line number of the first bad entry (or the checkpoint's tree size for
checkpoint problems); `reason` is a stable machine-readable code.
"""

from __future__ import annotations

from typing import Any, ClassVar

from archive.errors import IntegrityError


class AuditTampered(IntegrityError, message="审计日志校验失败：日志已被篡改或损坏"):
    """The audit log does not verify. A family member declares its code in one line:
    `class X(AuditTampered, reason="…")`."""

    reason: ClassVar[str] = "tampered"

    def __init_subclass__(cls, *, reason: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if reason is not None:
            cls.reason = reason


class LineCorrupt(AuditTampered, reason="line-corrupt"):
    """A line is not valid canonical JSON with the expected fields (an edited byte)."""


class ChainBroken(AuditTampered, reason="chain-broken"):
    """A line's `prev` is not the hash of the line before it (edited, inserted or removed line)."""


class SeqGap(AuditTampered, reason="seq-gap"):
    """A seq number is skipped: entries were deleted."""


class LinesReordered(AuditTampered, reason="reordered"):
    """A seq number repeats or goes backwards: entries were duplicated, inserted or reordered."""


class TornLine(AuditTampered, reason="torn-line"):
    """The last line has no newline: a crash mid-write, or a truncation."""


class BadGenesis(AuditTampered, reason="bad-genesis"):
    """Line 1 is not a valid genesis entry (vault id, verifier key)."""


class LogTruncated(AuditTampered, reason="truncated"):
    """The log is shorter than a signed checkpoint: entries were cut from the end."""


class LogForked(AuditTampered, reason="forked"):
    """The log's root at a checkpoint's size differs from the signed root."""


class CheckpointConflict(AuditTampered, reason="checkpoint-conflict",
                         message="同一大小的两个检查点根哈希不同：日志曾被分叉"):
    """Two checkpoints of one tree size disagree on the root: the log was forked."""


class CheckpointInvalid(AuditTampered, reason="checkpoint-bad-signature"):
    """A checkpoint is malformed or its signature does not verify."""


class CheckpointUnknownKey(AuditTampered, reason="checkpoint-unknown-key"):
    """A checkpoint is signed by a key other than the one in the log's genesis entry."""


class EntryForged(AuditTampered, reason="bad-signature"):
    """A signed line's signature does not verify with its actor's key: written in someone
    else's name, or edited after signing."""


class UnknownActor(AuditTampered, reason="unknown-actor"):
    """A line's actor has no key in the log (never added, or removed before this line)."""


class RoleMismatch(AuditTampered, reason="role-mismatch"):
    """A line claims a role other than the one the log gave its actor."""


class BatchBroken(AuditTampered, reason="unsigned-batch"):
    """Unsigned lines of a batch are not closed by a signature of the same actor."""


class BadKeyEntry(AuditTampered, reason="bad-key-entry"):
    """A key entry (genesis, user.add, user.role, user.remove, user.key, station.key,
    upgrade) is malformed, not signed by the station key, or not allowed."""


class LogRewritten(AuditTampered, reason="rewritten"):
    """An entry this user had already seen has different bytes now."""


class CheckpointsDeleted(AuditTampered, reason="checkpoints-deleted"):
    """A checkpoint this user had already seen is gone and nothing newer replaces it."""


class MonitorStateInvalid(AuditTampered, reason="monitor-state"):
    """A user's sealed last-seen state does not open or is not signed by that user."""
