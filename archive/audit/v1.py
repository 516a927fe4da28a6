"""Format-1 audit lines (vault format 1, sgz 0.1): unsigned entries, chained by SHA-256 of the
raw previous line, checkpoints signed by a key every account holder could derive.

Kept so a format-1 prefix still verifies after `sgz upgrade`; the only line still written in
this format is a failed login on a home not yet upgraded (`append_failed_unlock`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.audit.errors import BadGenesis, LineCorrupt
from archive.audit.note import NoteInvalid, Verifier
from archive.audit.tail import lines_backwards
from archive.fs.filelock import FileLock

KEYS = ("v", "seq", "ts", "prev", "actor", "role", "action", "ref", "detail")
GENESIS_KEYS = (*KEYS, "vault", "key")
_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_VAULT = re.compile(r"^[0-9a-f]{32}$")
_MIN_SEALED = 12 + 16  # nonce + GCM tag
_DECODER = json.JSONDecoder()
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def check_line(i: int, raw: bytes) -> dict[str, Any]:
    """Parse and check one format-1 line's form (not its chain position)."""
    n = i + 1
    bad = BadGenesis if i == 0 else LineCorrupt
    try:
        o = _DECODER.decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"第 {n} 行不是有效的 JSON：该行被改动", ref=str(n)) from e
    if not isinstance(o, dict) or tuple(o) != (GENESIS_KEYS if i == 0 else KEYS):
        raise bad(f"第 {n} 行的字段不符合格式：该行被改动", ref=str(n))
    if _ENCODER.encode(o).encode("utf-8") != raw:
        raise bad(f"第 {n} 行不是规范格式（多余空白、转义或重复键）：该行被改动", ref=str(n))
    ok = (
        type(o["v"]) is int and o["v"] == 1 and type(o["seq"]) is int
        and isinstance(o["ts"], str) and _TS.match(o["ts"]) is not None
        and isinstance(o["prev"], str) and _HEX64.match(o["prev"]) is not None
        and isinstance(o["actor"], str) and isinstance(o["role"], str)
        and isinstance(o["action"], str) and o["action"] != ""
        and (o["ref"] is None or isinstance(o["ref"], str))
        and (o["detail"] is None or _sealed_ok(o["detail"]))
    )
    if not ok:
        raise bad(f"第 {n} 行的字段值无效：该行被改动", ref=str(n))
    if (o["action"] == "genesis") != (i == 0):
        raise bad(f"第 {n} 行的 genesis 标记位置错误", ref=str(n))
    return o


def _sealed_ok(s: Any) -> bool:
    if not isinstance(s, str):
        return False
    try:
        return len(base64.b64decode(s, validate=True)) >= _MIN_SEALED
    except (binascii.Error, ValueError):
        return False


def genesis_key(o: dict[str, Any]) -> str:
    """Check a format-1 genesis entry; return its checkpoint verifier key string."""
    if o["seq"] != 0 or o["prev"] != "0" * 64 or o["detail"] is not None:
        raise BadGenesis("第 1 行不是有效的创世条目（seq、prev 或 detail 错误）", ref="1")
    vault = o["vault"]
    if not isinstance(vault, str) or not _VAULT.match(vault) or not isinstance(o["key"], str):
        raise BadGenesis("第 1 行的档案库标识或验证密钥无效", ref="1")
    try:
        v = Verifier.parse(o["key"])
    except NoteInvalid as e:
        raise BadGenesis(f"第 1 行的验证密钥无效：{e}", ref="1") from e
    if v.name != f"sgz/{vault}":
        raise BadGenesis("第 1 行的验证密钥名称与档案库标识不符", ref="1")
    return str(o["key"])


def append_failed_unlock(audit_dir: Path, user: str, when: datetime) -> None:
    """Record a failed login on a log still in format 1 (a home not yet upgraded): one
    unsigned `auth.failed` line chained like every format-1 line (SHA-256 of the previous raw
    line). Best effort, like every failed-login record: a torn tail is left for `sgz upgrade`."""
    path = Path(audit_dir) / "log.jsonl"
    with FileLock(Path(audit_dir) / "log.lock", what="审计日志"):
        fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
        try:
            size = os.fstat(fd).st_size
            last = next(lines_backwards(fd, size), None)
            if last is None or last[1] + len(last[0]) + 1 != size:
                return  # empty or torn: nothing safe to chain to
            raw = last[0]
            entry = {"v": 1, "seq": int(json.loads(raw)["seq"]) + 1,
                     "ts": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "prev": hashlib.sha256(raw).hexdigest(), "actor": user, "role": "",
                     "action": "auth.failed", "ref": None, "detail": None}
            os.lseek(fd, size, os.SEEK_SET)
            os.write(fd, _ENCODER.encode(entry).encode("utf-8") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
