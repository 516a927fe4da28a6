"""AuditLog (format 2): signed append/read/decrypt, batches, the unsigned kind, key entries,
concurrency across processes, failure modes, repair, checkpoints, golden files."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from audit_fixtures import (
    AUDIT_ID,
    STATION_SEED,
    T0,
    USERS,
    VAULT,
    Clock,
    Station,
    counter_random,
    pub_of,
)

from archive.audit.errors import TornLine
from archive.audit.head import Head
from archive.audit.line import DOMAIN_ENTRY, SIG_TAIL
from archive.audit.log import AuditLog, checkpoint_due, station_verifier_key
from archive.audit.merkle import leaf_hash
from archive.audit.note import Verifier
from archive.audit.verify import verify_log
from archive.crypto.age import X25519Identity
from archive.crypto.ed25519 import VerifyKey
from archive.errors import AuditUnavailable, Conflict, DecryptionFailed, IntegrityError, UsageError

GOLDEN = Path(__file__).resolve().parent / "golden" / "audit"


def test_append_read_decrypt_and_sign(tmp_path: Path) -> None:
    st = Station(tmp_path)
    st.clock.now = T0 + timedelta(minutes=5)
    s1 = st.act("李四", "record.get", "Z001-WS·2026-D30-FW-0007",
                reason="外单位查阅：双阳区民政局", path="/tmp/x.pdf")
    s2 = st.act("王五", "search")
    assert (s1, s2) == (4, 5)
    raw = st.path.read_bytes()
    assert "外单位".encode() not in raw and b"x.pdf" not in raw  # detail is ciphertext at rest
    lines = st.lines()
    first = json.loads(lines[0])
    assert list(first) == ["v", "seq", "ts", "prev", "actor", "role", "action", "ref", "detail",
                           "vault", "station", "pub", "ssig", "sig"]
    assert first["station"] == station_verifier_key(VAULT, STATION_SEED)
    assert first["prev"] == "0" * 64 and first["vault"] == VAULT and first["action"] == "genesis"
    o4 = json.loads(lines[4])
    assert o4["prev"] == leaf_hash(lines[3]).hex()
    assert o4["ts"] == "2026-11-28T07:26:40Z"
    # the signature is the actor's, over the raw bytes before `,"sig":`
    VerifyKey(pub_of("李四")).verify(__import__("base64").b64decode(o4["sig"]),
                                     DOMAIN_ENTRY + lines[4][:-SIG_TAIL])
    log = st.log("张三", details=True)
    entries = list(log.entries(decrypt=True))
    assert [e.seq for e in entries] == [0, 1, 2, 3, 4, 5]
    assert entries[4].detail == {"reason": "外单位查阅：双阳区民政局", "path": "/tmp/x.pdf"}
    assert entries[4].signed and not entries[4].unsigned
    assert entries[5].detail is None
    assert [e.seq for e in log.entries(actor="王五")] == [5]
    assert [e.seq for e in log.entries(action="record.get")] == [4]
    assert [e.seq for e in log.entries(since=T0 + timedelta(minutes=1))] == [4, 5]
    rep = verify_log(st.dir)
    assert rep.entries == 6 and rep.users == {"张三": "head", "李四": "archivist", "王五": "social_worker",
                                              "赵六": "deputy"}


def test_details_open_only_with_the_audit_identity(tmp_path: Path) -> None:
    st = Station(tmp_path)
    st.act("王五", "record.get", "R", reason="家访")
    e = list(st.log("张三").entries())[-1]
    other = AuditLog(st.dir, vault_id=VAULT, clock=st.clock,
                     detail_identities=[X25519Identity.generate()])
    with pytest.raises(DecryptionFailed):
        other.detail_of(e)
    with pytest.raises(UsageError):  # no identity at all: not even an attempt
        st.log("王五").detail_of(e)
    moved = AuditLog(st.dir, vault_id="f" * 32, clock=st.clock, detail_identities=[AUDIT_ID])
    with pytest.raises(DecryptionFailed):  # the plaintext binds vault and seq
        moved.detail_of(e)
    # stock age opens it with the compartment identity (the base64 is a plain age file)
    import base64

    from archive.crypto.age import decrypt_bytes
    plain = json.loads(decrypt_bytes(base64.b64decode(e.sealed or ""), [AUDIT_ID]))
    assert plain == {"vault": VAULT, "seq": e.seq, "detail": {"reason": "家访"}}


def test_batch_is_one_write_with_one_signature(tmp_path: Path) -> None:
    st = Station(tmp_path)
    log = st.log("李四")
    last = log.append_many([("李四", "archivist", "record.file", f"R{k}", {"k": k}) for k in range(5)])
    assert last == 8
    objs = [json.loads(x) for x in st.lines()[4:]]
    assert [o["sig"] is None for o in objs] == [True] * 4 + [False]
    assert verify_log(st.dir).entries == 9


def test_writer_refuses_other_names_key_actions_and_bad_values(tmp_path: Path) -> None:
    st = Station(tmp_path)
    log = st.log("王五")
    with pytest.raises(UsageError):
        log.append(actor="张三", role="head", action="record.get")  # cannot write as someone else
    with pytest.raises(UsageError):
        log.append(actor="王五", role="social_worker", action="user.add", ref="x")
    with pytest.raises(UsageError):
        log.append(actor="王五", role="social_worker", action="x", ref='a"b')
    with pytest.raises(UsageError):
        log.append(actor="王五", role="", action="x")
    with pytest.raises(UsageError):
        st.keyless().append(actor="?", role="head", action="x")
    with pytest.raises(UsageError):
        st.keyless().append_unsigned(actor="?", action="record.get")


def test_unsigned_kind_is_counted_apart(tmp_path: Path) -> None:
    st = Station(tmp_path)
    st.keyless().append_unsigned(actor="张三")
    st.keyless().append_unsigned(actor="?")
    st.act("王五", "search")
    rep = verify_log(st.dir)
    assert (rep.entries, rep.unsigned) == (7, 2)
    assert "2 条无签名记录" in rep.summary_zh()
    e = list(st.keyless().entries(action="auth.failed"))
    assert [x.unsigned for x in e] == [True, True] and [x.actor for x in e] == ["张三", "?"]


def test_key_entries_role_change_and_removal(tmp_path: Path) -> None:
    st = Station(tmp_path)
    head = st.head_log
    head.key_entry("user.role", "王五", role="head", station_signer=STATION_SEED, grant="supervisor")
    st.log("王五").append(actor="王五", role="supervisor", action="search")
    head.key_entry("user.remove", "李四", role="head", station_signer=STATION_SEED)
    rep = verify_log(st.dir)
    assert rep.users == {"张三": "head", "王五": "supervisor", "赵六": "deputy"}
    with pytest.raises(UsageError):
        head.key_entry("genesis", role="head", station_signer=STATION_SEED)


def test_create_twice_conflicts_and_naive_clock_refused(tmp_path: Path) -> None:
    Station(tmp_path)
    with pytest.raises(Conflict):
        Station(tmp_path)
    from datetime import datetime
    with pytest.raises(UsageError):
        AuditLog.create(tmp_path / "b", vault_id=VAULT, station_signer=STATION_SEED,
                        signer=("张三", USERS["张三"][0]), clock=lambda: datetime(2026, 1, 1))
    with pytest.raises(UsageError):
        AuditLog(tmp_path, vault_id="XYZ", clock=Clock())


_WORKER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    sys.path.insert(0, sys.argv[5])
    from audit_fixtures import AUDIT_ID, USERS
    from archive.audit.log import AuditLog
    d, n, who, VAULT = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    log = AuditLog(d, vault_id=VAULT, signer=(who, USERS[who][0]), detail_recipients=[AUDIT_ID.recipient()],
                   clock=lambda: datetime(2026, 11, 28, tzinfo=UTC))
    for i in range(n):
        log.append(actor=who, role=USERS[who][1], action="record.get", ref=str(i), detail={"i": i})
    """
)


