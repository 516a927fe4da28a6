"""Finding 5: wrong passphrase and unknown user look the same (exit 7, same message, same
scrypt cost); a damaged keyslot, keyring or catalogue is exit 8 and names the file."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from archive.app import Archive
from archive.catalog.db import Database
from archive.crypto import age_keys
from archive.errors import DamagedFile, DecryptionFailed
from archive.kernel.home import HomePaths
from archive.vault.keyring import Keyring, load_keyring, save_keyring
from archive.vault.keyslots import WRONG_LOGIN, Keyslots, UnknownUser
from tests.conftest import CHEAP_WF, PASS, run_sgz, sgz_env

VAULT = "ab" * 16
VRK = bytes(range(32))


def _slots(tmp_path: Path, wf: int = CHEAP_WF) -> Keyslots:
    folder = tmp_path / "keys"
    folder.mkdir()
    ks = Keyslots(folder, VAULT)
    ks.write("zhangsan", PASS.encode(), VRK, work_factor=wf)
    return ks


def test_finding5_unknown_user_same_error_and_same_scrypt(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    ks = _slots(tmp_path, wf=11)
    calls: list[int] = []
    real = age_keys._scrypt_key

    def spy(passphrase: bytes, salt: bytes, work_factor: int) -> bytes:
        calls.append(work_factor)
        return real(passphrase, salt, work_factor)

    monkeypatch.setattr(age_keys, "_scrypt_key", spy)
    with pytest.raises(DecryptionFailed) as wrong:
        ks.unlock("zhangsan", b"not-the-passphrase")
    with pytest.raises(UnknownUser) as unknown:
        ks.unlock("no-such-user", b"not-the-passphrase")
    assert str(wrong.value) == str(unknown.value) == WRONG_LOGIN
    assert wrong.value.exit_code == unknown.value.exit_code == 7
    assert calls == [11, 11]  # the unknown name cost one scrypt of the slots' own cost
    assert ks.unlock("zhangsan", PASS.encode()) == VRK


def test_finding5_unknown_user_timing(tmp_path: Path) -> None:
    ks = _slots(tmp_path, wf=14)

    def timed(user: str) -> float:
        start = time.perf_counter()
        with pytest.raises((DecryptionFailed, UnknownUser)):
            ks.unlock(user, b"wrong")
        return time.perf_counter() - start

    wrong = statistics.median(timed("zhangsan") for _ in range(5))
    unknown = statistics.median(timed("ghost") for _ in range(5))
    assert 0.5 < unknown / wrong < 2.0, (wrong, unknown)


@pytest.mark.parametrize("damage", ["header", "mac", "payload", "truncate"])
def test_finding5_damaged_keyslot_is_exit_8_naming_the_file(tmp_path: Path, damage: str) -> None:
    ks = _slots(tmp_path)
    p = ks.path("zhangsan")
    data = bytearray(p.read_bytes())
    if damage == "header":
        data[:3] = b"agX"
    elif damage == "mac":
        i = data.index(b"\n--- ") + 6
        data[i] = ord("A") if data[i] != ord("A") else ord("B")
    elif damage == "payload":
        data[-5] ^= 0x01
    else:
        data = data[: len(data) - 20]
    p.write_bytes(bytes(data))
    with pytest.raises(DamagedFile) as exc:
        ks.unlock("zhangsan", PASS.encode())
    assert exc.value.exit_code == 8 and str(p) in str(exc.value) and exc.value.ref == str(p)
    assert not isinstance(exc.value, DecryptionFailed)


def test_finding5_damaged_or_missing_keyring(tmp_path: Path) -> None:
    path = tmp_path / "keyring"
    save_keyring(path, Keyring.new(), VRK, VAULT)
    assert load_keyring(path, VRK, VAULT).current == 1
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedFile) as exc:
        load_keyring(path, VRK, VAULT)
    assert exc.value.exit_code == 8 and str(path) in str(exc.value)
    path.unlink()
    with pytest.raises(DamagedFile, match="缺失"):
        load_keyring(path, VRK, VAULT)


def test_finding5_damaged_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    key = bytes(32)
    db = Database(path, key, create=True)
    db.execute("CREATE TABLE t (x TEXT)")
    for i in range(400):
        db.execute("INSERT INTO t VALUES (?)", (f"档案{i}" * 20,))
    db.checkpoint_truncate()
    db.integrity_check()
    db.close()
    raw = bytearray(path.read_bytes())
    assert len(raw) > 4 * 4096
    raw[3 * 4096 + 100] ^= 0x01  # a data page
    path.write_bytes(bytes(raw))
    db = Database(path, key)  # page 1 is fine
    with pytest.raises(DamagedFile) as exc:
        db.integrity_check()
    assert exc.value.exit_code == 8 and str(path) in str(exc.value)
    with pytest.raises(DamagedFile):
        db.execute("SELECT count(*), max(x) FROM t").fetchall()
    db.close()
    raw[100] ^= 0x01  # page 1 too: not even the schema opens
    path.write_bytes(bytes(raw))
    with pytest.raises(DamagedFile) as exc:
        Database(path, key)
    assert "catalog.db" in str(exc.value)


def test_finding5_cli_exit_codes(home: Path) -> None:
    env = sgz_env(home)
    assert run_sgz(["init", "--user", "zhangsan", "--role", "head"], env).returncode == 0
    wrong = run_sgz(["ls"], sgz_env(home, passphrase="mistyped"))
    unknown = run_sgz(["ls"], sgz_env(home, user="nobody"))
    assert wrong.returncode == unknown.returncode == 7, (wrong.stderr, unknown.stderr)
    assert wrong.stderr == unknown.stderr and "Traceback" not in unknown.stderr
    paths = HomePaths(home)
    data = bytearray(paths.keyring.read_bytes())
    data[-2] ^= 0x01
    paths.keyring.write_bytes(bytes(data))
    damaged = run_sgz(["ls"], env)
    assert damaged.returncode == 8 and "keyring" in damaged.stderr, damaged.stderr
    assert "口令" not in damaged.stderr.split("：", 1)[0]


def test_finding5_archive_unlock_damaged_catalogue(home: Path) -> None:
    a, _ = Archive.init(home, user="zhangsan", role="head", passphrase=PASS,
                        kdf_work_factor=CHEAP_WF)
    a.close()
    cat = HomePaths(home).catalog
    raw = bytearray(cat.read_bytes())
    raw[200] ^= 0x01
    cat.write_bytes(bytes(raw))
    with pytest.raises(DamagedFile) as exc:
        Archive.unlock(home, user="zhangsan", passphrase=PASS)
    assert exc.value.exit_code == 8 and cat.name in str(exc.value)
