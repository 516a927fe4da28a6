"""Every user is a monitor: the sealed last-seen head, checked at each unlock against the log."""

from __future__ import annotations

import base64
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from audit_fixtures import STATION_SEED, T0, USERS, VAULT, Station, identity_of

from archive.audit.errors import (
    CheckpointConflict,
    CheckpointsDeleted,
    LogForked,
    LogRewritten,
    LogTruncated,
    MonitorStateInvalid,
)
from archive.audit.monitor import Monitor, seal_state
from archive.audit.note import Signer
from archive.audit.verify import verify_log
from archive.crypto.ed25519 import SigningKey


def state(st: Station, name: str) -> Path:
    return st.dir.parent / "seen" / f"{name}.age"


def check(st: Station, name: str, **kw: object):  # type: ignore[no-untyped-def]
    log = st.log(name)
    return Monitor.check_and_update(log, identity_of(name), state(st, name), now=st.clock.now, **kw)  # type: ignore[arg-type]


def test_first_and_later_unlocks(tmp_path: Path) -> None:
    st = Station(tmp_path)
    r = check(st, "王五")
    assert (r.first, r.seen_before, r.size, r.new_entries, r.checkpoint, r.due) == (True, 0, 4, 4, 0, True)
    st.act("李四", "record.get", "R1")
    st.act("李四", "record.get", "R2")
    r = check(st, "王五")
    assert (r.first, r.seen_before, r.size, r.new_entries) == (False, 4, 6, 2)
    assert r.root == verify_log(st.dir).root
    data = state(st, "王五").read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n")  # sealed: no name, size or root in clear
    assert "王五".encode() not in data and r.root.hex().encode() not in data


def test_unlock_reads_only_the_new_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st = Station(tmp_path)
    st.log("李四").append_many([("李四", "archivist", "pad", "z" * 400, None)] * 3000)
    check(st, "王五")
    st.act("李四", "one")
    import archive.audit.walk as walk
    seen: list[int] = []
    real = walk.Walk.run

    def counting(self: walk.Walk, lines: object, *, end: bool = True):  # type: ignore[no-untyped-def]
        lines = list(lines)  # type: ignore[call-overload]
        seen.append(len(lines))
        return real(self, lines, end=end)

    monkeypatch.setattr(walk.Walk, "run", counting)
    r = check(st, "王五")
    assert seen == [1] and r.new_entries == 1 and r.size == 3005


def test_truncation_is_caught_by_whoever_saw_more(tmp_path: Path) -> None:
    st = Station(tmp_path)
    check(st, "李四")  # 李四 saw 4
    st.act("王五", "record.get", "R1")
    st.act("王五", "record.get", "R2")
    check(st, "张三")  # 张三 saw 6
    st.write_lines(st.lines()[:-2])  # cut both, no checkpoint exists
    rep = verify_log(st.dir)
    assert not rep.complete and rep.unproven == 4
    with pytest.raises(LogTruncated) as ei:
        check(st, "张三")
    assert ei.value.exit_code == 8 and "张三" in ei.value.msg
    check(st, "李四")  # who saw less cannot tell


def test_cut_then_appended_is_a_rewrite(tmp_path: Path) -> None:
    st = Station(tmp_path)
    st.act("王五", "record.get", "R1")
    check(st, "张三")
    st.write_lines(st.lines()[:-1])
    st.act("王五", "search")  # a different line where 张三 had seen record.get
    st.act("王五", "search")
    with pytest.raises(LogRewritten):
        check(st, "张三")


def test_deleted_checkpoints_are_caught(tmp_path: Path) -> None:
    st = Station(tmp_path)
    st.head_log.checkpoint(station_signer=STATION_SEED)
    r = check(st, "王五")
    assert (r.checkpoint, r.unproven) == (4, 0)
    st.act("李四", "one")
    shutil.rmtree(st.dir / "checkpoints")
    with pytest.raises(CheckpointsDeleted) as ei:
        check(st, "王五")
    assert ei.value.exit_code == 8


def test_replaced_checkpoint_is_caught(tmp_path: Path) -> None:
    st = Station(tmp_path)
    st.head_log.checkpoint(station_signer=STATION_SEED)
    check(st, "王五")
    p = st.dir / "checkpoints" / "000000000004.note"
    body = f"sgz/{VAULT}\n4\n{base64.b64encode(b'x' * 32).decode()}\n"
    p.write_text(Signer(f"sgz/{VAULT}", STATION_SEED).sign(body))
    with pytest.raises(CheckpointConflict):
        check(st, "王五")


