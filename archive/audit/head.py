"""`Head`: everything verification knows after reading the first `size` lines, small enough to
keep (O(log n) hashes plus the key set) and resume from.

The frontier is the compact range of perfect-subtree roots (largest first) whose fold is the
RFC 6962 root, so a verifier or a monitor extends it with the next lines only. `users` and
`stations` are the key set the log itself has established so far.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from archive.audit.merkle import EMPTY_ROOT, node_hash

ZERO = bytes(32)
STATE_VERSION = 1


@dataclass
class Head:
    """A verified prefix of one log: position, Merkle frontier, key set, counters."""

    vault: str | None = None
    size: int = 0  # complete lines read
    offset: int = 0  # bytes read (just after the last newline)
    last_leaf: bytes = ZERO  # leaf hash of line size-1
    last_len: int = 0  # bytes of line size-1 including its newline
    last_sha: bytes = ZERO  # SHA-256 of line size-1 (the format-1 chain)
    frontier: list[bytes] = field(default_factory=list)
    fmt: int = 0  # format of the lines being read: 0 before line 0, then 1 or 2
    users: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (role, Ed25519 pub)
    stations: list[tuple[int, str]] = field(default_factory=list)  # (from size, verifier key)
    unsigned: int = 0  # lines of the unsigned kind
    legacy: int = 0  # format-1 lines (vouched for by the upgrade entry)
    upgraded_at: int | None = None  # line index of the upgrade entry
    cp_size: int = 0  # size of the newest checkpoint checked against this prefix
    cp_root: bytes = b""
    uncovered_ts: str | None = None  # ts of line cp_size (the oldest one no checkpoint covers)

    def root(self) -> bytes:
        """RFC 6962 root of the first `size` lines."""
        return fold(self.frontier)

    def station_key_at(self, size: int) -> str | None:
        """The station verifier key in force after `size` lines (None before genesis)."""
        key = None
        for start, vkey in self.stations:
            if start <= size:
                key = vkey
        return key

    def to_json(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION, "vault": self.vault, "size": self.size, "offset": self.offset,
            "last_leaf": self.last_leaf.hex(), "last_len": self.last_len,
            "last_sha": self.last_sha.hex(), "frontier": [h.hex() for h in self.frontier],
            "fmt": self.fmt,
            "users": {n: [r, base64.b64encode(p).decode()] for n, (r, p) in self.users.items()},
            "stations": [[s, k] for s, k in self.stations], "unsigned": self.unsigned,
            "legacy": self.legacy, "upgraded_at": self.upgraded_at, "cp_size": self.cp_size,
            "cp_root": self.cp_root.hex(), "uncovered_ts": self.uncovered_ts,
        }

    @classmethod
    def from_json(cls, o: dict[str, Any]) -> Head:
        """Inverse of to_json; raises ValueError/KeyError/TypeError on a malformed object."""
        if o.get("v") != STATE_VERSION:
            raise ValueError("unknown state version")
        h = cls(
            vault=o["vault"], size=int(o["size"]), offset=int(o["offset"]),
            last_leaf=bytes.fromhex(o["last_leaf"]), last_len=int(o["last_len"]),
            last_sha=bytes.fromhex(o["last_sha"]),
            frontier=[bytes.fromhex(x) for x in o["frontier"]], fmt=int(o["fmt"]),
            users={str(n): (str(r), base64.b64decode(p)) for n, (r, p) in o["users"].items()},
            stations=[(int(s), str(k)) for s, k in o["stations"]], unsigned=int(o["unsigned"]),
            legacy=int(o["legacy"]),
            upgraded_at=None if o["upgraded_at"] is None else int(o["upgraded_at"]),
            cp_size=int(o["cp_size"]), cp_root=bytes.fromhex(o["cp_root"]),
            uncovered_ts=o["uncovered_ts"],
        )
        if len(h.frontier) != bin(h.size).count("1") or any(len(x) != 32 for x in h.frontier):
            raise ValueError("frontier does not match size")
        return h

    def dumps(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, data: bytes) -> Head:
        return cls.from_json(json.loads(data))


def fold(frontier: list[bytes]) -> bytes:
    """Root of a tree given its compact range of perfect subtrees, largest first."""
    if not frontier:
        return EMPTY_ROOT
    it = reversed(frontier)
    h = next(it)
    for left in it:
        h = node_hash(left, h)
    return h
