"""AuditLog: append/read/decrypt, concurrency across processes, failure modes, repair, checkpoints, golden."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.audit.errors import TornLine
from archive.audit.log import AuditLog
from archive.audit.note import Verifier
from archive.audit.verify import verify_log
from archive.errors import AuditUnavailable, Conflict, DecryptionFailed, UsageError

VAULT = "0123456789abcdef0123456789abcdef"
DETAIL_KEY = bytes(range(32))
SEED = bytes(range(32, 64))
T0 = datetime(2026, 11, 28, 7, 21, 40, tzinfo=UTC)
GOLDEN = Path(__file__).resolve().parent / "golden" / "audit"


class Clock:
    """A settable fixed clock."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def counter_nonce() -> object:
    """Deterministic nonce source: 12-byte big-endian counter."""
    state = {"n": 0}

    def nonce(size: int) -> bytes:
        state["n"] += 1
        return state["n"].to_bytes(size, "big")

    return nonce


def make_log(tmp_path: Path, clock: Clock | None = None, **kw: object) -> AuditLog:
    return AuditLog.create(tmp_path / "audit", vault_id=VAULT, detail_key=DETAIL_KEY,
                           signing_seed=SEED, clock=clock or Clock(), actor="张三", role="head",
                           **kw)  # type: ignore[arg-type]


def test_append_read_decrypt(tmp_path: Path) -> None:
    clock = Clock()
    log = make_log(tmp_path, clock)
    clock.now = T0 + timedelta(minutes=5)
    s1 = log.append(actor="李四", role="archivist", action="record.get", ref="Z001-WS·2026-D30-FW-0007",
                    detail={"reason": "外单位查阅：双阳区民政局", "path": "/tmp/x.pdf"})
    s2 = log.append(actor="王五", role="social_worker", action="search")
    assert (s1, s2) == (1, 2)
    assert log.size() == 3
    raw = log.path.read_bytes()
    assert "外单位".encode() not in raw and b"x.pdf" not in raw  # detail is ciphertext at rest
    lines = raw.split(b"\n")
    assert lines[-1] == b""
    first = json.loads(lines[0])
    assert list(first) == ["v", "seq", "ts", "prev", "actor", "role", "action", "ref", "detail",
                           "vault", "key"]
    assert first["prev"] == "0" * 64 and first["vault"] == VAULT and first["action"] == "genesis"
    assert first["ts"] == "2026-11-28T07:21:40Z"
    second = json.loads(lines[1])
    assert second["prev"] == hashlib.sha256(lines[0]).hexdigest()
    assert second["ts"] == "2026-11-28T07:26:40Z"

    entries = list(log.entries(decrypt=True))
    assert [e.seq for e in entries] == [0, 1, 2]
    assert entries[1].detail == {"reason": "外单位查阅：双阳区民政局", "path": "/tmp/x.pdf"}
    assert entries[2].detail is None
    assert [e.seq for e in log.entries(actor="王五")] == [2]
    assert [e.seq for e in log.entries(action="record.get")] == [1]
    assert [e.seq for e in log.entries(ref="Z001-WS·2026-D30-FW-0007")] == [1]
    assert [e.seq for e in log.entries(since=T0 + timedelta(minutes=1))] == [1, 2]
    assert next(log.entries(action="record.get")).detail is None  # not decrypted unless asked
    verify_log(log.dir)


