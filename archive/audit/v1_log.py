"""The format-1 audit log writer (sgz 0.1), kept only while the kernel still unlocks format-1
keys (one vault root key per slot). Format 2 (archive.audit.log) replaces it once the kernel
holds per-user keys (issue 10); `verify_log` checks both formats.

One writer at a time (a FileLock on `log.lock`); each entry is one compact JSON line written with
one `os.write` and fsynced. Any OS failure raises AuditUnavailable, so callers can refuse the
action ("no log, no key"). Sensitive details are AES-256-GCM sealed under the audit-detail key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archive.audit.checkpoint import Checkpoint, CheckpointStore, origin_for
from archive.audit.log import Entry, parse_entry
from archive.audit.merkle import MerkleBuilder, leaf_hash
from archive.audit.note import Signer
from archive.errors import AuditUnavailable, Conflict, DecryptionFailed, IntegrityError, UsageError
from archive.fs.atomic import ensure_private_dir, fsync_dir
from archive.fs.filelock import FileLock

VERSION = 1
GENESIS_PREV = "0" * 64
TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
NONCE_SIZE = 12
CHECKPOINT_INTERVAL = timedelta(hours=24)
_VAULT_ID = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 8192


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # = json.dumps(obj, ...)


def encode_line(obj: dict[str, Any]) -> bytes:
    """The canonical bytes of one log line (without the newline)."""
    return _ENCODER.encode(obj).encode("utf-8")


def format_ts(when: datetime) -> str:
    """UTC timestamp as written in the log; naive datetimes are refused."""
    if when.tzinfo is None:
        raise UsageError("时钟必须返回带时区的时间")
    return when.astimezone(UTC).strftime(TS_FORMAT)


def parse_ts(s: str) -> datetime:
    return datetime.strptime(s, TS_FORMAT).replace(tzinfo=UTC)


def detail_aad(vault_id: str, seq: int) -> bytes:
    """AAD binding a sealed detail to its vault and position."""
    return f"sgz-audit/{vault_id}/{seq}".encode()


def seal_detail(key: bytes, vault_id: str, seq: int, detail: dict[str, Any], nonce: bytes) -> str:
    """base64(nonce12 ‖ AES-256-GCM(compact JSON of detail))."""
    plain = json.dumps(detail, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, detail_aad(vault_id, seq))).decode()


def open_detail(key: bytes, vault_id: str, seq: int, sealed: str) -> dict[str, Any]:
    """Decrypt a sealed detail; every failure is the same DecryptionFailed."""
    try:
        raw = base64.b64decode(sealed, validate=True)
        plain = AESGCM(key).decrypt(raw[:NONCE_SIZE], raw[NONCE_SIZE:], detail_aad(vault_id, seq))
        out = json.loads(plain.decode("utf-8"))
    except (InvalidTag, ValueError, binascii.Error) as e:
        raise DecryptionFailed(f"第 {seq + 1} 行审计详情解密失败", ref=str(seq)) from e
    if not isinstance(out, dict):
        raise DecryptionFailed(f"第 {seq + 1} 行审计详情解密失败", ref=str(seq))
    return out


def _read_last_line(fd: int, size: int) -> tuple[bytes, int, int]:
    """(last complete line, offset just after its newline, offset where it starts) by seeking from the end."""
    tail = b""
    pos = size
    while True:
        step = min(_CHUNK, pos)
        pos -= step
        os.lseek(fd, pos, os.SEEK_SET)
        tail = _read_exact(fd, step) + tail
        end = tail.rfind(b"\n")
        if end >= 0:
            start = tail.rfind(b"\n", 0, end) + 1
            if start > 0 or pos == 0:
                return tail[start:end], pos + end + 1, pos + start
        if pos == 0:
            return b"", 0, 0  # no complete line at all


def _read_exact(fd: int, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            break
        out += chunk
    return out


class AuditLog:
    """Append to, read and checkpoint one vault's audit log."""

    def __init__(
        self,
        audit_dir: Path,
        *,
        vault_id: str,
        detail_key: bytes | None,
        signing_seed: bytes | None,
        clock: Callable[[], datetime],
        nonce: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not _VAULT_ID.match(vault_id):
            raise UsageError("档案库标识应为 32 位小写十六进制")
        self.dir = Path(audit_dir)
        self.path = self.dir / "log.jsonl"
        self.vault_id = vault_id
        self._detail_key = detail_key
        self._signing_seed = signing_seed
        self._clock = clock
        self._nonce = nonce
        self._lock = FileLock(self.dir / "log.lock", what="审计日志")
        self.checkpoints = CheckpointStore(self.dir)

    # --- writing -----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        audit_dir: Path,
        *,
        vault_id: str,
        detail_key: bytes,
        signing_seed: bytes,
        clock: Callable[[], datetime],
        actor: str,
        role: str,
        nonce: Callable[[int], bytes] = os.urandom,
    ) -> AuditLog:
        """Start a new log with its genesis entry (vault id and checkpoint verifier key)."""
        log = cls(audit_dir, vault_id=vault_id, detail_key=detail_key, signing_seed=signing_seed,
                  clock=clock, nonce=nonce)
        vkey = Signer(origin_for(vault_id), signing_seed).verifier_key()
        try:
            ensure_private_dir(log.dir)
            with log._lock:
                if log.path.exists() and log.path.stat().st_size > 0:
                    raise Conflict("审计日志已存在，不能重新创建")
                obj = log._entry(0, GENESIS_PREV, actor, role, "genesis", None, None)
                obj["vault"] = vault_id
                obj["key"] = vkey
                fd = os.open(log.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
                try:
                    if hasattr(os, "fchmod"):
                        os.fchmod(fd, 0o600)  # exact, whatever the umask
                    _write_all(fd, encode_line(obj) + b"\n", restore_to=0)
                finally:
                    os.close(fd)
                fsync_dir(log.dir)
        except OSError as e:
            raise AuditUnavailable(f"无法创建审计日志：{e.strerror or e}") from e
        return log

    def _entry(self, seq: int, prev: str, actor: str, role: str, action: str, ref: str | None,
               detail: dict[str, Any] | None) -> dict[str, Any]:
        sealed = None
        if detail is not None:
            if self._detail_key is None:
                raise UsageError("没有审计详情密钥，不能写入详情")
            nonce = self._nonce(NONCE_SIZE)
            if len(nonce) != NONCE_SIZE:
                raise UsageError("随机数来源必须返回 12 字节")
            sealed = seal_detail(self._detail_key, self.vault_id, seq, detail, nonce)
        return {"v": VERSION, "seq": seq, "ts": format_ts(self._clock()), "prev": prev,
                "actor": actor, "role": role, "action": action, "ref": ref, "detail": sealed}

    def append(self, *, actor: str, role: str, action: str, ref: str | None = None,
               detail: dict[str, Any] | None = None) -> int:
        """Append one entry (fsynced) and return its seq; raise AuditUnavailable if it cannot be written."""
        if action == "genesis":
            raise UsageError("genesis 条目只能由创建日志写入")
        return self.append_many([(actor, role, action, ref, detail)])

    def append_many(self, items: list[tuple[str, str, str, str | None, dict[str, Any] | None]]) -> int:
        """Append several entries with one write and one fsync (group commit for batch
        filing); all or none are written. Returns the last seq."""
        if not items:
            raise UsageError("没有要写入的审计条目")
        if any(it[2] == "genesis" for it in items):
            raise UsageError("genesis 条目只能由创建日志写入")
        try:
            with self._lock:
                return self._append_locked(items)
        except OSError as e:
            raise AuditUnavailable(f"审计日志无法写入：{e.strerror or e}") from e

    def _append_locked(self, items: list[tuple[str, str, str, str | None, dict[str, Any] | None]]
                       ) -> int:
        st = os.stat(self.path)
        if not st.st_mode & stat.S_IWUSR:
            raise AuditUnavailable("审计日志文件为只读，操作已拒绝")
        fd = os.open(self.path, os.O_RDWR | getattr(os, "O_BINARY", 0))
        try:
            size = os.fstat(fd).st_size
            last, clean_end, _ = _read_last_line(fd, size)
            if not last:
                raise AuditUnavailable("审计日志没有完整的条目，请运行 sgz audit verify")
            try:
                seq = int(json.loads(last.decode("utf-8"))["seq"]) + 1
            except (ValueError, KeyError, TypeError) as e:
                raise AuditUnavailable("审计日志末行已损坏，请运行 sgz audit verify") from e
            prev = hashlib.sha256(last).hexdigest()
            data = b""
            torn = b""
            if clean_end < size:
                os.lseek(fd, clean_end, os.SEEK_SET)
                torn = _read_exact(fd, size - clean_end)
                repair = {"dropped_sha256": hashlib.sha256(torn).hexdigest(), "dropped_len": len(torn)}
                line = encode_line(self._entry(seq, prev, items[0][0], items[0][1], "log.repair",
                                               None, repair))
                data += line + b"\n"
                prev = hashlib.sha256(line).hexdigest()
                seq += 1
            for i, (actor, role, action, ref, detail) in enumerate(items):
                if i:
                    seq += 1
                line = encode_line(self._entry(seq, prev, actor, role, action, ref, detail))
                data += line + b"\n"
                prev = hashlib.sha256(line).hexdigest()
            if torn:
                os.ftruncate(fd, clean_end)
            os.lseek(fd, clean_end, os.SEEK_SET)
            try:
                _write_all(fd, data, restore_to=clean_end)
            except OSError:
                if torn:  # best effort: put the torn bytes back so nothing is lost unrecorded
                    try:
                        os.lseek(fd, clean_end, os.SEEK_SET)
                        os.write(fd, torn)
                    except OSError:
                        pass
                raise
            return seq
        finally:
            os.close(fd)

    # --- reading -----------------------------------------------------------------------

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

    def entries(self, *, since: datetime | None = None, actor: str | None = None,
                action: str | None = None, ref: str | None = None,
                decrypt: bool = False) -> Iterator[Entry]:
        """Entries in order, filtered; with decrypt=True details are opened with the detail key."""
        if decrypt and self._detail_key is None:
            raise UsageError("没有审计详情密钥，不能解密详情")
        for raw in self._raw_lines():
            e = parse_entry(raw)
            if since is not None and e.ts < since:
                continue
            if (actor is not None and e.actor != actor) or (action is not None and e.action != action) \
                    or (ref is not None and e.ref != ref):
                continue
            if decrypt and e.sealed is not None:
                assert self._detail_key is not None
                e = replace(e, detail=open_detail(self._detail_key, self.vault_id, e.seq, e.sealed))
            yield e

    def detail_of(self, e: Entry) -> dict[str, Any] | None:
        """Decrypt one entry's sealed detail (None if it has none); raises if it does not open."""
        if e.sealed is None:
            return None
        if self._detail_key is None:
            raise UsageError("没有审计详情密钥，不能解密详情")
        return open_detail(self._detail_key, self.vault_id, e.seq, e.sealed)

    def size(self) -> int:
        """Number of complete entries (from the tail, without reading the whole file)."""
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            last, _, _ = _read_last_line(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        return int(json.loads(last)["seq"]) + 1 if last else 0

    # --- checkpoints -------------------------------------------------------------------

    def checkpoint(self, *, export: bool = False) -> str:
        """Sign the current tree size and root, store the note, and return it."""
        if self._signing_seed is None:
            raise UsageError("没有审计签名密钥，不能生成检查点")
        signer = Signer(origin_for(self.vault_id), self._signing_seed)
        with self._lock:
            builder = MerkleBuilder()
            genesis_key = None
            for raw in self._raw_lines():
                if builder.size == 0:
                    genesis_key = json.loads(raw).get("key")
                builder.append(leaf_hash(raw))
        if genesis_key != signer.verifier_key():
            raise IntegrityError("审计签名密钥与日志创世条目中的验证密钥不符")
        note = signer.sign(Checkpoint(origin_for(self.vault_id), builder.size, builder.root()).body())
        self.checkpoints.store(builder.size, note, export=export)
        return note

    def checkpoint_due(self) -> bool:
        """True if no checkpoint exists, or the oldest entry it does not cover is over 24 h old.

        Reads only the uncovered tail backwards (checkpoints are at most a day apart), so an
        unlock does not read a log of a million entries from the start.
        """
        sizes = self.checkpoints.sizes()
        if not sizes:
            return True
        covered = sizes[-1]
        total = self.size()
        if total <= covered:
            return False
        raw = _line_from_end(self.path, total - covered)
        ts = parse_ts(json.loads(raw)["ts"])
        return self._clock() - ts > CHECKPOINT_INTERVAL


def _line_from_end(path: Path, k: int, block: int = 1 << 16) -> bytes:
    """The k-th complete line counted from the end (k = 1 is the last complete line)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        buf = b""
        pos = end
        while True:
            # the last element follows the last newline (a torn or empty tail); the first may
            # be cut at the block boundary unless we reached the start of the file
            complete = buf.split(b"\n")[:-1]
            if len(complete) > k or (pos == 0 and len(complete) >= k):
                return complete[-k]
            if pos == 0:
                raise IntegrityError("审计日志条目数与检查点不符，请运行 sgz audit verify")
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            buf = f.read(step) + buf


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
