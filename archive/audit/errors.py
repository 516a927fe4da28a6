"""Why an audit log or checkpoint failed verification; all are IntegrityError (exit code 8).

`ref` is the 1-based line number of the first bad entry (or the checkpoint's tree size for
checkpoint problems); `reason` is a stable machine-readable code.
"""

from __future__ import annotations

from archive.errors import IntegrityError


class AuditTampered(IntegrityError):
    """The audit log does not verify."""

    message = "审计日志校验失败：日志已被篡改或损坏"
    reason = "tampered"


class LineCorrupt(AuditTampered):
    """A line is not valid canonical JSON with the expected fields (an edited byte)."""

    reason = "line-corrupt"


class ChainBroken(AuditTampered):
    """A line's `prev` is not the hash of the line before it (edited, inserted or removed line)."""

    reason = "chain-broken"


class SeqGap(AuditTampered):
    """A seq number is skipped: entries were deleted."""

    reason = "seq-gap"


class LinesReordered(AuditTampered):
    """A seq number repeats or goes backwards: entries were duplicated, inserted or reordered."""

    reason = "reordered"


class TornLine(AuditTampered):
    """The last line has no newline: a crash mid-write, or a truncation."""

    reason = "torn-line"


class BadGenesis(AuditTampered):
    """Line 1 is not a valid genesis entry (vault id, verifier key)."""

    reason = "bad-genesis"


class LogTruncated(AuditTampered):
    """The log is shorter than a signed checkpoint: entries were cut from the end."""

    reason = "truncated"


class LogForked(AuditTampered):
    """The log's root at a checkpoint's size differs from the signed root."""

    reason = "forked"


class CheckpointConflict(AuditTampered):
    """Two checkpoints of one tree size disagree on the root: the log was forked."""

    message = "同一大小的两个检查点根哈希不同：日志曾被分叉"
    reason = "checkpoint-conflict"


class CheckpointInvalid(AuditTampered):
    """A checkpoint is malformed or its signature does not verify."""

    reason = "checkpoint-bad-signature"


class CheckpointUnknownKey(AuditTampered):
    """A checkpoint is signed by a key other than the one in the log's genesis entry."""

    reason = "checkpoint-unknown-key"


class EntryForged(AuditTampered):
    """A signed line's signature does not verify with its actor's key: written in someone
    else's name, or edited after signing."""

    reason = "bad-signature"


class UnknownActor(AuditTampered):
    """A line's actor has no key in the log (never added, or removed before this line)."""

    reason = "unknown-actor"


class RoleMismatch(AuditTampered):
    """A line claims a role other than the one the log gave its actor."""

    reason = "role-mismatch"


class BatchBroken(AuditTampered):
    """Unsigned lines of a batch are not closed by a signature of the same actor."""

    reason = "unsigned-batch"


class BadKeyEntry(AuditTampered):
    """A key entry (genesis, user.add, user.role, user.remove, user.key, station.key,
    upgrade) is malformed, not signed by the station key, or not allowed."""

    reason = "bad-key-entry"


class LogRewritten(AuditTampered):
    """An entry this user had already seen has different bytes now."""

    reason = "rewritten"


class CheckpointsDeleted(AuditTampered):
    """A checkpoint this user had already seen is gone and nothing newer replaces it."""

    reason = "checkpoints-deleted"


class MonitorStateInvalid(AuditTampered):
    """A user's sealed last-seen state does not open or is not signed by that user."""

    reason = "monitor-state"
