"""Maintenance operations: integrity check, backup, restore, audit history (issue #3)."""
