"""Archive methods for full-text indexing and search (issue #5)."""

from __future__ import annotations


class SearchMixin:
    """Methods of `Archive` for `sgz search` and `sgz index` (see archive/core.py)."""
