"""The audit log as one unlocked session uses it (format 2): what the kernel calls at unlock,
on a failed unlock, and at close. Everything is passed in; nothing here knows the keyring.

    keys = AuditKeys.from_bag(bag)                  # the format-2 key bag (archive/vault/keybag.py)
    log, seen = open_session(home.audit, vault_id, keys, clock)   # monitor check (exit 8 on tampering)
    ... log.append(actor=keys.user, role=keys.role, ...)           # signed with the user's key
    close_session(log, keys)                          # remember the user's own entries too
    record_failed_unlock(home.audit, vault_id, "?" or name, clock)  # keyless, unsigned kind
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.audit.log import AuditLog
from archive.audit.monitor import Monitor, MonitorReport, seen_path
from archive.crypto.age import X25519Identity, X25519Recipient
from archive.errors import AccessDenied, ArchiveError

LEGACY_DETAIL_KEY = "format1_audit_detail_key"  # name of the sealed format-1 secret in the keyring


@dataclass(frozen=True)
class AuditKeys:
    """What the audit log needs from an unlocked user (never logged, never written)."""

    user: str
    role: str
    seed: bytes  # the user's Ed25519 seed: signs her entries and her monitor state
    identity: X25519Identity  # the user's own identity: her monitor state is sealed to it
    member: str  # the user's hashed member id: names her state file
    recipients: Sequence[X25519Recipient]  # the audit compartment's public key(s): seal details
    identities: Sequence[X25519Identity] = ()  # audit compartment secrets (head, authority, recovery)
    station_seed: bytes | None = None  # head, deputy, recovery: checkpoints and key entries
    legacy_detail_key: bytes | None = None  # opens format-1 details (audit compartment members)

    def __repr__(self) -> str:
        return f"AuditKeys(user={self.user!r}, role={self.role!r}, station={self.station_seed is not None})"

    @classmethod
    def from_bag(cls, bag: Any) -> AuditKeys:
        """From the format-2 key bag: `bag.signer`, `bag.role`, `bag.user.identity`,
        `bag.user.member`, `bag.audit_recipients()`, `bag.audit_identities()`,
        `bag.station_seed()` (AccessDenied for non-holders), `bag.legacy_secret(name)`."""
        name, seed = bag.signer
        try:
            station: bytes | None = bag.station_seed()
        except AccessDenied:
            station = None
        return cls(user=name, role=bag.role, seed=seed, identity=bag.user.identity,
                   member=bag.user.member, recipients=list(bag.audit_recipients()),
                   identities=list(bag.audit_identities()), station_seed=station,
                   legacy_detail_key=bag.legacy_secret(LEGACY_DETAIL_KEY))


def session_log(audit_dir: Path, vault_id: str, keys: AuditKeys,
                clock: Callable[[], datetime]) -> AuditLog:
    """The log as `keys.user` writes and reads it (no check yet)."""
    return AuditLog(audit_dir, vault_id=vault_id, signer=(keys.user, keys.seed),
                    detail_recipients=keys.recipients, detail_identities=keys.identities,
                    clock=clock, legacy_detail_key=keys.legacy_detail_key)


def open_session(audit_dir: Path, vault_id: str, keys: AuditKeys,
                 clock: Callable[[], datetime], *,
                 checkpoint_when_due: bool = True) -> tuple[AuditLog, MonitorReport]:
    """At unlock: check the log against what this user saw last (raises an AuditTampered, exit 8,
    naming truncation, rewrite or deleted checkpoints), then, if a checkpoint is due and the user
    holds the station key, sign one over the verified head. Cost: the lines since her last check."""
    log = session_log(audit_dir, vault_id, keys, clock)
    state = seen_path(audit_dir, keys.member)
    report = Monitor.check_and_update(log, keys.identity, state, now=clock())
    if checkpoint_when_due and report.due and keys.station_seed is not None:
        log.checkpoint(station_signer=keys.station_seed)
        report = Monitor.check_and_update(log, keys.identity, state, now=clock())
    return log, report


def close_session(log: AuditLog, keys: AuditKeys) -> MonitorReport | None:
    """At close: remember the log including this session's own entries (best effort: a failure
    here is reported at the next unlock, not raised into a command that already succeeded)."""
    if log.head is None:
        return None
    with contextlib.suppress(ArchiveError, OSError):
        return Monitor.check_and_update(log, keys.identity, seen_path(log.dir, keys.member))
    return None


def log_format(audit_dir: Path) -> int:
    """1 or 2 from the log's first bytes (0 if there is no log yet)."""
    try:
        with open(Path(audit_dir) / "log.jsonl", "rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        return 0
    return 2 if head.startswith(b'{"v":2,') else 1 if head.startswith(b'{"v":1,') else 0


def create_log(audit_dir: Path, vault_id: str, keys: AuditKeys, clock: Callable[[], datetime], *,
               members: Sequence[tuple[str, str, bytes]] = ()) -> AuditLog:
    """A new home's log: genesis by the first head (station key and her key), then a `user.add`
    for each (name, role, Ed25519 public key) in `members` (e.g. the recovery slot's account),
    and her monitor state, so her first unlock reads nothing."""
    if keys.station_seed is None:
        raise AccessDenied("创建审计日志需要站点签名密钥")
    log = AuditLog.create(audit_dir, vault_id=vault_id, station_signer=keys.station_seed,
                          signer=(keys.user, keys.seed), role=keys.role, clock=clock,
                          detail_recipients=keys.recipients, detail_identities=keys.identities)
    for name, role, pub in members:
        log.key_entry("user.add", name, role=keys.role, station_signer=keys.station_seed,
                      grant=role, pub=pub)
    Monitor.check_and_update(log, keys.identity, seen_path(audit_dir, keys.member), now=clock())
    return log


def upgrade_log(audit_dir: Path, vault_id: str, keys: AuditKeys, clock: Callable[[], datetime], *,
                users: Sequence[tuple[str, str, bytes]] = ()) -> AuditLog:
    """`sgz upgrade`: the `upgrade` entry over the format-1 log (signed by the new station key
    and the upgrader), then a `user.add` for each (name, role, Ed25519 public key) not yet in
    the log, then the upgrader's monitor state. Idempotent, so a resumed upgrade calls it again."""
    if keys.station_seed is None:
        raise AccessDenied("升级审计日志需要站点签名密钥")
    log = AuditLog.upgrade(audit_dir, vault_id=vault_id, station_signer=keys.station_seed,
                           signer=(keys.user, keys.seed), role=keys.role, clock=clock,
                           detail_recipients=keys.recipients, detail_identities=keys.identities)
    known = log.sync().users
    for name, role, pub in users:
        if name not in known:
            log.key_entry("user.add", name, role=keys.role, station_signer=keys.station_seed,
                          grant=role, pub=pub)
    Monitor.check_and_update(log, keys.identity, seen_path(audit_dir, keys.member), now=clock())
    return log


def record_failed_unlock(audit_dir: Path, vault_id: str, who: str,
                         clock: Callable[[], datetime]) -> None:
    """A failed login, with no key: the unsigned kind (`auth.failed`). Never the passphrase;
    `who` is "?" unless the name matched a keyslot."""
    with contextlib.suppress(ArchiveError, OSError):
        AuditLog(audit_dir, vault_id=vault_id, clock=clock).append_unsigned(actor=who)
