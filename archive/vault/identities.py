"""Per-object X25519 identities, wrapped in the catalogue under the current epoch key.

`unwrap()` is the one door to plaintext: it appends the audit entry first (fsync) and refuses
if it cannot ("no log, no key", DESIGN §5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archive.catalog.db import Database
from archive.crypto import age
from archive.crypto.keys import open_sealed, seal
from archive.errors import IntegrityError, NotFound
from archive.vault.keyring import Keyring

SCHEMA = [
    """CREATE TABLE objects (
        id TEXT PRIMARY KEY,            -- hex SHA-256 of the ciphertext file
        epoch INTEGER NOT NULL,         -- epoch key that wraps the identity
        wrapped BLOB,                   -- AES-256-GCM(identity), NULL once destroyed
        cipher_size INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'destroyed')),
        destroyed_at TEXT
    )""",
]


def live_row(db: Database, sql: str, object_id: str) -> Any:
    """The `objects` row that `sql` (one `?`, the id; selecting `wrapped` and `state`) finds for
    `object_id`: NotFound when there is none, IntegrityError when its identity is destroyed."""
    row = db.execute(sql, (object_id,)).fetchone()
    if row is None:
        raise NotFound(f"对象不存在：{object_id[:12]}…", ref=object_id)
    if row["state"] != "live" or row["wrapped"] is None:
        raise IntegrityError("该对象已被销毁，无法解密", ref=object_id)
    return row


def _aad(object_id: str, epoch: int) -> bytes:
    return f"sgz-object/{object_id}/{epoch}".encode()


class ObjectKeys:
    """Wrap, unwrap (audited), re-wrap and destroy object identities."""

    def __init__(self, db: Database, ring: Keyring) -> None:
        self.db = db
        self.ring = ring
        db.ensure_schema("vault.objects", 1, SCHEMA)

    def add(self, object_id: str, identity: bytes, cipher_size: int) -> None:
        """Insert inside the caller's transaction."""
        epoch = self.ring.current
        wrapped = seal(self.ring.epoch_key(epoch), identity, _aad(object_id, epoch))
        self.db.execute(
            "INSERT OR IGNORE INTO objects (id, epoch, wrapped, cipher_size) VALUES (?, ?, ?, ?)",
            (object_id, epoch, wrapped, cipher_size),
        )

    def known(self, object_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM objects WHERE id = ?", (object_id,)).fetchone() is not None

    def unwrap(self, object_id: str, audit: Callable[[], Any]) -> age.X25519Identity:
        """Call `audit()` (which must append and fsync the entry, or raise), then unwrap."""
        row = live_row(self.db, "SELECT epoch, wrapped, state FROM objects WHERE id = ?", object_id)
        audit()  # no log, no key: raises AuditUnavailable before any key material is touched
        secret = open_sealed(self.ring.epoch_key(row["epoch"]), row["wrapped"], _aad(object_id, row["epoch"]))
        return age.X25519Identity.from_secret_bytes(secret)

    def destroy(self, object_id: str, when: str) -> None:
        """Forget the identity (inside the caller's transaction); ciphertext is now noise."""
        self.db.execute(
            "UPDATE objects SET wrapped = NULL, state = 'destroyed', destroyed_at = ? WHERE id = ?",
            (when, object_id),
        )

    def rewrap_all(self, new_epoch: int) -> int:
        """Re-wrap every live identity under `new_epoch` (inside the caller's transaction)."""
        rows = self.db.execute(
            "SELECT id, epoch, wrapped FROM objects WHERE state = 'live' AND epoch != ?", (new_epoch,)
        ).fetchall()
        new_key = self.ring.epoch_key(new_epoch)
        for r in rows:
            secret = open_sealed(self.ring.epoch_key(r["epoch"]), r["wrapped"], _aad(r["id"], r["epoch"]))
            self.db.execute(
                "UPDATE objects SET epoch = ?, wrapped = ? WHERE id = ?",
                (new_epoch, seal(new_key, secret, _aad(r["id"], new_epoch)), r["id"]),
            )
        return len(rows)

    def all_ids(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.execute("SELECT id, state FROM objects ORDER BY id")]
