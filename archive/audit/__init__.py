"""Tamper-evident audit log: hash-chained JSON lines, RFC 6962 Merkle tree, signed checkpoints."""
