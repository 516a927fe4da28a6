"""Tamper-evident audit log: hash-chained JSON lines, RFC 6962 Merkle tree, signed checkpoints."""

from archive.audit.errors import (
    AuditTampered,
    BadGenesis,
    ChainBroken,
    CheckpointConflict,
    CheckpointInvalid,
    CheckpointUnknownKey,
    LineCorrupt,
    LinesReordered,
    LogForked,
    LogTruncated,
    SeqGap,
    TornLine,
)
from archive.audit.log import AuditLog, Entry
from archive.audit.verify import VerifyReport, verify_log

__all__ = [
    "AuditLog", "AuditTampered", "BadGenesis", "ChainBroken", "CheckpointConflict",
    "CheckpointInvalid", "CheckpointUnknownKey", "Entry", "LineCorrupt", "LinesReordered",
    "LogForked", "LogTruncated", "SeqGap", "TornLine", "VerifyReport", "verify_log",
]
