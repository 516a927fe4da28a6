"""Extend a verified `Head` over further lines: the one verification pass that both `verify`
(from line 0) and every unlock's monitor (from the user's last seen line) run.

Per line: one anchored regex, one SHA-256 (the RFC 6962 leaf hash doubles as the chain value
`prev` of the next line), the Merkle frontier update, a dictionary look-up of the actor's key,
and for a signed line one Ed25519 check, done on worker threads (`cryptography` releases the
GIL) in order, so the first bad line is still the one reported.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import NoReturn

from archive.audit import v1
from archive.audit.errors import (
    AuditTampered,
    BadGenesis,
    BadKeyEntry,
    BatchBroken,
    ChainBroken,
    CheckpointConflict,
    CheckpointInvalid,
    CheckpointUnknownKey,
    EntryForged,
    LineCorrupt,
    LinesReordered,
    LogForked,
    RoleMismatch,
    SeqGap,
    TornLine,
    UnknownActor,
)
from archive.audit.head import ZERO, Head, fold
from archive.audit.line import (
    DOMAIN_ENTRY,
    GENESIS_PREV,
    KEY_FIELDS,
    KEYED,
    ORDINARY,
    SIG_TAIL,
    UNSIGNED_ACTIONS,
    station_message,
)
from archive.audit.note import NoteInvalid, SignatureInvalid, UnknownKey, Verifier
from archive.crypto.ed25519 import BadSignature, VerifyKey

ADMIN_ROLES = frozenset({"head", "deputy", "recovery"})  # who may write key entries
_CHUNK = 512
_MAX_OUTSTANDING = 16
_KEY_ACTIONS = frozenset(a.encode() for a in KEY_FIELDS)
_UNSIGNED = frozenset(a.encode() for a in UNSIGNED_ACTIONS)
_V1 = b'{"v":1,'
_sha256 = hashlib.sha256
_a2b = binascii.a2b_base64
_hexlify = binascii.hexlify


@dataclass(frozen=True)
class Note:
    """A checkpoint to check when the walk reaches its size (parsed, signature not yet checked)."""

    label: str
    text: str
    size: int
    root: bytes
    exported: bool


def _check_chunk(jobs: list[tuple[int, str, VerifyKey, bytes, bytes]]) -> tuple[int, str] | None:
    for i, actor, key, sig, msg in jobs:
        if not key.check(sig, msg):
            return i, actor
    return None


class _Signatures:
    """Signature checks deferred to worker threads, reported in line order."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.jobs: list[tuple[int, str, VerifyKey, bytes, bytes]] = []
        self.futures: deque[Future[tuple[int, str] | None]] = deque()
        self.pool: ThreadPoolExecutor | None = None
        self.checked = 0

    def add(self, i: int, actor: str, key: VerifyKey, sig: bytes, msg: bytes) -> None:
        self.jobs.append((i, actor, key, sig, msg))
        if len(self.jobs) >= _CHUNK:
            self._submit()

    def _submit(self) -> None:
        jobs, self.jobs = self.jobs, []
        self.checked += len(jobs)
        if self.threads <= 1:
            _raise_bad(_check_chunk(jobs))
            return
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="sgz-verify")
        self.futures.append(self.pool.submit(_check_chunk, jobs))
        while len(self.futures) > _MAX_OUTSTANDING:
            _raise_bad(self.futures.popleft().result())

    def drain(self) -> None:
        """Wait for every pending check; raise EntryForged for the first bad one."""
        try:
            if self.jobs:
                self._submit()
            while self.futures:
                _raise_bad(self.futures.popleft().result())
        finally:
            if not self.futures and self.pool is not None:
                self.pool.shutdown()
                self.pool = None

    def abandon(self) -> None:
        for f in self.futures:
            f.cancel()
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None


def _raise_bad(bad: tuple[int, str] | None) -> None:
    if bad is not None:
        i, actor = bad
        n = i + 1
        raise EntryForged(f"第 {n} 行的签名不是 {actor} 的密钥所签：该行被改动，或有人冒用 {actor} 的名义写入",
                          ref=str(n), expected=actor)


