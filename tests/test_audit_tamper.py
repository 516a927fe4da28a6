"""Tamper tests on real signed logs: each kind of tampering raises its exact error; every byte
flip in a checkpointed log and in a checkpoint is caught."""

from __future__ import annotations

import base64
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from audit_fixtures import STATION_SEED, T0, USERS, Station

from archive.audit.errors import (
    AuditTampered,
    BadGenesis,
    BadKeyEntry,
    BatchBroken,
    ChainBroken,
    CheckpointConflict,
    CheckpointInvalid,
    CheckpointUnknownKey,
    EntryForged,
    LineCorrupt,
    LinesReordered,
    LogForked,
    LogTruncated,
    RoleMismatch,
    SeqGap,
    TornLine,
    UnknownActor,
)
from archive.audit.line import DOMAIN_ENTRY, DOMAIN_STATION, Fields, close, prefix, with_ssig
from archive.audit.merkle import leaf_hash
from archive.audit.note import Signer
from archive.audit.verify import verify_log
from archive.crypto.ed25519 import SigningKey
from archive.errors import IntegrityError


def build(root: Path, n: int = 4, *, variant: str = "", checkpoint: bool = True) -> Station:
    """Genesis, 3 user.add, then `n` entries by 李四 (one a batch of two); `variant` changes entry 2."""
    st = Station(root)
    ticks = iter(range(1, 10_000))
    for i in range(n):
        st.clock.now = T0 + timedelta(minutes=next(ticks))
        if i == 1:
            st.log("李四").append_many([("李四", "archivist", "record.file", f"FW-{i}{variant}", None),
                                      ("李四", "archivist", "record.get", f"FW-{i}", {"reason": f"查阅 {i}"})])
        else:
            st.act("李四", "record.get", f"Z001-WS·2026-D30-FW-{i:04d}", reason=f"查阅 {i}")
    if checkpoint:
        st.head_log.checkpoint(station_signer=STATION_SEED)
    return st


@pytest.fixture()
def st(tmp_path: Path) -> Station:
    return build(tmp_path)  # lines 1-4 keys, 5, 6-7 (batch), 8, 9; checkpoint at 9


def expect(exc: type[AuditTampered], st: Station, ref: str | None = None, **kw: object) -> None:
    with pytest.raises(exc) as ei:
        verify_log(st.dir, threads=1, **kw)  # type: ignore[arg-type]
    assert ei.value.exit_code == 8
    assert ei.value.msg  # a Chinese message naming the problem
    if ref is not None:
        assert ei.value.ref == ref, ei.value.msg


def forge(st: Station, after: int, actor: str, role: str, action: str, *, key: str | None = None,
          seq: int | None = None, sig: bool = True) -> bytes:
    """A well-formed line chained after line index `after`, signed with `key`'s key (or not)."""
    prev = st.lines()[after]
    f = Fields(actor=actor, role=role, action=action)
    pre = prefix(after + 1 if seq is None else seq, "2026-11-28T09:00:00Z", leaf_hash(prev).hex(), f)
    return close(pre, SigningKey(USERS[key or actor][0]).sign(DOMAIN_ENTRY + pre) if sig else None)


def test_clean_log_verifies(st: Station) -> None:
    rep = verify_log(st.dir)
    assert (rep.entries, rep.last_seq, rep.checkpoints_checked, rep.uncovered, rep.unproven) == (9, 8, 1, 9, 0)
    assert rep.complete


def test_edited_byte_in_signed_line_breaks_its_signature(st: Station) -> None:
    ls = st.lines()
    ls[4] = ls[4].replace(b"FW-0000", b"FW-0009")
    st.write_lines(ls)
    expect(EntryForged, st, ref="5")


def test_edited_batch_line_breaks_chain(st: Station) -> None:
    ls = st.lines()
    ls[5] = ls[5].replace(b"FW-1", b"FW-7")
    st.write_lines(ls)
    expect(ChainBroken, st, ref="7")


def test_edited_last_line_fails_signature_and_checkpoint(st: Station) -> None:
    ls = st.lines()
    ls[-1] = ls[-1].replace(b"FW-0003", b"FW-0004")
    st.write_lines(ls)
    expect(EntryForged, st, ref="9")


def test_edited_byte_breaking_json(st: Station) -> None:
    ls = st.lines()
    ls[6] = ls[6][:-1]
    st.write_lines(ls)
    expect(LineCorrupt, st, ref="7")


def test_non_canonical_line(st: Station) -> None:
    ls = st.lines()
    ls[6] = json.dumps(json.loads(ls[6]), ensure_ascii=True, separators=(",", ":")).encode()
    st.write_lines(ls)
    expect(LineCorrupt, st, ref="7")


def test_deleted_line_is_a_seq_gap(st: Station) -> None:
    ls = st.lines()
    del ls[4]
    st.write_lines(ls)
    expect(SeqGap, st, ref="5")


