"""The kernel: what every concern needs, and nothing more.

One unlocked user, the station clock, the writer lock, the catalogue and its tables, the object
store, the audit log, `authorize` (the only maker of grants) and the plaintext door. Services
are built over a kernel; they never reach keys or decryption except through it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from archive.audit.log import AuditLog
from archive.audit.monitor import MonitorReport
from archive.audit.session import AuditKeys, close_session, open_session
from archive.audit.v1_log import AuditLog as V1AuditLog
from archive.audit.verify import verify_log
from archive.catalog.db import Database
from archive.catalog.flags import Flags
from archive.catalog.holds import Holds
from archive.catalog.records import Record, Records
from archive.catalog.users import User, Users
from archive.clock import Clock, StationClock
from archive.errors import AccessDenied, ArchiveError
from archive.fs.filelock import FileLock
from archive.kernel.door import _MINT, Grant, PlaintextDoor, mint_grant
from archive.kernel.home import HomePaths
from archive.kernel.keys import KeyBag
from archive.kernel.station import StationProfile, load_station
from archive.policy.rules import Actor, RecordFacts, decide
from archive.vault.identities import ObjectKeys
from archive.vault.keyslots import DEFAULT_WORK_FACTOR, Keyslots
from archive.vault.objects import ObjectStore

# Grants that may move every object identity to a new epoch.
_ROTATION_ACTIONS = frozenset({"keys.rotate", "disposal.execute"})


class Kernel:
    """An unlocked station for one user. Build with `archive.app.Archive`, not directly."""

    def __init__(self, home: HomePaths, *, vault_id: str, keys: KeyBag, user: User | str,
                 clock: Clock, lock_timeout: float = 30.0,
                 kdf_work_factor: int = DEFAULT_WORK_FACTOR) -> None:
        self.home = home
        self.vault_id = vault_id
        self.keys = keys
        self.clock = StationClock(clock)
        self.kdf_work_factor = kdf_work_factor
        self.station: StationProfile = load_station(home.station_toml)
        self.writer_lock = FileLock(home.lock, timeout=lock_timeout, what="站点档案库")
        self.keyslots = Keyslots(home.keys, vault_id)
        self.db = Database(home.catalog, keys.catalog_key)
        self.records = Records(self.db)
        self.users = Users(self.db)
        self.holds = Holds(self.db)
        self.flags = Flags(self.db)
        self.user: User = user if isinstance(user, User) else self.users.get(user)
        self.object_keys = ObjectKeys(self.db, keys.ring)
        self.objects = ObjectStore(home.vault)
        self.audit_keys: AuditKeys | None = None
        self.seen: MonitorReport | None = None  # this user's consistency check at unlock
        self.audit: AuditLog | V1AuditLog
        if hasattr(keys, "signer"):  # a format-2 key bag: per-user keys, signed log, monitor
            self.audit_keys = AuditKeys.from_bag(keys)
            self.audit, self.seen = open_session(home.audit, vault_id, self.audit_keys,
                                                 self.clock.now)
        else:  # format 1 (one root key per slot), until the home is upgraded
            self.audit = V1AuditLog(home.audit, vault_id=vault_id, detail_key=keys.audit_detail_key,
                                    signing_seed=keys.audit_signing_seed, clock=self.clock.now)
        self.door = PlaintextDoor(self)
        self._recover_interrupted()
        self._maybe_checkpoint()

    def close(self) -> None:
        if self.audit_keys is not None and isinstance(self.audit, AuditLog):
            close_session(self.audit, self.audit_keys)
        self.objects.close()
        self.db.close()

    def checkpoint(self, *, export: bool = False) -> str:
        """Sign a checkpoint over the whole log (format 2: with the station key, which only the
        head, deputy and recovery hold; AccessDenied for anyone else)."""
        if isinstance(self.audit, AuditLog):
            seed = self.audit_keys.station_seed if self.audit_keys else None
            if seed is None:
                raise AccessDenied("只有站长、副站长或恢复码持有站点签名密钥，不能签发检查点")
            return self.audit.checkpoint(station_signer=seed, export=export)
        return self.audit.checkpoint(export=export)

    # ----------------------------------------------------------------- policy and audit
    def facts(self, rec: Record) -> RecordFacts:
        """What the policy needs to know about a record."""
        return RecordFacts(
            category=rec.cls, responsible=rec.responsible or None, precious=rec.precious,
            secret=bool(rec.secrecy), held=self.holds.active(rec.id) is not None,
            destroyed=rec.status == "destroyed")

    def authorize(self, action: str, record: Record | RecordFacts | None = None, *,
                  ref: str | None = None, **ctx: Any) -> Grant:
        """Ask the policy; a refusal is audited and raised with the rule's name. The returned
        grant is the only key to the plaintext door."""
        facts = self.facts(record) if isinstance(record, Record) else record
        target = record.ref if isinstance(record, Record) else None
        if ref is None:
            ref = target
        d = decide(Actor(self.user.name, self.user.role), action, facts, **ctx)
        if not d.allowed:
            with contextlib.suppress(ArchiveError):
                self.log("denied", ref, action=action, rule=d.rule)
            raise AccessDenied(f"无权执行此操作：{d.rule}")
        return mint_grant(_MINT, action=action, ref=ref, record=target, user=self.user.name,
                          rule=d.rule, flag=bool(d.flag))

    def deny(self, action: str, rule: str, ref: str | None,
             exc: type[ArchiveError] = AccessDenied) -> None:
        """A refusal decided by a service's own state rule: logged like `authorize`'s."""
        with contextlib.suppress(ArchiveError):
            self.log("denied", ref, action=action, rule=rule)
        raise exc(f"无权执行此操作：{rule}" if exc is AccessDenied else rule)

    def may(self, action: str, rec: Record) -> bool:
        """The policy's answer without logging (for filtering lists)."""
        return decide(Actor(self.user.name, self.user.role), action, self.facts(rec)).allowed

    def log(self, action: str, ref: str | None = None, /, **detail: Any) -> int:
        """Append an audit entry as the current user (raises AuditUnavailable if it cannot).
        Positional-only, so a detail may itself be called `action` or `ref`."""
        return self.audit.append(actor=self.user.name, role=self.user.role, action=action,
                                 ref=ref, detail=detail or None)

    def flag(self, action: str, ref: str, rule: str, reason: str, audit_seq: int | None) -> int:
        """Put an event on the head's list (`sgz access flags`)."""
        with self.db.transaction():
            return self.flags.add(at=self.clock.iso(), actor=self.user.name, action=action,
                                  ref=ref, rule=rule, reason=reason, audit_seq=audit_seq)

    # ----------------------------------------------------------------- epochs
    def rotate_epoch(self, grant: Grant) -> int:
        """New epoch key; every live object identity re-wrapped; the old key erased. Needs a
        rotation grant (keys.rotate or disposal.execute). Crash-safe: the keyring records the
        rotation first and the next unlock finishes it. Returns the new epoch number."""
        if not isinstance(grant, Grant) or grant.action not in _ROTATION_ACTIONS:
            raise AccessDenied("轮换密钥须经授权（密钥轮换或执行销毁）")
        with self.writer_lock:
            self.log("keys.rotate.begin", None)
            new = self.keys.begin_rotation()
            self._finish_rotation(new)
            self.log("keys.rotate", None, epoch=new)
        return new

    def _finish_rotation(self, new: int) -> None:
        with self.db.transaction():
            self.object_keys.rewrap_all(new)
        self.db.checkpoint_truncate()  # old wrapped keys must not linger in the WAL
        self.keys.finish_rotation(new)

    # ----------------------------------------------------------------- start-up
    def _recover_interrupted(self) -> None:
        """Finish what a crash interrupted: publish staged objects the catalogue knows, finish
        an epoch rotation that had begun."""
        if self.objects.leftovers():
            with self.writer_lock:
                self.objects.recover(self.object_keys.known)
        pending = self.keys.ring.pending.get("rotate_to")
        if pending is not None:
            with self.writer_lock:
                self._finish_rotation(pending)
                self.log("keys.rotate.resumed", None, epoch=self.keys.ring.current)

    def _maybe_checkpoint(self) -> None:
        """At unlock: sign a checkpoint if one is due (daily), never over a log that fails
        verification, and never let it block the login (`sgz check` reports such problems)."""
        if not isinstance(self.audit, V1AuditLog):
            return  # format 2: open_session checkpoints over the verified head when due
        with contextlib.suppress(ArchiveError, OSError):
            if self.audit.checkpoint_due():
                verify_log(self.home.audit)
                self.audit.checkpoint()