def test_reader_without_keys_and_wrong_key(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    log.append(actor="a", role="head", action="x", detail={"k": "v"})
    reader = AuditLog(log.dir, vault_id=VAULT, detail_key=None, signing_seed=None, clock=Clock())
    assert [e.action for e in reader.entries()] == ["genesis", "x"]
    with pytest.raises(UsageError):
        list(reader.entries(decrypt=True))
    with pytest.raises(UsageError):
        reader.append(actor="a", role="head", action="y", detail={"k": 1})
    with pytest.raises(UsageError):
        reader.checkpoint()
    wrong = AuditLog(log.dir, vault_id=VAULT, detail_key=b"\x00" * 32, signing_seed=None, clock=Clock())
    with pytest.raises(DecryptionFailed):
        list(wrong.entries(decrypt=True))
    other_vault = AuditLog(log.dir, vault_id="f" * 32, detail_key=DETAIL_KEY, signing_seed=None,
                           clock=Clock())
    with pytest.raises(DecryptionFailed):  # AAD binds the detail to vault and seq
        list(other_vault.entries(decrypt=True))


def test_create_twice_conflicts_and_naive_clock_refused(tmp_path: Path) -> None:
    make_log(tmp_path)
    with pytest.raises(Conflict):
        make_log(tmp_path)
    with pytest.raises(UsageError):
        AuditLog.create(tmp_path / "b", vault_id=VAULT, detail_key=DETAIL_KEY, signing_seed=SEED,
                        clock=lambda: datetime(2026, 1, 1), actor="a", role="head")
    with pytest.raises(UsageError):
        AuditLog(tmp_path, vault_id="XYZ", detail_key=None, signing_seed=None, clock=Clock())


_WORKER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from archive.audit.log import AuditLog
    d, n, who, VAULT = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    log = AuditLog(d, vault_id=VAULT, detail_key=bytes(range(32)), signing_seed=None,
                   clock=lambda: datetime(2026, 11, 28, tzinfo=UTC))
    for i in range(n):
        log.append(actor=who, role="archivist", action="record.get", ref=str(i), detail={"i": i})
    """
)


def test_concurrent_appenders_in_subprocesses(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(log.dir), "50", f"w{k}", VAULT])
        for k in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    entries = list(log.entries(decrypt=True))
    assert [e.seq for e in entries] == list(range(201))
    for k in range(4):
        mine = [e for e in entries if e.actor == f"w{k}"]
        assert [e.detail for e in mine] == [{"i": i} for i in range(50)]  # each writer's order kept
    assert verify_log(log.dir).entries == 201


def test_read_only_log_refuses(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    before = log.path.read_bytes()
    os.chmod(log.path, 0o444)
    try:
        with pytest.raises(AuditUnavailable):
            log.append(actor="a", role="head", action="record.get")
    finally:
        os.chmod(log.path, 0o644)
    assert log.path.read_bytes() == before


def test_missing_log_refuses(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    log.path.unlink()
    with pytest.raises(AuditUnavailable):
        log.append(actor="a", role="head", action="record.get")


def test_disk_full_refuses_and_leaves_log_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = make_log(tmp_path)
    log.append(actor="a", role="head", action="one")
    before = log.path.read_bytes()

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "write", full)
        with pytest.raises(AuditUnavailable):
            log.append(actor="a", role="head", action="two", detail={"x": 1})
    assert log.path.read_bytes() == before

    def short(fd: int, data: bytes) -> int:  # a partial write must be undone, not left torn
        return real_write(fd, data[: len(data) // 2])

    real_write = os.write
    with monkeypatch.context() as m:
        m.setattr(os, "write", short)
        with pytest.raises(AuditUnavailable):
            log.append(actor="a", role="head", action="two")
    assert log.path.read_bytes() == before
    assert log.append(actor="a", role="head", action="two") == 2


def test_torn_tail_is_repaired_by_next_append(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    log.append(actor="a", role="head", action="one")
    torn = b'{"v":1,"seq":2,"ts":"2026-11-28T07:21:40Z","prev":"ab'
    with open(log.path, "ab") as f:
        f.write(torn)
    with pytest.raises(TornLine):
        verify_log(log.dir)
    assert [e.seq for e in log.entries()] == [0, 1]  # readers skip the torn tail
    seq = log.append(actor="b", role="archivist", action="two", ref="R")
    assert seq == 3
    entries = list(log.entries(decrypt=True))
    assert [(e.seq, e.action) for e in entries] == [(0, "genesis"), (1, "one"), (2, "log.repair"),
                                                     (3, "two")]
    assert entries[2].detail == {"dropped_sha256": hashlib.sha256(torn).hexdigest(),
                                 "dropped_len": len(torn)}
    assert verify_log(log.dir).entries == 4


def test_append_reads_only_the_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = make_log(tmp_path)
    big = "x" * 1000
    for _ in range(3):
        log.append(actor="a", role="head", action="pad", ref=big)
    # grow the file cheaply with valid lines, then count what one append reads
    lines = log.path.read_bytes().splitlines()
    prev = lines[-1]
    with open(log.path, "ab") as f:
        for seq in range(4, 504):
            obj = {"v": 1, "seq": seq, "ts": "2026-11-28T07:21:40Z",
                   "prev": hashlib.sha256(prev).hexdigest(), "actor": "a", "role": "head",
                   "action": "pad", "ref": big, "detail": None}
            prev = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
            f.write(prev + b"\n")
    assert log.path.stat().st_size > 500_000
    read_total = 0
    real_read = os.read

    def counting(fd: int, n: int) -> bytes:
        nonlocal read_total
        out = real_read(fd, n)
        read_total += len(out)
        return out

    with monkeypatch.context() as m:
        m.setattr(os, "read", counting)
        assert log.append(actor="a", role="head", action="after") == 504
    assert read_total < 20_000
    assert verify_log(log.dir).entries == 505


def test_checkpoint_store_export_and_due(tmp_path: Path) -> None:
    clock = Clock()
    log = make_log(tmp_path, clock)
    assert log.checkpoint_due()  # none yet
    log.append(actor="a", role="head", action="one")
    note = log.checkpoint()
    vkey = json.loads(log.path.read_bytes().split(b"\n")[0])["key"]
    text = Verifier.parse(vkey).verify(note)
    assert text.split("\n")[:2] == [f"sgz/{VAULT}", "2"]
    assert (log.dir / "checkpoints" / "000000000002.note").read_text() == note
    assert log.checkpoint() == note  # same size: identical, deterministic note
    assert not log.checkpoint_due()
    clock.now = T0 + timedelta(hours=48)
    assert not log.checkpoint_due()  # nothing new to cover
    log.append(actor="a", role="head", action="two")
    assert not log.checkpoint_due()  # the uncovered entry is fresh
    clock.now = T0 + timedelta(hours=72, seconds=1)
    assert log.checkpoint_due()  # an entry has waited more than 24 h
    rep = verify_log(log.dir)
    assert (rep.checkpoints_checked, rep.newest_exported, rep.uncovered) == (1, None, 3)
    log.checkpoint(export=True)
    assert not log.checkpoint_due()
    log.append(actor="a", role="head", action="three")
    rep = verify_log(log.dir)
    assert (rep.entries, rep.checkpoints_checked, rep.newest_exported, rep.uncovered) == (4, 2, 3, 1)
    rep = verify_log(log.dir, checkpoints=[log.checkpoint()])  # an outside copy counts as exported
    assert rep.uncovered == 0


def test_checkpoint_with_foreign_seed_refused(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    other = AuditLog(log.dir, vault_id=VAULT, detail_key=None, signing_seed=b"\x09" * 32, clock=Clock())
    with pytest.raises(Exception) as ei:
        other.checkpoint()
    assert ei.value.exit_code == 8  # type: ignore[attr-defined]


# --- golden files ---------------------------------------------------------------------------


def build_golden(dest: Path) -> tuple[bytes, str]:
    """Regenerate the golden log and checkpoint with fixed clock, keys and nonces."""
    clock = Clock()
    log = AuditLog.create(dest, vault_id=VAULT, detail_key=DETAIL_KEY, signing_seed=SEED,
                          clock=clock, actor="张三", role="head", nonce=counter_nonce())
    steps = [
        ("李四", "archivist", "record.file", "Z001-WS·2026-D30-FW-0001", {"title": "服务协议"}),
        ("李四", "archivist", "record.get", "Z001-WS·2026-D30-FW-0001",
         {"reason": "外单位查阅", "unit": "双阳区民政局", "path": "导出/0001.pdf"}),
        ("王五", "social_worker", "search", None, None),
        ("张三", "head", "access.approve", "REQ-2026-0003", {"until": "2026-12-05"}),
    ]
    for k, (actor, role, action, ref, detail) in enumerate(steps, 1):
        clock.now = T0 + timedelta(minutes=7 * k)
        log.append(actor=actor, role=role, action=action, ref=ref, detail=detail)
    note = log.checkpoint(export=True)
    return log.path.read_bytes(), note


def test_golden_format_is_stable(tmp_path: Path) -> None:
    data, note = build_golden(tmp_path / "audit")
    if os.environ.get("SGZ_REGEN_GOLDEN") == "1":  # pragma: no cover - manual regeneration
        GOLDEN.mkdir(parents=True, exist_ok=True)
        (GOLDEN / "log.jsonl").write_bytes(data)
        (GOLDEN / "checkpoint.note").write_bytes(note.encode())
    assert data == (GOLDEN / "log.jsonl").read_bytes()
    assert note.encode() == (GOLDEN / "checkpoint.note").read_bytes()


def test_golden_files_verify(tmp_path: Path) -> None:
    d = tmp_path / "g"
    d.mkdir()
    (d / "log.jsonl").write_bytes((GOLDEN / "log.jsonl").read_bytes())
    rep = verify_log(d, checkpoints=[(GOLDEN / "checkpoint.note").read_text()])
    assert (rep.entries, rep.uncovered, rep.vault_id) == (5, 0, VAULT)
    log = AuditLog(d, vault_id=VAULT, detail_key=DETAIL_KEY, signing_seed=None, clock=Clock())
    details = [e.detail for e in log.entries(decrypt=True)]
    assert details[2] == {"reason": "外单位查阅", "unit": "双阳区民政局", "path": "导出/0001.pdf"}
