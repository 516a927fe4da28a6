"""`sgz upgrade` (format 1 → 2) on the golden format-1 home: every record opens for its
members, nothing for the others; crash-safe (kill -9 at every step) and resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from vault2_fixtures import (
    GOLDEN,
    GOLDEN_DOCS,
    PASS,
    USERS,
    WF,
    Session,
    golden_copy,
    recovery_code_v1,
    vault_id,
)

from archive.errors import AccessDenied, Conflict, DecryptionFailed
from archive.vault.compartments import compartment_for, compartments_for_role
from archive.vault.keyslots import Keyslots, UnknownUser
from archive.vault.upgrade import STEPS, require_format2, upgrade, vault_format
from archive.vault.userkeys import KeyslotsV2

REPO = Path(__file__).resolve().parents[1]


def _by_title(s: Session) -> dict[str, str]:
    return {s.title(ref) or "": ref for ref in s.refs()}


def test_format1_home_is_refused_until_upgraded(tmp_path: Path) -> None:
    home = golden_copy(tmp_path)
    with pytest.raises(Conflict, match="sgz upgrade"):
        require_format2(home)
    upgrade(home, user="zhangsan", passphrase=PASS, work_factor=WF)
    require_format2(home)
    assert vault_format(home) == 2
    with pytest.raises(Conflict, match="无需升级"):
        upgrade(home, user="zhangsan", passphrase=PASS, work_factor=WF)


def test_only_a_head_or_the_recovery_code_upgrades(tmp_path: Path) -> None:
    home = golden_copy(tmp_path)
    with pytest.raises(AccessDenied):
        upgrade(home, user="wangwu", passphrase=PASS, work_factor=WF)
    with pytest.raises(DecryptionFailed):
        upgrade(home, user="zhangsan", passphrase="wrong-passphrase", work_factor=WF)
    assert vault_format(home) == 1 and not (home / "vault" / "upgrade").exists()


@pytest.mark.parametrize("by", ["head", "recovery"])
def test_every_record_opens_for_its_members_only(tmp_path: Path, by: str) -> None:
    home = golden_copy(tmp_path)
    if by == "head":
        res = upgrade(home, user="zhangsan", passphrase=PASS, work_factor=WF)
    else:
        res = upgrade(home, recovery_code=recovery_code_v1(), work_factor=WF)
    assert res.records == 6 and res.objects == 6
    assert res.recovery_code != recovery_code_v1()
    for name, role in USERS.items():
        s = Session.open(home, name)  # others enrol at this first login
        try:
            held = compartments_for_role(role)
            titles = [s.title(ref) for ref in s.refs()]
            for title, household, cat, secrecy, fragment in GOLDEN_DOCS:
                comp = compartment_for(cat, secrecy)
                if comp in held:
                    ref = _by_title(s)[title]
                    assert fragment in s.read(ref).decode("utf-8"), (name, title)
                    _, fields = s.catalogue.record_fields(s.sealer, ref)
                    assert fields is not None and fields["household"] == household
                else:
                    assert title not in titles, (name, title)
            assert titles.count(None) == sum(
                compartment_for(d[2], d[3]) not in held for d in GOLDEN_DOCS)
        finally:
            s.close()
    # the new recovery code opens every compartment; the old one opens nothing any more
    keys = KeyslotsV2(home / "vault" / "keys", vault_id(home)).unlock_recovery(res.recovery_code)
    assert keys.name == "recovery"
    with pytest.raises(UnknownUser):  # the format-1 recovery slot is gone
        Keyslots(home / "vault" / "keys", vault_id(home)).unlock_recovery(recovery_code_v1())


def test_no_format1_root_left_after_everyone_enrolled(tmp_path: Path) -> None:
    home = golden_copy(tmp_path)
    upgrade(home, user="zhangsan", passphrase=PASS, work_factor=WF)
    for name in USERS:
        Session.open(home, name).close()
    keys = sorted(p.name for p in (home / "vault" / "keys").iterdir())
    assert not [k for k in keys if k.endswith(".pending")]
    assert len(keys) == len(USERS) + 1  # one format-2 slot each + recovery
    assert not (home / "indexes" / "fulltext.db").exists()
    assert not (home / "vault" / "upgrade").exists()


_CHILD = """
import os, signal, sys
from pathlib import Path
from archive.vault.upgrade import upgrade
stop = sys.argv[2]
def hook(step):
    if step == stop:
        os.kill(os.getpid(), signal.SIGKILL)
