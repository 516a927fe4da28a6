"""The format-2 audit line: build it, parse it without a JSON parser, and slice what is signed.

A line is compact JSON (so `jq` reads it) in one fixed key order, with string values limited to
characters JSON writes unescaped (no `"`, `\\`, control characters). Then one anchored regular
expression decides whether a line is canonical, and the signed messages are byte prefixes of
the raw line: verification hashes and checks raw bytes and never re-serialises.

    {"v":2,"seq":7,"ts":"…Z","prev":"<hex>","actor":"李四","role":"archivist","action":"record.get",
     "ref":"Z001-WS·2026-D30-FW-0007","detail":null|"<base64>",[key fields,"ssig":"<b64>",]"sig":null|"<b64>"}

`prev` is the hex RFC 6962 leaf hash of the previous line (64 zeros on line 0). `sig` is the
actor's Ed25519 signature of DOMAIN_ENTRY ‖ the line up to (not including) `,"sig":`; a line
with `"sig":null` and a non-empty role belongs to a batch that the next signed line of the same
actor closes. Key entries (KEY_FIELDS) also carry `ssig`, the station key's signature of
DOMAIN_STATION ‖ the line up to `,"ssig":`. A line with an empty role is the unsigned kind
(UNSIGNED_ACTIONS): a claim nobody vouches for, counted apart.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from archive.errors import UsageError

VERSION = 2
GENESIS_PREV = "0" * 64
TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DOMAIN_ENTRY = b"sgz-audit/v2/entry\n"
DOMAIN_STATION = b"sgz-audit/v2/station\n"
SIG_B64_LEN = 88
SIG_TAIL = len(b',"sig":"') + SIG_B64_LEN + len(b'"}')  # 98 bytes after the signed prefix
SSIG_TAIL = len(b',"ssig":"') + SIG_B64_LEN + len(b'"')  # 98 more before it

# Unsigned kind: written without any key (a failed unlock, or the repair a keyless writer does).
UNSIGNED_ACTIONS = frozenset({"auth.failed", "log.repair"})

# Key entries and the extra fields each carries, in line order.
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "genesis": ("vault", "station", "pub"),
    "upgrade": ("vault", "station", "pub", "root"),
    "user.add": ("grant", "pub"),
    "user.role": ("grant",),
    "user.remove": (),
    "user.key": ("pub",),
    "station.key": ("station",),
}
EXTRA_ORDER = ("vault", "station", "grant", "pub", "root")

_S = rb'[^"\\\x00-\x1f]'
_SIG = rb'[A-Za-z0-9+/]{85}[AQgw]=='
_HEAD = (
    rb'\{"v":2,"seq":(0|[1-9][0-9]{0,17}),"ts":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)",'
    rb'"prev":"([0-9a-f]{64})","actor":"(' + _S + rb'+)","role":"([a-z_]*)",'
    rb'"action":"([a-z][a-z0-9_.]*)","ref":(null|"' + _S + rb'+"),"detail":(null|"[A-Za-z0-9+/]+={0,2}")'
)
# ordinary line: groups seq ts prev actor role action ref detail sig
ORDINARY = re.compile(_HEAD + rb',"sig":(null|"' + _SIG + rb'")\}')
# key line: groups seq ts prev actor role action ref detail vault station grant pub root ssig sig
KEYED = re.compile(
    _HEAD
    + rb'(?:,"vault":"([0-9a-f]{32})")?'
    + rb'(?:,"station":"(sgz/[0-9a-f]{32}\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44})")?'
    + rb'(?:,"grant":"([a-z_]+)")?'
    + rb'(?:,"pub":"([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)")?'
    + rb'(?:,"root":"([0-9a-f]{64})")?'
    + rb',"ssig":"(' + _SIG + rb')","sig":"(' + _SIG + rb')"\}'
)
_CLEAN = re.compile(r'[^"\\\x00-\x1f\x7f]+')
_ACTION = re.compile(r"[a-z][a-z0-9_.]*")
_ROLE = re.compile(r"[a-z_]*")


def format_ts(when: datetime) -> str:
    """UTC timestamp as written in the log; naive datetimes are refused."""
    if when.tzinfo is None:
        raise UsageError("时钟必须返回带时区的时间")
    return when.astimezone(UTC).strftime(TS_FORMAT)


def parse_ts(s: str) -> datetime:
    return datetime.strptime(s, TS_FORMAT).replace(tzinfo=UTC)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _clean(what: str, value: str) -> str:
    if not _CLEAN.fullmatch(value):
        raise UsageError(f"审计条目的{what}为空或含有引号、反斜杠或控制字符：{value!r}")
    return value


@dataclass(frozen=True)
class Fields:
    """What a writer puts on one line (everything but seq, ts, prev and the signatures)."""

    actor: str
    role: str
    action: str
    ref: str | None = None
    detail: str | None = None  # sealed, base64
    vault: str | None = None
    station: str | None = None
    grant: str | None = None
    pub: str | None = None
    root: str | None = None

    def check(self) -> None:
        _clean("操作者", self.actor)
        if not _ROLE.fullmatch(self.role):
            raise UsageError(f"审计条目的角色无效：{self.role!r}")
        if not _ACTION.fullmatch(self.action):
            raise UsageError(f"审计条目的动作无效：{self.action!r}")
        if self.ref is not None:
            _clean("对象", self.ref)
        if self.grant is not None and not _ROLE.fullmatch(self.grant):
            raise UsageError(f"审计条目授予的角色无效：{self.grant!r}")
        want = KEY_FIELDS.get(self.action)
        have = tuple(k for k in EXTRA_ORDER if getattr(self, k) is not None)
        if (want or ()) != have:
            raise UsageError(f"动作 {self.action} 的密钥字段应为 {want or ()}，实际为 {have}")


def prefix(seq: int, ts: str, prev: str, f: Fields) -> bytes:
    """The line bytes up to where the signatures begin."""
    ref = "null" if f.ref is None else f'"{f.ref}"'
    detail = "null" if f.detail is None else f'"{f.detail}"'
    s = (f'{{"v":{VERSION},"seq":{seq},"ts":"{ts}","prev":"{prev}","actor":"{f.actor}",'
         f'"role":"{f.role}","action":"{f.action}","ref":{ref},"detail":{detail}')
    for k in EXTRA_ORDER:
        v = getattr(f, k)
        if v is not None:
            s += f',"{k}":"{v}"'
    return s.encode("utf-8")


def with_ssig(pre: bytes, ssig: bytes) -> bytes:
    return pre + b',"ssig":"' + base64.b64encode(ssig) + b'"'


def close(pre: bytes, sig: bytes | None) -> bytes:
    """The complete line (without newline): the prefix and the actor's signature or null."""
    if sig is None:
        return pre + b',"sig":null}'
    return pre + b',"sig":"' + base64.b64encode(sig) + b'"}'


def entry_message(raw: bytes) -> bytes:
    """What the actor signed on a signed line."""
    return DOMAIN_ENTRY + raw[:-SIG_TAIL]


def station_message(raw: bytes) -> bytes:
    """What the station key signed on a key line."""
    return DOMAIN_STATION + raw[: -(SIG_TAIL + SSIG_TAIL)]


def is_closed(raw: bytes) -> bool:
    """Whether a complete v2 line ends a batch: it is signed, or it is of the unsigned kind."""
    if raw.endswith(b',"sig":null}'):
        m = ORDINARY.fullmatch(raw)
        return m is None or m.group(5) == b""
    return True
