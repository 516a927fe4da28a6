"""Revocation and re-wrapping across the keyring and the catalogue (DESIGN §3).

- `after_rotation(db, bag, rotated)` — right after `bag.remove_member/change_role/rotate` and
  saving the keyring: when the catalogue compartment rotated, re-key the SQLCipher catalogue to
  the new epoch's key and erase the old catalogue epoch, so a removed user's catalogue key opens
  no later copy of it. Record compartments keep their older epochs reachable (for current
  members) until `rewrap`.
- `rewrap(db, bag, compartments)` — `sgz keys rotate --rewrap`: every live object identity and
  every sealed field of the compartments moves to the current epoch (one catalogue transaction),
  the WAL is truncated, then the older epochs are erased from the keyring (the caller saves it).
  After that a removed user's old secrets open nothing in a fresh copy of the vault.
- `shred(db, bag, compartment)` — after destroying objects: rotate + rewrap, so a backup of the
  catalogue from before the destruction cannot be unwrapped with any key the station still has.
  A user who does not hold the compartment (the archivist destroying service records) files a
  key task instead (`SealedCatalogue.request_key_task`); `pending_tasks` lists them and the next
  head/deputy/recovery unlock runs them.

Order is what makes a crash harmless: the catalogue commits before the keyring forgets, so a
crash leaves old epochs in the keyring (re-run finishes), never data wrapped to a forgotten key.
"""

from __future__ import annotations

import base64

from archive.catalog.db import Database
from archive.crypto import age
from archive.vault.compartments import CATALOGUE, RECORD_COMPARTMENTS
from archive.vault.index_queue import IndexQueue
from archive.vault.keybag import KeyBag
from archive.vault.objectkeys import ObjectKeysV2
from archive.vault.sealed import FieldSealer
from archive.vault.sealed_catalogue import SealedCatalogue

TASK_ROTATE_REWRAP = "rotate-rewrap"


def rekey_catalogue(db: Database, bag: KeyBag) -> None:
    """Re-encrypt every catalogue page under the current catalogue epoch's key."""
    _, key = bag.catalog_keys()[0]
    db.execute(f"PRAGMA rekey = \"x'{key.hex()}'\"")
    db.checkpoint_truncate()


def after_rotation(db: Database, bag: KeyBag, rotated: list[str]) -> None:
    """Finish the catalogue side of a rotation (call after saving the rotated keyring)."""
    if CATALOGUE in rotated and bag.holds(CATALOGUE):
        rekey_catalogue(db, bag)
        bag.forget_before(CATALOGUE)


def rewrap(db: Database, bag: KeyBag, compartments: list[str] | None = None) -> dict[str, int]:
    """Move objects and sealed fields to the current epochs; erase older epochs in the bag's
    keyring (the caller saves it with the station key). Returns objects re-wrapped per
    compartment."""
    comps = [c for c in (compartments or list(RECORD_COMPARTMENTS)) if bag.holds(c)]
    keys = ObjectKeysV2(db, bag.ring)
    sealer = FieldSealer(bag.ring, bag)
    sc = SealedCatalogue(db)
    out: dict[str, int] = {}
    queue = IndexQueue(db)
    with db.transaction():
        for comp in comps:
            out[comp] = keys.rewrap(bag, comp)
            sc.reseal(sealer, comp)
            queue.rewrap(bag, comp)
    db.checkpoint_truncate()  # the old wraps must not linger in the WAL
    for comp in comps:
        _rewrap_legacy(bag, comp)
        bag.forget_before(comp)
    return out


def shred(db: Database, bag: KeyBag, compartment: str) -> int:
    """After a destruction in `compartment`: new epoch, everything re-wrapped, old epochs gone."""
    bag.rotate(compartment)
    n = rewrap(db, bag, [compartment])[compartment]
    with db.transaction():
        SealedCatalogue(db).done_key_task(compartment)
    return n


def pending_tasks(db: Database, bag: KeyBag) -> list[str]:
    """Compartments with a key task this user can run (needs the compartment and the station)."""
    if not bag.holds("station"):
        return []
    return [c for c, task in SealedCatalogue(db).key_tasks()
            if task == TASK_ROTATE_REWRAP and bag.holds(c)]


def _rewrap_legacy(bag: KeyBag, compartment: str) -> None:
    """Format-1 secrets the upgrade sealed to a compartment follow it to the current epoch."""
    ring = bag.ring
    current = ring.current(compartment)
    for item in ring.legacy.values():
        if not isinstance(item, dict) or item.get("compartment") != compartment:
            continue
        if int(item["epoch"]) == current:
            continue
        blob = base64.b64decode(item["wrapped"])
        secret = bag.open_sealed(compartment, int(item["epoch"]), blob)
        item["wrapped"] = base64.b64encode(
            age.encrypt_bytes(secret, [ring.recipient(compartment, current)])).decode()
        item["epoch"] = current
