"""Vault format 2 keys: the role × compartment table, keyring integrity, sealed fields and
revocation (remove, role change, --rewrap, shredding), with real keys and real files."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from vault2_fixtures import PASS, USERS, WF, Session, golden_copy, vault_id

from archive.catalog.db import Database
from archive.crypto import age
from archive.crypto.ed25519 import SigningKey
from archive.errors import AccessDenied, DecryptionFailed, IntegrityError
from archive.vault.compartments import (
    COMPARTMENTS,
    ROLE_COMPARTMENTS,
    compartment_for,
    compartments_for_role,
    markdown_table,
)
from archive.vault.keybag import KeyBag, create_vault_keys
from archive.vault.keyring2 import KeyringV2, unwrap_identity
from archive.vault.objectkeys import ObjectKeysV2
from archive.vault.revocation import after_rotation, pending_tasks, rewrap, shred
from archive.vault.sealed import NO_ACCESS, FieldSealer, kind, placeholder
from archive.vault.upgrade import upgrade
from archive.vault.userkeys import KeyslotsV2, UserKeys

VID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = golden_copy(tmp_path)
    upgrade(h, user="zhangsan", passphrase=PASS, work_factor=WF)
    return h


def test_the_table_follows_the_guideline() -> None:
    assert "service" not in compartments_for_role("archivist")  # 附件2 八 3
    assert "service" not in compartments_for_role("authority")
    assert compartments_for_role("recovery") == frozenset(COMPARTMENTS)
    assert {r for r, c in ROLE_COMPARTMENTS.items() if "station" in c} == {"head", "deputy",
                                                                           "recovery"}
    assert {r for r, c in ROLE_COMPARTMENTS.items() if "audit" in c} == {"head", "authority",
                                                                         "recovery"}
    assert compartments_for_role("nobody") == frozenset()
    assert compartment_for("FW") == "service" and compartment_for("fw", "秘密") == "secret"
    assert compartment_for("RS") == compartment_for("CW") == "personnel"
    assert "| 档案管理员 |" in markdown_table()
    from archive.policy.roles import ROLES

    assert set(ROLE_COMPARTMENTS) == {*ROLES, "recovery"}
    assert all(held <= set(COMPARTMENTS) for held in ROLE_COMPARTMENTS.values())


@pytest.mark.parametrize("role", sorted(set(ROLE_COMPARTMENTS) - {"recovery"}))
def test_each_role_unlocks_exactly_its_compartments(role: str) -> None:
    bag, head, _rec = create_vault_keys(VID, "zhangsan", "head")
    user = UserKeys.generate(VID, "user1", head.station_root)
    bag.add_member("user1", user.recipient, user.signing.public, role)
    raw = bag.ring.to_bytes(bag.station_signer())
    ring = KeyringV2.from_bytes(raw, station_root=user.station_root)
    assert KeyBag.unlock(ring, user).compartments == compartments_for_role(role)
    if "station" not in compartments_for_role(role):
        with pytest.raises(AccessDenied):
            KeyBag.unlock(ring, user).station_signer()


def test_keyring_tampering_is_caught() -> None:
    bag, head, _rec = create_vault_keys(VID, "zhangsan", "head")
    raw = bag.ring.to_bytes(bag.station_signer())
    doc = json.loads(raw)
    # a keyless attacker swaps the service public key for her own
    mine = age.X25519Identity.generate()
    doc["compartments"]["service"]["epochs"]["1"]["public"] = str(mine.recipient())
    with pytest.raises(IntegrityError, match="签名无效"):
        KeyringV2.from_bytes(json.dumps(doc).encode(), station_root=head.station_root)
    # ... and re-signs it with a key of her own: the pinned root does not match
    other, other_head, _ = create_vault_keys(VID, "zhangsan", "head")
    forged = other.ring.to_bytes(other.station_signer())
    with pytest.raises(IntegrityError, match="被替换"):
        KeyringV2.from_bytes(forged, station_root=head.station_root)
    # a non-station signer cannot produce a keyring at all
    with pytest.raises(AccessDenied):
        bag.ring.to_bytes(SigningKey.generate()[0])


def test_keyslot_holds_only_her_secrets_and_checks_binding(tmp_path: Path) -> None:
    _bag, head, _ = create_vault_keys(VID, "zhangsan", "head")
    slots = KeyslotsV2(tmp_path, VID)
    p = slots.write(head, PASS.encode(), work_factor=WF)
    plain = age.decrypt_bytes(p.read_bytes(), [age.ScryptIdentity(PASS.encode())]).decode()
    assert plain.count("AGE-SECRET-KEY-1") == 1 and "zhangsan" in plain
    assert slots.unlock("zhangsan", PASS.encode()).recipient == head.recipient
    with pytest.raises(DecryptionFailed):
        slots.unlock("zhangsan", b"wrong-passphrase")
    # a slot copied onto another user's file name is refused
    shutil.copy(p, slots.path("lisi"))
    with pytest.raises(IntegrityError):
        slots.unlock("lisi", PASS.encode())
    assert "zhangsan" not in p.name


def test_write_only_filing_then_members_settle(home: Path) -> None:
    arch = Session.open(home, "wangwu")
    try:
        ref = arch.file("服务记录：钱小红".encode(), title="钱小红走访", category="FW",
                        household="H-0042")
        with pytest.raises(AccessDenied):
            arch.read(ref)
        assert placeholder(arch.catalogue.record_fields(arch.sealer, ref)[1],
                           ("title",)) == {"title": NO_ACCESS}
        row = arch.db.execute("SELECT sealed FROM records WHERE ref = ?", (ref,)).fetchone()
        assert kind(row[0]) == "public"
    finally:
        arch.close()
    sw = Session.open(home, "lisi")
    try:
        assert sw.title(ref) == "钱小红走访" and "钱小红" in sw.read(ref).decode()
        with sw.db.transaction():
            assert sw.catalogue.reseal(sw.sealer, "service") >= 1
        row = sw.db.execute("SELECT sealed FROM records WHERE ref = ?", (ref,)).fetchone()
        assert kind(row[0]) == "symmetric" and sw.title(ref) == "钱小红走访"
        # a sealed blob moved onto another record does not open there
        other = next(r for r in sw.refs() if r != ref and sw.title(r) is not None
                     and sw.db.execute("SELECT compartment FROM records WHERE ref=?",
                                       (r,)).fetchone()[0] == "service")
        sealed = sw.db.execute("SELECT sealed FROM records WHERE ref = ?", (ref,)).fetchone()[0]
        sw.db.execute("UPDATE records SET sealed = ? WHERE ref = ?", (sealed, other))
        with pytest.raises(IntegrityError):
            sw.title(other)
    finally:
        sw.close()


def _old_secrets(home: Path, name: str) -> tuple[UserKeys, bytes]:
    """What a user walking out keeps: her slot's keys and a copy of the keyring."""
    return Session.open(home, name).keys, (home / "vault" / "keyring").read_bytes()


