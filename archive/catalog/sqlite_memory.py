"""SQLite's lookaside allocator, sized for SQLCipher's memory security (ADR 0010).

With `PRAGMA cipher_memory_security = ON` (every SQLCipher connection, `connect_keyed`) each
allocation SQLite takes from malloc is mlock()ed, and each free is overwritten with random
bytes and munlock()ed: two or three system calls per allocation. SQLite serves small
allocations from a per-connection *lookaside* buffer instead, but its default (40 slots of
1,200 bytes) is taken up by the statements Python keeps prepared, so nearly every allocation
went to malloc: 136 mlock calls per filed document, about 20 % of the filing time of small
files. 500 slots per connection (600 KiB, allocated once when the connection opens, so
itself mlocked and wiped when it closes) bring that to ~27 per document.

The lookaside size is a process-wide setting SQLite accepts only before it is initialised,
or after `sqlite3_shutdown()` with no connection open. `configure()` runs once, when
`archive.catalog.db` is imported, through the C functions of the SQLCipher library `sqlcipher3` loaded
(ctypes on the same shared object: the same SQLite). It changes nothing when it cannot be
sure that no connection is open (SQLite's memory in use is more than SQLCipher's own heap
takes) or on a machine other than x86-64 (ctypes passes variadic arguments as fixed ones,
which is right there); SQLite then keeps its default and works as before.
"""

from __future__ import annotations

import ctypes
import platform

import sqlcipher3._sqlite3 as _ext

SQLITE_CONFIG_LOOKASIDE = 13
SLOT_BYTES, SLOTS = 1200, 500
# SQLite's memory in use with no connection open: SQLCipher's private heap (48 KiB) and a
# few small structures (~49.5 KiB measured). One open connection adds > 60 KiB.
IDLE_MEMORY_MAX = 96 * 1024

applied: tuple[int, int] | None = None  # (slot bytes, slots) when configure() took effect


def _library() -> ctypes.CDLL | None:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        lib = ctypes.CDLL(_ext.__file__)
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        return lib
    except (OSError, AttributeError):
        return None


def configure(slot_bytes: int = SLOT_BYTES, slots: int = SLOTS) -> bool:
    """Give every SQLite connection opened from now on `slots` lookaside slots of
    `slot_bytes`. True when it took effect; False (nothing changed) when it could not be
    done safely."""
    global applied
    lib = _library()
    if lib is None or lib.sqlite3_memory_used() > IDLE_MEMORY_MAX:
        return False
    if lib.sqlite3_shutdown() != 0:
        return False
    ok = lib.sqlite3_config(SQLITE_CONFIG_LOOKASIDE, ctypes.c_int(slot_bytes),
                            ctypes.c_int(slots)) == 0
    lib.sqlite3_initialize()  # (sqlite3_open would initialise it too)
    if ok:
        applied = (slot_bytes, slots)
    return ok
