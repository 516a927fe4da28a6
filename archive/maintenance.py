"""Archive methods for integrity checks, backup, restore and key management (issue #3)."""

from __future__ import annotations


class MaintenanceMixin:
    """Methods of `Archive` for `sgz check`, `backup`, `restore`, `keys` (see archive/core.py)."""
