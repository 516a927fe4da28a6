"""Verify an audit log and its checkpoints with no secret key (DESIGN §5).

Streams the file once (memory O(log n) plus the checkpoints): hashes raw line bytes, checks the
hash chain, seq numbers and canonical form of every line, recomputes the RFC 6962 root at every
checkpoint size, and checks checkpoint signatures with the verifier key from the genesis entry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.audit.checkpoint import Checkpoint, CheckpointStore, origin_for, parse_body
from archive.audit.errors import (
    BadGenesis,
    ChainBroken,
    CheckpointConflict,
    CheckpointInvalid,
    CheckpointUnknownKey,
    LineCorrupt,
    LinesReordered,
    LogForked,
    LogTruncated,
    SeqGap,
    TornLine,
)
from archive.audit.log import GENESIS_PREV, VERSION, encode_line
from archive.audit.merkle import MerkleBuilder, leaf_hash
from archive.audit.note import NoteInvalid, SignatureInvalid, UnknownKey, Verifier
from archive.errors import NotFound

KEYS = ("v", "seq", "ts", "prev", "actor", "role", "action", "ref", "detail")
GENESIS_KEYS = (*KEYS, "vault", "key")
_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_VAULT = re.compile(r"^[0-9a-f]{32}$")
_MIN_SEALED = 12 + 16  # nonce + GCM tag
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class VerifyReport:
    """What a successful verification established."""

    entries: int
    last_seq: int
    root: bytes
    vault_id: str
    verifier_key: str
    checkpoints_checked: int
    newest_exported: int | None  # tree size of the newest exported checkpoint, if any
    uncovered: int  # entries after the newest exported checkpoint


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        yield from f


def _check_line(i: int, raw: bytes) -> dict[str, Any]:
    """Parse and check one line's form (not its chain position); raise LineCorrupt/BadGenesis."""
    n = i + 1
    bad = BadGenesis if i == 0 else LineCorrupt
    try:
        o = _DECODER.decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"第 {n} 行不是有效的 JSON：该行被改动", ref=str(n)) from e
    if not isinstance(o, dict) or tuple(o) != (GENESIS_KEYS if i == 0 else KEYS):
        raise bad(f"第 {n} 行的字段不符合格式：该行被改动", ref=str(n))
    if encode_line(o) != raw:
        raise bad(f"第 {n} 行不是规范格式（多余空白、转义或重复键）：该行被改动", ref=str(n))
    ok = (
        type(o["v"]) is int and o["v"] == VERSION and type(o["seq"]) is int
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


def _genesis(o: dict[str, Any]) -> Verifier:
    """Check the genesis entry and return the checkpoint verifier it names."""
    if o["seq"] != 0 or o["prev"] != GENESIS_PREV or o["detail"] is not None:
        raise BadGenesis("第 1 行不是有效的创世条目（seq、prev 或 detail 错误）", ref="1")
    vault = o["vault"]
    if not isinstance(vault, str) or not _VAULT.match(vault) or not isinstance(o["key"], str):
        raise BadGenesis("第 1 行的档案库标识或验证密钥无效", ref="1")
    try:
        v = Verifier.parse(o["key"])
    except NoteInvalid as e:
        raise BadGenesis(f"第 1 行的验证密钥无效：{e}", ref="1") from e
    if v.name != origin_for(vault):
        raise BadGenesis("第 1 行的验证密钥名称与档案库标识不符", ref="1")
    return v


def _checkpoints(
    verifier: Verifier, vault_id: str, store: CheckpointStore, given: Sequence[str]
) -> tuple[dict[int, bytes], set[int]]:
    """Verify every stored and given checkpoint; return size -> root, and the exported sizes."""
    notes: list[tuple[str, str, int | None, bool]] = []  # (label, note, size from filename, exported)
    exported_marked = set(store.exported_sizes())
    for size in store.sizes():
        label = f"检查点文件 {store.path(size).name}"
        try:
            text = store.read(size)
        except UnicodeDecodeError as e:
            raise CheckpointInvalid(f"{label}不是有效的 UTF-8 文本", ref=str(size)) from e
        notes.append((label, text, size, size in exported_marked))
    for k, note in enumerate(given, 1):
        notes.append((f"第 {k} 个外部检查点", note, None, True))
    roots: dict[int, bytes] = {}
    exported: set[int] = set()
    for label, note, named, is_exported in notes:
        try:
            cp: Checkpoint = parse_body(verifier.verify(note))
        except UnknownKey as e:
            raise CheckpointUnknownKey(f"{label}的签名来自未知密钥，不是本日志创世条目中的密钥",
                                       found=e.found) from e
        except (SignatureInvalid, NoteInvalid) as e:
            raise CheckpointInvalid(f"{label}无效：{e}") from e
        if cp.origin != origin_for(vault_id):
            raise CheckpointInvalid(f"{label}的来源 {cp.origin} 与本日志不符", ref=str(cp.size))
        if named is not None and named != cp.size:
            raise CheckpointInvalid(f"{label}的大小 {cp.size} 与文件名不符", ref=str(cp.size))
        if cp.size in roots and roots[cp.size] != cp.root:
            raise CheckpointConflict(f"大小为 {cp.size} 的两个检查点根哈希不同：日志曾被分叉",
                                     ref=str(cp.size))
        roots[cp.size] = cp.root
        if is_exported:
            exported.add(cp.size)
    return roots, exported


def verify_log(audit_dir: Path, *, checkpoints: Sequence[str] = ()) -> VerifyReport:
    """Verify `audit_dir/log.jsonl` and its checkpoints; raise an AuditTampered subclass on the first problem."""
    path = Path(audit_dir) / "log.jsonl"
    store = CheckpointStore(Path(audit_dir))
    if not path.exists():
        if store.sizes() or checkpoints:
            raise LogTruncated("审计日志不存在，但有已签名的检查点：日志被删除", ref="1")
        raise NotFound("审计日志不存在")
    lines = _lines(path)
    builder = MerkleBuilder()
    first = next(lines, b"")
    if not first.endswith(b"\n"):
        raise (TornLine if first else BadGenesis)("第 1 行不完整或日志为空", ref="1")
    o = _check_line(0, first[:-1])
    verifier = _genesis(o)
    vault_id = o["vault"]
    roots, exported = _checkpoints(verifier, vault_id, store, checkpoints)
    prev_raw = first[:-1]
    builder.append(leaf_hash(prev_raw))
    _check_root(builder, roots)
    i = 0
    for line in lines:
        i += 1
        n = i + 1
        if not line.endswith(b"\n"):
            raise TornLine(f"第 {n} 行（最后一行）不完整：写入中断或文件被截断", ref=str(n))
        raw = line[:-1]
        o = _check_line(i, raw)
        if o["seq"] != i:
            if o["seq"] > i and not _goes_back(next(lines, b""), o["seq"], i):
                raise SeqGap(f"第 {n} 行的序号为 {o['seq']}，应为 {i}：序号不连续，有条目被删除或序号被改动",
                             ref=str(n), expected=i, found=o["seq"])
            raise LinesReordered(f"第 {n} 行的序号为 {o['seq']}，应为 {i}：条目被重复、插入或调换顺序",
                                 ref=str(n), expected=i, found=o["seq"])
        if o["prev"] != hashlib.sha256(prev_raw).hexdigest():
            raise ChainBroken(f"第 {n} 行的 prev 与第 {n - 1} 行的哈希不符：第 {n - 1} 行被改动，"
                              f"或两行之间有条目被插入、删除", ref=str(n))
        builder.append(leaf_hash(raw))
        _check_root(builder, roots)
        prev_raw = raw
    size = builder.size
    beyond = [s for s in roots if s > size]
    if beyond:
        raise LogTruncated(f"日志只有 {size} 条，短于已签名的检查点（{max(beyond)} 条）：末尾条目被删除",
                           ref=str(max(beyond)), expected=max(beyond), found=size)
    newest = max(exported) if exported else None
    return VerifyReport(
        entries=size, last_seq=size - 1, root=builder.root(), vault_id=vault_id,
        verifier_key=verifier.name + "+" + verifier.key_hash.hex() + "+"
        + base64.b64encode(b"\x01" + verifier.public_key).decode(),
        checkpoints_checked=len(roots), newest_exported=newest,
        uncovered=size - (newest or 0),
    )


def _goes_back(following: bytes, seq: int, i: int) -> bool:
    """Whether a forward seq jump at position i is a reorder: the next line goes back, not to i+1."""
    try:
        nxt = json.loads(following)
        if not isinstance(nxt, dict) or type(nxt.get("seq")) is not int:
            return False
        return bool(nxt["seq"] < seq and nxt["seq"] != i + 1)
    except ValueError:
        return False


def _check_root(builder: MerkleBuilder, roots: dict[int, bytes]) -> None:
    want = roots.get(builder.size)
    if want is not None and builder.root() != want:
        raise LogForked(f"前 {builder.size} 条的根哈希与已签名检查点不符：其中有条目被改动（日志被分叉）",
                        ref=str(builder.size))
