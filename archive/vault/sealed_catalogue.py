"""The catalogue's sealed columns (vault format 2): which compartment a record is in, its sealed
descriptive fields, its household tag, and the catalogue-wide tag keys. The SQL over them lives
here; the crypto is archive/vault/sealed.py.

Format 2 adds to `records`: compartment, seal_epoch, sealed, household_tag; to `components`:
seal_epoch, sealed. The clear columns title, doc_no, author, note, household (records) and
filename, reason (components) are kept empty ('').
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from archive.catalog.db import Database
from archive.catalog.records import COMPONENT_FIELDS, RECORD_FIELDS
from archive.vault.compartments import compartment_for
from archive.vault.sealed import FieldSealer, household_tag

SCHEMA_OWNER = "catalog.sealing"
SCHEMA_VERSION = 2
MIGRATE_V1 = [
    "ALTER TABLE records ADD COLUMN compartment TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE records ADD COLUMN seal_epoch INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE records ADD COLUMN sealed BLOB",
    "ALTER TABLE records ADD COLUMN household_tag TEXT NOT NULL DEFAULT ''",
    "DROP INDEX IF EXISTS records_household",
    "CREATE INDEX records_household_tag ON records(household_tag)",
    "CREATE INDEX records_compartment ON records(compartment, seal_epoch)",
    "ALTER TABLE components ADD COLUMN seal_epoch INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE components ADD COLUMN sealed BLOB",
    "CREATE TABLE vault_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    """CREATE TABLE key_tasks (            -- key work a user without the keys asked for
        compartment TEXT PRIMARY KEY,       -- e.g. 'service' after the archivist destroyed
        task TEXT NOT NULL,                 -- 'rotate-rewrap'
        requested_at TEXT NOT NULL, requested_by TEXT NOT NULL
    )""",
]
# Live records per compartment (every search's first count after a write, `sgz index status`)
# from an index alone: 265 ms → 38 ms at 50,000 records, where the records' own pages (their
# sealed columns) do not fit the page cache. Installed on the first unlock of an older home.
LIVE_OWNER, LIVE_VERSION = "catalog.sealing.live", 1
LIVE_INDEX = ["CREATE INDEX IF NOT EXISTS records_live ON records(status, compartment)"]
TAG_HOUSEHOLD = "household-tag"
TAG_FINGERPRINT = "fingerprint"


def component_binding(ref: str, seq: int) -> str:
    return f"{ref}#{seq}"


class SealedCatalogue:
    """SQL over the sealed columns of records and components."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def install(db: Database) -> None:
        """Add the format-2 columns to a new catalogue (after `Records(db)` made its tables)."""
        db.ensure_schema(SCHEMA_OWNER, SCHEMA_VERSION, MIGRATE_V1)
        SealedCatalogue.ensure_indexes(db)

    @staticmethod
    def ensure_indexes(db: Database) -> None:
        """Indexes over the format-2 columns added after format 2 shipped (each home once)."""
        db.ensure_schema(LIVE_OWNER, LIVE_VERSION, LIVE_INDEX)

    # ------------------------------------------------------------- catalogue-wide secrets
    def secret(self, name: str, *, default: Callable[[], bytes] | None = None) -> bytes:
        """A catalogue-compartment key (household tags, fingerprints), created on first use."""
        row = self.db.execute("SELECT value FROM vault_secrets WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return bytes(row[0])
        value = default() if default is not None else os.urandom(32)
        self.db.execute("INSERT INTO vault_secrets (name, value) VALUES (?, ?)", (name, value))
        return value

    # ------------------------------------------------------------- sealing v1 rows
    def seal_clear_rows(self, sealer: FieldSealer, tag_key: bytes) -> int:
        """Seal every record/component still holding clear fields (upgrade; caller's
        transaction) and blank the clear columns. Returns the records sealed."""
        rows = self.db.execute(
            "SELECT id, ref, cls, secrecy, title, doc_no, author, note, household FROM records "
            "WHERE sealed IS NULL").fetchall()
        for r in rows:
            comp = compartment_for(r["cls"], r["secrecy"])
            fields = {f: r[f] for f in RECORD_FIELDS}
            epoch, blob = sealer.seal(comp, r["ref"], fields)
            self.db.execute(
                "UPDATE records SET compartment=?, seal_epoch=?, sealed=?, household_tag=?, "
                "title='', doc_no='', author='', note='', household='' WHERE id=?",
                (comp, epoch, blob, household_tag(tag_key, r["household"]), r["id"]))
            for c in self.db.execute(
                    "SELECT id, seq, filename, reason FROM components WHERE record_id = ? "
                    "AND sealed IS NULL", (r["id"],)).fetchall():
                cep, cblob = sealer.seal(comp, component_binding(r["ref"], c["seq"]),
                                         {f: c[f] for f in COMPONENT_FIELDS})
                self.db.execute("UPDATE components SET seal_epoch=?, sealed=?, filename='', "
                                "reason='' WHERE id=?", (cep, cblob, c["id"]))
        return len(rows)

    # ------------------------------------------------------------- members re-sealing
    def unsettled(self, compartment: str, current_epoch: int) -> int:
        """Records of `compartment` whose fields (or a component's) are public-key sealed or
        under an older epoch: what `reseal(..., only_unsettled=True)` would touch."""
        return int(self.db.execute(
            "SELECT count(*) FROM records r WHERE r.compartment = ? AND r.sealed IS NOT NULL "
            "AND (substr(r.sealed, 1, 1) = X'50' OR r.seal_epoch != ? OR EXISTS (SELECT 1 FROM "
            "components c WHERE c.record_id = r.id AND c.sealed IS NOT NULL AND "
            "(substr(c.sealed, 1, 1) = X'50' OR c.seal_epoch != ?)))",
            (compartment, current_epoch, current_epoch)).fetchone()[0])

    def reseal(self, sealer: FieldSealer, compartment: str, *,
               only_unsettled: bool = False) -> int:
        """Turn public-key or older-epoch blobs of `compartment` into symmetric current-epoch
        ones (settling after write-only filings; `--rewrap`). Caller's transaction. With
        `only_unsettled`, only the records `unsettled` counts are read (cheap at unlock)."""
        n = 0
        current = sealer.ring.current(compartment)
        sql = ("SELECT id, ref, seal_epoch, sealed FROM records r WHERE compartment = ? "
               "AND sealed IS NOT NULL")
        params: tuple[object, ...] = (compartment,)
        if only_unsettled:
            sql += (" AND (substr(sealed, 1, 1) = X'50' OR seal_epoch != ? OR EXISTS (SELECT 1 "
                    "FROM components c WHERE c.record_id = r.id AND c.sealed IS NOT NULL AND "
                    "(substr(c.sealed, 1, 1) = X'50' OR c.seal_epoch != ?)))")
            params = (compartment, current, current)
        for r in self.db.execute(sql, params).fetchall():
            new = sealer.reseal(compartment, r["seal_epoch"], r["ref"], r["sealed"])
            if new is not None:
                self.db.execute("UPDATE records SET seal_epoch=?, sealed=? WHERE id=?",
                                (*new, r["id"]))
                n += 1
            for c in self.db.execute(
                    "SELECT id, seq, seal_epoch, sealed FROM components WHERE record_id = ? "
                    "AND sealed IS NOT NULL", (r["id"],)).fetchall():
                cnew = sealer.reseal(compartment, c["seal_epoch"],
                                     component_binding(r["ref"], c["seq"]), c["sealed"])
                if cnew is not None:
                    self.db.execute("UPDATE components SET seal_epoch=?, sealed=? WHERE id=?",
                                    (*cnew, c["id"]))
        return n

    # ------------------------------------------------------------- reading
    def record_fields(self, sealer: FieldSealer, ref: str) -> tuple[str, dict[str, str] | None]:
        """(compartment, fields or None when the user is not a member)."""
        r = self.db.execute("SELECT compartment, seal_epoch, sealed FROM records WHERE ref = ?",
                            (ref,)).fetchone()
        if r is None:
            from archive.errors import NotFound

            raise NotFound(f"档号 {ref} 不存在", ref=ref)
        return r["compartment"], sealer.open(r["compartment"], r["seal_epoch"], ref, r["sealed"])

    def component_fields(self, sealer: FieldSealer, ref: str) -> list[tuple[int, dict[str, str] | None]]:
        rows = self.db.execute(
            "SELECT r.compartment, c.seq, c.seal_epoch, c.sealed FROM components c JOIN records r "
            "ON r.id = c.record_id WHERE r.ref = ? ORDER BY c.seq", (ref,)).fetchall()
        return [(c["seq"], sealer.open(c["compartment"], c["seal_epoch"],
                                       component_binding(ref, c["seq"]), c["sealed"]))
                for c in rows]

    def refs_with_household(self, tag: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT ref FROM records WHERE household_tag = ? ORDER BY ref", (tag,))]

    # ------------------------------------------------------------- pending key work
    def request_key_task(self, compartment: str, task: str, *, when: str, by: str) -> None:
        self.db.execute(
            "INSERT INTO key_tasks VALUES (?, ?, ?, ?) ON CONFLICT (compartment) DO UPDATE "
            "SET requested_at = excluded.requested_at, requested_by = excluded.requested_by",
            (compartment, task, when, by))

    def key_tasks(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT compartment, task FROM key_tasks ORDER BY compartment")]

    def done_key_task(self, compartment: str) -> None:
        self.db.execute("DELETE FROM key_tasks WHERE compartment = ?", (compartment,))

    def compartment_counts(self) -> dict[str, Any]:
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT compartment, count(*) FROM records GROUP BY compartment")}


class RecordSealing:
    """What `Records` needs to keep descriptive fields sealed (vault format 2): seal on insert,
    open on read (members) or show NO_ACCESS (everyone else), tag households."""

    def __init__(self, sealer: FieldSealer, tag_key: bytes) -> None:
        self.sealer = sealer
        self.tag_key = tag_key

    def household_tag(self, household: str) -> str:
        return household_tag(self.tag_key, household)

    def record_columns(self, ref: str, cls: str, secrecy: str, fields: dict[str, Any]
                       ) -> dict[str, Any]:
        """The insert columns of a new record: clear columns blanked, the rest sealed."""
        comp = compartment_for(cls, secrecy)
        sealed = {f: str(fields.get(f, "") or "") for f in RECORD_FIELDS}
        epoch, blob = self.sealer.seal(comp, ref, sealed)
        out = {k: v for k, v in fields.items() if k not in RECORD_FIELDS}
        out.update({f: "" for f in RECORD_FIELDS})
        out.update(compartment=comp, seal_epoch=epoch, sealed=blob,
                   household_tag=self.household_tag(sealed["household"]))
        return out

    def component_columns(self, ref: str, compartment: str, seq: int, fields: dict[str, Any]
                          ) -> dict[str, Any]:
        sealed = {f: str(fields.get(f, "") or "") for f in COMPONENT_FIELDS}
        epoch, blob = self.sealer.seal(compartment, component_binding(ref, seq), sealed)
        out = {k: v for k, v in fields.items() if k not in COMPONENT_FIELDS}
        out.update({f: "" for f in COMPONENT_FIELDS})
        out.update(seal_epoch=epoch, sealed=blob)
        return out

    def open_record(self, d: dict[str, Any]) -> dict[str, Any]:
        """Fill a record row's sealed fields in place (NO_ACCESS for non-members)."""
        from archive.vault.sealed import placeholder

        fields = None
        if d.get("sealed") is not None:
            fields = self.sealer.open(d["compartment"], d["seal_epoch"], d["ref"], d["sealed"])
        d.update(placeholder(fields, RECORD_FIELDS))
        d["readable"] = fields is not None
        return d

    def open_component(self, ref: str, compartment: str, d: dict[str, Any]) -> dict[str, Any]:
        from archive.vault.sealed import placeholder

        fields = None
        if d.get("sealed") is not None:
            fields = self.sealer.open(compartment, d["seal_epoch"],
                                      component_binding(ref, d["seq"]), d["sealed"])
        d.update(placeholder(fields, COMPONENT_FIELDS))
        return d