def _opens_with(keys: UserKeys, ring_raw: bytes, home: Path) -> dict[str, int]:
    """With only the old slot keys + old keyring copy, how much of the *current* home opens?"""
    ring = KeyringV2.from_bytes(ring_raw, station_root=keys.station_root)
    bag = KeyBag.unlock(ring, keys)
    idents = [i for c in bag.compartments for i in bag.identities(c)]
    out = {"catalogue": 0, "wraps": 0}
    for _, key in bag.catalog_keys():
        try:
            db = Database(home / "vault" / "catalog.db", key)
        except (DecryptionFailed, IntegrityError):
            continue
        out["catalogue"] = 1
        for (wrapped,) in db.execute("SELECT wrapped FROM objects WHERE wrapped IS NOT NULL"):
            try:
                unwrap_identity(wrapped, idents)
                out["wraps"] += 1
            except age.AgeError:
                pass
        db.close()
    return out


def test_removed_user_opens_nothing_filed_after_and_nothing_after_rewrap(home: Path) -> None:
    keys, ring_copy = _old_secrets(home, "lisi")
    before = _opens_with(keys, ring_copy, home)
    assert before == {"catalogue": 1, "wraps": 3}  # 行政 + two service records
    head = Session.open(home, "zhangsan")
    try:
        left = head.bag.remove_member("lisi")
        assert left == ["catalogue", "general", "service"]
        head.save_ring()
        after_rotation(head.db, head.bag, left)
        head.save_ring()
        ref = head.file("服务记录：孙丽".encode(), title="孙丽走访", category="FW")
        assert head.title(ref) == "孙丽走访"
    finally:
        head.close()
    # her old keys: the re-keyed catalogue no longer opens, so not even the new wrap is reachable
    assert _opens_with(keys, ring_copy, home) == {"catalogue": 0, "wraps": 0}
    # even given the catalogue key (a copy made before), the new filing's wrap does not open
    head = Session.open(home, "zhangsan")
    try:
        new_oid = head.db.execute(
            "SELECT c.object_id FROM components c JOIN records r ON r.id = c.record_id "
            "WHERE r.ref = ?", (ref,)).fetchone()[0]
        new_wrap = head.db.execute("SELECT wrapped FROM objects WHERE id = ?",
                                   (new_oid,)).fetchone()[0]
        old_ring = KeyringV2.from_bytes(ring_copy, station_root=keys.station_root)
        old_bag = KeyBag.unlock(old_ring, keys)
        with pytest.raises(age.AgeError):
            unwrap_identity(new_wrap, [i for c in old_bag.compartments
                                       for i in old_bag.identities(c)])
        # before --rewrap her old epochs still open the old wraps (documented); after, none
        old_wraps = [w for (w,) in head.db.execute(
            "SELECT wrapped FROM objects WHERE compartment IN ('service', 'general')")]
        idents = [i for c in old_bag.compartments for i in old_bag.identities(c)]
        assert sum(_opens(w, idents) for w in old_wraps) == 3
        counts = rewrap(head.db, head.bag)
        head.save_ring()
        assert counts["service"] == 2 and counts["general"] == 1
        assert sum(_opens(w, idents) for (w,) in head.db.execute(
            "SELECT wrapped FROM objects WHERE wrapped IS NOT NULL")) == 0
        ring = json.loads((home / "vault" / "keyring").read_bytes())
        assert list(ring["compartments"]["service"]["epochs"]) == ["2"]
        # every record still opens for the remaining members
        for r in head.refs():
            assert head.read(r)
    finally:
        head.close()
    s = Session.open(home, "zhaoliu")  # supervisor: service member, unaffected
    try:
        assert "孙丽" in s.read(ref).decode()
    finally:
        s.close()


