"""Format-1 logs (unsigned entries, checkpoint key derived from the VRK) verify across the
`upgrade` entry, which the new station key signs over the format-1 prefix's Merkle root."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from audit_fixtures import STATION_SEED, USERS, VAULT, Clock, identity_of, pub_of

from archive.audit.errors import BadKeyEntry, ChainBroken, LineCorrupt
from archive.audit.log import AuditLog
from archive.audit.monitor import Monitor
from archive.audit.note import Signer
from archive.audit.verify import verify_log
from archive.errors import AuditUnavailable

V1 = Path(__file__).resolve().parent / "golden" / "audit" / "v1"
V1_SEED = bytes(range(32, 64))  # the format-1 checkpoint seed of the golden log (VRK-derived then)


@pytest.fixture()
def v1dir(tmp_path: Path) -> Path:
    d = tmp_path / "audit"
    (d / "checkpoints").mkdir(parents=True)
    shutil.copy(V1 / "log.jsonl", d / "log.jsonl")
    shutil.copy(V1 / "checkpoint.note", d / "checkpoints" / "000000000005.note")
    return d


def upgrade(d: Path) -> AuditLog:
    return AuditLog.upgrade(d, vault_id=VAULT, station_signer=STATION_SEED,
                            signer=("张三", USERS["张三"][0]), role="head", clock=Clock())


def test_format1_log_verifies_as_legacy(v1dir: Path) -> None:
    rep = verify_log(v1dir)
    assert (rep.entries, rep.legacy, rep.upgraded_at, rep.checkpoints_checked) == (5, 5, None, 1)
    assert "尚未升级" in rep.summary_zh()


def test_upgrade_then_signed_entries(v1dir: Path) -> None:
    log = upgrade(v1dir)
    first_v1 = (V1 / "log.jsonl").read_bytes()
    assert log.path.read_bytes().startswith(first_v1)  # the format-1 bytes are untouched
    up = json.loads(log.path.read_bytes().split(b"\n")[5])
    assert (up["v"], up["action"], up["seq"]) == (2, "upgrade", 5)
    for name in ("李四", "王五"):
        log.key_entry("user.add", name, role="head", station_signer=STATION_SEED,
                      grant=USERS[name][1], pub=pub_of(name))
    AuditLog(v1dir, vault_id=VAULT, signer=("王五", USERS["王五"][0]), clock=Clock()).append(
        actor="王五", role="social_worker", action="search")
    log.checkpoint(station_signer=STATION_SEED)
    rep = verify_log(v1dir)
    assert (rep.entries, rep.legacy, rep.upgraded_at, rep.checkpoints_checked) == (9, 5, 6, 2)
    assert rep.complete and "由第 6 条升级条目的站点签名担保" in rep.summary_zh()
    # a monitor's first unlock walks across the upgrade too
    r = Monitor.check_and_update(AuditLog(v1dir, vault_id=VAULT, signer=("王五", USERS["王五"][0]),
                                          clock=Clock()),
                                 identity_of("王五"), v1dir.parent / "seen" / "w.age")
    assert r.size == 9


def test_format1_details_open_with_the_legacy_key(v1dir: Path) -> None:
    upgrade(v1dir)
    log = AuditLog(v1dir, vault_id=VAULT, clock=Clock(), legacy_detail_key=bytes(range(32)))
    details = [e.detail for e in log.entries(decrypt=True)]
    assert details[2] == {"reason": "外单位查阅", "unit": "双阳区民政局", "path": "导出/0001.pdf"}
    from archive.errors import DecryptionFailed
    wrong = AuditLog(v1dir, vault_id=VAULT, clock=Clock(), legacy_detail_key=bytes(32))
    with pytest.raises(DecryptionFailed):
        list(wrong.entries(decrypt=True))


def test_upgrade_is_idempotent_and_appending_needs_it(v1dir: Path) -> None:
    w = AuditLog(v1dir, vault_id=VAULT, signer=("张三", USERS["张三"][0]), clock=Clock())
    with pytest.raises(AuditUnavailable):
        w.append(actor="张三", role="head", action="x")
    upgrade(v1dir)
    size = v1dir.joinpath("log.jsonl").stat().st_size
    upgrade(v1dir)
    assert v1dir.joinpath("log.jsonl").stat().st_size == size


def test_torn_format1_tail_is_cut_and_recorded(v1dir: Path) -> None:
    with open(v1dir / "log.jsonl", "ab") as f:
        f.write(b'{"v":1,"seq":5,"ts":"2026-')
    upgrade(v1dir)
    lines = (v1dir / "log.jsonl").read_bytes().split(b"\n")
    assert [json.loads(x)["action"] for x in lines[5:7]] == ["upgrade", "log.repair"]
    assert verify_log(v1dir).entries == 7


def test_prefix_edited_after_upgrade_is_caught(v1dir: Path) -> None:
    upgrade(v1dir)
    p = v1dir / "log.jsonl"
    ls = p.read_bytes().split(b"\n")
    ls[4] = ls[4].replace(b"REQ-2026-0003", b"REQ-2026-0004")  # the last format-1 line
    p.write_bytes(b"\n".join(ls))
    shutil.rmtree(v1dir / "checkpoints")
    with pytest.raises(ChainBroken):  # the upgrade line's prev is the old line's leaf hash
        verify_log(v1dir)


def test_format1_key_holder_cannot_rewrite_the_prefix(v1dir: Path) -> None:
    """Anyone with the old VRK can still sign format-1 checkpoints; the upgrade entry pins the
    prefix, so a re-chained prefix with a re-signed format-1 checkpoint does not verify."""
    upgrade(v1dir)
    p = v1dir / "log.jsonl"
    ls = p.read_bytes().split(b"\n")
    # rewrite the last format-1 line and re-chain the upgrade line's prev: its signatures break
    o = json.loads(ls[4])
    o["ref"] = "REQ-2026-0004"
    ls[4] = json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode()
    from archive.audit.merkle import leaf_hash
    up = json.loads(ls[5])
    ls[5] = ls[5].replace(up["prev"].encode(), leaf_hash(ls[4]).hex().encode())
    p.write_bytes(b"\n".join(ls))
    from archive.audit.merkle import root
    body = f"sgz/{VAULT}\n5\n{__import__('base64').b64encode(root(leaf_hash(x) for x in ls[:5])).decode()}\n"
    (v1dir / "checkpoints" / "000000000005.note").write_text(Signer(f"sgz/{VAULT}", V1_SEED).sign(body))
    with pytest.raises(BadKeyEntry):
        verify_log(v1dir)


def test_old_format1_checkpoint_still_checks_the_prefix(v1dir: Path, tmp_path: Path) -> None:
    upgrade(v1dir)
    note = (V1 / "checkpoint.note").read_text()
    shutil.rmtree(v1dir / "checkpoints")
    assert verify_log(v1dir, checkpoints=[note]).checkpoints_checked == 1
    p = v1dir / "log.jsonl"
    ls = p.read_bytes().split(b"\n")
    ls.insert(6, ls[1])  # a format-1 line after the upgrade
    p.write_bytes(b"\n".join(ls))
    with pytest.raises(LineCorrupt):
        verify_log(v1dir)


def test_format1_checkpoint_after_the_upgrade_size_is_refused(v1dir: Path) -> None:
    upgrade(v1dir)
    from archive.audit.errors import CheckpointUnknownKey
    log = AuditLog(v1dir, vault_id=VAULT, signer=("张三", USERS["张三"][0]), clock=Clock())
    head = log.sync()
    body = f"sgz/{VAULT}\n6\n{__import__('base64').b64encode(head.root()).decode()}\n"
    (v1dir / "checkpoints" / "000000000006.note").write_text(Signer(f"sgz/{VAULT}", V1_SEED).sign(body))
    with pytest.raises(CheckpointUnknownKey):
        verify_log(v1dir)


def test_failed_login_on_a_format_1_log_chains_like_format_1(tmp_path) -> None:
    """Between the key upgrade and the log's conversion, a failed login is still recorded, as
    one unsigned format-1 line chained to the last; the log verifies with it."""
    import hashlib
    import json
    import shutil
    from datetime import UTC, datetime
    from pathlib import Path

    from archive.audit.v1 import append_failed_unlock
    from archive.audit.verify import verify_log

    golden = Path(__file__).parent / "golden" / "format1" / "home" / "vault" / "audit"
    audit = tmp_path / "audit"
    shutil.copytree(golden, audit)
    before = (audit / "log.jsonl").read_bytes().splitlines()
    append_failed_unlock(audit, "?", datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    after = (audit / "log.jsonl").read_bytes().splitlines()
    assert after[:-1] == before
    last = json.loads(after[-1])
    assert last["action"] == "auth.failed" and last["actor"] == "?" and last["role"] == ""
    assert last["seq"] == json.loads(before[-1])["seq"] + 1
    assert last["prev"] == hashlib.sha256(before[-1]).hexdigest()
    assert verify_log(audit).entries == len(after)
    (audit / "log.jsonl").write_bytes((audit / "log.jsonl").read_bytes() + b'{"v":1,"se')
    append_failed_unlock(audit, "?", datetime(2026, 12, 1, 8, 1, tzinfo=UTC))  # torn: left alone
    assert (audit / "log.jsonl").read_bytes().endswith(b'{"v":1,"se')
