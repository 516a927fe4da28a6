"""The session API the kernel calls: open (monitor check, due checkpoint), close, failed unlock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from audit_fixtures import AUDIT_ID, STATION_SEED, T0, USERS, VAULT, Clock, Station, identity_of

from archive.audit.errors import LogTruncated
from archive.audit.session import (
    LEGACY_DETAIL_KEY,
    AuditKeys,
    close_session,
    open_session,
    record_failed_unlock,
)
from archive.audit.verify import verify_log
from archive.errors import AccessDenied


def keys(name: str, *, station: bool = False, details: bool = False) -> AuditKeys:
    return AuditKeys(user=name, role=USERS[name][1], seed=USERS[name][0], identity=identity_of(name),
                     member=f"m{abs(hash(name)) % 10**8:08d}", recipients=[AUDIT_ID.recipient()],
                     identities=[AUDIT_ID] if details else [],
                     station_seed=STATION_SEED if station else None)


def test_head_open_checkpoints_when_due_others_do_not(tmp_path: Path) -> None:
    st = Station(tmp_path)
    log, seen = open_session(st.dir, VAULT, keys("王五"), st.clock)
    assert seen.due and seen.checkpoint == 0 and not (st.dir / "checkpoints").exists()
    log.append(actor="王五", role="social_worker", action="search")
    log, seen = open_session(st.dir, VAULT, keys("张三", station=True), st.clock)
    assert (seen.size, seen.checkpoint, seen.unproven, seen.due) == (5, 5, 0, False)
    assert verify_log(st.dir).complete
    st.clock.now = T0 + timedelta(hours=2)
    log.append(actor="张三", role="head", action="x")
    _, seen = open_session(st.dir, VAULT, keys("张三", station=True), st.clock)
    assert (seen.checkpoint, seen.unproven, seen.due) == (5, 1, False)  # not yet a day old


def test_close_remembers_own_entries(tmp_path: Path) -> None:
    st = Station(tmp_path)
    k = keys("李四")
    log, _ = open_session(st.dir, VAULT, k, st.clock)
    log.append(actor="李四", role="archivist", action="record.file", ref="R1")
    close_session(log, k)
    st.write_lines(st.lines()[:-1])  # someone removes 李四's own entry
    with pytest.raises(LogTruncated):
        open_session(st.dir, VAULT, k, st.clock)


def test_failed_unlock_is_unsigned(tmp_path: Path) -> None:
    st = Station(tmp_path)
    record_failed_unlock(st.dir, VAULT, "?", st.clock)
    record_failed_unlock(tmp_path / "nowhere", VAULT, "?", st.clock)  # never raises
    rep = verify_log(st.dir)
    assert rep.unsigned == 1


def test_from_bag_reads_the_format2_key_bag_shape(tmp_path: Path) -> None:
    """A stand-in with the attributes archive/vault/keybag.KeyBag has (keys10)."""

    def bag(name: str, station: bool) -> SimpleNamespace:
        def station_seed() -> bytes:
            if not station:
                raise AccessDenied("只有站长、副站长或恢复码持有站点签名密钥")
            return STATION_SEED

        return SimpleNamespace(
            signer=(name, USERS[name][0]), role=USERS[name][1],
            user=SimpleNamespace(identity=identity_of(name), member="0" * 32),
            audit_recipients=lambda: [AUDIT_ID.recipient()],
            audit_identities=lambda: [AUDIT_ID] if station else [],
            station_seed=station_seed,
            legacy_secret=lambda n: b"\x01" * 32 if n == LEGACY_DETAIL_KEY and station else None)

    k = AuditKeys.from_bag(bag("王五", False))
    assert (k.user, k.role, k.station_seed, k.identities, k.legacy_detail_key) == (
        "王五", "social_worker", None, [], None)
    h = AuditKeys.from_bag(bag("张三", True))
    assert h.station_seed == STATION_SEED and h.legacy_detail_key == b"\x01" * 32
    assert "seed" not in repr(h) and STATION_SEED.hex() not in repr(h)
    st = Station(tmp_path)
    log, seen = open_session(st.dir, VAULT, h, st.clock)
    assert seen.checkpoint == 4


def test_create_log_genesis_members_and_state(tmp_path: Path) -> None:
    from archive.audit.session import create_log, log_format
    from archive.crypto.ed25519 import SigningKey

    d = tmp_path / "audit"
    assert log_format(d) == 0
    head = keys("张三", station=True)
    c = Clock()
    create_log(d, VAULT, head, c, members=[("recovery", "head", SigningKey(b"\x09" * 32).public)])
    assert log_format(d) == 2
    rep = verify_log(d)
    assert rep.users == {"张三": "head", "recovery": "head"} and rep.entries == 2
    _, seen = open_session(d, VAULT, head, c)
    assert (seen.first, seen.new_entries) == (False, 0)
    with pytest.raises(AccessDenied):
        create_log(tmp_path / "b", VAULT, keys("王五"), c)
