"""The attacks of issue 10 on the audit log, replayed with real keys, real files and the real
`sgz audit verify` in a subprocess: each now fails with exit 8 (or, where verify alone cannot
know, is reported as unproven and caught by the next unlock of a user who saw more)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from audit_fixtures import STATION_SEED, USERS, VAULT, Station, identity_of
from conftest import run_sgz, sgz_env

from archive.audit.errors import AuditTampered, CheckpointsDeleted, LogRewritten, LogTruncated
from archive.audit.line import DOMAIN_ENTRY, SIG_TAIL, close
from archive.audit.log import AuditLog
from archive.audit.merkle import leaf_hash
from archive.audit.monitor import Monitor
from archive.audit.note import Signer
from archive.audit.verify import verify_log
from archive.crypto.ed25519 import SigningKey


@pytest.fixture()
def st(tmp_path: Path) -> Station:
    """A station home (vault/audit under it) with a few days of entries and a checkpoint."""
    s = Station(tmp_path / "home" / "vault")
    s.act("王五", "record.get", "Z001-WS·2026-D30-FW-0001", reason="家访")
    s.act("张三", "access.approve", "REQ-2026-0001")
    s.head_log.checkpoint(station_signer=STATION_SEED)
    s.act("王五", "record.get", "Z001-WS·2026-D30-FW-0002", reason="回访")
    s.act("李四", "record.file", "Z001-WS·2026-D30-FW-0003")
    return s


def sgz_verify(st: Station, *extra: str) -> tuple[int, dict[str, object]]:
    home = st.dir.parent.parent
    r = run_sgz(["audit", "verify", "--json", *extra], sgz_env(home))
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}


def monitor(st: Station, name: str) -> object:
    return Monitor.check_and_update(st.log(name), identity_of(name),
                                    st.dir.parent / "seen" / f"{name}.age")


def test_clean_log_exit_0(st: Station) -> None:
    code, out = sgz_verify(st)
    assert code == 0 and out["ok"] is True and out["entries"] == 8


def test_impersonation_with_own_key_exit_8(st: Station) -> None:
    """王五 (social worker) uses the library with user "张三" and her own key."""
    fake = AuditLog(st.dir, vault_id=VAULT, signer=("张三", USERS["王五"][0]), clock=st.clock)
    fake.append(actor="张三", role="head", action="record.get", ref="Z001-WS·2026-D30-FW-0009")
    code, out = sgz_verify(st)
    assert code == 8 and out["reason"] == "bad-signature" and out["line"] == "9"


def test_impersonation_by_copying_a_signature_exit_8(st: Station) -> None:
    """Reusing the head's signature from another line: it signs different bytes."""
    lines = st.lines()
    head_sig = lines[5][-SIG_TAIL:]  # 张三's access.approve
    pre = lines[7][:-SIG_TAIL].replace('"actor":"李四","role":"archivist"'.encode(),
                                       '"actor":"张三","role":"head"'.encode())
    st.write_lines(lines[:7] + [pre + head_sig])
    code, out = sgz_verify(st)
    assert code == 8 and out["reason"] == "bad-signature"


def test_member_rewrite_dropping_own_entries_exit_8(st: Station) -> None:
    """王五 drops her entry at line 7, re-chains and re-signs her own lines, and re-signs the
    checkpoint with her key. 李四's later line no longer verifies; the checkpoint is not by
    the station key."""
    lines = st.lines()
    kept = lines[:6] + [lines[7]]
    key = SigningKey(USERS["王五"][0])
    out = kept[:6]
    for raw in kept[6:]:
        o = json.loads(raw)
        pre = raw[:-SIG_TAIL].replace(o["prev"].encode(), leaf_hash(out[-1]).hex().encode())
        pre = pre.replace(f'"seq":{o["seq"]},'.encode(), f'"seq":{len(out)},'.encode())
        out.append(close(pre, key.sign(DOMAIN_ENTRY + pre)) if o["actor"] == "王五"
                   else pre + raw[-SIG_TAIL:])
    st.write_lines(out)
    code, res = sgz_verify(st)
    assert code == 8 and res["reason"] == "bad-signature" and res["line"] == "7"
    note = Signer(f"sgz/{VAULT}", USERS["王五"][0]).sign(f"sgz/{VAULT}\n7\n{base64.b64encode(b'0' * 32).decode()}\n")
    st.head_log.checkpoints.store(7, note, export=False)
    code, res = sgz_verify(st)
    assert code == 8 and res["reason"] in ("checkpoint-unknown-key", "bad-signature")


