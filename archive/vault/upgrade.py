"""`sgz upgrade`: convert a format-1 home to vault format 2 in place, crash-safe and resumable.

Who runs it: a head (her passphrase) or the holder of the recovery code. Nobody else's passphrase
is needed and none changes:
- the upgrader gets her format-2 keyslot now; a **new recovery code** replaces the old one (the
  old recovery slot held the format-1 root and is deleted);
- every other user gets fresh format-2 keys now (already members of their compartments), kept
  until her next login in `vault/keys/<id>.pending`, sealed under a key derived from the
  format-1 root; `enrol()` at that login moves them into her format-2 slot under her own
  passphrase and deletes her format-1 slot. When the last user has enrolled, the format-1 root
  opens nothing left in the home.

Steps, recorded in `vault/upgrade/journal.json` (no secrets): `prepared` (new keys generated and
sealed in `vault/upgrade/state.sealed`, new keyring signed in `vault/upgrade/keyring`) →
`catalogue` (catalogue copied to `vault/upgrade/catalog.db` under the catalogue compartment key,
object identities re-wrapped to their compartments, descriptive fields sealed) → `committing`
(files moved into place; every move is idempotent) → `committed` (vault.json says version 2) →
cleanup. A crash before `committing` leaves the format-1 home untouched and the next run starts
the unfinished step again; from `committing` on the next run only goes forward.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.catalog.db import Database
from archive.crypto import age
from archive.crypto.ed25519 import SigningKey
from archive.crypto.keys import (
    LABEL_AUDIT_DETAIL,
    LABEL_AUDIT_SIGNING,
    LABEL_CATALOG,
    LABEL_FINGERPRINT,
    derive,
    open_sealed,
    seal,
)
from archive.errors import AccessDenied, Conflict, DecryptionFailed, IntegrityError, NotFound
from archive.fs.atomic import fsync_dir, write_atomic
from archive.vault.compartments import AUDIT, RECOVERY_ROLE, SECRET, compartment_for
from archive.vault.keybag import KeyBag, create_vault_keys
from archive.vault.keyring import load_keyring
from archive.vault.keyring2 import KeyringV2, wrap_identity
from archive.vault.keyslots import Keyslots, new_recovery_code, normalise_passphrase
from archive.vault.objectkeys import SCHEMA_VERSION as OBJECTS_VERSION
from archive.vault.sealed import FieldSealer
from archive.vault.sealed_catalogue import (
    MIGRATE_V1,
    SCHEMA_OWNER,
    SCHEMA_VERSION,
    TAG_FINGERPRINT,
    TAG_HOUSEHOLD,
    SealedCatalogue,
)
from archive.vault.shred import overwrite_unlink
from archive.vault.userkeys import RECOVERY_NAME, KeyslotsV2, UserKeys, member_id

FORMAT = "sgz-vault"
LABEL_UPGRADE_STATE = b"sgz/v2/upgrade-state"
LABEL_ENROLMENT = b"sgz/v2/enrolment"
ENROL_MAGIC = b"sgz-enrolment/v2\n"
STEPS = ("prepared", "catalogue", "committing", "committed")
UPGRADE_HINT = "请先运行 sgz upgrade 把档案库升级到格式 2"

Hook = Callable[[str], None]


@dataclass(frozen=True)
class UpgradeResult:
    recovery_code: str | None  # print once (None: a crash during cleanup lost it — reissue it
    # with `lifecycle.reissue_recovery`); the old code no longer opens anything
    upgrader: str
    pending: list[str]  # users who receive their format-2 keys at their next login
    records: int
    objects: int


class _Paths:
    """Where the upgrade reads and writes below the home `root`."""

    __slots__ = ("root", "vault", "vault_json", "keys", "work", "journal")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.vault = root / "vault"
        self.vault_json = self.vault / "vault.json"
        self.keys = self.vault / "keys"
        self.work = self.vault / "upgrade"
        self.journal = self.work / "journal.json"


def vault_format(root: Path) -> int:
    """The format version in vault/vault.json (NotFound when the folder is no sgz home)."""
    p = _Paths(Path(root))
    try:
        meta = json.loads(p.vault_json.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"{root} 不是 sgz 站点目录（找不到 vault/vault.json）") from None
    except (ValueError, OSError) as exc:
        raise IntegrityError(f"vault/vault.json 损坏：{exc}") from None
    if meta.get("format") != FORMAT:
        raise IntegrityError("vault/vault.json 不是 sgz 档案库", found=meta.get("format"))
    return int(meta.get("version", 0))


def require_format2(root: Path) -> None:
    """What every command but `sgz upgrade` calls first: refuse a format-1 or half-upgraded home."""
    p = _Paths(Path(root))
    version = vault_format(p.root)
    if version < 2:
        raise Conflict(f"该站点目录是旧格式（格式 {version}）。{UPGRADE_HINT}", found=version)
    if p.journal.exists():
        raise Conflict(f"档案库升级尚未完成。{UPGRADE_HINT}（会从中断处继续）")
    if version > 2:
        raise IntegrityError("档案库格式比本程序新，请升级 sgz", found=version)


def _journal(p: _Paths) -> str | None:
    try:
        return str(json.loads(p.journal.read_bytes())["step"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError):
        raise IntegrityError("升级日志 vault/upgrade/journal.json 损坏") from None


def _set_step(p: _Paths, step: str, hook: Hook | None) -> None:
    write_atomic(p.journal, json.dumps({"step": step}).encode())
    if hook is not None:
        hook(step)


# ------------------------------------------------------------------------------ state
def _state_key(vrk: bytes) -> bytes:
    return derive(vrk, LABEL_UPGRADE_STATE)


def _save_state(p: _Paths, vrk: bytes, vault_id: str, state: dict[str, Any]) -> None:
    raw = json.dumps(state, ensure_ascii=False).encode()
    write_atomic(p.work / "state.sealed", seal(_state_key(vrk), raw, vault_id.encode()))


def _load_state(p: _Paths, vrk: bytes, vault_id: str) -> dict[str, Any]:
    try:
        blob = (p.work / "state.sealed").read_bytes()
    except FileNotFoundError:
        raise IntegrityError("升级状态文件缺失，无法继续升级") from None
    try:
        out: dict[str, Any] = json.loads(open_sealed(_state_key(vrk), blob, vault_id.encode()))
    except DecryptionFailed:
        raise IntegrityError("升级状态文件无法解密（不属于本档案库）") from None
    return out


def _keys_of(state: dict[str, Any], name: str) -> UserKeys:
    return UserKeys.parse(base64.b64decode(state["keys"][name]))


# ------------------------------------------------------------------------------ the upgrade
def upgrade(
    root: Path,
    *,
    user: str | None = None,
    passphrase: str | None = None,
    recovery_code: str | None = None,
    work_factor: int,
    on_step: Hook | None = None,
    on_committed: Callable[[KeyBag], None] | None = None,
) -> UpgradeResult:
    """Convert (or finish converting) the format-1 home at `root`. `on_step(step)` is called
    after each journal step is durable (tests kill the process there). `on_committed(bag)` runs
    once the home is format 2 and before the cleanup, on every resumed run too, so it must be
    idempotent: the audit log's own upgrade (`AuditLog.upgrade(..., station_signer=
    bag.station_seed(), signer=bag.signer, detail_recipients=bag.audit_recipients())`)."""
    p = _Paths(Path(root))
    version = vault_format(p.root)
    step = _journal(p)
    if version >= 2 and step is None:
        raise Conflict("该档案库已经是格式 2，无需升级")
    vault_id = json.loads(p.vault_json.read_text(encoding="utf-8"))["vault_id"]
    if step == "committed" and not (p.work / "state.sealed").exists():
        # a crash inside the cleanup, after the state went: finish it, no key needed
        _cleanup(p, vault_id, None)
        return UpgradeResult(None, user or RECOVERY_NAME, [], 0, 0)
    vrk, upgrader = _unlock_v1(p, vault_id, user, passphrase, recovery_code)
    p.work.mkdir(exist_ok=True)
    if step is None:
        state = _prepare(p, vrk, vault_id, upgrader)
        step = "prepared"
        _set_step(p, step, on_step)
    state = _load_state(p, vrk, vault_id)
    if state["upgrader"] != upgrader:
        raise Conflict("这次升级由另一位用户（或恢复码）开始，请由其继续完成")
    staged_ring = p.work / "keyring"  # moved into vault/ while committing
    ring = KeyringV2.load(staged_ring if staged_ring.exists() else p.vault / "keyring",
                          station_root=_keys_of(state, upgrader).station_root)
    bag = KeyBag.unlock(ring, _keys_of(state, upgrader))
    if step == "prepared":
        _convert_catalogue(p, vrk, vault_id, bag)
        step = "catalogue"
        _set_step(p, step, on_step)
    if step == "catalogue":
        _set_step(p, "committing", on_step)
        step = "committing"
    if step == "committing":
        _commit(p, vault_id, vrk, state, passphrase, work_factor)
        _set_step(p, "committed", on_step)
        step = "committed"
    if on_committed is not None:
        on_committed(bag)
    counts = _counts(p, bag)
    _cleanup(p, vault_id, state)
    pending = sorted(n for n in state["keys"] if n not in (upgrader, RECOVERY_NAME))
    return UpgradeResult(state["code"], upgrader, pending, *counts)


def _unlock_v1(p: _Paths, vault_id: str, user: str | None, passphrase: str | None,
               code: str | None) -> tuple[bytes, str]:
    slots = Keyslots(p.keys, vault_id)
    if code is not None:
        return slots.unlock_recovery(code), RECOVERY_NAME
    if user is None or passphrase is None:
        raise AccessDenied("升级须由站长用口令进行，或使用恢复码")
    vrk = slots.unlock(user, normalise_passphrase(passphrase))
    if _journal(p) is None:  # the role check needs the format-1 catalogue (not yet moved)
        db = Database(p.vault / "catalog.db", derive(vrk, LABEL_CATALOG))
        try:
            row = db.execute("SELECT role FROM users WHERE name = ? AND active = 1",
                             (user,)).fetchone()
        finally:
            db.close()
        if row is None or row[0] != "head":
            raise AccessDenied("升级档案库须由站长（或恢复码）进行")
    return vrk, user


def _prepare(p: _Paths, vrk: bytes, vault_id: str, upgrader: str) -> dict[str, Any]:
    """Generate every format-2 key and the new keyring; seal them under the format-1 root."""
    for leftover in p.work.iterdir():  # a crash before `prepared` leaves nothing to keep
        _remove(leftover)
    db = Database(p.vault / "catalog.db", derive(vrk, LABEL_CATALOG))
    try:
        users = [(r[0], r[1]) for r in db.execute(
            "SELECT name, role FROM users WHERE active = 1 ORDER BY created_at, name")]
    finally:
        db.close()
    roles = dict(users)
    first_role = roles.get(upgrader, RECOVERY_ROLE if upgrader == RECOVERY_NAME else "")
    if upgrader == RECOVERY_NAME:
        # the recovery code upgrades: the first head (or first user) seeds the keyring
        heads = [n for n, r in users if r == "head"] or [n for n, _ in users]
        seed_user, seed_role = heads[0], roles[heads[0]]
    else:
        seed_user, seed_role = upgrader, first_role
    bag, seed_keys, recovery = create_vault_keys(vault_id, seed_user, seed_role)
    keys = {seed_user: seed_keys, RECOVERY_NAME: recovery}
    for name, role in users:
        if name in keys:
            continue
        k = UserKeys.generate(vault_id, name, seed_keys.station_root)
        bag.add_member(name, k.recipient, k.signing.public, role)
        keys[name] = k
    bag.seal_legacy("format1_audit_detail_key", AUDIT, derive(vrk, LABEL_AUDIT_DETAIL))
    # the public half only: format-1 checkpoints stay verifiable; new ones use the station key
    bag.ring.legacy["format1_checkpoint_public"] = base64.b64encode(
        SigningKey(derive(vrk, LABEL_AUDIT_SIGNING)).public).decode()
    bag.ring.save(p.work / "keyring", bag.station_signer())
    state = {"upgrader": upgrader, "code": new_recovery_code(),
             "keys": {n: base64.b64encode(k.render()).decode() for n, k in keys.items()}}
    _save_state(p, vrk, vault_id, state)
    return state


def _convert_catalogue(p: _Paths, vrk: bytes, vault_id: str, bag: KeyBag) -> None:
    """Copy the catalogue under the new key and convert it there (the original is untouched)."""
    new = p.work / "catalog.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(new) + suffix).unlink(missing_ok=True)
    (_, new_key) = bag.catalog_keys()[0]
    old_ring = load_keyring(p.vault / "keyring", vrk, vault_id)
    src = Database(p.vault / "catalog.db", derive(vrk, LABEL_CATALOG))
    try:
        src.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        src.execute(f"ATTACH DATABASE ? AS v2 KEY \"x'{new_key.hex()}'\"", (str(new),))
        src.execute("SELECT sqlcipher_export('v2')")
        src.execute("DETACH DATABASE v2")
    finally:
        src.close()
    db = Database(new, new_key)
    try:
        db.execute("PRAGMA foreign_keys = OFF")
        with db.transaction():
            for stmt in MIGRATE_V1:
                db.execute(stmt)
            db.execute("ALTER TABLE objects ADD COLUMN compartment TEXT NOT NULL DEFAULT ''")
            db.execute("CREATE INDEX objects_compartment ON objects(compartment, epoch)")
            sc = SealedCatalogue(db)
            sc.secret(TAG_FINGERPRINT, default=lambda: derive(vrk, LABEL_FINGERPRINT))
            tag_key = sc.secret(TAG_HOUSEHOLD)
            _rewrap_objects(db, bag, old_ring.epoch_key)
            sc.seal_clear_rows(FieldSealer(bag.ring, bag), tag_key)
            db.execute("INSERT OR REPLACE INTO schema_versions VALUES (?, ?)",
                       (SCHEMA_OWNER, SCHEMA_VERSION))
            db.execute("INSERT OR REPLACE INTO schema_versions VALUES ('vault.objects', ?)",
                       (OBJECTS_VERSION,))
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    for suffix in ("-wal", "-shm"):
        Path(str(new) + suffix).unlink(missing_ok=True)
    fsync_dir(p.work)


def _rewrap_objects(db: Database, bag: KeyBag, epoch_key: Callable[[int], bytes]) -> None:
    """Format-1 AES-GCM wraps under the epoch key → age wraps to each record's compartment."""
    comp_of = {r[0]: compartment_for(r[1], r[2]) for r in db.execute(
        "SELECT c.object_id, r.cls, r.secrecy FROM components c JOIN records r "
        "ON r.id = c.record_id")}
    for r in db.execute("SELECT id, epoch, wrapped, state FROM objects").fetchall():
        comp = comp_of.get(r["id"], SECRET)  # an object no record names: most restricted
        epoch = bag.ring.current(comp)
        wrapped = None
        if r["state"] == "live" and r["wrapped"] is not None:
            aad = f"sgz-object/{r['id']}/{r['epoch']}".encode()
            secret = open_sealed(epoch_key(r["epoch"]), r["wrapped"], aad)
            wrapped = wrap_identity(age.X25519Identity.from_secret_bytes(secret),
                                    [bag.ring.recipient(comp, epoch)])
        db.execute("UPDATE objects SET compartment = ?, epoch = ?, wrapped = ? WHERE id = ?",
                   (comp, epoch, wrapped, r["id"]))


def _commit(p: _Paths, vault_id: str, vrk: bytes, state: dict[str, Any],
            passphrase: str | None, work_factor: int) -> None:
    """Move everything into place (each move idempotent), then flip vault.json to version 2."""
    new_db = p.work / "catalog.db"
    if new_db.exists():
        for suffix in ("-wal", "-shm"):  # the old catalogue's, never to be applied to the new
            Path(str(p.vault / "catalog.db") + suffix).unlink(missing_ok=True)
        os.replace(new_db, p.vault / "catalog.db")
    if (p.work / "keyring").exists():
        os.replace(p.work / "keyring", p.vault / "keyring")
    fsync_dir(p.vault)
    (p.root / "indexes" / "fulltext.db").unlink(missing_ok=True)  # derived; rebuilt per compartment
    slots = KeyslotsV2(p.keys, vault_id)
    upgrader = state["upgrader"]
    for name in state["keys"]:
        keys = _keys_of(state, name)
        if name == RECOVERY_NAME:
            slots.write_recovery(keys, state["code"], work_factor=work_factor)
        elif name == upgrader:
            assert passphrase is not None
            slots.write(keys, normalise_passphrase(passphrase), work_factor=work_factor)
        else:
            _write_pending(p.keys, vrk, keys)
    write_atomic(p.vault_json,
                 json.dumps({"format": FORMAT, "version": 2, "vault_id": vault_id}).encode())


def _counts(p: _Paths, bag: KeyBag) -> tuple[int, int]:
    db = Database(p.vault / "catalog.db", bag.catalog_keys()[0][1])
    try:
        return (db.execute("SELECT count(*) FROM records").fetchone()[0],
                db.execute("SELECT count(*) FROM objects").fetchone()[0])
    finally:
        db.close()


def _cleanup(p: _Paths, vault_id: str, state: dict[str, Any] | None) -> None:
    """Delete what only format 1 needed, in an order a crash cannot strand: the sealed state,
    the journal (the home is now usable), then the upgrader's and the recovery's format-1
    slots (one left behind by a crash is deleted at its owner's next unlock:
    `drop_stale_format1`)."""
    _remove(p.work / "state.sealed")
    p.journal.unlink(missing_ok=True)
    fsync_dir(p.work)
    v1 = Keyslots(p.keys, vault_id)
    names = ["\x00recovery"] + ([state["upgrader"]] if state else [])
    for name in names:
        with contextlib.suppress(NotFound):
            v1.remove(name)
    shutil.rmtree(p.work, ignore_errors=True)


def drop_stale_format1(keys_dir: Path, vault_id: str, user: str) -> bool:
    """After a format-2 unlock: delete this user's format-1 slot if she has no pending keys
    (left by a crash in the upgrade's cleanup), and the format-1 recovery slot."""
    v1 = Keyslots(keys_dir, vault_id)
    dropped = False
    for name in ("\x00recovery", user):
        if name == user and has_pending(keys_dir, vault_id, user):
            continue
        if v1.path(name).exists():
            v1.remove(name)
            dropped = True
    return dropped


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


# ------------------------------------------------------------------------------ enrolment
def _enrol_key(vrk: bytes) -> bytes:
    return derive(vrk, LABEL_ENROLMENT)


def pending_path(keys_dir: Path, vault_id: str, user: str) -> Path:
    return Path(keys_dir) / f"{member_id(vault_id, user)}.pending"


def _write_pending(keys_dir: Path, vrk: bytes, keys: UserKeys) -> None:
    blob = seal(_enrol_key(vrk), keys.render(), keys.member.encode())
    write_atomic(pending_path(keys_dir, keys.vault_id, keys.name), ENROL_MAGIC + blob)


def has_pending(keys_dir: Path, vault_id: str, user: str) -> bool:
    return pending_path(keys_dir, vault_id, user).exists()


def enrol(keys_dir: Path, vault_id: str, user: str, passphrase: str, *,
          work_factor: int) -> UserKeys:
    """At a user's first login after the upgrade: open her format-1 slot, take her format-2
    keys from the pending file, write her format-2 slot under the same passphrase, then delete
    the pending file and the format-1 slot. Wrong passphrase → DecryptionFailed, nothing changes."""
    secret = normalise_passphrase(passphrase)
    vrk = Keyslots(keys_dir, vault_id).unlock(user, secret)
    path = pending_path(keys_dir, vault_id, user)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"用户“{user}”没有待领取的格式 2 密钥") from None
    if not data.startswith(ENROL_MAGIC):
        raise IntegrityError("待领取的密钥文件格式无法识别", ref=path.name)
    try:
        raw = open_sealed(_enrol_key(vrk), data[len(ENROL_MAGIC):],
                          member_id(vault_id, user).encode())
    except DecryptionFailed:
        raise IntegrityError("待领取的密钥文件无法解开（被改动或不属于该用户）", ref=path.name) from None
    keys = UserKeys.parse(raw)
    if keys.name != user or keys.vault_id != vault_id:
        raise IntegrityError("待领取的密钥不属于该用户", ref=path.name)
    KeyslotsV2(keys_dir, vault_id).write(keys, secret, work_factor=work_factor)
    Keyslots(keys_dir, vault_id).remove(user)
    _shred(path)
    return keys


def drop_pending(keys_dir: Path, vault_id: str, user: str) -> None:
    """A user removed before she enrolled: delete her pending keys and format-1 slot."""
    _shred(pending_path(keys_dir, vault_id, user))
    with contextlib.suppress(NotFound):
        Keyslots(keys_dir, vault_id).remove(user)


def _shred(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        overwrite_unlink(path)
        fsync_dir(path.parent)
