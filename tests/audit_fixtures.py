"""Shared fixtures for the audit tests: fixed keys, a settable clock, a deterministic random
source, and a small station (head, archivist, social worker, deputy) with its signed log."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from archive.audit.log import AuditLog
from archive.crypto.age import X25519Identity
from archive.crypto.ed25519 import SigningKey

VAULT = "0123456789abcdef0123456789abcdef"
T0 = datetime(2026, 11, 28, 7, 21, 40, tzinfo=UTC)
STATION_SEED = bytes(range(64, 96))
USERS = {  # name -> (Ed25519 seed, role)
    "张三": (bytes(range(32)), "head"),
    "李四": (bytes(range(1, 33)), "archivist"),
    "王五": (bytes(range(2, 34)), "social_worker"),
    "赵六": (bytes(range(3, 35)), "deputy"),
}
AUDIT_ID = X25519Identity.from_secret_bytes(bytes(range(100, 132)))  # audit-details compartment


def identity_of(name: str) -> X25519Identity:
    """A user's X25519 identity (deterministic, for tests)."""
    return X25519Identity.from_secret_bytes(hashlib.sha256(b"x25519/" + name.encode()).digest())


def pub_of(name: str) -> bytes:
    return SigningKey(USERS[name][0]).public


class Clock:
    """A settable fixed clock."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def counter_random() -> Callable[[int], bytes]:
    """Deterministic random bytes (SHA-256 of a counter), for byte-identical golden files."""
    state = {"n": 0}

    def rand(size: int) -> bytes:
        out = b""
        while len(out) < size:
            state["n"] += 1
            out += hashlib.sha256(state["n"].to_bytes(8, "big")).digest()
        return out[:size]

    return rand


class Station:
    """A log created by 张三 (head) with 李四, 王五 and 赵六 added by signed key entries."""

    def __init__(self, root: Path, *, clock: Clock | None = None,
                 random: Callable[[int], bytes] | None = None, add: tuple[str, ...] = ("李四", "王五", "赵六"),
                 threads: int = 1) -> None:
        self.dir = root / "audit"
        self.clock = clock or Clock()
        self.random = random
        self.threads = threads
        kw = {"random": random} if random else {}
        self.head_log = AuditLog.create(self.dir, vault_id=VAULT, station_signer=STATION_SEED,
                                        signer=("张三", USERS["张三"][0]), clock=self.clock,
                                        detail_recipients=[AUDIT_ID.recipient()],
                                        detail_identities=[AUDIT_ID], **kw)
        self.head_log.threads = threads
        for name in add:
            self.head_log.key_entry("user.add", name, role="head", station_signer=STATION_SEED,
                                    grant=USERS[name][1], pub=pub_of(name))

    def log(self, name: str, *, details: bool = False) -> AuditLog:
        kw = {"random": self.random} if self.random else {}
        return AuditLog(self.dir, vault_id=VAULT, signer=(name, USERS[name][0]), clock=self.clock,
                        detail_recipients=[AUDIT_ID.recipient()],
                        detail_identities=[AUDIT_ID] if details else [], threads=self.threads, **kw)

    def act(self, name: str, action: str, ref: str | None = None, **detail: object) -> int:
        return self.log(name).append(actor=name, role=USERS[name][1], action=action, ref=ref,
                                     detail=dict(detail) or None)

    def keyless(self) -> AuditLog:
        return AuditLog(self.dir, vault_id=VAULT, clock=self.clock)

    @property
    def path(self) -> Path:
        return self.dir / "log.jsonl"

    def lines(self) -> list[bytes]:
        return self.path.read_bytes().split(b"\n")[:-1]

    def write_lines(self, lines: list[bytes]) -> None:
        self.path.write_bytes(b"".join(x + b"\n" for x in lines))