def test_reordered_and_duplicated_lines(st: Station, tmp_path: Path) -> None:
    ls = st.lines()
    st.write_lines(ls[:4] + [ls[7], ls[4], ls[5], ls[6], ls[8]])
    expect(SeqGap, st, ref="5")
    st.write_lines(ls[:5] + [ls[4]] + ls[5:])
    expect(LinesReordered, st, ref="6")


def test_removed_tail_is_shorter_than_checkpoint(st: Station) -> None:
    st.write_lines(st.lines()[:-1])
    expect(LogTruncated, st, ref="9")


def test_torn_last_line(st: Station) -> None:
    st.path.write_bytes(st.path.read_bytes()[:-5])
    expect(TornLine, st, ref="9")


def test_bad_genesis(st: Station) -> None:
    ls = st.lines()
    st.write_lines(ls[1:])
    expect(BadGenesis, st, ref="1")
    st.path.write_bytes(b"")
    expect(BadGenesis, st)


def test_impersonation_is_a_bad_signature(st: Station) -> None:
    """王五 (social worker) writes a read in the head's name, signed with her own key."""
    with open(st.path, "ab") as f:
        f.write(forge(st, 8, "张三", "head", "record.get", key="王五") + b"\n")
    expect(EntryForged, st, ref="10")


def test_unsigned_line_in_someone_elses_name(st: Station) -> None:
    with open(st.path, "ab") as f:
        f.write(forge(st, 8, "张三", "head", "record.get", sig=False) + b"\n")
    expect(BatchBroken, st, ref="10")  # nobody's signature closes it


def test_unsigned_kind_cannot_carry_an_action(st: Station) -> None:
    with open(st.path, "ab") as f:
        f.write(forge(st, 8, "张三", "", "record.get", sig=False) + b"\n")
    expect(LineCorrupt, st, ref="10")


def test_removed_users_later_signatures_are_invalid(st: Station) -> None:
    old = st.log("李四")
    st.head_log.key_entry("user.remove", "李四", role="head", station_signer=STATION_SEED)
    old.append(actor="李四", role="archivist", action="record.get", ref="R")
    expect(UnknownActor, st, ref="11")


def test_role_claim_must_match_the_log(st: Station) -> None:
    st.log("李四").append(actor="李四", role="head", action="disposal.approve")
    expect(RoleMismatch, st, ref="10")


def test_user_add_without_station_key_is_rejected(st: Station) -> None:
    """A social worker adds an accomplice, station-signing with her own key."""
    prev = st.lines()[8]
    f = Fields(actor="王五", role="social_worker", action="user.add", ref="钱七", grant="head",
               pub=base64.b64encode(SigningKey(b"\x07" * 32).public).decode())
    pre = prefix(9, "2026-11-28T09:00:00Z", leaf_hash(prev).hex(), f)
    own = SigningKey(USERS["王五"][0])
    pre = with_ssig(pre, own.sign(DOMAIN_STATION + pre))
    with open(st.path, "ab") as fh:
        fh.write(close(pre, own.sign(DOMAIN_ENTRY + pre)) + b"\n")
    expect(BadKeyEntry, st, ref="10")


def test_station_key_holder_without_admin_role_cannot_add_users(st: Station) -> None:
    st.log("李四").key_entry("user.add", "钱七", role="archivist", station_signer=STATION_SEED,
                           grant="head", pub=SigningKey(b"\x07" * 32).public)
    expect(BadKeyEntry, st, ref="10")


def test_deputy_adds_a_user(st: Station) -> None:
    st.log("赵六").key_entry("user.add", "钱七", role="deputy", station_signer=STATION_SEED,
                           grant="supervisor", pub=SigningKey(b"\x07" * 32).public)
    assert verify_log(st.dir).users["钱七"] == "supervisor"


def test_bad_signature_on_stored_checkpoint(st: Station) -> None:
    p = st.dir / "checkpoints" / "000000000009.note"
    text = p.read_text()
    body, sig = text.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[10] ^= 1
    p.write_text(body + " " + base64.b64encode(bytes(raw)).decode() + "\n")
    expect(CheckpointInvalid, st, ref="9")


def test_checkpoint_with_edited_size_fails(st: Station) -> None:
    p = st.dir / "checkpoints" / "000000000009.note"
    p.write_text(p.read_text().replace("\n9\n", "\n8\n"))
    expect(CheckpointInvalid, st)


def test_checkpoint_by_unknown_key(st: Station) -> None:
    p = st.dir / "checkpoints" / "000000000009.note"
    body = p.read_text().split("\n\n")[0] + "\n"
    p.write_text(Signer(f"sgz/{st.head_log.vault_id}", b"\x05" * 32).sign(body))
    expect(CheckpointUnknownKey, st, ref="9")