def _opens(wrapped: bytes, idents: list[age.X25519Identity]) -> bool:
    try:
        unwrap_identity(wrapped, idents)
        return True
    except age.AgeError:
        return False


def test_role_change_rotates_what_she_leaves_and_grants_what_she_gains(home: Path) -> None:
    for name in USERS:
        Session.open(home, name).close()
    head = Session.open(home, "zhangsan")
    try:
        left = head.bag.change_role("lisi", "archivist")
        assert left == ["service"]
        head.save_ring()
        after_rotation(head.db, head.bag, left)
    finally:
        head.close()
    s = Session.open(home, "lisi")
    try:
        assert s.bag.compartments == compartments_for_role("archivist")
        rs = next(r for r in s.refs() if "-RS-" in r)
        assert "聘用合同" in s.read(rs).decode()
        fw = next(r for r in s.refs() if "-FW-" in r)
        assert s.title(fw) is None
    finally:
        s.close()


def test_new_member_reads_records_filed_before_her_via_the_epoch_chain(home: Path) -> None:
    head = Session.open(home, "zhangsan")
    try:
        head.bag.remove_member("lisi")  # rotates service to epoch 2
        head.save_ring()
        after_rotation(head.db, head.bag, ["catalogue", "general", "service"])
        new = UserKeys.generate(vault_id(home), "qianjiu", head.keys.station_root)
        head.bag.add_member("qianjiu", new.recipient, new.signing.public, "social_worker")
        head.save_ring()
        KeyslotsV2(home / "vault" / "keys", vault_id(home)).write(new, PASS.encode(),
                                                                   work_factor=WF)
    finally:
        head.close()
    s = Session.open(home, "qianjiu")
    try:
        assert s.bag.epochs("service") == [2, 1]
        fw = [r for r in s.refs() if "-FW-" in r]
        assert fw and all(s.read(r) for r in fw)
    finally:
        s.close()


