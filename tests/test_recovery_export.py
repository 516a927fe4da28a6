"""Open export: format, sealing, and a recovery with only Debian `age` and docs/recovery.md."""

from __future__ import annotations

import hashlib
import io
import os
import pty
import re
import select
import shutil
from pathlib import Path

import pytest

from archive.crypto import age
from archive.errors import ValidationError
from archive.recovery.open_export import (
    ExportComponent,
    ExportRecord,
    make_recovery_identity,
    read_open_export,
    seal_open_export,
    write_open_export,
)
from archive.vault.keyslots import _recovery_passphrase, new_recovery_code

REPO = Path(__file__).resolve().parents[1]
WF = 10  # cheap scrypt for tests


def _vault(root: Path, n: int = 4) -> tuple[list[ExportRecord], dict[str, age.X25519Identity],
                                           dict[tuple[str, int], bytes]]:
    """Objects encrypted like the vault's (one identity each) under root/data/vault/objects."""
    records, idents, plain = [], {}, {}
    for i in range(1, n + 1):
        ref = f"Z001-WS·2026-D30-FW-{i:04d}"
        comps = []
        for seq, (kind, name) in enumerate([("正文", f"通知 第{i}号.pdf"), ("附件", "名单.docx")],
                                           start=1):
            data = os.urandom(1000 * i + seq) + f"社工站档案{ref}".encode()
            ident = age.X25519Identity.generate()
            ct = age.encrypt_bytes(data, [ident.recipient()])
            oid = hashlib.sha256(ct).hexdigest()
            path = root / "data" / "vault" / "objects" / oid[:2] / f"{oid}.age"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(ct)
            idents[oid], plain[(ref, seq)] = ident, data
            comps.append(ExportComponent(seq, kind, name, oid, len(data)))
        records.append(ExportRecord(ref, f"关于第{i}批\t救助对象的\n通知", 2026, "D30", "FW", i,
                                    doc_no=f"奢社工〔2026〕{i}号", date="20260301",
                                    components=tuple(comps)))
    records.append(ExportRecord("Z001-WS·2026-D30-FW-0099", "已销毁的档案", 2026, "D30", "FW", 99,
                                status="destroyed",
                                components=(ExportComponent(1, "正文", "x.pdf", "0" * 64, 1),)))
    return records, idents, plain


def test_format_round_trip_and_destroyed(tmp_path: Path) -> None:
    records, idents, _ = _vault(tmp_path, 2)
    buf = io.BytesIO()
    n = write_open_export(records, idents.__getitem__, buf)
    assert n == 4
    rs, cs = read_open_export(buf.getvalue())
    assert [r[1] for r in rs][-1] == "Z001-WS·2026-D30-FW-0099" and rs[-1][14] == "已销毁"
    assert rs[0][2] == "关于第1批 救助对象的 通知"  # tab and newline flattened
    assert len(cs) == 4 and all(c[4].startswith("AGE-SECRET-KEY-1") for c in cs)
    assert [c[5] for c in cs[:2]] == ["01.pdf", "02.docx"]
    assert all(len(c) == 9 and " " not in "".join(c[:6]) for c in cs)
    bad = ExportRecord("Z001-WS·2026-D30-FW-0001", "t", 2026, "D30", "FW", 1,
                       components=(ExportComponent(1, "正文", "a.pdf", "../../etc", 1),))
    with pytest.raises(ValidationError):
        write_open_export([bad], idents.__getitem__, io.BytesIO())


def test_sealed_export_opens_only_with_recovery_code(tmp_path: Path) -> None:
    records, idents, _ = _vault(tmp_path, 1)
    code = new_recovery_code()
    id_file, recipient = make_recovery_identity(_recovery_passphrase(code), work_factor=WF)
    sealed = io.BytesIO()
    seal_open_export(records, idents.__getitem__, sealed, recipient)
    assert b"AGE-SECRET-KEY" not in sealed.getvalue() and "通知".encode() not in sealed.getvalue()
    ident_text = age.decrypt_bytes(id_file, [age.ScryptIdentity(_recovery_passphrase(code))])
    ident = age.X25519Identity.parse(ident_text.decode().strip().splitlines()[-1])
    rs, cs = read_open_export(age.decrypt_bytes(sealed.getvalue(), [ident]))
    assert len(rs) == 2 and len(cs) == 2
    with pytest.raises(age.AgeError):
        age.decrypt_bytes(id_file, [age.ScryptIdentity(b"WRONG-CODE")])


def _doc_blocks() -> list[str]:
    text = (REPO / "docs" / "recovery.md").read_text("utf-8")
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def _run_sh_on_pty(script: str, answer: bytes) -> tuple[int, str]:
    """Run `sh -c script` on a pty (age reads passphrases only from a terminal)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp("sh", ["sh", "-c", script])
        finally:
            os._exit(127)
    out, answered = b"", False
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 120)
            if not ready:
                os.kill(pid, 9)
                break
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
            if not answered and b"passphrase" in out:
                os.write(fd, answer + b"\n")
                answered = True
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


@pytest.mark.agecli
@pytest.mark.skipif(shutil.which("age") is None, reason="age 命令行工具未安装（apt install age）")
def test_recovery_with_stock_age_and_the_documented_shell(tmp_path: Path) -> None:
    backup, out = tmp_path / "backup", tmp_path / "recovered"
    records, idents, plain = _vault(backup)
    code = new_recovery_code()
    id_file, recipient = make_recovery_identity(_recovery_passphrase(code), work_factor=WF)
    keys = backup / "keys" / "vault" / "keys"
    keys.mkdir(parents=True)
    (keys / "recovery-identity.age").write_bytes(id_file)
    with (backup / "open-export.age").open("wb") as f:
        seal_open_export(records, idents.__getitem__, f, recipient)

    blocks = [b for b in _doc_blocks() if "apt-get" not in b]
    setup, unlock, listing, one, _all, cleanup = blocks
    setup = re.sub(r"^BACKUP=.*$", f"BACKUP='{backup}'", setup, flags=re.M)
    setup = re.sub(r"^OUT=.*$", f"OUT='{out}'", setup, flags=re.M)
    chosen = [r.ref for r in records[:3]]
    singles = [re.sub(r"^REF=.*$", f"REF='{ref}'", one, flags=re.M) for ref in chosen]
    script = "set -e\n" + "\n".join([setup, unlock, listing, *singles])
    code_rc, transcript = _run_sh_on_pty(script, code.encode())
    assert code_rc == 0, transcript
    for r in records:  # the listing shows every record, destroyed ones marked
        assert r.ref in transcript
    assert "已销毁" in transcript and "关于第2批 救助对象的 通知" in transcript
    for ref in chosen:
        for seq, name in ((1, "01.pdf"), (2, "02.docx")):
            assert (out / ref / name).read_bytes() == plain[(ref, seq)]
    assert not (out / records[3].ref).exists()
    rc, transcript = _run_sh_on_pty("\n".join([setup, cleanup]), b"")
    assert rc == 0 and not (out / "export.tsv").exists()
