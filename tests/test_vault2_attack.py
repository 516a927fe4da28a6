"""The attack (issue 10): a social worker or the archivist, with only her own keyslot and
passphrase, stock `age` and any code — not sgz's door — tries every secret her slot yields
against every object, wrapped identity, sealed field and search index of the compartments she
is not in. Nothing opens. The same procedure does open her own compartments (positive
control), so the test cannot pass by failing to try.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlcipher3
from test_age_cli_interop import _run_with_pty
from vault2_fixtures import GOLDEN_DOCS, PASS, USERS, Session, golden_copy, vault_id

from archive.crypto import age, keys
from archive.crypto.keys import derive
from archive.errors import DecryptionFailed
from archive.vault.compartments import RECORD_COMPARTMENTS, compartment_for, compartments_for_role
from archive.vault.keybag import DERIVED_LABELS
from archive.vault.keyring2 import LABEL_STATION_SIGNING
from archive.vault.upgrade import LABEL_ENROLMENT, LABEL_UPGRADE_STATE, upgrade
from archive.vault.userkeys import member_id

ALL_LABELS = (*DERIVED_LABELS, LABEL_STATION_SIGNING, LABEL_ENROLMENT, LABEL_UPGRADE_STATE,
              keys.LABEL_CATALOG, keys.LABEL_AUDIT_DETAIL, keys.LABEL_AUDIT_SIGNING,
              keys.LABEL_FINGERPRINT, keys.LABEL_KEYRING)
AUDIT_CANARY = "复核王秀英低保边缘户临时救助"  # goes into a sealed audit detail
NEW_SERVICE_TEXT = "新建服务记录：陈桂兰，低保复核，联系电话13804310000"


@dataclass
class Loot:
    """Everything the attacker can extract, closed under 'try every key on every blob'."""

    identities: dict[str, age.X25519Identity] = field(default_factory=dict)  # by public key
    secrets32: set[bytes] = field(default_factory=set)
    catalogue: dict[str, list[tuple]] = field(default_factory=dict)  # table → rows

    def add_identity(self, ident: age.X25519Identity) -> bool:
        pub = str(ident.recipient())
        if pub in self.identities:
            return False
        self.identities[pub] = ident
        self.secrets32.add(ident.secret_bytes())
        return True

    def candidate_keys(self) -> set[bytes]:
        """Every 32-byte secret and every HKDF derivation of it under every label sgz uses."""
        out = set(self.secrets32)
        for s, label in itertools.product(list(self.secrets32), ALL_LABELS):
            out.add(derive(s, label))
        return out

    def candidate_identities(self) -> list[age.X25519Identity]:
        return list(self.identities.values()) + [
            age.X25519Identity.from_secret_bytes(k) for k in self.candidate_keys()]


def _stock_age_open_slot(slot: Path, passphrase: str, out: Path) -> str:
    """Decrypt the keyslot with the Debian `age` tool (it reads the passphrase from a tty)."""
    code, transcript = _run_with_pty(["age", "-d", "-o", str(out), str(slot)],
                                     [(b"passphrase", passphrase.encode() + b"\n")])
    assert code == 0, transcript
    return out.read_text(encoding="utf-8")


def _try_age(blob: bytes, idents: list[age.X25519Identity]) -> bytes | None:
    try:
        return age.decrypt_bytes(blob, idents)
    except age.AgeError:
        return None


def _sqlcipher_open(path: Path, key: bytes) -> sqlcipher3.Connection | None:
    conn = sqlcipher3.connect(str(path))
    conn.execute("PRAGMA cipher_log_level = NONE")
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlcipher3.DatabaseError:
        conn.close()
        return None


def _plunder(home: Path, slot_text: str) -> Loot:
    """Start from the slot's identity and seed; open whatever opens, until nothing new does."""
    loot = Loot()
    for line in slot_text.splitlines():
        if line.startswith("AGE-SECRET-KEY-1"):
            loot.add_identity(age.X25519Identity.parse(line))
        if line.startswith("# signing-ed25519: "):
            loot.secrets32.add(base64.b64decode(line.split(": ", 1)[1]))
    ring = json.loads((home / "vault" / "keyring").read_bytes())
    blobs = [base64.b64decode(w) for c in ring["compartments"].values()
             for e in c["epochs"].values()
             for w in [*e["wraps"].values(), *([e["previous"]] if "previous" in e else [])]]
    blobs += [base64.b64decode(v["wrapped"]) for v in ring["legacy"].values()
              if isinstance(v, dict)]
    changed = True
    while changed:
        changed = False
        for blob in blobs:
            plain = _try_age(blob, list(loot.identities.values()))
            if plain is None:
                continue
            text = plain.decode("ascii", "replace").strip()
            if text.startswith("AGE-SECRET-KEY-1"):
                changed |= loot.add_identity(age.X25519Identity.parse(text))
            elif len(plain) == 32 and plain not in loot.secrets32:
                loot.secrets32.add(plain)
                changed = True
    # the catalogue: whichever candidate key opens it; its secrets join the loot
    for key in loot.candidate_keys():
        conn = _sqlcipher_open(home / "vault" / "catalog.db", key)
        if conn is None:
            continue
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
            loot.catalogue[table] = conn.execute(f"SELECT * FROM {table}").fetchall()
        for _name, value in conn.execute("SELECT name, value FROM vault_secrets"):
            loot.secrets32.add(bytes(value))
        conn.close()
        break
    return loot


