"""Witnessed destruction: what crypto-shredding proves, misuse refusals, resume after kill -9."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from conftest import CHEAP_WF, PASS, run_sgz, sgz_env

from archive.catalog.db import Database
from archive.crypto import age
from archive.errors import AccessDenied, Conflict
from archive.vault.keyring2 import unwrap_identity

CANARY = "欧阳娜娜低保边缘户临时救助金"
AS_OF = date(2026, 6, 1)
WITNESSES = ["李四（副站长）", "赵敏（街道社会事务办）"]


def _file_old(arc, make_file, name: str, data: str, *, cls: str = "XZ") -> str:
    return arc.records.file([make_file(name, data)], category=cls, year=2015, retention="D10",
                    title=name)[0].ref


def _approved_batch(arc, refs: list[str]) -> str:
    b = arc.disposal.propose(refs, as_of=AS_OF)
    arc.disposal.approve(b.id)
    return b.id


def _home_bytes(root: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in root.rglob("*") if p.is_file()]


def test_destruction_leaves_nothing_that_decrypts(arc, make_file, tmp_path) -> None:
    ref = _file_old(arc, make_file, "走访记录.txt", f"服务对象 {CANARY} 家庭情况")
    arc.records.file([make_file("附件.txt", f"附件 {CANARY} 2")], of=ref, kind="附件")
    keep = _file_old(arc, make_file, "保留.txt", "仍需保存的文件")
    rec = arc.kernel.records.get(ref)
    comps = arc.kernel.records.components(rec.id)
    secrets, blobs = [], []
    for c in comps:  # capture through the library (audited) before destruction
        ident = arc.kernel.object_keys.unwrap(c.object_id, arc.kernel.keys.bag,
                                              lambda: arc.kernel.log("test.capture", ref))
        secrets.append(ident.secret_bytes())
        blobs.append(bytes(arc.kernel.db.execute("SELECT wrapped FROM objects WHERE id = ?",
                                          (c.object_id,)).fetchone()[0]))
    assert all(len(s) == 32 for s in secrets)
    old = tmp_path / "before"
    old.mkdir()
    arc.kernel.db.checkpoint_truncate()
    shutil.copy(arc.kernel.home.catalog, old / "catalog.db")
    for c in comps:
        shutil.copy(arc.kernel.objects.path(c.object_id), old / f"{c.object_id}.age")
    comp_name = rec.compartment  # vault format 2: the record's key compartment
    old_epoch = arc.kernel.keys.ring.current(comp_name)

    bid = _approved_batch(arc, [ref])
    batch = arc.disposal.execute(bid, witnesses=WITNESSES)
    assert batch.state == "executed" and batch.witnesses == WITNESSES
    wal = arc.kernel.home.catalog.with_name(arc.kernel.home.catalog.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # destroyed rows not left in the WAL

    # (1) no key the station holds opens the old catalogue's wrapped identity: the record's
    # compartment moved to a new epoch and the old one is erased from the keyring
    assert list(arc.kernel.keys.ring.compartments[comp_name].epochs) == [old_epoch + 1]
    held = [i for c in arc.kernel.keys.bag.compartments for i in arc.kernel.keys.bag.identities(c)]
    old_db = Database(old / "catalog.db", arc.kernel.keys.bag.catalog_keys()[0][1])
    for c in comps:
        row = old_db.execute("SELECT compartment, epoch, wrapped FROM objects WHERE id = ?",
                             (c.object_id,)).fetchone()
        assert (row["compartment"], row["epoch"]) == (comp_name, old_epoch)
        assert row["wrapped"] is not None
        with pytest.raises(age.AgeError):
            unwrap_identity(row["wrapped"], held)
        assert not arc.kernel.objects.exists(c.object_id)
        live = arc.kernel.db.execute("SELECT wrapped, state FROM objects WHERE id = ?",
                              (c.object_id,)).fetchone()
        assert live["wrapped"] is None and live["state"] == "destroyed"
    old_db.close()
    # the survivor still opens under the new epoch
    out = arc.records.get(keep, tmp_path / "keep.txt", reason="核对")
    assert out.read_text(encoding="utf-8") == "仍需保存的文件"

    # (2) a byte scan of the whole home finds no canary, identity secret or old wrapped blob
    needles = [CANARY.encode(), CANARY.encode("utf-16-le"), *secrets, *blobs]
    for path, data in _home_bytes(arc.kernel.home.root):
        for n in needles:
            assert n not in data, path

    # catalogue keeps the register fields; content refused
    after = arc.kernel.records.get(ref)
    assert after.status == "destroyed" and after.title == "走访记录.txt" and after.destroyed_at
    with pytest.raises(Conflict):
        arc.records.get(ref, tmp_path / "x", reason="r")
    # (3) the 件号 is never reused
    again = _file_old(arc, make_file, "新文件.txt", "another")
    assert again.endswith("-0003") and again != ref
    # the log verifies and a checkpoint covers the destruction
    from archive.audit.verify import verify_log

    report = verify_log(arc.kernel.home.audit)  # raises on any defect
    assert report.entries == len(list(arc.kernel.audit.entries()))
    actions = [e.action for e in arc.kernel.audit.entries()]
    i = actions.index("disposal.destroy.begin")
    assert actions[i + 1] == "record.destroy"
    assert actions.index("keys.shred") < actions.index("disposal.execute")


def test_register_is_filed_permanently_and_temp_file_gone(arc, make_file) -> None:
    ref = _file_old(arc, make_file, "a.txt", "x")
    b = arc.disposal.propose([ref], as_of=AS_OF)
    assert b.id == "XH-2026-0001" and b.state == "proposed"
    reg = arc.kernel.records.get(b.register_ref)
    assert (reg.cls, reg.retention, reg.title) == ("XZ", "Y", "档案销毁清册（XH-2026-0001）")
    assert arc.kernel.objects.leftovers() == [] and list(arc.kernel.objects.session_dir().iterdir()) == []
    import io

    import docx

    comp = arc.records.current_component(reg)
    with arc.kernel.door.open(arc.kernel.authorize("record.read", reg, reason="test"), reg, comp,
                              action="record.get", detail={"reason": "test"}) as s:
        document = docx.Document(io.BytesIO(s.read()))
        text = "\n".join(c.text for t in document.tables for row in t.rows for c in row.cells)
        prose = "\n".join(p.text for p in document.paragraphs)
    assert ref in text and "定期10年" in text
    assert "D10" not in text.replace(ref, "") and "纪元" not in prose + text  # plain Chinese
    assert arc.disposal.propose([_file_old(arc, make_file, "b.txt", "y")], as_of=AS_OF).id \
        == "XH-2026-0002"
    with pytest.raises(Conflict, match="XH-2026-0001"):
        arc.disposal.propose([ref], as_of=AS_OF)


def test_unexpired_needs_appraisal_note(arc, make_file) -> None:
    ref = arc.records.file([make_file("n.txt", "new")], category="FW", year=2025, retention="D10")[0].ref
    with pytest.raises(Conflict, match="未到期"):
        arc.disposal.propose([ref], as_of=AS_OF)
    b = arc.disposal.propose([ref], as_of=AS_OF, appraisal_note="经鉴定为重复件，无保存价值")
    assert b.items[0].expired is False and b.appraisal_note.startswith("经鉴定")


def _denials(arc) -> list[dict]:
    return [e.detail for e in arc.kernel.audit.entries(action="denied", decrypt=True)]


def test_misuse_is_refused_named_and_logged(arc, make_file, clock) -> None:
    from archive.app import Archive

    ref = _file_old(arc, make_file, "a.txt", "x")
    b = arc.disposal.propose([ref], as_of=AS_OF)
    n0 = len(_denials(arc))
    with pytest.raises(Conflict, match="未经站长批准"):  # unapproved
        arc.disposal.execute(b.id, witnesses=WITNESSES)
    arc.users.add("wangli", "archivist", PASS)
    ar = Archive.unlock(arc.kernel.home.root, user="wangli", passphrase=PASS, clock=clock,
                        kdf_work_factor=CHEAP_WF)
    with ar:
        with pytest.raises(AccessDenied, match="站长批准"):  # approving as non-head
            ar.disposal.approve(b.id)
        arc.disposal.approve(b.id)
        with pytest.raises(AccessDenied, match="监销人"):  # no witness
            ar.disposal.execute(b.id, witnesses=[])
        with pytest.raises(AccessDenied, match="两名以上"):  # one witness
            ar.disposal.execute(b.id, witnesses=["李四", " 李四 "])
        with pytest.raises(AccessDenied, match="执行人本人"):  # executor as witness
            ar.disposal.execute(b.id, witnesses=["wangli（档案管理员）", "李四"])
        arc.holds.add(ref, reason="诉讼")
        with pytest.raises(AccessDenied, match="冻结"):  # held
            ar.disposal.execute(b.id, witnesses=WITNESSES)
        assert arc.kernel.records.get(ref).status == "active"
        arc.holds.remove(ref, reason="诉讼结束")
        assert ar.disposal.execute(b.id, witnesses=WITNESSES).state == "executed"
    rules = [d["rule"] for d in _denials(arc)[n0:]]
    assert len(rules) == 6
    for needle in ("未经站长批准", "站长批准", "指定监销人", "两名以上", "执行人本人", "冻结"):
        assert any(needle in r for r in rules), needle
    with pytest.raises(Conflict, match="已于"):
        arc.disposal.execute(b.id, witnesses=WITNESSES)


_KILLER = """
import os, signal, sys
from archive.vault import revocation
from archive.vault.objects import ObjectStore
point, at = os.environ["KILL_POINT"], int(os.environ["KILL_AT"])
count = {"n": 0}
def trap(orig):
    def wrapped(*a, **k):
        count["n"] += 1
        if count["n"] == at:
            os.kill(os.getpid(), signal.SIGKILL)
        return orig(*a, **k)
    return wrapped
