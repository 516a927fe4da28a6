"""SQLite's lookaside sized for SQLCipher's memory security (archive/catalog/sqlite_memory.py).

Each case runs in a fresh interpreter: the setting is process-wide and is only made before
the first connection of a process.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="the lookaside is only configured on x86-64 (ctypes and variadic C functions)")

# A keyed connection with 100 distinct prepared statements (the kind of load the catalogue
# puts on SQLite), then SQLite's count of allocations taken from malloc and still held.
_CHILD = r"""
import ctypes, json, sys
from pathlib import Path
import sqlcipher3
early = sqlcipher3.connect(":memory:") if sys.argv[1] == "connection-first" else None
from archive.catalog import db, sqlite_memory
conn = db.connect_keyed(Path(sys.argv[2]), b"k" * 32)
conn.execute("CREATE TABLE t(a, b, c)")
for i in range(100):
    conn.execute(f"INSERT INTO t(a, b, c) VALUES({i}, ?, ?)", ("x" * 100, i))
lib = ctypes.CDLL(sqlcipher3._sqlite3.__file__)
now, high = ctypes.c_int64(), ctypes.c_int64()
lib.sqlite3_status64(9, ctypes.byref(now), ctypes.byref(high), 0)  # SQLITE_STATUS_MALLOC_COUNT
rows = conn.execute("SELECT count(*), sum(c) FROM t").fetchone()
early_ok = early is None or early.execute("SELECT 41 + 1").fetchone()[0] == 42
print(json.dumps({"applied": sqlite_memory.applied, "mallocs": now.value,
                  "rows": list(rows), "early_ok": early_ok,
                  "memory_security": conn.execute("PRAGMA cipher_memory_security").fetchone()[0]}))
"""


def _child(mode: str, tmp_path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(tmp_path / f"{mode}.db")],
                         cwd=REPO, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout)


def test_the_first_connection_of_a_process_gets_the_larger_lookaside(tmp_path: Path) -> None:
    tuned = _child("fresh", tmp_path)
    assert tuned["applied"] == [1200, 500]
    assert tuned["rows"] == [100, sum(range(100))]
    assert tuned["memory_security"] == "1"  # still on: the lookaside does not replace it


def test_a_process_that_already_has_a_connection_is_left_as_it_is(tmp_path: Path) -> None:
    untouched = _child("connection-first", tmp_path)
    assert untouched["applied"] is None  # SQLite must not be shut down under a connection
    assert untouched["early_ok"] and untouched["rows"] == [100, sum(range(100))]


def test_the_lookaside_takes_the_small_allocations_off_malloc(tmp_path: Path) -> None:
    """What it is for: with memory security each malloc is an mlock and each free a wipe
    and an munlock; prepared statements then mostly live in the lookaside instead."""
    tuned = _child("fresh", tmp_path)
    untouched = _child("connection-first", tmp_path)
    assert tuned["mallocs"] * 2 < untouched["mallocs"], (tuned, untouched)