def _attack(home: Path, name: str, tmp: Path) -> tuple[Loot, dict[str, int], dict[str, int]]:
    """Returns (loot, opened-in-own-compartments counts, opened-elsewhere counts)."""
    vid = vault_id(home)
    slot = home / "vault" / "keys" / f"{member_id(vid, name)}.age"
    loot = _plunder(home, _stock_age_open_slot(slot, PASS, tmp / f"{name}.txt"))
    held = compartments_for_role(USERS[name])
    mine: dict[str, int] = dict.fromkeys(
        ("objects", "wraps", "fields", "queued", "details", "indexes"), 0)
    theirs: dict[str, int] = dict(mine)
    idents = loot.candidate_identities()
    cand = loot.candidate_keys()
    assert "objects" in loot.catalogue, "the catalogue (everyone's compartment) must open"
    cols = [d[1] for d in _columns(home, loot)]
    objects = {r[cols.index("id")]: r for r in loot.catalogue["objects"]}
    obj_comp = {oid: r[cols.index("compartment")] for oid, r in objects.items()}
    # 1. wrapped object identities, then the object files themselves
    for oid, row in objects.items():
        own = obj_comp[oid] in held
        tally = mine if own else theirs
        wrapped = row[cols.index("wrapped")]
        inner = _try_age(wrapped, idents) if wrapped is not None else None
        if inner is not None:
            tally["wraps"] += 1
            idents_plus = [*idents, age.X25519Identity.parse(inner.decode().strip())]
        else:
            idents_plus = idents
        data = (home / "vault" / "objects" / oid[:2] / f"{oid}.age").read_bytes()
        if _try_age(data, idents_plus) is not None:
            tally["objects"] += 1
    # 2. sealed descriptive fields (both forms), records and components
    rcols = [c[1] for c in _columns(home, loot, "records")]
    for r in loot.catalogue["records"]:
        comp, epoch, ref = r[rcols.index("compartment")], r[rcols.index("seal_epoch")], r[rcols.index("ref")]
        tally = mine if comp in held else theirs
        if _open_sealed_any(r[rcols.index("sealed")], cand, idents, vid, ref, comp, epoch):
            tally["fields"] += 1
    # 3. text queued for an index by a non-member filer (sealed to the compartment)
    for _ref, comp, _epoch, blob in loot.catalogue.get("index_queue", []):
        tally = mine if comp in held else theirs
        if _try_age(blob, idents) is not None:
            tally["queued"] += 1
    # 4. every sealed audit detail (format-1 lines: AES-GCM; format-2: age to the audit key)
    for line in (home / "vault" / "audit" / "log.jsonl").read_bytes().splitlines():
        entry = json.loads(line)
        sealed = entry.get("detail")
        if not isinstance(sealed, str):
            continue
        blob = base64.b64decode(sealed)
        tally = mine if "audit" in held else theirs
        if blob.startswith(b"age-encryption.org/v1"):
            opened = _try_age(blob, idents) is not None
        else:
            aad = f"sgz-audit/{vid}/{entry['seq']}".encode()
            opened = _open_aes_any(blob, cand, aad)
        tally["details"] += opened
    # 5. every search index
    for path in sorted((home / "indexes").glob("*.db")):
        tally = mine if path.stem in held else theirs
        for key in cand:
            conn = _sqlcipher_open(path, key)
            if conn is not None:
                conn.close()
                tally["indexes"] += 1
                break
    return loot, mine, theirs


