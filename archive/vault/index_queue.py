"""Text waiting for its compartment's search index (vault format 2).

Each compartment has its own index under its own key (`indexes/<compartment>.db`). A filer who
is not a member (the archivist filing a service record) cannot write that index, so the
extracted text is sealed to the compartment's public key (age, write-only) and queued here; the
next member who opens the search drains the queue into the index. The queue is catalogue data
(any account holder sees that a queued item exists and its 档号, never its text).
"""

from __future__ import annotations

import json
from typing import Any

from archive.catalog.db import Database
from archive.crypto import age
from archive.vault.keybag import KeyBag
from archive.vault.keyring2 import KeyringV2

SCHEMA = [
    """CREATE TABLE index_queue (
        ref TEXT PRIMARY KEY,              -- 档号 whose text waits
        compartment TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        sealed BLOB NOT NULL               -- age(X25519 → compartment epoch) of the JSON doc
    )""",
    "CREATE INDEX index_queue_compartment ON index_queue(compartment)",
]


class IndexQueue:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema("catalog.index_queue", 1, SCHEMA)

    def put(self, ring: KeyringV2, compartment: str, doc: dict[str, Any]) -> None:
        """Queue one index document (`doc_id`, title, text, …) sealed to the compartment;
        inside the caller's transaction."""
        epoch = ring.current(compartment)
        plain = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        blob = age.encrypt_bytes(plain, [ring.recipient(compartment, epoch)])
        self.db.execute("INSERT OR REPLACE INTO index_queue VALUES (?, ?, ?, ?)",
                        (doc["doc_id"], compartment, epoch, blob))

    def pending(self, compartment: str) -> int:
        return self.db.execute("SELECT count(*) FROM index_queue WHERE compartment = ?",
                               (compartment,)).fetchone()[0]

    def sealed(self, compartment: str) -> list[tuple[str, int, bytes]]:
        """(档号, epoch, sealed text) waiting for `compartment`'s index; the plaintext door
        opens them (`PlaintextDoor.open_queued`), the caller indexes them, then `done`."""
        return [(r["ref"], r["epoch"], r["sealed"]) for r in self.db.execute(
            "SELECT ref, epoch, sealed FROM index_queue WHERE compartment = ? ORDER BY ref",
            (compartment,)).fetchall()]

    def rewrap(self, bag: KeyBag, compartment: str) -> int:
        """Re-seal queued text to the current epoch (before older epochs are erased)."""
        current = bag.ring.current(compartment)
        rcpt = bag.ring.recipient(compartment, current)
        rows = self.db.execute("SELECT ref, epoch, sealed FROM index_queue WHERE compartment = ? "
                               "AND epoch != ?", (compartment, current)).fetchall()
        for r in rows:
            plain = bag.open_sealed(compartment, r["epoch"], r["sealed"])
            self.db.execute("UPDATE index_queue SET epoch = ?, sealed = ? WHERE ref = ?",
                            (current, age.encrypt_bytes(plain, [rcpt]), r["ref"]))
        return len(rows)

    def done(self, ref: str) -> None:
        self.db.execute("DELETE FROM index_queue WHERE ref = ?", (ref,))

    def drop(self, ref: str) -> None:
        """A destroyed record's queued text goes too."""
        self.done(ref)