def test_resigned_rewrite_by_station_key_holder_is_a_fork(tmp_path: Path) -> None:
    """The deputy drops the head's last entry, writes her own instead and re-signs a checkpoint."""
    st = Station(tmp_path)
    st.act("张三", "disposal.approve", "D1")
    before = st.lines()
    st.act("赵六", "record.get", "R9")
    check(st, "王五")  # 王五 has seen 张三's approval and 赵六's read at sizes 5, 6
    st.write_lines(before[:-1])
    st.act("赵六", "record.get", "R9")
    st.act("赵六", "search")
    st.log("赵六").checkpoint(station_signer=STATION_SEED)
    assert verify_log(st.dir).complete  # on its own, the rewritten log is consistent
    with pytest.raises((LogRewritten, LogTruncated)):
        check(st, "王五")


def test_fork_beyond_the_seen_size_fails_against_the_checkpoint(tmp_path: Path) -> None:
    st = Station(tmp_path)
    check(st, "王五")  # saw 4
    st.act("张三", "one")
    Path(st.dir / "keep").write_bytes(st.path.read_bytes())
    st.act("张三", "two")
    st.head_log.checkpoint(station_signer=STATION_SEED)  # signed over 6 lines
    st.path.write_bytes((st.dir / "keep").read_bytes())
    st.act("赵六", "other")  # a different 6th line under the same checkpoint
    with pytest.raises(LogForked):
        check(st, "王五")


def test_checkpoint_beyond_the_end_is_truncation(tmp_path: Path) -> None:
    st = Station(tmp_path)
    st.act("张三", "one")
    st.head_log.checkpoint(station_signer=STATION_SEED)
    st.write_lines(st.lines()[:-1])
    with pytest.raises(LogTruncated):
        check(st, "王五")  # even a first unlock catches a signed size the log no longer reaches


def test_state_cannot_be_forged_swapped_or_edited(tmp_path: Path) -> None:
    st = Station(tmp_path)
    check(st, "王五")
    check(st, "李四")
    head = st.log("王五")
    good = state(st, "王五").read_bytes()
    # someone seals a state to 王五's public identity, but cannot sign it with 王五's key
    from archive.audit.head import Head
    forged = seal_state(Head(), user="王五", vault_id=VAULT, key=SigningKey(USERS["李四"][0]),
                        recipient=identity_of("王五").recipient())
    state(st, "王五").write_bytes(forged)
    with pytest.raises(MonitorStateInvalid):
        Monitor.check_and_update(head, identity_of("王五"), state(st, "王五"))
    state(st, "王五").write_bytes(state(st, "李四").read_bytes())  # another user's state
    with pytest.raises(MonitorStateInvalid):
        Monitor.check_and_update(head, identity_of("王五"), state(st, "王五"))
    bad = bytearray(good)
    bad[-3] ^= 1
    state(st, "王五").write_bytes(bytes(bad))
    with pytest.raises(MonitorStateInvalid):
        Monitor.check_and_update(head, identity_of("王五"), state(st, "王五"))
    state(st, "王五").write_bytes(good)
    Monitor.check_and_update(head, identity_of("王五"), state(st, "王五"))


def test_seed_gives_a_new_user_a_starting_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st = Station(tmp_path, add=("李四",))
    st.log("李四").append_many([("李四", "archivist", "pad", None, None)] * 500)
    size = st.head_log.sync().size
    st.head_log.key_entry("user.add", "王五", role="head", station_signer=STATION_SEED,
                          grant="social_worker", pub=SigningKey(USERS["王五"][0]).public)
    Monitor.seed(st.head_log.sync(), state(st, "王五"), user="王五", vault_id=VAULT,
                 seed=USERS["王五"][0], recipient=identity_of("王五").recipient())
    r = check(st, "王五")
    assert (r.first, r.seen_before, r.new_entries) == (False, size + 1, 0)


def test_due_follows_the_oldest_uncovered_entry(tmp_path: Path) -> None:
    st = Station(tmp_path)
    st.head_log.checkpoint(station_signer=STATION_SEED)
    assert not check(st, "张三").due
    st.clock.now = T0 + timedelta(hours=1)
    st.act("王五", "one")
    st.clock.now = T0 + timedelta(hours=20)
    r = check(st, "张三")
    assert (r.due, r.unproven) == (False, 1)
    st.clock.now = T0 + timedelta(hours=26)
    assert check(st, "张三").due  # the entry written at 1 h has waited 25 h
    st.head_log.checkpoint(station_signer=STATION_SEED)
    assert not check(st, "王五").due