def test_concurrent_appenders_in_subprocesses(tmp_path: Path) -> None:
    st = Station(tmp_path)
    here = str(Path(__file__).resolve().parent)
    who = ["张三", "李四", "王五", "赵六"]
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(st.dir), "25", w, VAULT, here])
             for w in who]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    log = st.log("张三", details=True)
    entries = list(log.entries(decrypt=True))
    assert [e.seq for e in entries] == list(range(104))
    for w in who:
        mine = [e for e in entries if e.actor == w and e.action == "record.get"]
        assert [e.detail for e in mine] == [{"i": i} for i in range(25)]  # each writer's order kept
    assert verify_log(st.dir).entries == 104


def test_read_only_log_refuses(tmp_path: Path) -> None:
    st = Station(tmp_path)
    before = st.path.read_bytes()
    os.chmod(st.path, 0o444)
    try:
        with pytest.raises(AuditUnavailable):
            st.act("王五", "record.get")
    finally:
        os.chmod(st.path, 0o644)
    assert st.path.read_bytes() == before


def test_missing_log_refuses(tmp_path: Path) -> None:
    st = Station(tmp_path)
    st.path.unlink()
    with pytest.raises(AuditUnavailable):
        st.act("王五", "record.get")


def test_disk_full_refuses_and_leaves_log_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st = Station(tmp_path)
    st.act("王五", "one")
    before = st.path.read_bytes()

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "write", full)
        with pytest.raises(AuditUnavailable):
            st.act("王五", "two", x=1)
    assert st.path.read_bytes() == before
    real_write = os.write

    def short(fd: int, data: bytes) -> int:  # a partial write must be undone, not left torn
        return real_write(fd, data[: len(data) // 2])

    with monkeypatch.context() as m:
        m.setattr(os, "write", short)
        with pytest.raises(AuditUnavailable):
            st.act("王五", "two")
    assert st.path.read_bytes() == before
    assert st.act("王五", "two") == 5


def test_torn_tail_is_repaired_by_next_append(tmp_path: Path) -> None:
    st = Station(tmp_path)
    st.act("王五", "one")
    torn = b'{"v":2,"seq":5,"ts":"2026-11-28T07:21:40Z","prev":"ab'
    with open(st.path, "ab") as f:
        f.write(torn)
    with pytest.raises(TornLine):
        verify_log(st.dir)
    assert [e.seq for e in st.keyless().entries()][-1] == 4  # readers skip the torn tail
    assert st.act("李四", "two", "R") == 6
    entries = list(st.keyless().entries())
    assert [(e.seq, e.action) for e in entries][-2:] == [(5, "log.repair"), (6, "two")]
    assert entries[5].ref == f"{len(torn)}:{hashlib.sha256(torn).hexdigest()}"
    assert entries[5].actor == "李四" and not entries[5].signed  # inside 李四's signed batch
    assert verify_log(st.dir).entries == 7


def test_unfinished_batch_is_dropped_and_recorded(tmp_path: Path) -> None:
    """A crash after some lines of a batch: the unsigned lines are not left for verify to reject."""
    st = Station(tmp_path)
    st.log("李四").append_many([("李四", "archivist", "record.file", f"R{k}", None) for k in range(3)])
    lines = st.lines()
    st.write_lines(lines[:-1])  # the signed last line never made it to disk
    dropped = b"".join(x + b"\n" for x in lines[-3:-1])
    st.keyless().append_unsigned(actor="?")  # a keyless writer repairs too, unsigned
    entries = list(st.keyless().entries())
    assert [(e.action, e.unsigned) for e in entries[-2:]] == [("log.repair", True), ("auth.failed", True)]
    assert entries[-2].ref == f"{len(dropped)}:{hashlib.sha256(dropped).hexdigest()}"
    assert verify_log(st.dir).unsigned == 2


def test_append_reads_only_the_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st = Station(tmp_path)
    log = st.log("王五")
    log.append_many([("王五", "social_worker", "pad", "x" * 1000, None)] * 600)
    assert st.path.stat().st_size > 500_000
    read_total = 0
    real_read = os.read

    def counting(fd: int, n: int) -> bytes:
        nonlocal read_total
        out = real_read(fd, n)
        read_total += len(out)
        return out

    with monkeypatch.context() as m:
        m.setattr(os, "read", counting)
        assert log.append(actor="王五", role="social_worker", action="after") == 604
    assert read_total < 70_000


def test_checkpoint_store_export_and_due(tmp_path: Path) -> None:
    st = Station(tmp_path)
    log = st.head_log
    head = log.sync()
    assert checkpoint_due(head, T0)  # none yet
    note = log.checkpoint(station_signer=STATION_SEED)
    text = Verifier.parse(station_verifier_key(VAULT, STATION_SEED)).verify(note)
    assert text.split("\n")[:2] == [f"sgz/{VAULT}", "4"]
    assert (st.dir / "checkpoints" / "000000000004.note").read_text() == note
    assert log.checkpoint(station_signer=STATION_SEED) == note  # same size: identical note
    assert not checkpoint_due(log.sync(), T0 + timedelta(hours=48))  # nothing new to cover
    st.clock.now = T0 + timedelta(hours=48)
    st.act("王五", "two")
    assert not checkpoint_due(log.sync(), T0 + timedelta(hours=48))  # the uncovered entry is fresh
    assert checkpoint_due(log.sync(), T0 + timedelta(hours=72, seconds=1))
    rep = verify_log(st.dir)
    assert (rep.checkpoints_checked, rep.newest_exported, rep.uncovered, rep.unproven) == (1, None, 5, 1)
    assert not rep.complete and "没有检查点覆盖其中最后 1 条" in rep.summary_zh()
    log.checkpoint(station_signer=STATION_SEED, export=True)
    st.act("王五", "three")
    rep = verify_log(st.dir)
    assert (rep.entries, rep.checkpoints_checked, rep.newest_exported, rep.uncovered) == (6, 2, 5, 1)
    rep = verify_log(st.dir, checkpoints=[log.checkpoint(station_signer=STATION_SEED)])
    assert rep.uncovered == 0 and rep.complete and rep.summary_zh().startswith("完整")


def test_checkpoint_costs_only_the_new_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st = Station(tmp_path)
    log = st.head_log
    st.log("王五").append_many([("王五", "social_worker", "pad", "y" * 500, None)] * 2000)
    log.checkpoint(station_signer=STATION_SEED)
    st.act("王五", "one")
    import archive.audit.walk as walk
    seen = 0
    real = walk.Walk.run

    def counting(self: walk.Walk, lines: object, *, end: bool = True) -> Head:
        nonlocal seen
        lines = list(lines)  # type: ignore[call-overload]
        seen += len(lines)
        return real(self, lines, end=end)

    monkeypatch.setattr(walk.Walk, "run", counting)
    log.checkpoint(station_signer=STATION_SEED)
    assert seen == 1


def test_checkpoint_with_foreign_station_key_refused(tmp_path: Path) -> None:
    st = Station(tmp_path)
    with pytest.raises(IntegrityError):
        st.head_log.checkpoint(station_signer=b"\x09" * 32)


def test_station_key_rotation(tmp_path: Path) -> None:
    st = Station(tmp_path)
    new = bytes(range(200, 232))
    st.head_log.checkpoint(station_signer=STATION_SEED)
    st.head_log.key_entry("station.key", role="head", station_signer=STATION_SEED, new_station_signer=new)
    with pytest.raises(IntegrityError):  # the old key no longer signs checkpoints
        st.head_log.checkpoint(station_signer=STATION_SEED)
    st.head_log.checkpoint(station_signer=new)
    rep = verify_log(st.dir)
    assert rep.checkpoints_checked == 2 and rep.verifier_key == station_verifier_key(VAULT, new)


# --- golden files ---------------------------------------------------------------------------


def build_golden(root: Path) -> tuple[bytes, str]:
    """Regenerate the golden log and checkpoint with fixed clock, keys and randomness."""
    st = Station(root, random=counter_random(), add=("李四", "王五"))
    steps = [
        ("李四", "record.file", "Z001-WS·2026-D30-FW-0001", {"title": "服务协议"}),
        ("李四", "record.get", "Z001-WS·2026-D30-FW-0001",
         {"reason": "外单位查阅", "unit": "双阳区民政局", "path": "导出/0001.pdf"}),
        ("王五", "search", None, None),
        ("张三", "access.approve", "REQ-2026-0003", {"until": "2026-12-05"}),
    ]
    for k, (actor, action, ref, detail) in enumerate(steps, 1):
        st.clock.now = T0 + timedelta(minutes=7 * k)
        st.act(actor, action, ref, **(detail or {}))
    st.keyless().append_unsigned(actor="?")
    st.log("李四").append_many([("李四", "archivist", "record.file", f"Z001-WS·2026-D30-FW-000{k}", None)
                              for k in (2, 3)])
    note = st.head_log.checkpoint(station_signer=STATION_SEED, export=True)
    return st.path.read_bytes(), note


def test_golden_format_is_stable(tmp_path: Path) -> None:
    data, note = build_golden(tmp_path)
    if os.environ.get("SGZ_REGEN_GOLDEN") == "1":  # pragma: no cover - manual regeneration
        (GOLDEN / "log.jsonl").write_bytes(data)
        (GOLDEN / "checkpoint.note").write_bytes(note.encode())
    assert data == (GOLDEN / "log.jsonl").read_bytes()
    assert note.encode() == (GOLDEN / "checkpoint.note").read_bytes()


def test_golden_files_verify(tmp_path: Path) -> None:
    d = tmp_path / "g"
    d.mkdir()
    (d / "log.jsonl").write_bytes((GOLDEN / "log.jsonl").read_bytes())
    rep = verify_log(d, checkpoints=[(GOLDEN / "checkpoint.note").read_text()])
    assert (rep.entries, rep.uncovered, rep.unsigned, rep.vault_id) == (10, 0, 1, VAULT)
    log = AuditLog(d, vault_id=VAULT, clock=Clock(), detail_identities=[AUDIT_ID])
    details = [e.detail for e in log.entries(decrypt=True)]
    assert details[4] == {"reason": "外单位查阅", "unit": "双阳区民政局", "path": "导出/0001.pdf"}
