"""The unlocked user's key bag and epoch rotation (vault format 1).

Format 1 derives every station key from the vault root key (VRK) held in each keyslot. The bag
keeps the VRK private to this module: services ask it for the key they need, never for the root.
(Format 2 replaces the bag with per-user and per-compartment keys: DESIGN §3.)
"""

from __future__ import annotations

from archive.crypto.keys import (
    LABEL_AUDIT_DETAIL,
    LABEL_AUDIT_SIGNING,
    LABEL_CATALOG,
    LABEL_FINGERPRINT,
    derive,
    random_key,
)
from archive.kernel.home import HomePaths
from archive.vault.keyring import Keyring, load_keyring, save_keyring
from archive.vault.keyslots import Keyslots


class KeyBag:
    """Keys of one unlocked session: catalogue, fingerprints, audit, keyring (epochs, index)."""

    def __init__(self, home: HomePaths, vault_id: str, vrk: bytes) -> None:
        self._home = home
        self._vault_id = vault_id
        self._vrk = vrk
        self.ring: Keyring = load_keyring(home.keyring, vrk, vault_id)

    @property
    def catalog_key(self) -> bytes:
        return derive(self._vrk, LABEL_CATALOG)

    @property
    def fingerprint_key(self) -> bytes:
        return derive(self._vrk, LABEL_FINGERPRINT)

    @property
    def audit_detail_key(self) -> bytes:
        return derive(self._vrk, LABEL_AUDIT_DETAIL)

    @property
    def audit_signing_seed(self) -> bytes:
        return derive(self._vrk, LABEL_AUDIT_SIGNING)

    @property
    def index_key(self) -> bytes:
        return self.ring.index_key

    def save_ring(self) -> None:
        save_keyring(self._home.keyring, self.ring, self._vrk, self._vault_id)

    def new_index_key(self) -> None:
        """A fresh search-index key (after a destruction the old index is unreadable)."""
        self.ring.index_key = random_key()
        self.save_ring()

    def begin_rotation(self) -> int:
        """Add the next epoch key and record the rotation as pending (crash-safe first step)."""
        new = max(self.ring.epochs) + 1
        self.ring.epochs[new] = random_key()
        self.ring.pending["rotate_to"] = new
        self.save_ring()
        return new

    def finish_rotation(self, new: int) -> None:
        """Make `new` current and erase every other epoch key (after the identities moved)."""
        self.ring.current = new
        for epoch in list(self.ring.epochs):
            if epoch != new:
                del self.ring.epochs[epoch]
        self.ring.pending.pop("rotate_to", None)
        self.save_ring()

    def write_slot(self, slots: Keyslots, user: str, secret: bytes, *, work_factor: int) -> None:
        """Give `user` a keyslot that opens this station (format 1: the slot holds the VRK)."""
        slots.write(user, secret, self._vrk, work_factor=work_factor)

    def write_recovery_slot(self, slots: Keyslots, code: str, *, work_factor: int) -> None:
        """The slot the printed recovery code opens."""
        slots.write_recovery(code, self._vrk, work_factor=work_factor)


def new_home_keys(home: HomePaths, vault_id: str) -> KeyBag:
    """Keys of a brand-new home: a random VRK and an empty keyring written to disk."""
    vrk = random_key()
    save_keyring(home.keyring, Keyring.new(), vrk, vault_id)
    return KeyBag(home, vault_id, vrk)
