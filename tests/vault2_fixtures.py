"""Helpers for the vault format 2 tests: the golden format-1 home, upgraded; unlocking users;
reading, filing and indexing through the storage layer (what the services will wire in)."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from archive.catalog.db import Database
from archive.crypto import age
from archive.search.index import SearchIndex
from archive.vault.compartments import RECORD_COMPARTMENTS, compartment_for
from archive.vault.index_queue import IndexQueue
from archive.vault.keybag import KeyBag
from archive.vault.keyring2 import KeyringV2
from archive.vault.objectkeys import ObjectKeysV2
from archive.vault.objects import ObjectStore
from archive.vault.sealed import FieldSealer, household_tag
from archive.vault.sealed_catalogue import TAG_HOUSEHOLD, SealedCatalogue, component_binding
from archive.vault.upgrade import enrol, has_pending
from archive.vault.userkeys import KeyslotsV2, UserKeys

GOLDEN = Path(__file__).resolve().parent / "golden" / "format1"
PASS = "correct-horse-battery"
WF = 10
USERS = {"zhangsan": "head", "lisi": "social_worker", "wangwu": "archivist",
         "zhaoliu": "supervisor", "sunqi": "authority", "zhouba": "deputy"}
# (title, household, category, secrecy, plaintext fragment) of the golden records
GOLDEN_DOCS = [
    ("王秀英家庭走访记录", "H-0001", "FW", "", "王秀英，身份证220112195803150027"),
    ("刘建国个案服务计划", "H-0002", "FW", "", "刘建国，独居老人"),
    ("社工站例会制度", "", "XZ", "", "每周一例会"),
    ("赵六聘用合同", "", "RS", "", "聘用合同三年"),
    ("档案柜采购凭证", "", "CW", "", "购置档案柜两个"),
    ("周建华核查名单（秘密）", "", "XZ", "秘密", "核对名单周建华"),
]


def golden_copy(dest: Path) -> Path:
    home = dest / "station"
    shutil.copytree(GOLDEN / "home", home)
    return home


def recovery_code_v1() -> str:
    return (GOLDEN / "recovery.txt").read_text(encoding="utf-8").strip()


def vault_id(home: Path) -> str:
    return str(json.loads((home / "vault" / "vault.json").read_text())["vault_id"])


def user_keys(home: Path, name: str, passphrase: str = PASS) -> UserKeys:
    """Unlock a user's format-2 slot, enrolling her first if the upgrade left her keys pending."""
    vid = vault_id(home)
    keys_dir = home / "vault" / "keys"
    if not KeyslotsV2(keys_dir, vid).exists(name) and has_pending(keys_dir, vid, name):
        return enrol(keys_dir, vid, name, passphrase, work_factor=WF)
    return KeyslotsV2(keys_dir, vid).unlock(name, passphrase.encode())


@dataclass
class Session:
    """One unlocked user on a format-2 home, through the storage layer only."""

    home: Path
    keys: UserKeys
    ring: KeyringV2
    bag: KeyBag
    db: Database

    @classmethod
    def open(cls, home: Path, name: str, passphrase: str = PASS) -> Session:
        keys = user_keys(home, name, passphrase)
        ring = KeyringV2.load(home / "vault" / "keyring", station_root=keys.station_root)
        bag = KeyBag.unlock(ring, keys)
        db = Database(home / "vault" / "catalog.db", bag.catalog_keys()[0][1])
        return cls(home, keys, ring, bag, db)

    def close(self) -> None:
        self.db.close()

    @property
    def sealer(self) -> FieldSealer:
        return FieldSealer(self.ring, self.bag)

    @property
    def catalogue(self) -> SealedCatalogue:
        return SealedCatalogue(self.db)

    def save_ring(self) -> None:
        self.ring.save(self.home / "vault" / "keyring", self.bag.station_signer())

    def refs(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT ref FROM records ORDER BY ref")]

    def title(self, ref: str) -> str | None:
        _, fields = self.catalogue.record_fields(self.sealer, ref)
        return None if fields is None else fields["title"]

    def read(self, ref: str) -> bytes:
        """Decrypt the record's first component (the door's job once wired)."""
        oid = self.db.execute(
            "SELECT c.object_id FROM components c JOIN records r ON r.id = c.record_id "
            "WHERE r.ref = ? ORDER BY c.seq LIMIT 1", (ref,)).fetchone()[0]
        ident = ObjectKeysV2(self.db, self.ring).unwrap(oid, self.bag, lambda: None)
        store = ObjectStore(self.home / "vault")
        with store.open(oid) as f:
            return age.decrypt_bytes(f.read(), [ident])

    def file(self, data: bytes, *, title: str, category: str, household: str = "",
             secrecy: str = "") -> str:
        """File one record the way format 2 does: write-only for non-members."""
        comp = compartment_for(category, secrecy)
        store = ObjectStore(self.home / "vault")
        sc = self.catalogue
        with self.db.transaction():
            fp_key = sc.secret("fingerprint")
            obj = store.stage(io.BytesIO(data), fp_key)
            ObjectKeysV2(self.db, self.ring).add(obj.object_id, obj.identity, obj.cipher_size, comp)
            n = self.db.execute("SELECT count(*) FROM records WHERE cls = ?",
                                (category,)).fetchone()[0] + 1
            ref = f"Z001-WS·2027-D30-{category}-{n:04d}"
            epoch, blob = self.sealer.seal(comp, ref, {"title": title, "doc_no": "", "author": "",
                                                       "note": "", "household": household})
            cur = self.db.execute(
                "INSERT INTO records (ref, fonds, genre, year, retention, cls, item, title, "
                "title_source, secrecy, filed_at, filed_by, compartment, seal_epoch, sealed, "
                "household_tag) VALUES (?, 'Z001', 'WS', 2027, 'D30', ?, ?, '', 'given', ?, "
                "'2027-01-05T09:00:00Z', ?, ?, ?, ?, ?)",
                (ref, category, n, secrecy, self.keys.name, comp, epoch, blob,
                 household_tag(sc.secret(TAG_HOUSEHOLD), household)))
            cep, cblob = self.sealer.seal(comp, component_binding(ref, 1),
                                          {"filename": f"{title}.txt", "reason": ""})
            self.db.execute(
                "INSERT INTO components (record_id, seq, kind, object_id, filename, mime, size, "
                "fp_sha, fp_sm3, added_at, added_by, seal_epoch, sealed) VALUES (?, 1, '正文', ?, "
                "'', 'text/plain', ?, ?, '', '2027-01-05T09:00:00Z', ?, ?, ?)",
                (cur.lastrowid, obj.object_id, obj.plain_size, obj.fp_sha, self.keys.name, cep,
                 cblob))
            if not self.bag.holds(comp):  # her text waits, sealed, for a member to index it
                IndexQueue(self.db).put(self.ring, comp, {"doc_id": ref, "title": title,
                                                          "text": data.decode("utf-8")})
        store.publish(obj.object_id)
        store.close()
        return ref

    def build_indexes(self, texts: dict[str, str]) -> list[Path]:
        """One index per record compartment this user holds (the search service's rebuild)."""
        out = []
        for comp in RECORD_COMPARTMENTS:
            if not self.bag.holds(comp):
                continue
            path = self.home / "indexes" / f"{comp}.db"
            path.unlink(missing_ok=True)
            with SearchIndex.create(path, self.bag.index_key(comp)) as idx:
                for ref, c in self.db.execute("SELECT ref, compartment FROM records"):
                    if c == comp:
                        idx.add(ref, title=self.title(ref) or "", text=texts.get(ref, ""))
            out.append(path)
        return out