class Walk:
    """Extend `head` over raw lines; raise an AuditTampered subclass at the first problem."""

    def __init__(self, head: Head, *, notes: dict[int, list[Note]] | None = None,
                 threads: int = 2) -> None:
        self.head = head
        self.notes = notes or {}
        self.sigs = _Signatures(threads)
        self.pending: tuple[bytes, int] | None = None  # (actor, first line index) of an open batch
        self.verified_notes: list[Note] = []
        self._users: dict[bytes, tuple[bytes, VerifyKey]] = {}
        self._new_pub: bytes | None = None

    # --- the loop ----------------------------------------------------------------------

    def run(self, lines: Iterable[bytes], *, end: bool = True) -> Head:
        """Consume complete lines (each ending in a newline). With end=True the lines are the
        whole rest of the log, so an open batch or a torn last line is an error."""
        try:
            self._run(lines)
            if end and self.pending is not None:
                actor, start = self.pending
                self._fail(BatchBroken(
                    f"第 {start + 1} 行起的条目没有以 {actor.decode()} 的签名结束：签名行被删除或末尾被截断",
                    ref=str(start + 1)))
            self.sigs.drain()
        except BaseException:
            self.sigs.abandon()
            raise
        return self.head

    def _run(self, lines: Iterable[bytes]) -> None:
        h = self.head
        stack = h.frontier
        users = {n.encode(): (r.encode(), VerifyKey(p)) for n, (r, p) in h.users.items()}
        self._users = users
        notes = self.notes
        sigs = self.sigs
        i = h.size
        offset = h.offset
        last_leaf = h.last_leaf
        last_hex = last_leaf.hex().encode()
        want_ts = h.uncovered_ts is None and h.cp_size == i and h.cp_size > 0
        match = ORDINARY.fullmatch
        for line in lines:
            if line[-1:] != b"\n":
                self._sync(i, offset, last_leaf, len(line))
                self._fail(TornLine(f"第 {i + 1} 行（最后一行）不完整：写入中断或文件被截断", ref=str(i + 1)))
            raw = line[:-1]
            m = match(raw)
            if m is not None and h.fmt == 2:
                seq, ts, prev, actor, role, action, ref, detail, sig = m.groups()
                if prev != last_hex or int(seq) != i:
                    self._sync(i, offset, last_leaf, 0)
                    self._position_error(i, int(seq), prev, last_hex, line)
                if role:
                    u = users.get(actor)
                    if u is None or u[0] != role or action in _KEY_ACTIONS:
                        self._sync(i, offset, last_leaf, 0)
                        self._actor_error(i, actor, role, action)
                    pend = self.pending
                    if pend is not None and pend[0] != actor:
                        self._sync(i, offset, last_leaf, 0)
                        self._fail(BatchBroken(
                            f"第 {pend[1] + 1} 行起 {pend[0].decode()} 的条目没有签名结尾，第 {i + 1} 行已是"
                            f" {actor.decode()} 的条目：签名行被删除或条目被插入", ref=str(pend[1] + 1)))
                    if sig == b"null":
                        if pend is None:
                            self.pending = (actor, i)
                    else:
                        sigs.add(i, actor.decode(), u[1], _a2b(sig[1:-1]),
                                 DOMAIN_ENTRY + raw[:-SIG_TAIL])
                        self.pending = None
                    if ref != b"null":
                        self._utf8(i, ref)
                else:
                    self._sync(i, offset, last_leaf, 0)
                    self._unsigned(i, actor, action, ref, detail, sig)
            else:
                self._sync(i, offset, last_leaf, 0)
                ts = self._slow(i, raw, m)
            leaf = _sha256(b"\x00" + raw).digest()
            h_ = leaf
            n = i
            while n & 1:
                h_ = _sha256(b"\x01" + stack.pop() + h_).digest()
                n >>= 1
            stack.append(h_)
            if want_ts:
                h.uncovered_ts = (ts or b"").decode() or None
                want_ts = False
            i += 1
            offset += len(line)
            last_leaf = leaf
            last_hex = _hexlify(leaf)
            if h.fmt == 1:
                h.last_sha = _sha256(raw).digest()
            if i in notes:
                self._sync(i, offset, last_leaf, len(line))
                self._check_notes(i)
                want_ts = h.cp_size == i
            h.last_len = len(line)
        self._sync(i, offset, last_leaf, h.last_len)

    def _sync(self, i: int, offset: int, last_leaf: bytes, last_len: int) -> None:
        h = self.head
        h.size, h.offset, h.last_leaf = i, offset, last_leaf
        if last_len:
            h.last_len = last_len

    def _fail(self, exc: AuditTampered) -> NoReturn:
        """Raise `exc`, unless a signature on an earlier line is bad: that is reported first."""
        self.sigs.drain()
        raise exc

    # --- slow paths (rare lines and errors) -------------------------------------------

    def _position_error(self, i: int, seq: int, prev: bytes, last_hex: bytes, line: bytes) -> NoReturn:
        n = i + 1
        if seq != i:
            if seq > i:
                self._fail(SeqGap(f"第 {n} 行的序号为 {seq}，应为 {i}：序号不连续：有条目被删除、调换顺序或序号被改动",
                                  ref=str(n), expected=i, found=seq))
            self._fail(LinesReordered(f"第 {n} 行的序号为 {seq}，应为 {i}：条目被重复、插入或调换顺序",
                                      ref=str(n), expected=i, found=seq))
        self._fail(ChainBroken(f"第 {n} 行的 prev 与第 {n - 1} 行的哈希不符：第 {n - 1} 行被改动，"
                               f"或两行之间有条目被插入、删除", ref=str(n)))

    def _actor_error(self, i: int, actor: bytes, role: bytes, action: bytes) -> NoReturn:
        n = i + 1
        name = self._utf8(i, actor)
        if action in _KEY_ACTIONS:
            self._fail(BadKeyEntry(f"第 {n} 行是 {action.decode()} 条目却没有站点签名：该行是伪造的",
                                   ref=str(n)))
        u = self._users.get(actor)
        if u is None:
            self._fail(UnknownActor(f"第 {n} 行的操作者 {name} 在日志中没有密钥（从未添加或已被移除）：该行是伪造的",
                                    ref=str(n), found=name))
        self._fail(RoleMismatch(f"第 {n} 行声称 {name} 的角色是 {role.decode()}，日志登记的是 {u[0].decode()}",
                                ref=str(n), expected=u[0].decode(), found=role.decode()))

    def _utf8(self, i: int, b: bytes) -> str:
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            self._fail(LineCorrupt(f"第 {i + 1} 行含有无效的 UTF-8：该行被改动", ref=str(i + 1)))

    def _unsigned(self, i: int, actor: bytes, action: bytes, ref: bytes, detail: bytes,
                  sig: bytes) -> None:
        n = i + 1
        self._utf8(i, actor)
        if action not in _UNSIGNED or detail != b"null" or sig != b"null" \
                or (action == b"auth.failed" and ref != b"null"):
            self._fail(LineCorrupt(f"第 {n} 行没有角色却不是允许的无签名条目（{action.decode()}）：该行是伪造的",
                                   ref=str(n)))
        if self.pending is not None:
            actor_p, start = self.pending
            self._fail(BatchBroken(f"第 {start + 1} 行起 {actor_p.decode()} 的条目没有签名结尾，"
                                   f"第 {n} 行插入了无签名条目", ref=str(start + 1)))
        if ref != b"null":
            self._utf8(i, ref)
        self.head.unsigned += 1

    def _slow(self, i: int, raw: bytes, m: object) -> bytes | None:
        """Format-1 lines, genesis, the upgrade entry and the other key entries; returns the ts."""
        h = self.head
        n = i + 1
        if raw.startswith(_V1) and h.fmt in (0, 1):
            self._v1_line(i, raw)
            return None
        km = KEYED.fullmatch(raw)
        if i == 0 and (km is None or km.group(6) != b"genesis"):
            self._fail(BadGenesis("第 1 行不是有效的创世条目", ref="1"))
        if km is None:
            if m is not None:  # a v2 ordinary line where format-1 lines are expected
                self._fail(LineCorrupt(f"第 {n} 行是新格式条目，但前面的旧格式日志还没有升级条目", ref=str(n)))
            exc = BadGenesis if i == 0 else LineCorrupt
            self._fail(exc(f"第 {n} 行不是规范格式（字段、顺序、空白或字符不对）：该行被改动", ref=str(n)))
        assert km is not None
        seq, ts, prev, actor_b, role_b, action_b, ref_b, _detail, *extras = km.groups()
        vault, station, grant, pub, root, ssig, sig = extras
        last_hex = h.last_leaf.hex().encode() if i else GENESIS_PREV.encode()
        if prev != last_hex or int(seq) != i:
            self._position_error(i, int(seq), prev, last_hex, raw)
        actor, role, action = self._utf8(i, actor_b), role_b.decode(), action_b.decode()
        ref = None if ref_b == b"null" else self._utf8(i, ref_b[1:-1])
        want = KEY_FIELDS.get(action)
        have = tuple(k for k, v in zip(("vault", "station", "grant", "pub", "root"),
                                        (vault, station, grant, pub, root), strict=True) if v is not None)
        if want is None or want != have or not role:
            self._fail(BadKeyEntry(f"第 {n} 行的密钥条目 {action} 字段不对", ref=str(n)))
        if self.pending is not None and self.pending[0] != actor_b:
            self._fail(BatchBroken(f"第 {self.pending[1] + 1} 行起的条目没有签名结尾",
                                   ref=str(self.pending[1] + 1)))
        founding = action in ("genesis", "upgrade")
        if founding:
            self._founding(i, action, role, vault, station, root)
            assert pub is not None
            key = VerifyKey(self._pub(i, pub))
        elif h.fmt != 2:
            self._fail(BadKeyEntry(f"第 {n} 行的 {action} 出现在升级条目之前", ref=str(n)))
        else:
            key = self._actor_key(i, actor, role)
        self._check_station_sig(i, action, station if founding else None, ssig, raw)
        try:
            key.verify(base64.b64decode(sig), DOMAIN_ENTRY + raw[:-SIG_TAIL])
        except BadSignature:
            self._fail(EntryForged(f"第 {n} 行的签名不是 {actor} 的密钥所签：该行被改动或是伪造的",
                                   ref=str(n), expected=actor))
        self._new_pub = self._pub(i, pub) if pub is not None and not founding else None
        self._apply(i, action, actor, role, ref, grant, key.raw, station, vault)
        self.pending = None
        return bytes(ts)

    def _v1_line(self, i: int, raw: bytes) -> None:
        h = self.head
        n = i + 1
        o = v1.check_line(i, raw)
        if i == 0:
            key = v1.genesis_key(o)
            h.vault, h.fmt, h.stations = o["vault"], 1, [(1, key)]
        elif o["seq"] != i:
            self._position_error(i, o["seq"], b"", b"", raw)
        elif o["prev"] != h.last_sha.hex():
            self._fail(ChainBroken(f"第 {n} 行的 prev 与第 {n - 1} 行的哈希不符：第 {n - 1} 行被改动，"
                                   f"或两行之间有条目被插入、删除", ref=str(n)))
        h.legacy += 1

    def _founding(self, i: int, action: str, role: str, vault: bytes | None,
                  station: bytes | None, root: bytes | None) -> None:
        h = self.head
        n = i + 1
        assert vault is not None and station is not None
        if action == "genesis":
            if i != 0 or role != "head":
                self._fail(BadGenesis(f"第 {n} 行的创世条目位置或角色不对", ref=str(n)))
        else:
            if h.fmt != 1 or vault.decode() != h.vault:
                self._fail(BadKeyEntry(f"第 {n} 行的升级条目不在旧格式日志之后，或档案库标识不符", ref=str(n)))
            if root is None or bytes.fromhex(root.decode()) != fold(h.frontier):
                self._fail(BadKeyEntry(f"第 {n} 行的升级条目所担保的前 {i} 条根哈希与日志不符：旧日志被改动",
                                       ref=str(n)))
        self._station_name(i, station, vault.decode())

    def _station_name(self, i: int, station: bytes, vault: str) -> None:
        try:
            v = Verifier.parse(station.decode())
        except NoteInvalid as e:
            self._fail(BadKeyEntry(f"第 {i + 1} 行的站点验证密钥无效：{e}", ref=str(i + 1)))
        if v.name != f"sgz/{vault}":
            self._fail(BadKeyEntry(f"第 {i + 1} 行的站点验证密钥名称与档案库标识不符", ref=str(i + 1)))

    def _check_station_sig(self, i: int, action: str, founding: bytes | None, ssig: bytes,
                           raw: bytes) -> None:
        n = i + 1
        vkey = founding.decode() if founding is not None else self.head.station_key_at(i)
        assert vkey is not None
        try:
            VerifyKey(Verifier.parse(vkey).public_key).verify(base64.b64decode(ssig), station_message(raw))
        except BadSignature:
            self._fail(BadKeyEntry(f"第 {n} 行的 {action} 条目没有有效的站点签名：该行是伪造的或被改动",
                                   ref=str(n)))

    def _actor_key(self, i: int, actor: str, role: str) -> VerifyKey:
        n = i + 1
        u = self.head.users.get(actor)
        if u is None:
            self._fail(UnknownActor(f"第 {n} 行的操作者 {actor} 在日志中没有密钥", ref=str(n), found=actor))
        assert u is not None
        if u[0] != role:
            self._fail(RoleMismatch(f"第 {n} 行声称 {actor} 的角色是 {role}，日志登记的是 {u[0]}", ref=str(n)))
        if role not in ADMIN_ROLES:
            self._fail(BadKeyEntry(f"第 {n} 行：{role} 角色不能管理用户或站点密钥", ref=str(n)))
        return VerifyKey(u[1])

    def _apply(self, i: int, action: str, actor: str, role: str, ref: str | None,
               grant: bytes | None, actor_pub: bytes, station: bytes | None,
               vault: bytes | None) -> None:
        h = self.head
        n = i + 1
        users = self._users
        if action in ("genesis", "upgrade"):
            assert station is not None and vault is not None
            h.users[actor] = (role, actor_pub)
            users[actor.encode()] = (role.encode(), VerifyKey(actor_pub))
            if action == "genesis":
                h.vault, h.stations = vault.decode(), [(n, station.decode())]
            else:
                h.stations.append((n, station.decode()))
                h.upgraded_at = i
            h.fmt = 2
            return
        if action == "station.key":
            assert station is not None
            self._station_name(i, station, h.vault or "")
            h.stations.append((n, station.decode()))
            return
        if ref is None:
            self._fail(BadKeyEntry(f"第 {n} 行的 {action} 条目没有指明用户", ref=str(n)))
        assert ref is not None
        exists = ref in h.users
        if (action == "user.add") == exists:
            self._fail(BadKeyEntry(f"第 {n} 行：用户 {ref} {'已存在' if exists else '不存在'}", ref=str(n)))
        if action == "user.add":
            assert grant is not None and self._new_pub is not None
            h.users[ref] = (grant.decode(), self._new_pub)
        elif action == "user.role":
            assert grant is not None
            h.users[ref] = (grant.decode(), h.users[ref][1])
        elif action == "user.remove":
            del h.users[ref]
        elif action == "user.key":
            assert self._new_pub is not None
            h.users[ref] = (h.users[ref][0], self._new_pub)
        users.pop(ref.encode(), None)
        if ref in h.users:
            r, p = h.users[ref]
            users[ref.encode()] = (r.encode(), VerifyKey(p))

    def _pub(self, i: int, pub: bytes) -> bytes:
        raw = base64.b64decode(pub)
        try:
            VerifyKey(raw)
        except BadSignature:
            self._fail(BadKeyEntry(f"第 {i + 1} 行的公钥无效", ref=str(i + 1)))
        return raw

    # --- checkpoints -------------------------------------------------------------------

    def _check_notes(self, size: int) -> None:
        h = self.head
        vkey = h.station_key_at(size)
        root = fold(h.frontier)
        notes = self.notes.pop(size)
        try:
            for note in notes:
                check_note_signature(note, vkey, h.vault or "")
        except AuditTampered as e:
            self._fail(e)
        if len({n.root for n in notes}) > 1:
            self._fail(CheckpointConflict(f"大小为 {size} 的两个检查点根哈希不同：日志曾被分叉", ref=str(size)))
        for note in notes:
            if note.root != root:
                self._fail(LogForked(f"前 {size} 条的根哈希与{note.label}不符：其中有条目被改动（日志被分叉）",
                                     ref=str(size)))
            self.verified_notes.append(note)
        if size >= h.cp_size:
            h.cp_size, h.cp_root, h.uncovered_ts = size, root, None


def check_note_signature(note: Note, vkey: str | None, vault: str) -> None:
    """Raise unless `note` is signed by the station key `vkey` (the key in force at its size)."""
    if vkey is None:
        raise CheckpointUnknownKey(f"{note.label}早于日志的创世条目", ref=str(note.size))
    v = Verifier.parse(vkey)
    try:
        v.verify(note.text)
    except UnknownKey as e:
        raise CheckpointUnknownKey(f"{note.label}不是由当时的站点密钥签名（可能是已被替换的旧密钥或伪造）",
                                   ref=str(note.size), found=e.found) from e
    except (SignatureInvalid, NoteInvalid) as e:
        raise CheckpointInvalid(f"{note.label}无效：{e}", ref=str(note.size)) from e
    if not note.text.startswith(f"sgz/{vault}\n"):
        raise CheckpointInvalid(f"{note.label}的来源与本日志不符", ref=str(note.size))


__all__ = ["ZERO", "Note", "Walk", "check_note_signature"]
