"""Maintenance: integrity check, backup, restore, key rotation, audit history."""
