"""The age v1 header: stanzas, strict parsing, encoding and the header MAC."""

from __future__ import annotations

import binascii
import hmac
import re
from dataclasses import dataclass, field
from hashlib import sha256

from archive.crypto.age_errors import HeaderError, HMACError
from archive.crypto.age_stream import ByteSource, hkdf

INTRO = b"age-encryption.org/v1\n"
STANZA_PREFIX = b"->"
MAC_PREFIX = b"---"
BODY_COLUMNS = 64
BODY_BYTES = 48
_MAX_ARG_LINE = 64 * 1024
_MAX_STANZAS = 4096


@dataclass
class Stanza:
    """One recipient stanza: a type, string arguments and a binary body."""

    type: str
    args: list[str] = field(default_factory=list)
    body: bytes = b""


@dataclass
class Header:
    """A parsed header: its stanzas, the MAC and the exact bytes the MAC covers."""

    stanzas: list[Stanza]
    mac: bytes
    mac_input: bytes


def b64encode(data: bytes) -> str:
    """Standard base64 without padding, as age stanzas use."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").decode("ascii")


def b64decode(s: bytes | str) -> bytes:
    """Strict canonical unpadded base64; raises HeaderError on anything else."""
    raw = s.encode("ascii", "replace") if isinstance(s, str) else s
    if len(raw) % 4 == 1:
        raise HeaderError("invalid base64 length")
    try:
        data = binascii.a2b_base64(raw + b"=" * (-len(raw) % 4), strict_mode=True)
    except binascii.Error:
        raise HeaderError("invalid base64") from None
    if binascii.b2a_base64(data, newline=False).rstrip(b"=") != raw:
        raise HeaderError("non-canonical base64")
    return data


_ARG = re.compile(rb"[\x21-\x7e]+")  # one or more visible ASCII characters


def _valid_arg(arg: bytes) -> bool:
    return _ARG.fullmatch(arg) is not None


def _mac_key(file_key: bytes) -> bytes:
    return hkdf(file_key, b"", b"header")


def encode_stanza(stanza: Stanza) -> bytes:
    """The wire form of a stanza: argument line, then 64-column body lines ending short."""
    line = " ".join(["->", stanza.type, *stanza.args]).encode("ascii") + b"\n"
    body = b64encode(stanza.body).encode("ascii")
    lines = [body[i : i + BODY_COLUMNS] for i in range(0, len(body), BODY_COLUMNS)]
    if not lines or len(lines[-1]) == BODY_COLUMNS:
        lines.append(b"")
    return line + b"".join(x + b"\n" for x in lines)


def encode_header(stanzas: list[Stanza], file_key: bytes) -> bytes:
    """The complete header including its MAC line."""
    for s in stanzas:
        if not all(_valid_arg(a.encode("ascii")) for a in [s.type, *s.args]):
            raise ValueError("invalid stanza argument")
    mac_input = INTRO + b"".join(encode_stanza(s) for s in stanzas) + MAC_PREFIX
    mac = hmac.new(_mac_key(file_key), mac_input, sha256).digest()
    return mac_input + b" " + b64encode(mac).encode("ascii") + b"\n"


def _read_line(src: ByteSource, limit: int) -> bytes:
    line = src.readline(limit)
    if not line.endswith(b"\n"):
        raise HeaderError("header line truncated or too long")
    return line


def _parse_stanza(src: ByteSource, line: bytes) -> tuple[Stanza, bytes]:
    parts = line[:-1].split(b" ")
    if parts[0] != STANZA_PREFIX or len(parts) < 2 or not all(map(_valid_arg, parts[1:])):
        raise HeaderError("malformed stanza line")
    raw = [line]
    body = bytearray()
    while True:
        body_line = _read_line(src, BODY_COLUMNS + 1)
        raw.append(body_line)
        chunk = b64decode(body_line[:-1])
        body += chunk
        if len(chunk) < BODY_BYTES:
            break
    args = [p.decode("ascii") for p in parts[1:]]
    return Stanza(args[0], args[1:], bytes(body)), b"".join(raw)


def parse_header(src: ByteSource) -> Header:
    """Parse a header strictly from src, leaving src positioned at the payload nonce."""
    if src.readline(len(INTRO)) != INTRO:
        raise HeaderError("not an age v1 file")
    raw = [INTRO]
    stanzas: list[Stanza] = []
    while True:
        line = _read_line(src, _MAX_ARG_LINE)
        if line.startswith(MAC_PREFIX):
            parts = line[:-1].split(b" ")
            if parts[0] != MAC_PREFIX or len(parts) != 2:
                raise HeaderError("malformed MAC line")
            mac = b64decode(parts[1])
            if len(mac) != 32:
                raise HeaderError("malformed MAC")
            raw.append(MAC_PREFIX)
            return Header(stanzas, mac, b"".join(raw))
        if not line.startswith(STANZA_PREFIX):
            raise HeaderError("unexpected header line")
        if len(stanzas) >= _MAX_STANZAS:
            raise HeaderError("too many stanzas")
        stanza, stanza_raw = _parse_stanza(src, line)
        stanzas.append(stanza)
        raw.append(stanza_raw)


def verify_mac(header: Header, file_key: bytes) -> None:
    """Raise HMACError unless the header MAC matches under file_key."""
    expected = hmac.new(_mac_key(file_key), header.mac_input, sha256).digest()
    if not hmac.compare_digest(expected, header.mac):
        raise HMACError("header MAC mismatch")
