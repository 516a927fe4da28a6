"""`sgz upgrade` on the golden format-1 home converts its audit log too: the format-1 lines
verify across the signed `upgrade` entry, every user's key enters the log, and afterwards every
entry is signed by its actor (head right away, the others from their first login)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_sgz, sgz_env
from vault2_fixtures import PASS, USERS, WF, golden_copy

from archive.app import Archive, upgrade_audit_hook
from archive.audit.verify import verify_log
from archive.vault.upgrade import upgrade


def _audit(home: Path) -> Path:
    return home / "vault" / "audit"


def test_upgrade_converts_the_log_and_later_entries_are_signed(tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    home = golden_copy(tmp_path)
    before = verify_log(_audit(home))
    assert before.legacy == before.entries and before.upgraded_at is None
    hook = upgrade_audit_hook(home, clock)
    upgrade(home, user="zhangsan", passphrase=PASS, work_factor=WF, on_committed=hook)
    rep = verify_log(_audit(home))
    assert (rep.legacy, rep.upgraded_at) == (before.entries, before.entries + 1)
    assert rep.users == {**USERS, "recovery": "head"}
    with Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=clock,
                        kdf_work_factor=WF) as arc:
        assert arc.kernel.seen.seen_before > 0  # the upgrade left the head a last-seen head
        arc.kernel.log("test.after_upgrade", None)
    lisi = next(n for n, r in USERS.items() if r == "social_worker")
    with Archive.unlock(home, user=lisi, passphrase=PASS, clock=clock, kdf_work_factor=WF) as arc:
        arc.kernel.log("test.enrolled", None)  # her first login: keys taken, entry signed
    rep = verify_log(_audit(home))
    last = [json.loads(x) for x in (_audit(home) / "log.jsonl").read_bytes().split(b"\n")[-4:-1]]
    assert any(o["actor"] == lisi and o["sig"] for o in last)
    assert rep.entries > before.entries + 2


def test_resumed_upgrade_does_not_add_users_twice(tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    home = golden_copy(tmp_path)
    hook = upgrade_audit_hook(home, clock)
    captured = []
    upgrade(home, user="zhangsan", passphrase=PASS, work_factor=WF,
            on_committed=lambda bag: (captured.append(bag), hook(bag)))
    n = verify_log(_audit(home)).entries
    hook(captured[0])  # what a resumed run does after the commit
    assert verify_log(_audit(home)).entries == n


def test_sgz_upgrade_cli_converts_the_log(tmp_path: Path) -> None:
    home = golden_copy(tmp_path)
    env = sgz_env(home, user="zhangsan", passphrase=PASS, SGZ_KDF_WORK_FACTOR=str(WF))
    r = run_sgz(["upgrade"], env)
    assert r.returncode == 0, r.stderr
    r = run_sgz(["audit", "verify", "--json"], env)
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["upgraded_at"] == out["legacy"] + 1
    r = run_sgz(["ls"], env)
    assert r.returncode == 0, r.stderr
    assert verify_log(_audit(home)).users["zhangsan"] == "head"


@pytest.mark.parametrize("who", ["recovery"])
def test_upgrade_by_the_recovery_code(tmp_path: Path, clock, who: str) -> None:  # type: ignore[no-untyped-def]
    from vault2_fixtures import recovery_code_v1

    home = golden_copy(tmp_path)
    upgrade(home, recovery_code=recovery_code_v1(), work_factor=WF,
            on_committed=upgrade_audit_hook(home, clock))
    rep = verify_log(_audit(home))
    assert rep.upgraded_at is not None and rep.users[who] == "head" and "zhangsan" in rep.users