def _columns(home: Path, loot: Loot, table: str = "objects") -> list[tuple]:
    for key in loot.candidate_keys():
        conn = _sqlcipher_open(home / "vault" / "catalog.db", key)
        if conn is not None:
            try:
                return conn.execute(f"PRAGMA table_info({table})").fetchall()
            finally:
                conn.close()
    raise AssertionError("catalogue did not open")


def _open_aes_any(blob: bytes, cand: set[bytes], aad: bytes) -> bool:
    for k in cand:
        try:
            keys.open_sealed(k, blob, aad)
            return True
        except DecryptionFailed:
            continue
    return False


def _open_sealed_any(blob: bytes, cand: set[bytes], idents: list[age.X25519Identity],
                     vid: str, ref: str, comp: str, epoch: int) -> bool:
    if blob[:1] == b"P":
        return _try_age(blob[1:], idents) is not None
    aad = f"sgz-sealed/{vid}/{ref}/{comp}/{epoch}".encode()
    for k in cand:
        try:
            keys.open_sealed(k, blob[1:], aad)
            return True
        except DecryptionFailed:
            continue
    return False


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Golden format-1 home, upgraded; everyone enrolled; per-compartment indexes built by the
    head; one service record filed write-only by the archivist after the upgrade."""
    from archive.app import Archive, upgrade_audit_hook

    tmp = tmp_path_factory.mktemp("attack")
    home = golden_copy(tmp)
    upgrade(home, user="zhangsan", passphrase=PASS, work_factor=10,
            on_committed=upgrade_audit_hook(home))
    for name in USERS:  # each logs in once (enrols); the log gets format-2 signed entries
        Archive.unlock(home, user=name, passphrase=PASS, kdf_work_factor=10).close()
    with Archive.unlock(home, user="zhaoliu", passphrase=PASS, kdf_work_factor=10) as sup:
        ref = next(r.ref for r in sup.records.ls() if r.title == "刘建国个案服务计划")
        sup.records.get(ref, tmp / "read.txt", reason=f"督导复核：{AUDIT_CANARY}")
    (tmp / "read.txt").unlink()
    s = Session.open(home, "wangwu")
    try:
        ref = s.file(NEW_SERVICE_TEXT.encode(), title="陈桂兰低保复核记录", category="FW",
                     household="H-0099")
        assert s.title(ref) is None  # write-only: the archivist cannot read back her filing
    finally:
        s.close()
    head = Session.open(home, "zhangsan")
    try:
        texts = {ref: head.read(ref).decode() for ref in head.refs()}
        head.build_indexes(texts)
    finally:
        head.close()
    return home


@pytest.mark.agecli
@pytest.mark.skipif(shutil.which("age") is None, reason="age CLI not installed (apt install age)")
@pytest.mark.parametrize("name", ["lisi", "wangwu"])
def test_her_slot_opens_nothing_outside_her_compartments(station: Path, tmp_path: Path,
                                                         name: str) -> None:
    loot, mine, theirs = _attack(station, name, tmp_path)
    held = compartments_for_role(USERS[name])
    own_records = sum(compartment_for(d[2], d[3]) in held for d in GOLDEN_DOCS)
    own_records += "service" in held  # the archivist's write-only filing after the upgrade
    # positive control: the same tries open everything of her own compartments
    assert mine["objects"] == own_records and mine["wraps"] == own_records
    assert mine["fields"] == own_records
    assert mine["indexes"] == sum(c in held for c in RECORD_COMPARTMENTS)
    assert mine["queued"] == ("service" in held)  # the archivist's queued text
    # the attack: nothing of the others (audit details: head, authority, recovery only)
    assert theirs == {"objects": 0, "wraps": 0, "fields": 0, "queued": 0, "details": 0,
                      "indexes": 0}, theirs
    # and no title, household or content of another compartment appears in anything she opened
    others = [d for d in GOLDEN_DOCS if compartment_for(d[2], d[3]) not in held]
    if USERS[name] != "social_worker":
        others.append(("陈桂兰低保复核记录", "H-0099", "FW", "", "陈桂兰"))
    assert AUDIT_CANARY.encode() not in (station / "vault" / "audit" / "log.jsonl").read_bytes()
    dump = repr(loot.catalogue).encode()
    for title, household, _cat, _sec, fragment in others:
        for canary in (title, fragment, *([household] if household else [])):
            for enc in ("utf-8", "utf-16-le"):
                assert canary.encode(enc) not in dump, (name, canary)


@pytest.mark.agecli
@pytest.mark.skipif(shutil.which("age") is None, reason="age CLI not installed (apt install age)")
def test_the_same_attack_opens_audit_details_for_the_authority(station: Path,
                                                               tmp_path: Path) -> None:
    """Positive control for the audit details: the authority holds the audit key."""
    _loot, mine, theirs = _attack(station, "sunqi", tmp_path)
    assert mine["details"] > 5  # format-1 details via the kept key, format-2 via the audit key
    assert theirs["objects"] == 0 and theirs["fields"] == 0  # no service records for her


@pytest.mark.agecli
@pytest.mark.skipif(shutil.which("age") is None, reason="age CLI not installed (apt install age)")
def test_stock_age_chain_opens_her_own_records_only(station: Path, tmp_path: Path) -> None:
    """Stock age all the way: slot → compartment key (keyring) → object identity → object."""
    name = "lisi"
    vid = vault_id(station)
    slot = station / "vault" / "keys" / f"{member_id(vid, name)}.age"
    loot = _plunder(station, _stock_age_open_slot(slot, PASS, tmp_path / "me.txt"))
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{i}\n" for i in loot.identities.values()), encoding="ascii")
    cols = [c[1] for c in _columns(station, loot)]
    opened = {"service": 0, "other": 0}
    for row in loot.catalogue["objects"]:
        oid, comp, wrapped = row[cols.index("id")], row[cols.index("compartment")], row[cols.index("wrapped")]
        (tmp_path / "w.age").write_bytes(wrapped)
        r = subprocess.run(["age", "-d", "-i", str(ids), str(tmp_path / "w.age")],
                           capture_output=True)
        if r.returncode != 0:
            assert comp not in compartments_for_role("social_worker"), comp
            continue
        (tmp_path / "obj.txt").write_bytes(r.stdout)
        obj = station / "vault" / "objects" / oid[:2] / f"{oid}.age"
        r2 = subprocess.run(["age", "-d", "-i", str(tmp_path / "obj.txt"), str(obj)],
                            capture_output=True)
        assert r2.returncode == 0
        opened["service" if comp == "service" else "other"] += 1
        assert comp in compartments_for_role("social_worker")
    assert opened["service"] == 3  # two golden service records + the archivist's filing
    assert opened["other"] == 1  # the 行政 record (general: every role)
