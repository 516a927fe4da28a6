"""Format-2 key lifecycle for the kernel and the accounts service: create a home's keys, unlock a
user (enrolling her after an upgrade), add, remove, re-role and reset users, rotate.

Every function takes what it touches as arguments (the `VaultFiles` paths, an unlocked
`KeyBag`, the catalogue `Database`); each change to the keyring is saved signed by the acting
station key before anything depends on it. Callers hold the writer lock and write the audit
entries and the catalogue's `users` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.catalog.db import Database
from archive.errors import AccessDenied, DamagedFile, ValidationError
from archive.vault.compartments import CATALOGUE, RECORD_COMPARTMENTS, RECOVERY_ROLE
from archive.vault.keybag import KeyBag, create_vault_keys
from archive.vault.keyring2 import KeyringV2
from archive.vault.keyslots import new_recovery_code, normalise_passphrase
from archive.vault.revocation import after_rotation, pending_tasks, rekey_catalogue, rewrap, shred
from archive.vault.upgrade import drop_pending, drop_stale_format1, enrol, has_pending
from archive.vault.userkeys import RECOVERY_NAME, KeyslotsV2, UserKeys, member_id


@dataclass(frozen=True)
class VaultFiles:
    """Where the keys of one home live."""

    keys_dir: Path  # vault/keys
    keyring: Path  # vault/keyring
    vault_id: str

    @property
    def slots(self) -> KeyslotsV2:
        return KeyslotsV2(self.keys_dir, self.vault_id)


def save(files: VaultFiles, bag: KeyBag) -> None:
    bag.ring.save(files.keyring, bag.station_signer())


def create_home_keys(files: VaultFiles, user: str, role: str, passphrase: bytes, *,
                     work_factor: int) -> tuple[KeyBag, str]:
    """A new home: keyring, the first user's slot, the recovery slot. Returns her bag and the
    recovery code (print once)."""
    bag, first, recovery = create_vault_keys(files.vault_id, user, role)
    files.keys_dir.mkdir(parents=True, exist_ok=True)
    code = new_recovery_code()
    save(files, bag)
    files.slots.write_recovery(recovery, code, work_factor=work_factor)
    files.slots.write(first, passphrase, work_factor=work_factor)
    return bag, code


def _open(files: VaultFiles, keys: UserKeys) -> KeyBag:
    ring = KeyringV2.load(files.keyring, station_root=keys.station_root)
    return KeyBag.unlock(ring, keys)


def unlock(files: VaultFiles, user: str, passphrase: str, *, work_factor: int) -> KeyBag:
    """Log in. After an upgrade her first login enrols her (format-1 slot → format-2 slot).
    NotFound = no such user (or removed); DecryptionFailed = wrong passphrase."""
    if not files.slots.exists(user) and has_pending(files.keys_dir, files.vault_id, user):
        return _open(files, enrol(files.keys_dir, files.vault_id, user, passphrase,
                                  work_factor=work_factor))
    bag = _open(files, files.slots.unlock(user, normalise_passphrase(passphrase)))
    drop_stale_format1(files.keys_dir, files.vault_id, user)
    return bag


def unlock_recovery(files: VaultFiles, code: str) -> KeyBag:
    return _open(files, files.slots.unlock_recovery(code))


def catalogue_key(bag: KeyBag, path: Path) -> tuple[bytes, bool]:
    """The key that opens the catalogue now, and whether it is behind the current epoch (a
    re-key interrupted by a crash: `open_catalogue` finishes it)."""
    from archive.catalog.db import connect_keyed
    from archive.errors import DecryptionFailed

    if not Path(path).exists():
        Database(path, bag.catalog_keys()[0][1])  # raises the catalogue's own "missing" error
    keys = bag.catalog_keys()
    for i, (_epoch, key) in enumerate(keys):
        try:
            connect_keyed(path, key).close()
        except DecryptionFailed:
            continue
        return key, i > 0
    raise DamagedFile(f"档案目录数据库已损坏或无法解密：{path}；请从备份恢复", ref=str(path))


def open_catalogue(bag: KeyBag, path: Path) -> Database:
    """Open the catalogue; finish an interrupted re-key (caller holds the writer lock)."""
    key, behind = catalogue_key(bag, path)
    db = Database(path, key)
    if behind:
        rekey_catalogue(db, bag)
    return db


def add_user(files: VaultFiles, bag: KeyBag, name: str, role: str, passphrase: bytes, *,
             work_factor: int) -> UserKeys:
    """New member: fresh keys, her role's compartments wrapped to her, then her slot."""
    if name == RECOVERY_NAME or role == RECOVERY_ROLE:
        raise ValidationError("“recovery”是保留名称（恢复码登录用），请换一个用户名", found=name)
    keys = UserKeys.generate(files.vault_id, name, bag.ring.station_keys[0].public)
    bag.add_member(name, keys.recipient, keys.signing.public, role)
    save(files, bag)
    files.slots.write(keys, passphrase, work_factor=work_factor)
    return keys


