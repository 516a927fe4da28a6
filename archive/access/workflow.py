"""Archive methods for outside access requests and people's rights over their data (issue #6)."""

from __future__ import annotations


class AccessWorkflowMixin:
    """Methods of `Archive` for `sgz access`, `subject`, `refer`, `export` (see archive/core.py)."""
