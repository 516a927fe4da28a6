"""Interoperability with the stock age CLI (ours -> age and age -> ours)."""

from __future__ import annotations

import io
import os
import pty
import select
import shutil
import subprocess
from pathlib import Path

import pytest

from archive.crypto.age import (
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    decrypt,
    encrypt,
)

pytestmark = [
    pytest.mark.agecli,
    pytest.mark.skipif(shutil.which("age") is None, reason="age CLI not installed (apt install age)"),
]
PLAINTEXT = "社工站档案 interop\n".encode() * 5000 + b"\x00\xff" * 40000  # several chunks
PASSPHRASE = b"correct horse battery staple"


def _run_with_pty(argv: list[str], answers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """Run argv on a fresh pseudo-terminal, typing each answer after its prompt appears.

    age reads passphrases only from a terminal; the pty keeps them out of argv and env.
    """
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is its controlling terminal
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    transcript = b""
    searched = 0
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 60)
            if not ready:
                os.kill(pid, 9)
                break
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            transcript += data
            if answers and answers[0][0] in transcript[searched:]:
                searched = transcript.index(answers[0][0], searched) + len(answers[0][0])
                os.write(fd, answers.pop(0)[1])
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), transcript


@pytest.mark.parametrize("armor", [False, True])
def test_ours_to_age_x25519(tmp_path: Path, armor: bool) -> None:
    identity = X25519Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(f"# test key\n{identity}\n")
    enc = tmp_path / "x.age"
    with enc.open("wb") as dst:
        encrypt(io.BytesIO(PLAINTEXT), dst, [identity.recipient()], armor=armor)
    out = subprocess.run(["age", "-d", "-i", str(key), str(enc)], capture_output=True, check=True)
    assert out.stdout == PLAINTEXT


@pytest.mark.parametrize("armor", [False, True])
def test_age_to_ours_x25519(tmp_path: Path, armor: bool) -> None:
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], capture_output=True, check=True)
    lines = key.read_text().splitlines()
    identity = X25519Identity.parse(lines[-1])
    public = next(x.split(": ")[1] for x in lines if x.startswith("# public key: "))
    assert str(identity.recipient()) == public
    plain = tmp_path / "plain.bin"
    plain.write_bytes(PLAINTEXT)
    enc = tmp_path / "x.age"
    cmd = ["age", "-r", public, *(["-a"] if armor else []), "-o", str(enc), str(plain)]
    subprocess.run(cmd, capture_output=True, check=True)
    out = io.BytesIO()
    with enc.open("rb") as src:
        assert decrypt(src, out, [identity]) == len(PLAINTEXT)
    assert out.getvalue() == PLAINTEXT
    assert str(X25519Identity.parse(str(identity))) == lines[-1]


def test_ours_to_age_scrypt(tmp_path: Path) -> None:
    enc = tmp_path / "slot.age"
    with enc.open("wb") as dst:
        encrypt(io.BytesIO(PLAINTEXT), dst, [ScryptRecipient(PASSPHRASE, work_factor=12)])
    plain = tmp_path / "plain.bin"
    code, transcript = _run_with_pty(
        ["age", "-d", "-o", str(plain), str(enc)], [(b"passphrase", PASSPHRASE + b"\n")]
    )
    assert code == 0, transcript
    assert plain.read_bytes() == PLAINTEXT


def test_age_to_ours_scrypt(tmp_path: Path) -> None:
    plain = tmp_path / "plain.bin"
    plain.write_bytes(PLAINTEXT)
    enc = tmp_path / "slot.age"
    code, transcript = _run_with_pty(
        ["age", "-p", "-o", str(enc), str(plain)],
        [(b"passphrase", PASSPHRASE + b"\n"), (b"Confirm", PASSPHRASE + b"\n")],
    )
    assert code == 0, transcript
    # (whether the age tool echoes the typed passphrase depends on pty timing: not ours to test)
    out = io.BytesIO()
    with enc.open("rb") as src:
        decrypt(src, out, [ScryptIdentity(PASSPHRASE)])
    assert out.getvalue() == PLAINTEXT
