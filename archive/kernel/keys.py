"""The unlocked user's keys (vault format 2): her own keys and the compartments wrapped to her.

Services ask this object for the key they need (the catalogue's, a compartment's index key,
the sealer of descriptive fields), never for a root: there is none. What a user can decrypt is
what `archive.vault.keybag.KeyBag` holds for her role (archive/policy/roles.py). Membership
changes and rotation go through archive/vault/lifecycle.py with the station key.
"""

from __future__ import annotations

from archive.catalog.db import Database
from archive.kernel.home import HomePaths
from archive.vault import lifecycle
from archive.vault.keybag import KeyBag
from archive.vault.keyring2 import KeyringV2
from archive.vault.sealed import FieldSealer
from archive.vault.sealed_catalogue import TAG_FINGERPRINT, TAG_HOUSEHOLD, SealedCatalogue


class StationKeys:
    """Keys of one unlocked session."""

    def __init__(self, home: HomePaths, vault_id: str, bag: KeyBag) -> None:
        self.home = home
        self.vault_id = vault_id
        self.bag = bag
        self.files = lifecycle.VaultFiles(home.keys, home.keyring, vault_id)
        self.fingerprint_key = b""
        self.household_key = b""

    @property
    def ring(self) -> KeyringV2:
        return self.bag.ring

    @property
    def sealer(self) -> FieldSealer:
        return FieldSealer(self.bag.ring, self.bag)

    def open_catalogue(self) -> Database:
        """The catalogue under the current catalogue key (finishing an interrupted re-key, so
        the caller holds the writer lock when `catalogue_behind()`)."""
        db = lifecycle.open_catalogue(self.bag, self.home.catalog)
        sc = SealedCatalogue(db)
        self.fingerprint_key = sc.secret(TAG_FINGERPRINT)
        self.household_key = sc.secret(TAG_HOUSEHOLD)
        return db

    def catalogue_behind(self) -> bool:
        return lifecycle.catalogue_key(self.bag, self.home.catalog)[1]

    def index_key(self, compartment: str) -> bytes:
        return self.bag.index_key(compartment)

    def index_keys(self, compartment: str) -> list[bytes]:
        return self.bag.index_keys(compartment)

    def save_ring(self) -> None:
        lifecycle.save(self.files, self.bag)
