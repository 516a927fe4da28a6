"""Epoch rotation: identities re-wrapped, old key erased, an interrupted rotation finishes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PASS

from archive.app import Archive
from archive.errors import IntegrityError
from archive.vault.keyring import load_keyring, save_keyring


def test_rotation_rewraps_and_erases_old_key(arc: Archive, make_file, tmp_path: Path) -> None:
    refs = [arc.records.file([make_file(f"{i}.txt", f"内容{i}")], category="FW")[0].ref for i in range(3)]
    old = arc.kernel.keys.ring.current
    old_key = arc.kernel.keys.ring.epochs[old]
    new = arc.keys.rotate()
    assert new == old + 1 and set(arc.kernel.keys.ring.epochs) == {new}
    ring = load_keyring(arc.kernel.home.keyring, arc.kernel.keys._vrk, arc.kernel.vault_id)
    assert old_key not in ring.epochs.values()
    with pytest.raises(IntegrityError):
        ring.epoch_key(old)
    for i, ref in enumerate(refs):
        assert arc.records.get(ref, tmp_path / f"o{i}", reason="核对").read_text("utf-8") == f"内容{i}"
    assert [e.action for e in arc.kernel.audit.entries()][-4:][-1] == "record.get"


def test_interrupted_rotation_finishes_on_next_unlock(arc: Archive, make_file, home: Path,
                                                     clock, tmp_path: Path) -> None:
    [r] = arc.records.file([make_file("a.txt", "内容")], category="FW")
    # simulate a crash right after the keyring recorded the rotation, before re-wrapping
    new = max(arc.kernel.keys.ring.epochs) + 1
    arc.kernel.keys.ring.epochs[new] = b"\x01" * 32
    arc.kernel.keys.ring.pending["rotate_to"] = new
    save_keyring(arc.kernel.home.keyring, arc.kernel.keys.ring, arc.kernel.keys._vrk, arc.kernel.vault_id)
    arc.close()
    with Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=clock) as a2:
        assert a2.kernel.keys.ring.current == new and set(a2.kernel.keys.ring.epochs) == {new} and not a2.kernel.keys.ring.pending
        assert a2.records.get(r.ref, tmp_path / "o", reason="核对").read_text("utf-8") == "内容"
        assert "keys.rotate.resumed" in [e.action for e in a2.kernel.audit.entries()]
