"""`Archive.check` / `sgz check`: each kind of inconsistency is found, named and (orphans) repaired."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import run_sgz, sgz_env

from archive.errors import AccessDenied
from archive.vault.sealed_catalogue import SealedCatalogue


def _filed(arc, make_file, n: int = 3) -> list[str]:
    refs = []
    for i in range(n):
        p = make_file(f"doc{i}.txt", f"第 {i} 份文件 " * (100 + i))
        refs.append(arc.records.file([p], category="XZ")[0].ref)
    return refs


def _obj(arc, ref: str) -> str:
    rec = arc.kernel.records.get(ref)
    return arc.kernel.records.components(rec.id)[0].object_id


def _actions(arc) -> list[str]:
    return [e.action for e in arc.kernel.audit.entries()]


def test_clean_archive_passes_and_run_is_audited(arc, make_file) -> None:
    _filed(arc, make_file)
    rep = arc.maintenance.check(read_data=True)
    assert rep.ok, rep.problems
    assert (rep.records, rep.components, rep.object_files, rep.read) == (3, 3, 3, 3)
    acts = _actions(arc)
    # one audit entry names every object the batch reads, written before the first key is used
    assert acts[-3:] == ["check.begin", "check.read", "check"]
    read = [e for e in arc.kernel.audit.entries(decrypt=True) if e.action == "check.read"][-1]
    assert len(read.detail["items"]) == 3


def test_missing_object_file(arc, make_file) -> None:
    refs = _filed(arc, make_file)
    arc.kernel.objects.path(_obj(arc, refs[1])).unlink()
    rep = arc.maintenance.check()
    assert [p.code for p in rep.problems] == ["object-missing"]
    assert rep.problems[0].ref == refs[1] and "备份" in rep.problems[0].fix


def test_orphan_file_reported_then_repaired(arc, make_file) -> None:
    _filed(arc, make_file)
    orphan = "ab" * 32
    (arc.kernel.objects.objects / "ab").mkdir(exist_ok=True)
    arc.kernel.objects.path(orphan).write_bytes(b"age-encryption.org/v1 leftover")
    rep = arc.maintenance.check()
    assert [p.code for p in rep.problems] == ["object-orphan"]
    assert "sgz check --repair" in rep.problems[0].fix
    rep = arc.maintenance.check(repair=True)
    assert rep.ok and rep.repaired and not arc.kernel.objects.path(orphan).exists()
    assert "check.repair" in _actions(arc)


def test_corrupt_ciphertext_found_only_by_read_data(arc, make_file) -> None:
    refs = _filed(arc, make_file)
    p = arc.kernel.objects.path(_obj(arc, refs[0]))
    data = bytearray(p.read_bytes())
    data[-5] ^= 0x40
    p.write_bytes(bytes(data))
    assert arc.maintenance.check().ok  # same size, same name: only re-hashing finds it
    rep = arc.maintenance.check(read_data=True)
    assert [p.code for p in rep.problems] == ["object-hash"] and rep.problems[0].ref == refs[0]


def test_fingerprint_mismatch(arc, make_file) -> None:
    refs = _filed(arc, make_file)
    rec = arc.kernel.records.get(refs[2])
    with arc.kernel.db.transaction():
        arc.kernel.db.execute("UPDATE components SET fp_sm3 = ? WHERE record_id = ?", ("0" * 64, rec.id))
    rep = arc.maintenance.check(read_data=True)
    assert [p.code for p in rep.problems] == ["fingerprint"]
    assert "指纹不符" in rep.problems[0].message


def test_staging_leftover_keyring_pending_and_unknown_epoch(arc, make_file) -> None:
    refs = _filed(arc, make_file)
    (arc.kernel.objects.tmp / "deadbeef.part").write_bytes(b"x")
    with arc.kernel.db.transaction():
        # a destruction by a non-member left its key rotation to a head (vault format 2)
        SealedCatalogue(arc.kernel.db).request_key_task("service", "rotate-rewrap",
                                                        when="2026-11-28T09:00:00Z", by="x")
        arc.kernel.db.execute("UPDATE objects SET epoch = 7 WHERE id = ?", (_obj(arc, refs[0]),))
    codes = sorted(p.code for p in arc.maintenance.check().problems)
    assert codes == ["epoch-unknown", "keyring-pending", "staging-leftover"]


def test_tampered_audit_log_is_a_problem(arc, make_file) -> None:
    _filed(arc, make_file, 1)
    log = arc.kernel.home.audit / "log.jsonl"
    lines = log.read_bytes().split(b"\n")
    del lines[1]
    log.write_bytes(b"\n".join(lines))
    rep = arc.maintenance.check()
    assert [p.code for p in rep.problems] == ["audit-seq-gap"]
    assert rep.problems[0].message.startswith("审计日志：第 2 行的序号为 2，应为 1")


def test_subset_is_reproducible_with_seed(arc, make_file) -> None:
    _filed(arc, make_file, 10)

    def read_refs(seed: int) -> list[str | None]:
        n = len(_actions(arc))
        rep = arc.maintenance.check(read_data=True, subset=0.3, rng=random.Random(seed))
        assert rep.ok and rep.read == 3
        return [item for e in list(arc.kernel.audit.entries(decrypt=True))[n:]
                if e.action == "check.read" for item in e.detail["items"]]

    assert read_refs(1) == read_refs(1)
    assert len({tuple(read_refs(s)) for s in range(6)}) > 1


def test_index_status_is_consulted_when_present(arc, make_file, monkeypatch) -> None:
    arc.kernel.home.indexes.mkdir(exist_ok=True)
    arc.kernel.home.fulltext.write_bytes(b"")
    monkeypatch.setattr(arc.maintenance, "_index_status", lambda: {"documents": 0})
    assert arc.maintenance.check().index == {"documents": 0}


def test_only_head_and_archivist_may_check(arc) -> None:
    arc.users.add("zhaoliu", "social_worker", "correct-horse-battery")
    from archive.catalog.users import User

    arc.kernel.user = User("zhaoliu", "social_worker", "", True, "")
    with pytest.raises(AccessDenied):
        arc.maintenance.check()


def test_cli_exit_codes_and_json(cli_home, tmp_path: Path) -> None:
    home, env = cli_home
    src = tmp_path / "a.txt"
    src.write_text("一份文件", encoding="utf-8")
    assert run_sgz(["file", str(src), "--category", "XZ"], env).returncode == 0
    r = run_sgz(["check", "--read-data", "--subset", "50%", "--seed", "3"], env)
    assert r.returncode == 0 and "结果：无问题" in r.stdout, r.stderr
    objs = list((home / "vault" / "objects").glob("??/*.age"))
    objs[0].unlink()
    r = run_sgz(["check", "--json"], env)
    assert r.returncode == 8
    rep = json.loads(r.stdout)
    assert not rep["ok"] and rep["problems"][0]["code"] == "object-missing"
    r = run_sgz(["check", "--subset", "10%"], env)
    assert r.returncode == 2 and "--read-data" in r.stderr
    r = run_sgz(["check"], sgz_env(home, passphrase="wrong-passphrase"))
    assert r.returncode == 7
