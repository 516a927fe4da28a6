"""Epoch rotation: identities re-wrapped, old key erased, an interrupted rotation finishes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PASS

from archive.core import Archive
from archive.errors import IntegrityError
from archive.vault.keyring import load_keyring, save_keyring


def test_rotation_rewraps_and_erases_old_key(arc: Archive, make_file, tmp_path: Path) -> None:
    refs = [arc.file([make_file(f"{i}.txt", f"内容{i}")], category="FW")[0].ref for i in range(3)]
    old = arc.ring.current
    old_key = arc.ring.epochs[old]
    new = arc.rotate_epoch()
    assert new == old + 1 and set(arc.ring.epochs) == {new}
    ring = load_keyring(arc.home.keyring, arc._vrk, arc.vault_id)
    assert old_key not in ring.epochs.values()
    with pytest.raises(IntegrityError):
        ring.epoch_key(old)
    for i, ref in enumerate(refs):
        assert arc.get(ref, tmp_path / f"o{i}", reason="核对").read_text("utf-8") == f"内容{i}"
    assert [e.action for e in arc.audit.entries()][-4:][-1] == "record.get"


def test_interrupted_rotation_finishes_on_next_unlock(arc: Archive, make_file, home: Path,
                                                     clock, tmp_path: Path) -> None:
    [r] = arc.file([make_file("a.txt", "内容")], category="FW")
    # simulate a crash right after the keyring recorded the rotation, before re-wrapping
    new = max(arc.ring.epochs) + 1
    arc.ring.epochs[new] = b"\x01" * 32
    arc.ring.pending["rotate_to"] = new
    save_keyring(arc.home.keyring, arc.ring, arc._vrk, arc.vault_id)
    arc.close()
    with Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=clock) as a2:
        assert a2.ring.current == new and set(a2.ring.epochs) == {new} and not a2.ring.pending
        assert a2.get(r.ref, tmp_path / "o", reason="核对").read_text("utf-8") == "内容"
        assert "keys.rotate.resumed" in [e.action for e in a2.audit.entries()]
