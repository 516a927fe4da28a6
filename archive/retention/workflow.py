"""Archive methods for retention, holds and disposal (issue #6)."""

from __future__ import annotations


class RetentionMixin:
    """Methods of `Archive` for `sgz retention`, `hold`, `disposal` (see archive/core.py)."""