def test_checkpoint_by_replaced_station_key(st: Station) -> None:
    """After a station key rotation, the old key (a removed deputy may keep it) signs nothing."""
    new = bytes(range(200, 232))
    st.head_log.key_entry("station.key", role="head", station_signer=STATION_SEED, new_station_signer=new)
    st.act("李四", "x")
    size = 11
    head = st.head_log.sync()
    note = Signer(f"sgz/{st.head_log.vault_id}", STATION_SEED).sign(
        f"sgz/{st.head_log.vault_id}\n{size}\n{base64.b64encode(head.root()).decode()}\n")
    st.head_log.checkpoints.store(size, note, export=False)
    expect(CheckpointUnknownKey, st, ref="11")


def test_log_shorter_than_given_checkpoint(tmp_path: Path) -> None:
    st = build(tmp_path / "a", checkpoint=False)
    note = st.head_log.checkpoint(station_signer=STATION_SEED)
    shutil.rmtree(st.dir / "checkpoints")
    st.write_lines(st.lines()[:-2])
    assert not verify_log(st.dir).complete
    expect(LogTruncated, st, ref="9", checkpoints=[note])


def test_forked_from_given_checkpoint(tmp_path: Path) -> None:
    real = build(tmp_path / "real", checkpoint=False)
    fork = build(tmp_path / "fork", variant="甲", checkpoint=True)
    note = (fork.dir / "checkpoints" / "000000000009.note").read_text()
    expect(LogForked, real, ref="9", checkpoints=[note])


def test_two_checkpoints_of_one_size_disagree(tmp_path: Path) -> None:
    real = build(tmp_path / "real")
    fork = build(tmp_path / "fork", variant="甲")
    fork_note = (fork.dir / "checkpoints" / "000000000009.note").read_text()
    expect(CheckpointConflict, real, ref="9", checkpoints=[fork_note])
    with pytest.raises(CheckpointConflict):  # the store refuses a second, different note too
        real.head_log.checkpoints.store(9, fork_note, export=False)


@pytest.mark.slow
def test_every_byte_flip_in_log_is_detected(tmp_path: Path) -> None:
    st = Station(tmp_path, add=("李四",))
    st.log("李四").append_many([("李四", "archivist", "record.file", "FW-1", None),
                              ("李四", "archivist", "record.get", "FW-1", {"r": "查阅"})])
    st.keyless().append_unsigned(actor="?")
    st.head_log.checkpoint(station_signer=STATION_SEED)
    good = st.path.read_bytes()
    verify_log(st.dir, threads=1)
    missed = []
    for i in range(len(good)):
        for mask in (0x01, 0x80):
            bad = bytearray(good)
            bad[i] ^= mask
            st.path.write_bytes(bytes(bad))
            try:
                verify_log(st.dir, threads=1)
                missed.append((i, mask))
            except AuditTampered:
                pass
    assert missed == []
    assert len(good) > 2000


def test_every_byte_flip_in_checkpoint_is_detected(tmp_path: Path) -> None:
    st = Station(tmp_path, add=())
    st.head_log.checkpoint(station_signer=STATION_SEED)
    p = st.dir / "checkpoints" / "000000000001.note"
    good = p.read_bytes()
    missed = []
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x01
        p.write_bytes(bytes(bad))
        try:
            verify_log(st.dir, threads=1)
            missed.append(i)
        except AuditTampered:
            pass
    assert missed == []


def test_threaded_and_serial_verification_agree_on_the_first_bad_line(tmp_path: Path) -> None:
    st = Station(tmp_path, add=("李四",))
    ls = st.lines()
    key = SigningKey(USERS["李四"][0])
    for k in range(1200):  # more than two chunks of deferred signature checks (written directly)
        pre = prefix(len(ls), "2026-11-28T09:00:00Z", leaf_hash(ls[-1]).hex(),
                     Fields(actor="李四", role="archivist", action="record.get", ref=f"R{k}"))
        ls.append(close(pre, key.sign(DOMAIN_ENTRY + pre)))
    st.write_lines(ls)
    verify_log(st.dir)
    ls = st.lines()
    ls[700] = ls[700].replace(b'"R', b'"S')  # signature no longer matches
    ls[1100] = ls[1100][:-1]  # and a later corrupt line
    st.write_lines(ls)
    for threads in (1, 2):
        with pytest.raises(EntryForged) as ei:
            verify_log(st.dir, threads=threads)
        assert ei.value.ref == "701"


def test_errors_are_integrity_errors() -> None:
    for cls in (ChainBroken, LineCorrupt, SeqGap, LinesReordered, TornLine, BadGenesis,
                LogTruncated, LogForked, CheckpointConflict, CheckpointInvalid, CheckpointUnknownKey,
                EntryForged, UnknownActor, RoleMismatch, BatchBroken, BadKeyEntry):
        assert issubclass(cls, IntegrityError) and cls().exit_code == 8
