"""The open export: the catalogue and every object's identity as plain text, age-encrypted.

Every backup carries `open-export.age`, so that with the Debian `age` tool, the recovery code
and a POSIX shell every record can be listed and decrypted with no sgz code and no SQLCipher
(docs/recovery.md). The plaintext is tab-separated UTF-8, one line per record or component:

    # sgz-open-export 1
    # R 档号 题名 年度 保管期限 机构问题 件号 文号 责任者 日期 密级 页数 备注 户 状态
    # C 档号 序号 对象 身份 输出名 类型 文件名 大小
    R	Z001-WS·2026-D30-FW-0001	…
    C	Z001-WS·2026-D30-FW-0001	1	<object id>	AGE-SECRET-KEY-1…	01.pdf	正文	通知.pdf	1234

The first five C fields are never empty and contain no spaces, so `IFS=<tab> read` works; the
output name is `<序号>.<suffix>` (ASCII) so shell loops need no quoting tricks. Tabs and line
breaks inside metadata are replaced by spaces (the only lossy step; sgz's catalogue keeps the
original). The format does not depend on how sgz wraps identities (format 1 AES-GCM under an
epoch key, format 2 X25519 compartments): the caller hands in unwrapped identities.

It is encrypted to an X25519 recipient whose identity file (`keys/recovery-identity.age`) is
itself age-encrypted with the recovery code: backups need no secret to write the export, and
`age -d -i keys/recovery-identity.age` asks for the recovery code and opens it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import BinaryIO

from archive.crypto import age
from archive.errors import ValidationError

MAGIC = "# sgz-open-export 1"
R_HEAD = "# R\t档号\t题名\t年度\t保管期限\t机构问题\t件号\t文号\t责任者\t日期\t密级\t页数\t备注\t户\t状态"
C_HEAD = "# C\t档号\t序号\t对象\t身份\t输出名\t类型\t文件名\t大小"
_OBJECT_RE = re.compile(r"^[0-9a-f]{64}$")
_SUFFIX_RE = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


@dataclass(frozen=True)
class ExportComponent:
    seq: int
    kind: str
    filename: str
    object_id: str  # hex SHA-256 of the ciphertext: vault/objects/<id[:2]>/<id>.age
    size: int


@dataclass(frozen=True)
class ExportRecord:
    ref: str
    title: str
    year: int
    retention: str
    cls: str
    item: int
    doc_no: str = ""
    author: str = ""
    date: str = ""
    secrecy: str = ""
    pages: int | None = None
    note: str = ""
    household: str = ""
    status: str = "active"
    components: tuple[ExportComponent, ...] = ()


IdentityOf = Callable[[str], age.X25519Identity]  # object id → its unwrapped identity


def _clean(value: object) -> str:
    s = "" if value is None else str(value)
    return s.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def output_name(comp: ExportComponent) -> str:
    suffix = PurePath(comp.filename).suffix.lower()
    return f"{comp.seq:02d}{suffix if _SUFFIX_RE.match(suffix) else '.bin'}"


def write_open_export(records: Iterable[ExportRecord], identity_of: IdentityOf,
                      out: BinaryIO) -> int:
    """Write the plaintext export to `out`; return the number of component lines.

    Destroyed records get an R line (status 已销毁) and no C lines: their identities are gone.
    """
    lines = [MAGIC, R_HEAD, C_HEAD]
    n = 0
    for r in records:
        destroyed = r.status != "active"
        lines.append("\t".join(_clean(v) for v in (
            "R", r.ref, r.title, r.year, r.retention, r.cls, f"{r.item:04d}", r.doc_no, r.author,
            r.date, r.secrecy, "" if r.pages is None else r.pages, r.note, r.household,
            "已销毁" if destroyed else "在库")))
        if destroyed:
            continue
        for c in sorted(r.components, key=lambda c: c.seq):
            if not _OBJECT_RE.match(c.object_id):
                raise ValidationError("对象编号格式不正确", ref=r.ref, found=c.object_id[:16])
            ident = str(identity_of(c.object_id))
            lines.append("\t".join(_clean(v) for v in (
                "C", r.ref, c.seq, c.object_id, ident, output_name(c), c.kind, c.filename,
                c.size)))
            n += 1
    out.write(("\n".join(lines) + "\n").encode("utf-8"))
    return n


def seal_open_export(records: Iterable[ExportRecord], identity_of: IdentityOf, out: BinaryIO,
                     recipient: age.X25519Recipient) -> int:
    """Write the export age-encrypted to `recipient` (never as plaintext on disk)."""
    buf = io.BytesIO()
    try:
        n = write_open_export(records, identity_of, buf)
        buf.seek(0)
        age.encrypt(buf, out, [recipient])
        return n
    finally:
        buf.seek(0)
        buf.truncate()


def make_recovery_identity(passphrase: bytes, *, work_factor: int = 18
                           ) -> tuple[bytes, age.X25519Recipient]:
    """A fresh identity file encrypted with the recovery passphrase, and its recipient.

    Written once where the recovery code is known (init, or issuing a new code) as
    `vault/keys/recovery-identity.age`; the recipient (age1…) is public and goes into
    vault.json so every backup can encrypt the open export without any secret. `passphrase` is
    the recovery code exactly as age will be given it (keyslots' grouped form).
    """
    ident = age.X25519Identity.generate()
    text = f"# sgz recovery identity (public key: {ident.recipient()})\n{ident}\n".encode()
    buf = io.BytesIO()
    age.encrypt(io.BytesIO(text), buf, [age.ScryptRecipient(passphrase, work_factor)])
    return buf.getvalue(), ident.recipient()


def read_open_export(data: bytes) -> tuple[list[list[str]], list[list[str]]]:
    """Parse plaintext back into (R rows, C rows); for sgz's own tests and `restore` checks."""
    text = data.decode("utf-8")
    if not text.startswith(MAGIC + "\n"):
        raise ValidationError("不是 sgz 开放导出文件（格式标记不符）")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return [r for r in rows if r[0] == "R"], [r for r in rows if r[0] == "C"]