def remove_user(files: VaultFiles, bag: KeyBag, db: Database, name: str) -> list[str]:
    """Take her out of the keyring, rotate every compartment she held, re-key the catalogue,
    delete her slot. Returns the rotated compartments. Older records stay under their old
    epochs until `rotate(..., rewrap=True)`."""
    rotated = bag.remove_member(name)
    save(files, bag)
    after_rotation(db, bag, rotated)
    save(files, bag)
    if files.slots.exists(name):
        files.slots.remove(name)
    drop_pending(files.keys_dir, files.vault_id, name)
    return rotated


def change_role(files: VaultFiles, bag: KeyBag, db: Database, name: str, role: str) -> list[str]:
    """Grant what the new role gains; rotate what she leaves. Returns the rotated compartments."""
    rotated = bag.change_role(name, role)
    save(files, bag)
    after_rotation(db, bag, rotated)
    save(files, bag)
    return rotated


def change_passphrase(files: VaultFiles, keys: UserKeys, new_passphrase: bytes, *,
                      work_factor: int) -> None:
    """Her own slot under a new passphrase (same keys)."""
    files.slots.write(keys, new_passphrase, work_factor=work_factor)


def reset_user(files: VaultFiles, bag: KeyBag, name: str, new_passphrase: bytes, *,
               work_factor: int, recovery_code: str | None = None) -> UserKeys:
    """The head resets a user who forgot her passphrase: nobody else has her secrets, so she
    gets new keys (the audit log must record her new public key)."""
    member = bag.ring.member(files.vault_id, name)
    mid = member_id(files.vault_id, name)
    keys = UserKeys.generate(files.vault_id, name, bag.ring.station_keys[0].public)
    del bag.ring.members[mid]
    try:
        bag.add_member(name, keys.recipient, keys.signing.public, member.role)
    except AccessDenied:
        bag.ring.members[mid] = member  # nothing changed on disk
        raise
    save(files, bag)
    if recovery_code is not None:
        files.slots.write_recovery(keys, recovery_code, work_factor=work_factor)
    else:
        files.slots.write(keys, new_passphrase, work_factor=work_factor)
    return keys


def reissue_recovery(files: VaultFiles, bag: KeyBag, *, work_factor: int) -> str:
    """A new recovery code (the old one lost or exposed): fresh recovery keys, every
    compartment wrapped to them, the old recovery slot replaced. Needs every compartment."""
    code = new_recovery_code()
    reset_user(files, bag, RECOVERY_NAME, b"", work_factor=work_factor, recovery_code=code)
    return code


def rotate(files: VaultFiles, bag: KeyBag, db: Database,
           compartments: list[str] | None = None, *, rewrap_all: bool = False) -> dict[str, int]:
    """`sgz keys rotate [--rewrap]`: new epochs for `compartments` (default: every record
    compartment and the catalogue); with rewrap, move everything to them and erase the old
    epochs (re-key anything else keyed by an older epoch, e.g. search indexes, before that).
    Returns objects re-wrapped per compartment."""
    comps = compartments or [CATALOGUE, *RECORD_COMPARTMENTS]
    for comp in comps:
        bag.rotate(comp)
    save(files, bag)
    after_rotation(db, bag, comps)
    save(files, bag)
    counts: dict[str, int] = {}
    if rewrap_all:
        counts = rewrap(db, bag, [c for c in comps if c in RECORD_COMPARTMENTS])
        save(files, bag)
    return counts


def run_key_tasks(files: VaultFiles, bag: KeyBag, db: Database) -> list[str]:
    """At a head/deputy/recovery unlock: shred what non-members destroyed since."""
    done = []
    for comp in pending_tasks(db, bag):
        shred(db, bag, comp)
        save(files, bag)
        done.append(comp)
    return done