def test_station_key_rotates_when_the_deputy_leaves(home: Path) -> None:
    Session.open(home, "zhouba").close()
    deputy_keys, ring_copy = _old_secrets(home, "zhouba")
    old_bag = KeyBag.unlock(KeyringV2.from_bytes(ring_copy, station_root=deputy_keys.station_root),
                            deputy_keys)
    old_signer = old_bag.station_signer()
    head = Session.open(home, "zhangsan")
    try:
        left = head.bag.remove_member("zhouba")
        assert "station" in left
        head.save_ring()
        after_rotation(head.db, head.bag, left)
        assert len(head.ring.station_public_keys()) == 2
        # the departed deputy's station key can no longer sign the keyring
        with pytest.raises(AccessDenied):
            head.ring.to_bytes(old_signer)
    finally:
        head.close()
    ring = KeyringV2.load(home / "vault" / "keyring", station_root=deputy_keys.station_root)
    assert ring.station_keys[-1].public != old_signer.public


def test_shred_after_destruction_and_key_task_for_non_members(home: Path) -> None:
    arch = Session.open(home, "wangwu")
    try:
        fw = next(r for r in arch.refs() if "-FW-" in r)
        oid = arch.db.execute(
            "SELECT c.object_id FROM components c JOIN records r ON r.id = c.record_id "
            "WHERE r.ref = ?", (fw,)).fetchone()[0]
        backup = arch.db.execute("SELECT wrapped FROM objects WHERE id = ?", (oid,)).fetchone()[0]
        with arch.db.transaction():
            ObjectKeysV2(arch.db, arch.ring).destroy(oid, "2027-01-05T09:00:00Z")
            arch.catalogue.request_key_task("service", "rotate-rewrap",
                                            when="2027-01-05T09:00:00Z", by="wangwu")
        assert pending_tasks(arch.db, arch.bag) == []  # she holds neither service nor station
    finally:
        arch.close()
    head = Session.open(home, "zhangsan")
    try:
        assert pending_tasks(head.db, head.bag) == ["service"]
        assert shred(head.db, head.bag, "service") == 1  # the other live service record
        head.save_ring()
        assert pending_tasks(head.db, head.bag) == []
        # the destroyed identity's wrap from a pre-destruction backup opens with no key left
        idents = [i for c in head.bag.compartments for i in head.bag.identities(c)]
        assert not _opens(backup, idents)
    finally:
        head.close()


def test_sealed_field_forms_and_binding() -> None:
    bag, head, _ = create_vault_keys(VID, "zhangsan", "head")
    arch = UserKeys.generate(VID, "wangwu", head.station_root)
    bag.add_member("wangwu", arch.recipient, arch.signing.public, "archivist")
    arch_bag = KeyBag.unlock(KeyringV2.from_bytes(bag.ring.to_bytes(bag.station_signer()),
                                                  station_root=head.station_root), arch)
    fields = {"title": "题名", "household": "H-1"}
    e, blob = FieldSealer(arch_bag.ring, arch_bag).seal("service", "REF-1", fields)
    assert kind(blob) == "public"
    assert FieldSealer(arch_bag.ring, arch_bag).open("service", e, "REF-1", blob) is None
    assert FieldSealer(bag.ring, bag).open("service", e, "REF-1", blob) == fields
    with pytest.raises(IntegrityError):
        FieldSealer(bag.ring, bag).open("service", e, "REF-2", blob)
    e2, sym = FieldSealer(bag.ring, bag).reseal("service", e, "REF-1", blob) or (0, b"")
    assert kind(sym) == "symmetric"
    assert FieldSealer(bag.ring, bag).open("service", e2, "REF-1", sym) == fields
    tampered = sym[:-1] + bytes([sym[-1] ^ 1])
    with pytest.raises(IntegrityError):
        FieldSealer(bag.ring, bag).open("service", e2, "REF-1", tampered)
    assert base64.b64encode(sym).decode() not in json.dumps(fields)


def test_threat_model_quotes_the_table() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "threat-model.md").read_text("utf-8")
    assert markdown_table() in doc
