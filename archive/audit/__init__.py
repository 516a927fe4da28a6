"""Tamper-evident audit log: signed, hash-chained JSON lines (format 2), RFC 6962 Merkle tree,
station-signed checkpoints, and every user a monitor of the last tree head she saw."""
