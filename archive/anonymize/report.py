"""What an anonymisation run did, for the caller to show and log (counts, never the values)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Report:
    """Masks per kind, parts rewritten, parts blanked or dropped, warnings (Chinese)."""

    masked: Counter[str] = field(default_factory=Counter)
    parts: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