if point == "delete":
    ObjectStore.delete = trap(ObjectStore.delete)
else:
    revocation.rewrap = trap(revocation.rewrap)  # inside the shredding rotation
from archive.cli.main import main
main(sys.argv[1:])
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
@pytest.mark.parametrize("point,at", [("delete", 2), ("rotate", 1)])
def test_killed_mid_batch_then_rerun_finishes(home, clock, make_file, point, at) -> None:
    from archive.app import Archive

    arc, _ = Archive.init(home, user="zhangsan", role="head", passphrase=PASS, clock=clock,
                          kdf_work_factor=CHEAP_WF)
    with arc:
        refs = [_file_old(arc, make_file, f"{i}.txt", f"doc {i} {CANARY}") for i in range(3)]
        oids = [c.object_id for r in refs for c in arc.kernel.records.components(arc.kernel.records.get(r).id)]
        bid = _approved_batch(arc, refs)
    env = sgz_env(home, KILL_POINT=point, KILL_AT=str(at))
    args = ["disposal", "execute", bid, "--witness", WITNESSES[0], "--witness", WITNESSES[1]]
    r = subprocess.run([sys.executable, "-c", _KILLER, *args], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr
    r = run_sgz([*args, "--json"], sgz_env(home))
    assert r.returncode == 0, r.stderr
    arc = Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=clock,
                         kdf_work_factor=CHEAP_WF)
    with arc:
        b = arc.disposal.show(bid)
        assert b.state == "executed" and all(i.state == "destroyed" for i in b.items)
        assert all(arc.kernel.records.get(r).status == "destroyed" for r in refs)
        assert not any(arc.kernel.objects.exists(o) for o in oids)
        ring = arc.kernel.keys.ring
        assert all(list(c.epochs) == [c.current] for n, c in ring.compartments.items()
                   if n in ("general", "service", "personnel", "secret"))
        assert ring.current("general") >= 2  # the items (XZ) were shredded
        acts = [e.action for e in arc.kernel.audit.entries()]
        assert acts.count("record.destroy") == 3 and acts.count("disposal.execute") == 1
        from archive.audit.verify import verify_log

        assert verify_log(arc.kernel.home.audit).entries == len(acts)
    assert not [p for p in home.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()]
    assert os.listdir(home / "vault" / "tmp") == []
