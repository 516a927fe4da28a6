"""The append-only, hash-chained, signed audit log `vault/audit/log.jsonl` (DESIGN §5, format 2).

One writer at a time (a FileLock on `log.lock`); each batch is written with one `os.write` and
fsynced, and its last line carries the acting user's Ed25519 signature. Any OS failure raises
AuditUnavailable, so callers can refuse the action ("no log, no key"). Details are sealed to
the audit-details compartment (archive.audit.detail). Line format: archive.audit.line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.audit import tail
from archive.audit.checkpoint import Checkpoint, CheckpointStore, origin_for
from archive.audit.detail import open_detail, open_detail_v1, seal_detail
from archive.audit.head import Head
from archive.audit.line import (
    DOMAIN_ENTRY,
    DOMAIN_STATION,
    GENESIS_PREV,
    KEY_FIELDS,
    Fields,
    b64,
    close,
    format_ts,
    parse_ts,
    prefix,
    with_ssig,
)
from archive.audit.merkle import leaf_hash
from archive.audit.note import Signer
from archive.audit.verify import check_beyond, load_notes
from archive.audit.walk import Walk
from archive.crypto.age import Identity, Random, Recipient
from archive.crypto.ed25519 import SigningKey
from archive.errors import AuditUnavailable, Conflict, IntegrityError, UsageError
from archive.fs.atomic import ensure_private_dir, fsync_dir
from archive.fs.filelock import FileLock

_VAULT_ID = re.compile(r"^[0-9a-f]{32}$")
Item = tuple[str, str, str, str | None, dict[str, Any] | None]  # actor, role, action, ref, detail


def station_verifier_key(vault_id: str, station_seed: bytes) -> str:
    """The C2SP verifier key of a station signing key (what checkpoints are checked against)."""
    return Signer(origin_for(vault_id), station_seed).verifier_key()


@dataclass(frozen=True)
class Entry:
    """One log entry as read back; `detail` is the decrypted dict only when asked to decrypt."""

    seq: int
    ts: datetime
    prev: str
    actor: str
    role: str
    action: str
    ref: str | None
    sealed: str | None
    detail: dict[str, Any] | None
    raw: bytes
    version: int = 2
    signed: bool = False  # this line carries its actor's signature (else a later line of the batch does)
    unsigned: bool = False  # the unsigned kind (failed unlock, keyless repair): a claim, not proof
    extra: dict[str, str] | None = None  # key-entry fields (vault, station, grant, pub, root)


class AuditLog:
    """Append to, read and checkpoint one vault's audit log as one user (or keyless)."""

    def __init__(
        self,
        audit_dir: Path,
        *,
        vault_id: str,
        signer: tuple[str, bytes] | None = None,
        detail_recipients: Sequence[Recipient] = (),
        detail_identities: Sequence[Identity] = (),
        clock: Callable[[], datetime],
        threads: int = 2,
        random: Random = os.urandom,
        legacy_detail_key: bytes | None = None,
    ) -> None:
        if not _VAULT_ID.match(vault_id):
            raise UsageError("档案库标识应为 32 位小写十六进制")
        self.dir = Path(audit_dir)
        self.path = self.dir / "log.jsonl"
        self.vault_id = vault_id
        self.actor = signer[0] if signer else None
        self._key = SigningKey(signer[1]) if signer else None
        self._recipients = tuple(detail_recipients)
        self._identities = tuple(detail_identities)
        self._clock = clock
        self.threads = threads
        self._random = random
        self._legacy_key = legacy_detail_key
        self._lock = FileLock(self.dir / "log.lock", what="审计日志")
        self.checkpoints = CheckpointStore(self.dir)
        self.head: Head | None = None  # a verified prefix (set by Monitor), extended by checkpoint()

    @property
    def signing_key(self) -> SigningKey | None:
        """The signer's key (for the monitor's own state; never written anywhere)."""
        return self._key

    @property
    def public_key(self) -> bytes | None:
        """The signer's Ed25519 public key (None for a keyless reader)."""
        return self._key.public if self._key else None

    # --- creating ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        audit_dir: Path,
        *,
        vault_id: str,
        station_signer: bytes,
        signer: tuple[str, bytes],
        role: str = "head",
        clock: Callable[[], datetime],
        detail_recipients: Sequence[Recipient] = (),
        detail_identities: Sequence[Identity] = (),
        random: Random = os.urandom,
    ) -> AuditLog:
        """Start a new log with its genesis entry: vault id, station verifier key, and the first
        head's name, role and public key, signed by the station key and by the head."""
        log = cls(audit_dir, vault_id=vault_id, signer=signer, clock=clock,
                  detail_recipients=detail_recipients, detail_identities=detail_identities,
                  random=random)
        assert log._key is not None
        f = Fields(actor=signer[0], role=role, action="genesis", vault=vault_id,
                   station=station_verifier_key(vault_id, station_signer), pub=b64(log._key.public))
        f.check()
        line = log._sign(prefix(0, format_ts(clock()), GENESIS_PREV, f), station_signer)
        try:
            ensure_private_dir(log.dir)
            with log._lock:
                if log.path.exists() and log.path.stat().st_size > 0:
                    raise Conflict("审计日志已存在，不能重新创建")
                fd = os.open(log.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
                try:
                    if hasattr(os, "fchmod"):
                        os.fchmod(fd, 0o600)  # exact, whatever the umask
                    _write_all(fd, line + b"\n", restore_to=0)
                finally:
                    os.close(fd)
                fsync_dir(log.dir)
        except OSError as e:
            raise AuditUnavailable(f"无法创建审计日志：{e.strerror or e}") from e
        return log

    @classmethod
    def upgrade(
        cls,
        audit_dir: Path,
        *,
        vault_id: str,
        station_signer: bytes,
        signer: tuple[str, bytes],
        role: str,
        clock: Callable[[], datetime],
        detail_recipients: Sequence[Recipient] = (),
        detail_identities: Sequence[Identity] = (),
    ) -> AuditLog:
        """Convert a format-1 log: verify it (with its format-1 checkpoints), then append the
        `upgrade` entry, signed by the new station key and the upgrading user, which vouches for
        the whole format-1 prefix by its Merkle root; every later entry must be signed.
        Idempotent: a log that already has its upgrade entry is left as it is. A torn format-1
        tail is cut and recorded by a `log.repair` entry after the upgrade entry."""
        log = cls(audit_dir, vault_id=vault_id, signer=signer, clock=clock,
                  detail_recipients=detail_recipients, detail_identities=detail_identities)
        assert log._key is not None
        try:
            with log._lock:
                fd = os.open(log.path, os.O_RDWR | getattr(os, "O_BINARY", 0))
                try:
                    size = os.fstat(fd).st_size
                    lines = tail.lines_after(log.path, 0)
                    clean_end = sum(len(x) for x in lines)
                    notes = load_notes(log.checkpoints, vault_id)
                    head = Walk(Head(), notes=notes, threads=log.threads).run(lines, end=True)
                    if head.fmt == 2:
                        return log
                    check_beyond(head, notes)
                    if head.fmt != 1 or head.vault != vault_id:
                        raise IntegrityError("审计日志不是本档案库的旧格式日志，不能升级")
                    ts = format_ts(clock())
                    f = Fields(actor=signer[0], role=role, action="upgrade", vault=vault_id,
                               station=station_verifier_key(vault_id, station_signer),
                               pub=b64(log._key.public), root=head.root().hex())
                    f.check()
                    line = log._sign(prefix(head.size, ts, head.last_leaf.hex(), f), station_signer)
                    data = line + b"\n"
                    if clean_end < size:
                        os.lseek(fd, clean_end, os.SEEK_SET)
                        dropped = tail.read_exact(fd, size - clean_end)
                        rf = Fields(actor=signer[0], role=role, action="log.repair",
                                    ref=f"{len(dropped)}:{hashlib.sha256(dropped).hexdigest()}")
                        data += log._sign(prefix(head.size + 1, ts, leaf_hash(line).hex(), rf), None) + b"\n"
                        os.ftruncate(fd, clean_end)
                    os.lseek(fd, clean_end, os.SEEK_SET)
                    _write_all(fd, data, restore_to=clean_end)
                finally:
                    os.close(fd)
        except OSError as e:
            raise AuditUnavailable(f"审计日志无法升级：{e.strerror or e}") from e
        return log

    # --- writing -------------------------------------------------------------------------

    def _sign(self, pre: bytes, station_signer: bytes | None) -> bytes:
        assert self._key is not None
        if station_signer is not None:
            pre = with_ssig(pre, SigningKey(station_signer).sign(DOMAIN_STATION + pre))
        return close(pre, self._key.sign(DOMAIN_ENTRY + pre))

    def append(self, *, actor: str, role: str, action: str, ref: str | None = None,
               detail: dict[str, Any] | None = None) -> int:
        """Append one signed entry (fsynced) and return its seq; AuditUnavailable if it cannot."""
        return self.append_many([(actor, role, action, ref, detail)])

    def append_many(self, items: Sequence[Item]) -> int:
        """Append several entries as one batch: one write, one fsync, one signature (on the last
        line, over the chain that covers the others); all or none are written. Returns the last seq."""
        if not items:
            raise UsageError("没有要写入的审计条目")
        if self._key is None:
            raise UsageError("没有签名密钥，不能写入审计条目（只有登录失败可无签名记录）")
        fields = []
        for actor, role, action, ref, detail in items:
            if actor != self.actor:
                raise UsageError(f"不能以 {actor} 的名义写入审计条目：当前签名者是 {self.actor}")
            if action in KEY_FIELDS:
                raise UsageError(f"{action} 条目须由对应的方法写入（需要站点签名）")
            if not role:
                raise UsageError("签名条目必须有角色")
            f = Fields(actor=actor, role=role, action=action, ref=ref)
            f.check()
            fields.append((f, detail))
        return self._append(fields, station_signer=None)

    def append_unsigned(self, *, actor: str = "?", action: str = "auth.failed") -> int:
        """The unsigned kind, for when no key is available (a failed unlock): no role, no detail;
        verify counts these apart, and they cannot speak for anyone."""
        if action != "auth.failed":
            raise UsageError("只有 auth.failed 可以无签名写入")
        f = Fields(actor=actor, role="", action=action)
        f.check()
        return self._append([(f, None)], station_signer=None, unsigned=True)

    def key_entry(self, action: str, ref: str | None = None, *, role: str, station_signer: bytes,
                  grant: str | None = None, pub: bytes | None = None,
                  new_station_signer: bytes | None = None, detail: dict[str, Any] | None = None) -> int:
        """A key entry signed by the station key and by this log's signer:
        user.add (ref, grant, pub), user.role (ref, grant), user.remove (ref), user.key (ref, pub),
        station.key (new_station_signer; signed by the current station key)."""
        if self._key is None or self.actor is None:
            raise UsageError("没有签名密钥，不能写入密钥条目")
        if action not in KEY_FIELDS or action in ("genesis", "upgrade"):
            raise UsageError(f"不是可追加的密钥条目：{action}")
        station = (station_verifier_key(self.vault_id, new_station_signer)
                   if new_station_signer is not None else None)
        f = Fields(actor=self.actor, role=role, action=action, ref=ref, grant=grant,
                   pub=b64(pub) if pub is not None else None, station=station)
        f.check()
        return self._append([(f, detail)], station_signer=station_signer)

    def _append(self, fields: list[tuple[Fields, dict[str, Any] | None]], *,
                station_signer: bytes | None, unsigned: bool = False) -> int:
        try:
            with self._lock:
                return self._append_locked(fields, station_signer, unsigned)
        except OSError as e:
            raise AuditUnavailable(f"审计日志无法写入：{e.strerror or e}") from e

    def _append_locked(self, fields: list[tuple[Fields, dict[str, Any] | None]],
                       station_signer: bytes | None, unsigned: bool) -> int:
        st = os.stat(self.path)
        if not st.st_mode & stat.S_IWUSR:
            raise AuditUnavailable("审计日志文件为只读，操作已拒绝")
        fd = os.open(self.path, os.O_RDWR | getattr(os, "O_BINARY", 0))
        try:
            size = os.fstat(fd).st_size
            last, clean_end = tail.last_closed(fd, size)
            if not last:
                raise AuditUnavailable("审计日志没有完整的条目，请运行 sgz audit verify")
            if last.startswith(b'{"v":1,'):
                raise AuditUnavailable("审计日志还是旧格式（格式 1），请先运行 sgz upgrade")
            try:
                seq = tail.seq_of(last) + 1
            except ValueError as e:
                raise AuditUnavailable("审计日志末行已损坏，请运行 sgz audit verify") from e
            prev = leaf_hash(last).hex()
            ts = format_ts(self._clock())
            todo = list(fields)
            dropped = b""
            if clean_end < size:
                os.lseek(fd, clean_end, os.SEEK_SET)
                dropped = tail.read_exact(fd, size - clean_end)
                f0 = todo[0][0]
                repair = Fields(actor=f0.actor, role=f0.role, action="log.repair",
                                ref=f"{len(dropped)}:{hashlib.sha256(dropped).hexdigest()}")
                todo.insert(0, (repair, None))
            data = b""
            for k, (f, detail) in enumerate(todo):
                if detail is not None:
                    if not self._recipients:
                        raise UsageError("没有审计详情的公钥，不能写入详情")
                    f = replace(f, detail=seal_detail(self._recipients, self.vault_id, seq, detail, self._random))
                pre = prefix(seq, ts, prev, f)
                if unsigned or not f.role:
                    line = close(pre, None)
                elif f.action in KEY_FIELDS:
                    line = self._sign(pre, station_signer)
                elif k == len(todo) - 1:
                    line = self._sign(pre, None)
                else:
                    line = close(pre, None)
                data += line + b"\n"
                prev = leaf_hash(line).hex()
                seq += 1
            if dropped:
                os.ftruncate(fd, clean_end)
            os.lseek(fd, clean_end, os.SEEK_SET)
            try:
                _write_all(fd, data, restore_to=clean_end)
            except OSError:
                if dropped:  # best effort: put the dropped bytes back so nothing is lost unrecorded
                    try:
                        os.lseek(fd, clean_end, os.SEEK_SET)
                        os.write(fd, dropped)
                    except OSError:
                        pass
                raise
            return seq - 1
        finally:
            os.close(fd)

    # --- reading -------------------------------------------------------------------------

    def _raw_lines(self) -> Iterator[bytes]:
        """Complete lines (without newline), streaming; a torn last line is skipped."""
        try:
            f = open(self.path, "rb")
        except FileNotFoundError as e:
            raise IntegrityError("审计日志不存在") from e
        with f:
            for line in f:
                if line.endswith(b"\n"):
                    yield line[:-1]

    def _raw_lines_backwards(self, block: int = 1 << 16) -> Iterator[bytes]:
        """Complete lines from the last to the first, reading blocks from the end (a page of
        the newest entries costs a page, not the whole log); a torn last line is skipped."""
        try:
            f = open(self.path, "rb")
        except FileNotFoundError as e:
            raise IntegrityError("审计日志不存在") from e
        with f:
            pos = f.seek(0, os.SEEK_END)
            buf = b""
            first = True
            while pos > 0:
                step = min(block, pos)
                pos -= step
                f.seek(pos)
                buf = f.read(step) + buf
                parts = buf.split(b"\n")
                buf = parts[0]  # may be cut at the block boundary: completed by the next read
                tail = parts[1:]
                if first:
                    if not tail:
                        continue  # no newline yet: all of it may be a torn last line
                    tail = tail[:-1]  # after the last newline: empty, or a torn line
                    first = False
                yield from reversed(tail)
            if buf and not first:
                yield buf

    def entries(self, *, since: datetime | None = None, actor: str | None = None,
                action: str | None = None, ref: str | None = None,
                decrypt: bool = False, newest_first: bool = False) -> Iterator[Entry]:
        """Entries in order (or newest first), filtered; with decrypt=True details are opened
        (audit-details members)."""
        if decrypt and not self._identities and self._legacy_key is None:
            raise UsageError("没有审计详情密钥，不能解密详情")
        lines = self._raw_lines_backwards() if newest_first else self._raw_lines()
        for raw in lines:
            e = parse_entry(raw)
            if since is not None and e.ts < since:
                continue
            if (actor is not None and e.actor != actor) or (action is not None and e.action != action) \
                    or (ref is not None and e.ref != ref):
                continue
            if decrypt and e.sealed is not None:
                e = replace(e, detail=self.detail_of(e))
            yield e

    def detail_of(self, e: Entry) -> dict[str, Any] | None:
        """Decrypt one entry's sealed detail (None if it has none); raises if it does not open."""
        if e.sealed is None:
            return None
        if e.version == 1:
            if self._legacy_key is None:
                raise UsageError("没有旧格式审计详情密钥，不能解密升级前的详情")
            return open_detail_v1(self._legacy_key, self.vault_id, e.seq, e.sealed)
        if not self._identities:
            raise UsageError("没有审计详情密钥，不能解密详情")
        return open_detail(self._identities, self.vault_id, e.seq, e.sealed)

    def size(self) -> int:
        """Number of complete entries (from the tail, without reading the whole file)."""
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            for raw, _ in tail.lines_backwards(fd, os.fstat(fd).st_size):
                return tail.seq_of(raw) + 1
        finally:
            os.close(fd)
        return 0

    # --- checkpoints ---------------------------------------------------------------------

    def sync(self) -> Head:
        """Extend the verified head (from a Monitor, else from line 0) over the lines written since;
        stops before an unfinished batch. Call under the log lock for a stable view."""
        head = self.head if self.head is not None else Head()
        lines = tail.lines_after(self.path, head.offset)
        k = tail.closed_prefix(lines)
        Walk(head, threads=self.threads).run(lines[:k], end=True)
        self.head = head
        return head

    def checkpoint(self, *, station_signer: bytes, export: bool = False) -> str:
        """Sign the current tree size and root with the station key, store the note, return it.
        Costs the lines since the verified head, not the whole log."""
        try:
            with self._lock:
                head = self.sync()
                vkey = station_verifier_key(self.vault_id, station_signer)
                if head.station_key_at(head.size) != vkey:
                    raise IntegrityError("站点签名密钥与日志中登记的当前站点密钥不符")
                origin = origin_for(self.vault_id)
                root = head.root()
                note = Signer(origin, station_signer).sign(Checkpoint(origin, head.size, root).body())
                self.checkpoints.store(head.size, note, export=export)
        except OSError as e:
            raise AuditUnavailable(f"检查点无法写入：{e.strerror or e}") from e
        head.cp_size, head.cp_root, head.uncovered_ts = head.size, root, None
        return note


def parse_entry(raw: bytes) -> Entry:
    """One line (format 1 or 2) as an Entry, for reading history (verification is elsewhere)."""
    try:
        o = json.loads(raw.decode("utf-8"))
        v = int(o["v"])
        extra = {k: str(o[k]) for k in ("vault", "station", "grant", "pub", "root", "key") if k in o}
        return Entry(seq=o["seq"], ts=parse_ts(o["ts"]), prev=o["prev"], actor=o["actor"],
                     role=o["role"], action=o["action"], ref=o["ref"], sealed=o["detail"],
                     detail=None, raw=raw, version=v, signed=bool(o.get("sig")),
                     unsigned=v == 2 and o["role"] == "", extra=extra or None)
    except (ValueError, KeyError, TypeError) as err:
        raise IntegrityError("审计日志有无法解析的行，请运行 sgz audit verify") from err


def checkpoint_due(head: Head, now: datetime, *, interval_hours: float = 24) -> bool:
    """True if nothing was ever checkpointed, or the oldest entry no checkpoint covers is older
    than `interval_hours` (or its time is not known). Costs nothing: the head knows both."""
    if head.size == 0:
        return False
    if head.cp_size == 0:
        return True
    if head.cp_size >= head.size:
        return False
    if head.uncovered_ts is None:
        return True
    return (now - parse_ts(head.uncovered_ts)).total_seconds() > interval_hours * 3600


def _write_all(fd: int, data: bytes, *, restore_to: int) -> None:
    """One os.write of the whole buffer, then fsync; a short write is undone and reported."""
    try:
        n = os.write(fd, data)
        if n != len(data):
            raise OSError(28, "写入不完整")
        os.fsync(fd)
    except OSError:
        try:
            os.ftruncate(fd, restore_to)
        except OSError:
            pass
        raise
