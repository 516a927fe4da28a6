"""The kernel: what every concern needs, and nothing more.

One unlocked user, the station clock, the writer lock, the catalogue and its tables, the object
store, the audit log, `authorize` (the only maker of grants) and the plaintext door. Services
are built over a kernel; they never reach keys or decryption except through it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from archive.audit.log import AuditLog, checkpoint_due, station_verifier_key
from archive.audit.monitor import Monitor, MonitorReport, seen_path
from archive.audit.session import AuditKeys, close_session, open_session
from archive.catalog.flags import Flags
from archive.catalog.holds import Holds
from archive.catalog.records import Record, Records
from archive.catalog.users import User, Users
from archive.clock import Clock, StationClock
from archive.errors import AccessDenied, ArchiveError, IntegrityError
from archive.fs.filelock import FileLock
from archive.host.memory import forbid_core_dumps
from archive.kernel.door import _MINT, Grant, PlaintextDoor, mint_grant
from archive.kernel.home import HomePaths
from archive.kernel.keys import StationKeys
from archive.kernel.station import StationProfile, load_station
from archive.policy.rules import Actor, RecordFacts, decide
from archive.vault import lifecycle, revocation
from archive.vault.compartments import RECORD_COMPARTMENTS
from archive.vault.keyring2 import station_seed
from archive.vault.keyslots import DEFAULT_WORK_FACTOR
from archive.vault.objectkeys import ObjectKeysV2
from archive.vault.objects import ObjectStore
from archive.vault.sealed_catalogue import RecordSealing, SealedCatalogue

# Grants that may move every object identity to a new epoch.
_ROTATION_ACTIONS = frozenset({"keys.rotate", "disposal.execute"})


class Kernel:
    """An unlocked station for one user. Build with `archive.app.Archive`, not directly."""

    def __init__(self, home: HomePaths, *, vault_id: str, keys: StationKeys, user: User | str,
                 clock: Clock, lock_timeout: float = 30.0,
                 kdf_work_factor: int = DEFAULT_WORK_FACTOR) -> None:
        forbid_core_dumps()  # this process holds keys and decrypted pages from here on
        self.home = home
        self.vault_id = vault_id
        self.keys = keys
        self.clock = StationClock(clock)
        self.kdf_work_factor = kdf_work_factor
        self.station: StationProfile = load_station(home.station_toml)
        self.writer_lock = FileLock(home.lock, timeout=lock_timeout, what="站点档案库")
        if keys.catalogue_behind():  # a re-key a crash interrupted: finish it under the lock
            with self.writer_lock:
                self.db = keys.open_catalogue()
        else:
            self.db = keys.open_catalogue()
        SealedCatalogue.ensure_indexes(self.db)
        self.records = Records(self.db, RecordSealing(keys.sealer, keys.household_key))
        self.users = Users(self.db)
        self.holds = Holds(self.db)
        self.flags = Flags(self.db)
        self.user: User = user if isinstance(user, User) else self.users.get(user)
        self.object_keys = ObjectKeysV2(self.db, keys.ring)
        self.objects = ObjectStore(home.vault)
        # the signed audit log (format 2): this user's keys, the monitor check at unlock
        self.audit_keys: AuditKeys = replace(AuditKeys.from_bag(keys.bag), role=self.user.role)
        self.audit: AuditLog
        self.seen: MonitorReport  # this user's consistency check at unlock
        self.audit, self.seen = open_session(home.audit, vault_id, self.audit_keys,
                                             self.clock.now, checkpoint_when_due=False)
        self.door = PlaintextDoor(self)
        self._recover_interrupted()
        self.sync_station_key()
        if self.seen.due and self.can_checkpoint():
            self.checkpoint()

    def close(self) -> None:
        close_session(self.audit, self.audit_keys)
        self.objects.close()
        self.db.close()

    # ----------------------------------------------------------------- audit keys
    def can_checkpoint(self) -> bool:
        """Whether this user holds the station key (head, deputy, recovery)."""
        return self.audit_keys.station_seed is not None

    def checkpoint_due(self) -> bool:
        """Whether entries older than a day are covered by no checkpoint (the head's page)."""
        head = self.audit.head
        return head is not None and checkpoint_due(head, self.clock.now())

    def checkpoint(self, *, export: bool = False) -> str:
        """Sign a checkpoint over the whole log with the station key (AccessDenied for users
        without it). Costs the lines written since this session's last look."""
        seed = self.audit_keys.station_seed
        if seed is None:
            raise AccessDenied("只有站长、副站长或恢复码持有站点签名密钥，不能签发检查点")
        note = self.audit.checkpoint(station_signer=seed, export=export)
        self.seen = replace(self.seen, checkpoint=self.audit.head.cp_size if self.audit.head else 0)
        return note

    def log_key(self, action: str, ref: str | None = None, /, *, grant: str | None = None,
                pub: bytes | None = None, **detail: Any) -> int:
        """A key entry (user.add, user.role, user.remove, user.key) signed by this user and by
        the station key: how users' keys and roles enter the log."""
        seed = self.audit_keys.station_seed
        if seed is None:
            raise AccessDenied("只有站长、副站长或恢复码持有站点签名密钥，不能管理用户密钥")
        return self.audit.key_entry(action, ref, role=self.user.role, station_signer=seed,
                                    grant=grant, pub=pub, detail=detail or None)

    def seed_monitor(self, user_keys: Any) -> None:
        """Give a user this session's verified head as her first last-seen state (at user add
        or key reset), so her first unlock reads only what is written after. `user_keys` is
        her archive.vault.userkeys.UserKeys."""
        Monitor.seed(self.audit.sync(), seen_path(self.home.audit, user_keys.member),
                     user=user_keys.name, vault_id=self.vault_id, seed=user_keys.signing_seed,
                     recipient=user_keys.recipient)

    def sync_station_key(self) -> None:
        """After the station compartment rotated (a head or deputy removed, a crash between
        rotation and log): record the new station key in the log, signed by the old one."""
        bag = self.keys.bag
        if not bag.holds("station"):
            return
        current = bag.station_seed()
        head = self.audit.sync()
        in_log = head.station_key_at(head.size)
        if station_verifier_key(self.vault_id, current) == in_log:
            self.audit_keys = replace(self.audit_keys, station_seed=current)
            return
        old = next((sd for sd in (station_seed(i) for i in bag.identities("station"))
                    if station_verifier_key(self.vault_id, sd) == in_log), None)
        if old is None:
            raise IntegrityError("审计日志中的站点密钥不是本用户持有的任何一代站点密钥：日志或密钥环被替换")
        self.audit.key_entry("station.key", role=self.user.role, station_signer=old,
                             new_station_signer=current)
        self.audit_keys = replace(self.audit_keys, station_seed=current)

    # ----------------------------------------------------------------- policy and audit
    def facts(self, rec: Record, *, held: bool | None = None) -> RecordFacts:
        """What the policy needs to know about a record (`held`: known by the caller, e.g.
        False for a record filed in the same transaction; else looked up)."""
        if held is None:
            held = self.holds.active(rec.id) is not None
        return _facts(rec, held=held)

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

    def visible(self, action: str, records: Iterable[Record]) -> list[Record]:
        """The records `action` is allowed on, in order, without logging: `may` for a whole
        list, with the holds read once and the (pure) policy asked once per distinct set of
        facts instead of once per record."""
        held = self.holds.held_ids()
        actor = Actor(self.user.name, self.user.role)
        answers: dict[RecordFacts, bool] = {}
        out = []
        for rec in records:
            f = _facts(rec, held=rec.id in held)
            ok = answers.get(f)
            if ok is None:
                ok = answers[f] = decide(actor, action, f).allowed
            if ok:
                out.append(rec)
        return out

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
    def rotate_epoch(self, grant: Grant, *, compartments: list[str] | None = None) -> int:
        """New epochs for every record compartment and the catalogue (or `compartments`),
        wrapped to their current members; the catalogue is re-keyed. Older epochs stay
        reachable to members until `rewrap`. Needs a rotation grant and the station key.
        Returns the catalogue's new epoch."""
        if not isinstance(grant, Grant) or grant.action not in _ROTATION_ACTIONS:
            raise AccessDenied("轮换密钥须经授权（密钥轮换或执行销毁）")
        with self.writer_lock:
            self.log("keys.rotate.begin", None)
            lifecycle.rotate(self.keys.files, self.keys.bag, self.db, compartments)
            self.sync_station_key()
            self.log("keys.rotate", None,
                     epochs={c: self.keys.ring.current(c) for c in self.keys.ring.compartments})
        return self.keys.ring.current("catalogue")

    def rewrap(self, grant: Grant, *, compartments: list[str] | None = None) -> dict[str, int]:
        """`--rewrap`: every live object identity and sealed field of the record compartments
        moves to the current epoch, then the older epochs are erased from the keyring. Call
        after anything else keyed by an older epoch (search indexes) was re-keyed."""
        if not isinstance(grant, Grant) or grant.action not in _ROTATION_ACTIONS:
            raise AccessDenied("轮换密钥须经授权（密钥轮换或执行销毁）")
        with self.writer_lock:
            self.log("keys.rewrap.begin", None)
            counts = revocation.rewrap(self.db, self.keys.bag, compartments)
            self.keys.save_ring()
            self.log("keys.rewrap", None, rewrapped=counts)
        return counts

    def shred(self, grant: Grant, compartments: list[str]) -> list[str]:
        """After destructions in `compartments`: rotate and re-wrap each so no key the station
        still holds opens a destroyed identity from an older catalogue copy. A user without the
        compartment or the station key (the archivist) leaves it as a key task for the next
        head/deputy/recovery unlock. Returns the compartments left pending."""
        if not isinstance(grant, Grant) or grant.action not in _ROTATION_ACTIONS:
            raise AccessDenied("轮换密钥须经授权（密钥轮换或执行销毁）")
        pending = []
        with self.writer_lock:
            for comp in sorted(set(compartments)):
                if self.keys.bag.holds(comp) and self.keys.bag.holds("station"):
                    revocation.shred(self.db, self.keys.bag, comp)
                    self.keys.save_ring()
                    self.log("keys.shred", None, compartment=comp)
                else:
                    with self.db.transaction():
                        SealedCatalogue(self.db).request_key_task(
                            comp, revocation.TASK_ROTATE_REWRAP, when=self.clock.iso(),
                            by=self.user.name)
                    self.log("keys.shred.pending", None, compartment=comp)
                    pending.append(comp)
        return pending

    def _settle_sealed_fields(self) -> None:
        """Records a non-member filed into a compartment this user holds carry public-key
        sealed fields (8× slower to list): re-seal them symmetrically now. Costs one count
        query per compartment when there is nothing to do."""
        sc = SealedCatalogue(self.db)
        todo = [c for c in RECORD_COMPARTMENTS if self.keys.bag.holds(c)
                and sc.unsettled(c, self.keys.ring.current(c))]
        if not todo:
            return
        with self.writer_lock, self.db.transaction():
            for comp in todo:
                sc.reseal(self.keys.sealer, comp, only_unsettled=True)

    # ----------------------------------------------------------------- start-up
    def _recover_interrupted(self) -> None:
        """Finish what a crash interrupted or others left: publish staged objects the catalogue
        knows; run key tasks (shredding after a non-member's destruction) if this user can."""
        if self.objects.leftovers():
            with self.writer_lock:
                self.objects.recover(self.object_keys.known)
        self._settle_sealed_fields()
        if revocation.pending_tasks(self.db, self.keys.bag):
            with self.writer_lock:
                for comp in lifecycle.run_key_tasks(self.keys.files, self.keys.bag, self.db):
                    self.log("keys.shred.resumed", None, compartment=comp)


def _facts(rec: Record, *, held: bool) -> RecordFacts:
    return RecordFacts(
        category=rec.cls, responsible=rec.responsible or None, filed_by=rec.filed_by or None,
        precious=rec.precious,
        secret=bool(rec.secrecy), held=held, destroyed=rec.status == "destroyed")