def test_station_key_holder_rewrites_her_own_tail(st: Station) -> None:
    """The deputy holds the station key: she cuts the uncovered tail, deletes the checkpoints
    and signs a fresh one. verify alone sees a consistent log, but the head, who saw more,
    fails at the next unlock (exit 8)."""
    monitor(st, "张三")  # 张三 has seen all 8
    shutil.rmtree(st.dir / "checkpoints")
    st.write_lines(st.lines()[:6])
    st.log("赵六").checkpoint(station_signer=STATION_SEED)
    code, _ = sgz_verify(st)
    assert code == 0
    with pytest.raises(LogTruncated) as ei:
        monitor(st, "张三")
    assert ei.value.exit_code == 8


def test_no_key_checkpoints_deleted_and_tail_cut(st: Station) -> None:
    monitor(st, "王五")
    shutil.rmtree(st.dir / "checkpoints")
    st.write_lines(st.lines()[:-2])
    code, out = sgz_verify(st)
    assert code == 0 and out["checkpoints"] == 0  # the CLI verifies, but the library says:
    rep = verify_log(st.dir)
    assert not rep.complete and rep.unproven == 6
    assert "没有检查点覆盖其中最后 6 条" in rep.summary_zh() and not rep.summary_zh().startswith("完整")
    with pytest.raises(LogTruncated):
        monitor(st, "王五")


def test_no_key_checkpoints_deleted_only(st: Station) -> None:
    monitor(st, "李四")
    shutil.rmtree(st.dir / "checkpoints")
    with pytest.raises(CheckpointsDeleted):
        monitor(st, "李四")


def test_no_key_checkpoints_deleted_and_last_line_edited(st: Station) -> None:
    monitor(st, "王五")
    shutil.rmtree(st.dir / "checkpoints")
    lines = st.lines()
    lines[-1] = lines[-1].replace(b"FW-0003", b"FW-0004")
    st.write_lines(lines)
    code, out = sgz_verify(st)
    assert code == 8 and out["reason"] == "bad-signature"  # signed: an edit fails even uncovered
    with pytest.raises(AuditTampered):
        monitor(st, "王五")


def test_no_key_checkpoints_deleted_cut_and_appended(st: Station) -> None:
    """Cut the tail and append look-alike lines: without a key they can only be the unsigned
    kind (counted apart), and whoever saw the cut lines catches the rewrite."""
    monitor(st, "张三")
    shutil.rmtree(st.dir / "checkpoints")
    st.write_lines(st.lines()[:-1])
    for _ in range(3):
        st.keyless().append_unsigned(actor="李四")
    rep = verify_log(st.dir)
    assert rep.unsigned == 3 and not rep.complete
    with pytest.raises(LogRewritten):
        monitor(st, "张三")


def test_exported_checkpoint_catches_a_station_signed_rewrite(st: Station, tmp_path: Path) -> None:
    """The county keeps an exported checkpoint; a later rewrite re-signed with the station key
    contradicts it."""
    exported = st.head_log.checkpoint(station_signer=STATION_SEED, export=True)
    outside = tmp_path / "县民政局留存.note"
    outside.write_text(exported)
    shutil.rmtree(st.dir / "checkpoints")
    st.write_lines(st.lines()[:6])
    st.log("赵六").checkpoint(station_signer=STATION_SEED)
    code, out = sgz_verify(st, "--checkpoint", str(outside))
    assert code == 8 and out["reason"] == "truncated"