upgrade(Path(sys.argv[1]), user="zhangsan", passphrase=sys.argv[3], work_factor=10, on_step=hook)
"""


def _run_child(home: Path, stop: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", _CHILD, str(home), stop, PASS], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("stop", STEPS)
def test_kill_9_at_each_step_then_resume(tmp_path: Path, stop: str) -> None:
    home = golden_copy(tmp_path)
    r = _run_child(home, stop)
    assert r.returncode == -signal.SIGKILL, r.stderr
    if stop in ("prepared", "catalogue"):
        with pytest.raises(Conflict, match="sgz upgrade"):
            require_format2(home)
    res = upgrade(home, user="zhangsan", passphrase=PASS, work_factor=WF)
    assert res.records == 6
    require_format2(home)
    for name in ("zhangsan", "lisi", "wangwu"):
        s = Session.open(home, name)
        try:
            readable = [ref for ref in s.refs() if s.title(ref) is not None]
            for ref in readable:
                assert s.read(ref)
            assert len(readable) == sum(compartment_for(d[2], d[3]) in
                                        compartments_for_role(USERS[name]) for d in GOLDEN_DOCS)
        finally:
            s.close()


@pytest.mark.slow
def test_kill_9_at_random_moments_converges(tmp_path: Path) -> None:
    """Kill the upgrade at arbitrary instants (not only between steps) until it completes."""
    import random
    import time

    home = golden_copy(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(7)
    for _ in range(12):
        p = subprocess.Popen([sys.executable, "-c", _CHILD, str(home), "never", PASS], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.2, 1.2))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait()
        if vault_format(home) == 2 and not (home / "vault" / "upgrade").exists():
            break
    else:
        upgrade(home, user="zhangsan", passphrase=PASS, work_factor=WF)
    try:
        upgrade(home, user="zhangsan", passphrase=PASS, work_factor=WF)
    except Conflict:
        pass  # already complete
    s = Session.open(home, "zhangsan")
    try:
        assert len(s.refs()) == 6 and all(s.read(ref) for ref in s.refs())
    finally:
        s.close()


def test_no_canary_in_clear_anywhere_after_upgrade(tmp_path: Path) -> None:
    """Byte-scan every file of the upgraded home (UTF-8 and UTF-16) for client data."""
    home = golden_copy(tmp_path)
    upgrade(home, user="zhangsan", passphrase=PASS, work_factor=WF)
    for name in USERS:
        Session.open(home, name).close()
    canaries = [c for title, household, _c, _s, fragment in GOLDEN_DOCS
                for c in (title, fragment, household) if c]
    canaries += ["220112195803150027", "王秀英", "刘建国", "周建华"]
    files = [f for f in home.rglob("*") if f.is_file()]
    assert len(files) > 15
    for f in files:
        data = f.read_bytes()
        for c in canaries:
            for enc in ("utf-8", "utf-16-le", "utf-16-be"):
                assert c.encode(enc) not in data, (f.relative_to(home), c)


def test_crash_inside_cleanup_is_finished_and_the_code_can_be_reissued(tmp_path: Path) -> None:
    from archive.vault import lifecycle as lc

    home = golden_copy(tmp_path)
    r = _run_child(home, "committed")
    assert r.returncode == -signal.SIGKILL
    (home / "vault" / "upgrade" / "state.sealed").unlink()  # the crash hit right after this
    res = upgrade(home, work_factor=WF)  # no credential needed to finish the cleanup
    assert res.recovery_code is None
    require_format2(home)
    files = lc.VaultFiles(home / "vault" / "keys", home / "vault" / "keyring", vault_id(home))
    v1 = Keyslots(files.keys_dir, files.vault_id)
    assert v1.path("zhangsan").exists()  # the upgrader's format-1 slot: gone at her next unlock
    bag = lc.unlock(files, "zhangsan", PASS, work_factor=WF)
    assert not v1.path("zhangsan").exists() and not v1.path("\x00recovery").exists()
    code = lc.reissue_recovery(files, bag, work_factor=WF)
    assert lc.unlock_recovery(files, code).compartments == bag.compartments


def test_format1_backup_restores_then_upgrades(tmp_path: Path, clock) -> None:
    """A backup made by format-1 code restores as it was; `upgrade` converts the new home."""
    from archive.app import Archive, upgrade_audit_hook

    new = tmp_path / "restored"
    rep = Archive.restore(GOLDEN / "backup", new, unlock=lambda _r: None, clock=clock)
    assert rep.needs_upgrade and rep.check is None and vault_format(new) == 1
    with pytest.raises(Conflict, match="sgz upgrade"):
        Archive.unlock(new, user="zhangsan", passphrase=PASS, clock=clock)
    upgrade(new, user="zhangsan", passphrase=PASS, work_factor=WF,
            on_committed=upgrade_audit_hook(new, clock))
    with Archive.unlock(new, user="zhangsan", passphrase=PASS, clock=clock,
                        kdf_work_factor=WF) as arc:
        recs = arc.records.ls()
        assert len(recs) == 6
        for r in recs:
            out = tmp_path / r.ref.replace("·", "_")
            arc.records.get(r.ref, out, reason="恢复核对")
            assert out.stat().st_size > 0
        arc.kernel.checkpoint()  # the head holds the station key
    from archive.audit.verify import verify_log

    rep2 = verify_log(new / "vault" / "audit")  # the log verifies across the upgrade
    assert rep2.entries > 6
