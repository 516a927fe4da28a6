"""Format-2 key lifecycle on a fresh home: create, unlock, add, remove (catalogue re-keyed,
resumable), role change, passphrase reset, rotate --rewrap, key tasks."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.catalog.db import Database
from archive.catalog.records import Records
from archive.catalog.users import Users
from archive.errors import AccessDenied, DecryptionFailed, IntegrityError, ValidationError
from archive.vault import lifecycle as lc
from archive.vault.compartments import compartments_for_role
from archive.vault.keyslots import UnknownUser
from archive.vault.objectkeys import ObjectKeysV2
from archive.vault.sealed_catalogue import SealedCatalogue

VID = "00112233445566778899aabbccddeeff"
WF = 10
PW = b"correct-horse-battery"


@pytest.fixture
def files(tmp_path: Path) -> lc.VaultFiles:
    return lc.VaultFiles(tmp_path / "keys", tmp_path / "keyring", VID)


def _new_catalogue(path: Path, bag: lc.KeyBag) -> Database:
    db = Database(path, bag.catalog_keys()[0][1], create=True)
    Records(db)
    Users(db)
    ObjectKeysV2(db, bag.ring)
    SealedCatalogue.install(db)
    return db


def test_fresh_home_users_and_recovery(files: lc.VaultFiles, tmp_path: Path) -> None:
    bag, code = lc.create_home_keys(files, "zhangsan", "head", PW, work_factor=WF)
    db = _new_catalogue(tmp_path / "catalog.db", bag)
    lc.add_user(files, bag, "lisi", "social_worker", PW, work_factor=WF)
    lc.add_user(files, bag, "wangwu", "archivist", PW, work_factor=WF)
    with pytest.raises(ValidationError, match="保留名称"):  # a bad name, not a refusal
        lc.add_user(files, bag, "recovery", "head", PW, work_factor=WF)
    for name, role in (("zhangsan", "head"), ("lisi", "social_worker"), ("wangwu", "archivist")):
        assert lc.unlock(files, name, PW.decode(), work_factor=WF).compartments == \
            compartments_for_role(role)
    assert lc.unlock_recovery(files, code).role == "recovery"
    with pytest.raises(DecryptionFailed):
        lc.unlock(files, "lisi", "wrong-passphrase", work_factor=WF)
    with pytest.raises(UnknownUser):  # one answer for a wrong name and a wrong passphrase
        lc.unlock(files, "nobody", PW.decode(), work_factor=WF)
    db.close()


def test_remove_user_rekeys_catalogue_and_resumes_after_a_crash(files: lc.VaultFiles,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    bag, _ = lc.create_home_keys(files, "zhangsan", "head", PW, work_factor=WF)
    _new_catalogue(path, bag).close()
    lc.add_user(files, bag, "lisi", "social_worker", PW, work_factor=WF)
    old_key = lc.unlock(files, "lisi", PW.decode(), work_factor=WF).catalog_keys()[0][1]
    # crash after the keyring was saved, before the catalogue was re-keyed
    bag.remove_member("lisi")
    lc.save(files, bag)
    head = lc.unlock(files, "zhangsan", PW.decode(), work_factor=WF)
    assert lc.catalogue_key(head, path)[1] is True  # behind: still under the old epoch
    lc.open_catalogue(head, path).close()  # finishes the re-key
    assert lc.catalogue_key(head, path)[1] is False
    with pytest.raises(IntegrityError):  # DamagedFile: the old key no longer opens it
        Database(path, old_key)
    # the full path removes the slot too
    lc.add_user(files, head, "zhaoliu", "supervisor", PW, work_factor=WF)
    db = lc.open_catalogue(head, path)
    assert lc.remove_user(files, head, db, "zhaoliu") == ["catalogue", "general", "service"]
    db.close()
    with pytest.raises(UnknownUser):
        lc.unlock(files, "zhaoliu", PW.decode(), work_factor=WF)


def test_reset_gives_new_keys_and_old_slot_copy_stops_working(files: lc.VaultFiles) -> None:
    bag, _ = lc.create_home_keys(files, "zhangsan", "head", PW, work_factor=WF)
    lc.add_user(files, bag, "lisi", "social_worker", PW, work_factor=WF)
    old_slot = files.slots.path("lisi").read_bytes()
    lc.reset_user(files, bag, "lisi", b"another-passphrase", work_factor=WF)
    assert lc.unlock(files, "lisi", "another-passphrase", work_factor=WF).holds("service")
    files.slots.path("lisi").write_bytes(old_slot)
    with pytest.raises(IntegrityError, match="公钥"):
        lc.unlock(files, "lisi", PW.decode(), work_factor=WF)


def test_non_station_users_cannot_change_the_keyring(files: lc.VaultFiles) -> None:
    bag, _ = lc.create_home_keys(files, "zhangsan", "head", PW, work_factor=WF)
    lc.add_user(files, bag, "wangwu", "archivist", PW, work_factor=WF)
    arch = lc.unlock(files, "wangwu", PW.decode(), work_factor=WF)
    with pytest.raises(AccessDenied):
        lc.add_user(files, arch, "mallory", "archivist", PW, work_factor=WF)
    with pytest.raises(AccessDenied):
        lc.save(files, arch)


def test_rotate_with_rewrap_keeps_only_current_epochs(files: lc.VaultFiles, tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    bag, _ = lc.create_home_keys(files, "zhangsan", "head", PW, work_factor=WF)
    db = _new_catalogue(path, bag)
    ok = ObjectKeysV2(db, bag.ring)
    from archive.crypto import age

    idents = {}
    with db.transaction():
        for i, comp in enumerate(("general", "service", "secret")):
            ident = age.X25519Identity.generate()
            idents[f"{i:064x}"] = ident
            ok.add(f"{i:064x}", ident.secret_bytes(), 100, comp)
    counts = lc.rotate(files, bag, db, rewrap_all=True)
    assert counts == {"general": 1, "personnel": 0, "service": 1, "secret": 1}
    db.close()
    head = lc.unlock(files, "zhangsan", PW.decode(), work_factor=WF)
    for comp in ("catalogue", "general", "service", "secret", "personnel"):
        assert head.epochs(comp) == [2]
    db = lc.open_catalogue(head, path)
    for oid, ident in idents.items():
        got = ObjectKeysV2(db, head.ring).unwrap(oid, head, lambda: None)
        assert got.secret_bytes() == ident.secret_bytes()
    db.close()
