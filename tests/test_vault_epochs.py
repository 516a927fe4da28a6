"""Epoch rotation (vault format 2): every compartment moves to a new epoch, identities and
sealed fields re-wrapped, old epochs erased; interrupted work finishes at the next unlock."""

from __future__ import annotations

from pathlib import Path

from conftest import PASS

from archive.app import Archive
from archive.crypto import age
from archive.vault import lifecycle
from archive.vault.keyring2 import unwrap_identity
from archive.vault.sealed_catalogue import SealedCatalogue


def _wraps(arc: Archive) -> list[bytes]:
    return [w for (w,) in arc.kernel.db.execute(
        "SELECT wrapped FROM objects WHERE wrapped IS NOT NULL")]


def test_rotation_rewraps_and_erases_old_epochs(arc: Archive, make_file, tmp_path: Path) -> None:
    refs = [arc.records.file([make_file(f"{i}.txt", f"内容{i}")], category="FW")[0].ref
            for i in range(3)]
    bag = arc.kernel.keys.bag
    old_service = bag.identities("service")
    old_catalogue = arc.kernel.keys.ring.current("catalogue")
    new = arc.keys.rotate(rewrap=True)
    assert new == old_catalogue + 1
    for name, comp in arc.kernel.keys.ring.compartments.items():
        if name in ("catalogue", "general", "personnel", "service", "secret"):
            assert list(comp.epochs) == [comp.current] and comp.current == 2, name
    for w in _wraps(arc):  # nothing opens with the erased epoch's key
        try:
            unwrap_identity(w, old_service)
            raise AssertionError("an old epoch key still opens a wrap")
        except age.AgeError:
            pass
    for i, ref in enumerate(refs):
        assert arc.records.get(ref, tmp_path / f"o{i}", reason="核对").read_text("utf-8") == f"内容{i}"
    assert "keys.rotate" in [e.action for e in arc.kernel.audit.entries()]


def test_interrupted_catalogue_rekey_finishes_on_next_unlock(arc: Archive, make_file, home: Path,
                                                             clock, tmp_path: Path) -> None:
    [r] = arc.records.file([make_file("a.txt", "内容")], category="FW")
    k = arc.kernel
    # a crash right after the rotated keyring was saved, before the catalogue was re-keyed
    k.keys.bag.rotate("catalogue")
    k.keys.save_ring()
    arc.close()
    with Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=clock) as a2:
        assert not a2.kernel.keys.catalogue_behind()
        assert a2.records.get(r.ref, tmp_path / "o", reason="核对").read_text("utf-8") == "内容"


def test_key_task_left_by_a_non_member_runs_at_a_head_unlock(arc: Archive, make_file, home: Path,
                                                            clock) -> None:
    arc.records.file([make_file("a.txt", "内容")], category="FW")
    with arc.kernel.db.transaction():
        SealedCatalogue(arc.kernel.db).request_key_task("service", "rotate-rewrap",
                                                        when=arc.kernel.clock.iso(), by="wangwu")
    before = arc.kernel.keys.ring.current("service")
    arc.close()
    with Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=clock) as a2:
        ring = a2.kernel.keys.ring
        assert ring.current("service") == before + 1
        assert list(ring.compartments["service"].epochs) == [before + 1]
        assert SealedCatalogue(a2.kernel.db).key_tasks() == []
        assert "keys.shred.resumed" in [e.action for e in a2.kernel.audit.entries()]
        files = a2.kernel.keys.files
    assert lifecycle.unlock(files, "zhangsan", PASS, work_factor=10).epochs("service") == [before + 1]
