"""Format-2 object identities: wrapped to the record's compartment, so filing is write-only.

Each object keeps its own X25519 identity (crypto-shredding = forget it). The identity is an
age file (one X25519 stanza) to the public key of its compartment's current epoch, stored in
`objects.wrapped` of the catalogue: anyone can wrap (the public key is in the keyring), only the
compartment's members unwrap. The plaintext is an identity-file line, so stock `age` chains:
slot → compartment key (keyring) → object identity (here) → object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archive.catalog.db import Database
from archive.crypto import age
from archive.errors import AccessDenied, IntegrityError, NotFound
from archive.vault.identities import live_row
from archive.vault.keybag import KeyBag
from archive.vault.keyring2 import KeyringV2, unwrap_identity, wrap_identity

SCHEMA_VERSION = 2
SCHEMA = [
    """CREATE TABLE objects (
        id TEXT PRIMARY KEY,            -- hex SHA-256 of the ciphertext file
        compartment TEXT NOT NULL,      -- keyring compartment the identity is wrapped to
        epoch INTEGER NOT NULL,         -- its epoch
        wrapped BLOB,                   -- age(X25519 → compartment epoch) of the identity; NULL once destroyed
        cipher_size INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'destroyed')),
        destroyed_at TEXT
    )""",
    "CREATE INDEX objects_compartment ON objects(compartment, epoch)",
]


@dataclass(frozen=True)
class WrappedKey:
    """An object identity wrapped to `compartment`'s epoch `epoch` (an age file)."""

    compartment: str
    epoch: int
    blob: bytes


class ObjectKeysV2:
    """Wrap (public), unwrap (members, audited first), re-wrap and destroy object identities."""

    def __init__(self, db: Database, ring: KeyringV2) -> None:
        self.db = db
        self.ring = ring
        db.ensure_schema("vault.objects", SCHEMA_VERSION, SCHEMA)

    def wrap(self, identity: bytes, compartment: str) -> WrappedKey:
        """Wrap an object identity to its compartment's current epoch (public; no catalogue
        access, so filing does it beside the encryption, outside the transaction)."""
        epoch = self.ring.current(compartment)
        return WrappedKey(compartment, epoch, wrap_identity(
            age.X25519Identity.from_secret_bytes(identity),
            [self.ring.recipient(compartment, epoch)]))

    def add(self, object_id: str, identity: bytes, cipher_size: int, compartment: str, *,
            wrapped: WrappedKey | None = None) -> None:
        """Insert inside the caller's transaction; needs no secret (write-only filing).
        `wrapped` (from `wrap`) is used if it still names this compartment's current epoch;
        otherwise (a rotation in between, another compartment) the identity is wrapped here."""
        if wrapped is None or wrapped.compartment != compartment or \
                wrapped.epoch != self.ring.current(compartment):
            wrapped = self.wrap(identity, compartment)
        epoch, blob = wrapped.epoch, wrapped.blob
        self.db.execute(
            "INSERT OR IGNORE INTO objects (id, compartment, epoch, wrapped, cipher_size) "
            "VALUES (?, ?, ?, ?, ?)",
            (object_id, compartment, epoch, blob, cipher_size),
        )

    def known(self, object_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM objects WHERE id = ?", (object_id,)).fetchone() is not None

    def compartment_of(self, object_id: str) -> str:
        row = self.db.execute("SELECT compartment FROM objects WHERE id = ?", (object_id,)).fetchone()
        if row is None:
            raise NotFound(f"对象不存在：{object_id[:12]}…", ref=object_id)
        return str(row[0])

    def unwrap(self, object_id: str, bag: KeyBag, audit: Callable[[], Any]) -> age.X25519Identity:
        """Check membership, call `audit()` (append + fsync, or raise), then unwrap."""
        row = live_row(self.db, "SELECT compartment, epoch, wrapped, state FROM objects WHERE id = ?",
                       object_id)
        if not bag.holds(row["compartment"]):
            raise AccessDenied("当前用户不持有该档案所在分区的密钥，无法解密", ref=object_id)
        identity = bag.identity(row["compartment"], row["epoch"])
        audit()  # no log, no key: raises AuditUnavailable before the identity is unwrapped
        try:
            return unwrap_identity(row["wrapped"], [identity])
        except (age.AgeError, UnicodeDecodeError):
            raise IntegrityError("对象密钥无法解开（目录库被改动）", ref=object_id) from None

    def destroy(self, object_id: str, when: str) -> None:
        """Forget the identity (caller's transaction); rotate + rewrap the compartment after."""
        self.db.execute(
            "UPDATE objects SET wrapped = NULL, state = 'destroyed', destroyed_at = ? WHERE id = ?",
            (when, object_id),
        )

    def rewrap(self, bag: KeyBag, compartment: str) -> int:
        """Re-wrap every live identity of `compartment` to its current epoch (caller's
        transaction); then `bag.forget_before(compartment)` may erase the old epochs."""
        current = self.ring.current(compartment)
        recipient = self.ring.recipient(compartment, current)
        rows = self.db.execute(
            "SELECT id, epoch, wrapped FROM objects WHERE compartment = ? AND state = 'live' "
            "AND epoch != ?", (compartment, current),
        ).fetchall()
        for r in rows:
            ident = unwrap_identity(r["wrapped"], [bag.identity(compartment, r["epoch"])])
            self.db.execute("UPDATE objects SET epoch = ?, wrapped = ? WHERE id = ?",
                            (current, wrap_identity(ident, [recipient]), r["id"]))
        return len(rows)

    def epochs_in_use(self, compartment: str) -> list[int]:
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT epoch FROM objects WHERE compartment = ? AND state = 'live' "
            "ORDER BY epoch", (compartment,))]

    def all_ids(self) -> list[tuple[str, str]]:
        """(object id, state) of every object, for backup and check."""
        return [(r[0], r[1]) for r in self.db.execute("SELECT id, state FROM objects ORDER BY id")]
