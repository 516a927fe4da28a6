"""Tamper-evident audit log: signed, hash-chained JSON lines, RFC 6962 Merkle tree, signed
checkpoints, and a per-user monitor of the last seen tree head."""

from archive.audit.errors import (
    AuditTampered,
    BadGenesis,
    BadKeyEntry,
    BatchBroken,
    ChainBroken,
    CheckpointConflict,
    CheckpointInvalid,
    CheckpointsDeleted,
    CheckpointUnknownKey,
    EntryForged,
    LineCorrupt,
    LinesReordered,
    LogForked,
    LogRewritten,
    LogTruncated,
    MonitorStateInvalid,
    RoleMismatch,
    SeqGap,
    TornLine,
    UnknownActor,
)
from archive.audit.log import AuditLog, Entry, checkpoint_due, station_verifier_key
from archive.audit.verify import VerifyReport, verify_log

__all__ = [
    "AuditLog", "AuditTampered", "BadGenesis", "BadKeyEntry", "BatchBroken", "ChainBroken",
    "CheckpointConflict", "CheckpointInvalid", "CheckpointUnknownKey", "CheckpointsDeleted",
    "Entry", "EntryForged", "LineCorrupt", "LinesReordered", "LogForked", "LogRewritten",
    "LogTruncated", "MonitorStateInvalid", "RoleMismatch", "SeqGap", "TornLine", "UnknownActor",
    "VerifyReport", "checkpoint_due", "station_verifier_key", "verify_log",
]
