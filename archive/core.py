"""`Archive`: one station, unlocked by one user. The CLI and the web UI call only this.

It ties the concerns together (vault, catalogue, audit, search, docgen, access, retention) and
owns the order of operations that makes them safe: authorise → audit → touch plaintext.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.access.workflow import AccessWorkflowMixin
from archive.audit.log import AuditLog
from archive.catalog.db import Database
from archive.catalog.records import Records
from archive.catalog.users import User, Users, check_user_name, parse_role
from archive.crypto.keys import (
    LABEL_AUDIT_DETAIL,
    LABEL_AUDIT_SIGNING,
    LABEL_CATALOG,
    LABEL_FINGERPRINT,
    derive,
    random_key,
)
from archive.errors import AccessDenied, ArchiveError, Conflict, DecryptionFailed, ValidationError
from archive.filelock import FileLock
from archive.filing import FilingMixin
from archive.home import HomePaths
from archive.maintenance import MaintenanceMixin
from archive.retention.workflow import RetentionMixin
from archive.search_workflow import SearchMixin
from archive.station import EXAMPLE_TOML, StationProfile, load_station, parse_station
from archive.vault.identities import ObjectKeys
from archive.vault.keyring import Keyring, load_keyring, save_keyring
from archive.vault.keyslots import (
    DEFAULT_WORK_FACTOR,
    Keyslots,
    new_recovery_code,
    normalise_passphrase,
)
from archive.vault.objects import ObjectStore

Clock = Callable[[], datetime]
MIN_PASSPHRASE = 8


def utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_new_passphrase(passphrase: str) -> bytes:
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValidationError(f"口令太短：至少 {MIN_PASSPHRASE} 个字符")
    return normalise_passphrase(passphrase)


class Archive(SearchMixin, MaintenanceMixin, AccessWorkflowMixin, RetentionMixin, FilingMixin):
    """An unlocked station archive. Create with `Archive.init`, `unlock` or `unlock_recovery`."""

    def __init__(
        self,
        home: HomePaths,
        *,
        vault_id: str,
        vrk: bytes,
        user: User | str,
        clock: Clock,
        lock_timeout: float = 30.0,
        kdf_work_factor: int = DEFAULT_WORK_FACTOR,
    ) -> None:
        self.home = home
        self.vault_id = vault_id
        self._vrk = vrk
        self.clock = clock
        self.kdf_work_factor = kdf_work_factor
        self.station: StationProfile = load_station(home.station_toml)
        self.writer_lock = FileLock(home.lock, timeout=lock_timeout, what="站点档案库")
        self.keyslots = Keyslots(home.keys, vault_id)
        self.ring: Keyring = load_keyring(home.keyring, vrk, vault_id)
        self.db = Database(home.catalog, derive(vrk, LABEL_CATALOG))
        self.records = Records(self.db)
        self.users = Users(self.db)
        self.user: User = user if isinstance(user, User) else self.users.get(user)
        self.object_keys = ObjectKeys(self.db, self.ring)
        self.objects = ObjectStore(home.vault)
        self.fingerprint_key = derive(vrk, LABEL_FINGERPRINT)
        self.audit = AuditLog(
            home.audit,
            vault_id=vault_id,
            detail_key=derive(vrk, LABEL_AUDIT_DETAIL),
            signing_seed=derive(vrk, LABEL_AUDIT_SIGNING),
            clock=clock,
        )
        self._recover_interrupted()
        self.maybe_checkpoint()  # daily signed checkpoint at unlock (archive/maintenance.py)

    # ----------------------------------------------------------------- lifecycle
    @classmethod
    def init(
        cls,
        root: Path,
        *,
        user: str,
        role: str,
        passphrase: str,
        station_text: str | None = None,
        clock: Clock = utc_now,
        kdf_work_factor: int = DEFAULT_WORK_FACTOR,
    ) -> tuple[Archive, str]:
        """Create a new station home; return the unlocked archive and the one-time recovery code."""
        home = HomePaths(Path(root))
        if home.is_initialised():
            raise Conflict(f"{home.root} 已经是一个 sgz 站点目录，不能重复初始化")
        check_user_name(user)
        role = parse_role(role)
        secret = check_new_passphrase(passphrase)
        text = station_text if station_text is not None else EXAMPLE_TOML
        try:
            parse_station(tomllib.loads(text), "station.toml")
        except tomllib.TOMLDecodeError as exc:
            raise ValidationError(f"站点配置不是有效的 TOML：{exc}") from None
        leftovers = sorted(p.name for p in home.vault.iterdir() if p.name != "README.md") \
            if home.vault.exists() else []
        if leftovers:
            raise Conflict(
                f"{home.vault} 中已有文件（{'、'.join(leftovers[:5])}），"
                "可能是未完成的初始化；请换一个空目录，或确认无用后删除 vault/ 再试"
            )
        home.root.mkdir(parents=True, exist_ok=True)
        for d in (home.vault, home.keys, home.audit, home.indexes):
            d.mkdir(parents=True, exist_ok=True)
        ObjectStore(home.vault).create_dirs()
        if not home.station_toml.exists() or station_text is not None:
            home.station_toml.write_text(text, encoding="utf-8")
        vault_id = os.urandom(16).hex()
        vrk = random_key()
        slots = Keyslots(home.keys, vault_id)
        slots.write(user, secret, vrk, work_factor=kdf_work_factor)
        code = new_recovery_code()
        slots.write_recovery(code, vrk, work_factor=kdf_work_factor)
        save_keyring(home.keyring, Keyring.new(), vrk, vault_id)
        db = Database(home.catalog, derive(vrk, LABEL_CATALOG), create=True)
        now = _iso(clock())
        with db.transaction():
            Users(db).add(user, role, display="", when=now, by=user)
        Records(db)
        db.close()
        AuditLog.create(
            home.audit,
            vault_id=vault_id,
            detail_key=derive(vrk, LABEL_AUDIT_DETAIL),
            signing_seed=derive(vrk, LABEL_AUDIT_SIGNING),
            clock=clock,
            actor=user,
            role=role,
        )
        home.write_vault_json(vault_id)  # last: a crash before this leaves no usable half-home
        arc = cls(home, vault_id=vault_id, vrk=vrk, user=user, clock=clock,
                  kdf_work_factor=kdf_work_factor)
        arc.log("vault.init", None, station=arc.station.name, slots=["user", "recovery"])
        return arc, code

    @classmethod
    def unlock(
        cls, root: Path, *, user: str, passphrase: str, clock: Clock = utc_now, **kw: Any
    ) -> Archive:
        """Log in: unlock `user`'s keyslot. A failed attempt is audited (without any secret)."""
        home = HomePaths(Path(root))
        vault_id = home.read_vault_id()
        try:
            vrk = Keyslots(home.keys, vault_id).unlock(user, normalise_passphrase(passphrase))
        except DecryptionFailed:
            _audit_failed_unlock(home, vault_id, user, clock)
            raise
        except ArchiveError:
            # no such slot: what was typed as a name may be a mistyped passphrase, so it is
            # not written to the log in clear
            _audit_failed_unlock(home, vault_id, "?", clock)
            raise
        return cls(home, vault_id=vault_id, vrk=vrk, user=user, clock=clock, **kw)

    @classmethod
    def unlock_recovery(cls, root: Path, *, code: str, clock: Clock = utc_now, **kw: Any) -> Archive:
        """Unlock with the printed recovery code; acts as a head-role `recovery` user."""
        home = HomePaths(Path(root))
        vault_id = home.read_vault_id()
        try:
            vrk = Keyslots(home.keys, vault_id).unlock_recovery(code)
        except ArchiveError:
            _audit_failed_unlock(home, vault_id, "recovery", clock)
            raise
        account = User("recovery", "head", "恢复码", True, "")
        arc = cls(home, vault_id=vault_id, vrk=vrk, user=account, clock=clock, **kw)
        arc.log("auth.recovery", None)
        return arc

    def close(self) -> None:
        self.close_search()
        self.objects.close()
        self.db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> str:
        return _iso(self.clock())

    def _recover_interrupted(self) -> None:
        """Finish what a crash interrupted: publish staged objects the catalogue knows, finish
        an epoch rotation that had begun."""
        if self.objects.leftovers():
            with self.writer_lock:
                self.objects.recover(self.object_keys.known)
        if "rotate_to" in self.ring.pending:
            with self.writer_lock:
                self._finish_rotation(self.ring.pending["rotate_to"])
                self.log("keys.rotate.resumed", None, epoch=self.ring.current)

    # ----------------------------------------------------------------- epochs
    def rotate_epoch(self) -> int:
        """New epoch key; re-wrap every live object identity; erase the old key. Crash-safe:
        the keyring records the rotation before the catalogue changes, and the next start
        finishes it. Returns the new epoch number."""
        with self.writer_lock:
            new = max(self.ring.epochs) + 1
            self.log("keys.rotate.begin", None, epoch=new)
            self.ring.epochs[new] = random_key()
            self.ring.pending["rotate_to"] = new
            save_keyring(self.home.keyring, self.ring, self._vrk, self.vault_id)
            self._finish_rotation(new)
            self.log("keys.rotate", None, epoch=new)
        return new

    def _finish_rotation(self, new: int) -> None:
        with self.db.transaction():
            self.object_keys.rewrap_all(new)
        self.db.checkpoint_truncate()  # old wrapped keys must not linger in the WAL
        self.ring.current = new
        for epoch in list(self.ring.epochs):
            if epoch != new:
                del self.ring.epochs[epoch]
        self.ring.pending.pop("rotate_to", None)
        save_keyring(self.home.keyring, self.ring, self._vrk, self.vault_id)

    # ----------------------------------------------------------------- policy and audit
    def authorize(self, action: str, record: Any = None, *, ref: str | None = None,
                  **ctx: Any) -> Any:
        """Ask the one policy module; a refusal is audited and raised with the rule's name."""
        from archive.access.policy import Actor, decide

        decision = decide(Actor(self.user.name, self.user.role), action, record, **ctx)
        if not decision.allowed:
            with contextlib.suppress(ArchiveError):
                self.log("denied", ref, action=action, rule=decision.rule)
            raise AccessDenied(f"无权执行此操作：{decision.rule}")
        return decision

    def log(self, action: str, ref: str | None = None, /, **detail: Any) -> int:
        """Append an audit entry as the current user (raises AuditUnavailable if it cannot).
        Positional-only, so a detail may itself be called `action` or `ref`."""
        return self.audit.append(
            actor=self.user.name, role=self.user.role, action=action, ref=ref, detail=detail or None
        )

    # ----------------------------------------------------------------- users
    def add_user(self, name: str, role: str, passphrase: str, *, display: str = "") -> User:
        self.authorize("user.manage")
        role = parse_role(role)
        check_user_name(name)
        secret = check_new_passphrase(passphrase)
        with self.writer_lock, self.db.transaction():
            u = self.users.add(name, role, display=display, when=self.now(), by=self.user.name)
            self.log("user.add", name, role=role)
            self.keyslots.write(name, secret, self._vrk, work_factor=self.kdf_work_factor)
        return u

    def list_users(self) -> list[User]:
        self.authorize("user.manage")
        return self.users.list()

    def remove_user(self, name: str) -> None:
        self.authorize("user.manage")
        if name == self.user.name:
            raise Conflict("不能移除当前登录的用户自己")
        with self.writer_lock, self.db.transaction():
            target = self.users.get(name)
            if target.role == "head" and self.users.count_role("head") <= 1:
                raise Conflict("不能移除唯一的站长账户；请先添加新的站长")
            self.users.remove(name, when=self.now(), by=self.user.name)
            self.log("user.remove", name, role=target.role)
            self.keyslots.remove(name)

    def change_passphrase(self, new_passphrase: str, *, user: str | None = None) -> None:
        """Re-wrap the VRK in `user`'s slot (own slot by default; others need user.manage)."""
        target = user or self.user.name
        if target != self.user.name:
            self.authorize("user.manage")
        secret = check_new_passphrase(new_passphrase)
        with self.writer_lock:
            self.users.get(target)
            self.log("user.passwd", target)
            self.keyslots.write(target, secret, self._vrk, work_factor=self.kdf_work_factor)


def _audit_failed_unlock(home: HomePaths, vault_id: str, user: str, clock: Clock) -> None:
    """Record a failed login; never the passphrase. The log needs no key to append."""
    log = AuditLog(home.audit, vault_id=vault_id, detail_key=None, signing_seed=None, clock=clock)
    with contextlib.suppress(ArchiveError):
        log.append(actor=user, role="", action="auth.failed", ref=None, detail=None)

