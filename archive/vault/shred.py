"""Deleting a secret-bearing file: overwrite with random bytes, fsync, unlink.

Shared by the format-1 keyslots kept for `sgz upgrade`, their format-2 successors and the
upgrade's pending-key files, so the three delete a file the same way.
"""

from __future__ import annotations

import os
from pathlib import Path


def overwrite_unlink(path: Path) -> None:
    """Overwrite `path` with random bytes (fsynced), then unlink it; the caller fsyncs the folder.
    Raises FileNotFoundError when there is no such file."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.write(os.urandom(size))
        f.flush()
        os.fsync(f.fileno())
    path.unlink()

