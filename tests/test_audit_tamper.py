"""Tamper tests on real logs: each kind of tampering raises its exact error; every byte flip is caught."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.audit.errors import (
    AuditTampered,
    BadGenesis,
    ChainBroken,
    CheckpointConflict,
    CheckpointInvalid,
    CheckpointUnknownKey,
    LineCorrupt,
    LinesReordered,
    LogForked,
    LogTruncated,
    SeqGap,
    TornLine,
)
from archive.audit.log import AuditLog, encode_line
from archive.audit.note import Signer
from archive.audit.verify import verify_log
from archive.errors import IntegrityError

VAULT = "00112233445566778899aabbccddeeff"
KEY = bytes(range(100, 132))
SEED = bytes(range(200, 232))
T0 = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)


def _nonces():
    n = 0

    def nonce(size: int) -> bytes:
        nonlocal n
        n += 1
        return n.to_bytes(size, "big")

    return nonce


def build(d: Path, n: int = 6, *, variant: str = "", checkpoint_at: tuple[int, ...] = ()) -> AuditLog:
    """A real log of `n` entries (genesis included); `variant` changes line 3 to make a fork."""
    ticks = iter(range(10_000))
    log = AuditLog.create(d, vault_id=VAULT, detail_key=KEY, signing_seed=SEED,
                          clock=lambda: T0 + timedelta(minutes=next(ticks)), actor="张三",
                          role="head", nonce=_nonces())
    for i in range(1, n):
        if log.size() in checkpoint_at:
            log.checkpoint()
        log.append(actor="李四" + (variant if i == 3 else ""), role="archivist", action="record.get",
                   ref=f"Z001-WS·2026-D30-FW-{i:04d}", detail={"reason": f"查阅 {i}"})
    if log.size() in checkpoint_at:
        log.checkpoint()
    return log


def lines(log: AuditLog) -> list[bytes]:
    return log.path.read_bytes().split(b"\n")[:-1]


def write(log: AuditLog, ls: list[bytes]) -> None:
    log.path.write_bytes(b"".join(x + b"\n" for x in ls))


@pytest.fixture()
def log(tmp_path: Path) -> AuditLog:
    return build(tmp_path / "audit", 6, checkpoint_at=(6,))


def expect(exc: type[AuditTampered], log: AuditLog, ref: str | None = None, **kw: object) -> None:
    with pytest.raises(exc) as ei:
        verify_log(log.dir, **kw)  # type: ignore[arg-type]
    assert ei.value.exit_code == 8
    assert ei.value.msg  # a Chinese message naming the problem
    if ref is not None:
        assert ei.value.ref == ref, ei.value.msg


def test_clean_log_verifies(log: AuditLog) -> None:
    rep = verify_log(log.dir)
    assert (rep.entries, rep.last_seq, rep.checkpoints_checked, rep.uncovered) == (6, 5, 1, 6)


def test_edited_byte_in_middle_line_breaks_chain(log: AuditLog) -> None:
    ls = lines(log)
    ls[2] = ls[2].replace("李四".encode(), "李五".encode())
    write(log, ls)
    expect(ChainBroken, log, ref="4")


def test_edited_last_line_contradicts_checkpoint(log: AuditLog) -> None:
    ls = lines(log)
    ls[5] = ls[5].replace(b"record.get", b"record.got")
    write(log, ls)
    expect(LogForked, log, ref="6")


def test_edited_byte_breaking_json(log: AuditLog) -> None:
    ls = lines(log)
    ls[3] = ls[3].replace(b'"seq":3', b'"seq":3,')
    write(log, ls)
    expect(LineCorrupt, log, ref="4")


def test_non_canonical_line(log: AuditLog) -> None:
    ls = lines(log)
    ls[3] = encode_line(json.loads(ls[3])).replace(b'"v":1,', b'"v": 1,')
    write(log, ls)
    expect(LineCorrupt, log, ref="4")


def test_deleted_line_is_a_seq_gap(log: AuditLog) -> None:
    ls = lines(log)
    del ls[2]
    write(log, ls)
    expect(SeqGap, log, ref="3")


def test_edited_seq_is_a_seq_gap(log: AuditLog) -> None:
    ls = lines(log)
    ls[4] = ls[4].replace(b'"seq":4', b'"seq":7')
    write(log, ls)
    expect(SeqGap, log, ref="5")


def test_reordered_lines(log: AuditLog) -> None:
    ls = lines(log)
    ls[2], ls[3] = ls[3], ls[2]
    write(log, ls)
    expect(LinesReordered, log, ref="3")


def test_duplicated_line(log: AuditLog) -> None:
    ls = lines(log)
    ls.insert(3, ls[2])
    write(log, ls)
    expect(LinesReordered, log, ref="4")


def test_inserted_forged_line_with_renumbering(log: AuditLog) -> None:
    ls = lines(log)
    forged = json.loads(ls[2])
    forged["seq"], forged["action"] = 3, "record.delete"
    rest = [json.loads(x) for x in ls[3:]]
    for o in rest:
        o["seq"] += 1
    write(log, ls[:3] + [encode_line(forged)] + [encode_line(o) for o in rest])
    expect(ChainBroken, log, ref="4")


def test_removed_tail_is_shorter_than_checkpoint(log: AuditLog) -> None:
    write(log, lines(log)[:4])
    expect(LogTruncated, log, ref="6")


def test_torn_last_line(log: AuditLog) -> None:
    log.path.write_bytes(log.path.read_bytes()[:-7])
    expect(TornLine, log, ref="6")


def test_bad_genesis(log: AuditLog) -> None:
    ls = lines(log)
    good = list(ls)
    ls[0] = ls[0].replace(VAULT.encode(), b"f" * 32)
    write(log, ls)
    expect(BadGenesis, log, ref="1")
    g = json.loads(good[0])
    g["key"] = Signer(f"sgz/{VAULT}", b"\x05" * 32).verifier_key()  # a well-formed other key
    write(log, [encode_line(g)] + good[1:])
    expect(CheckpointUnknownKey, log)  # stored checkpoints are signed by the real key
    write(log, good[1:])
    expect(BadGenesis, log, ref="1")
    log.path.write_bytes(b"")
    expect(BadGenesis, log, ref="1")


def test_bad_signature_on_stored_checkpoint(log: AuditLog) -> None:
    p = log.dir / "checkpoints" / "000000000006.note"
    note = p.read_text()
    body, sig = note.rsplit(" ", 1)
    raw = bytearray(__import__("base64").b64decode(sig))
    raw[20] ^= 0x40
    p.write_text(body + " " + __import__("base64").b64encode(bytes(raw)).decode() + "\n")
    expect(CheckpointInvalid, log)


def test_checkpoint_with_edited_size_fails_signature(log: AuditLog) -> None:
    p = log.dir / "checkpoints" / "000000000006.note"
    p.write_text(p.read_text().replace("\n6\n", "\n5\n"))
    expect(CheckpointInvalid, log)


def test_checkpoint_by_unknown_key(log: AuditLog) -> None:
    body = (log.dir / "checkpoints" / "000000000006.note").read_text().split("\n\n")[0] + "\n"
    foreign = Signer(f"sgz/{VAULT}", b"\x11" * 32).sign(body)
    expect(CheckpointUnknownKey, log, checkpoints=[foreign])
    other_name = Signer("county.example/audit", SEED).sign(body)
    expect(CheckpointUnknownKey, log, checkpoints=[other_name])


def test_log_shorter_than_given_checkpoint(tmp_path: Path) -> None:
    big = build(tmp_path / "big", 8)
    note = big.checkpoint()
    small = build(tmp_path / "small", 5)
    expect(LogTruncated, small, ref="8", checkpoints=[note])


def test_forked_from_checkpoint(tmp_path: Path) -> None:
    real = build(tmp_path / "real", 6, checkpoint_at=(4,))
    fork = build(tmp_path / "fork", 6, variant="甲", checkpoint_at=(4,))
    fork_note = (fork.dir / "checkpoints" / "000000000004.note").read_text()
    shutil.rmtree(real.dir / "checkpoints")
    expect(LogForked, real, ref="4", checkpoints=[fork_note])


def test_two_checkpoints_of_one_size_disagree(tmp_path: Path) -> None:
    real = build(tmp_path / "real", 6, checkpoint_at=(4,))
    fork = build(tmp_path / "fork", 6, variant="甲", checkpoint_at=(4,))
    fork_note = (fork.dir / "checkpoints" / "000000000004.note").read_text()
    expect(CheckpointConflict, real, ref="4", checkpoints=[fork_note])
    with pytest.raises(CheckpointConflict):  # the store refuses a second, different note too
        real.checkpoints.store(4, fork_note, export=False)


def test_every_byte_flip_in_log_is_detected(tmp_path: Path) -> None:
    log = build(tmp_path / "audit", 4, checkpoint_at=(4,))
    good = log.path.read_bytes()
    verify_log(log.dir)
    missed = []
    for i in range(len(good)):
        for mask in (0x01, 0x80):
            bad = bytearray(good)
            bad[i] ^= mask
            log.path.write_bytes(bytes(bad))
            try:
                verify_log(log.dir)
                missed.append((i, mask))
            except AuditTampered:
                pass
    assert missed == []
    assert len(good) > 1000


def test_every_byte_flip_in_checkpoint_is_detected(tmp_path: Path) -> None:
    log = build(tmp_path / "audit", 3, checkpoint_at=(3,))
    p = log.dir / "checkpoints" / "000000000003.note"
    good = p.read_bytes()
    missed = []
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x01
        p.write_bytes(bytes(bad))
        try:
            verify_log(log.dir)
            missed.append(i)
        except AuditTampered:
            pass
    assert missed == []


def test_errors_are_integrity_errors() -> None:
    for cls in (ChainBroken, LineCorrupt, SeqGap, LinesReordered, TornLine, BadGenesis,
                LogTruncated, LogForked, CheckpointConflict, CheckpointInvalid, CheckpointUnknownKey):
        assert issubclass(cls, IntegrityError) and cls().exit_code == 8
