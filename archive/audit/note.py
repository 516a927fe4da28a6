"""C2SP signed notes with Ed25519 (https://c2sp.org/signed-note): sign, parse keys, verify.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
`— <name> <base64(keyhash4 ‖ sig64)>`. Verifier keys are
`<name>+<8 hex key hash>+<base64(0x01 ‖ pubkey32)>`, key hash = SHA-256(name ‖ "\\n" ‖ 0x01 ‖ pubkey)[:4].
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from archive.errors import IntegrityError, UsageError

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100


class NoteInvalid(IntegrityError):
    """The note or verifier key is malformed."""

    message = "签名笔记格式错误"


class SignatureInvalid(IntegrityError):
    """A signature by a known key does not verify: the text or the signature was altered."""

    message = "签名无效：内容或签名已被改动"


class UnknownKey(IntegrityError):
    """The note carries no signature by the expected key."""

    message = "签名来自未知密钥"


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_hash(name: str, pubkey: bytes) -> bytes:
    """The 4-byte key hash that names an Ed25519 key in verifier keys and signatures."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + pubkey).digest()[:4]


def _b64decode(s: str) -> bytes:
    """Strict, canonical base64: a flip of the unused padding bits is refused, not ignored."""
    try:
        raw = base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise NoteInvalid("签名笔记中的 base64 无效") from e
    if base64.b64encode(raw).decode("ascii") != s:
        raise NoteInvalid("签名笔记中的 base64 不是规范编码")
    return raw


class Signer:
    """Signs note texts with an Ed25519 key derived from a 32-byte seed."""

    def __init__(self, name: str, seed32: bytes) -> None:
        if not _valid_name(name):
            raise UsageError(f"密钥名称无效：{name!r}")
        if len(seed32) != 32:
            raise UsageError("签名种子必须是 32 字节")
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed32)
        self.public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_hash = key_hash(name, self.public_key)

    def verifier_key(self) -> str:
        """The verifier key string that others use to check this signer's notes."""
        b64 = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_hash.hex()}+{b64}"

    def sign(self, text: str) -> str:
        """The signed note: `text` (must end in a newline), a blank line, one signature line."""
        _check_text(text)
        sig = self._key.sign(text.encode("utf-8"))
        b64 = base64.b64encode(self.key_hash + sig).decode()
        return f"{text}\n{SIG_PREFIX}{self.name} {b64}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteInvalid("签名笔记正文必须以换行结尾")
    if "\n\n" in text:
        raise NoteInvalid("签名笔记正文不能包含空行")
    if any((ord(c) < 0x20 and c != "\n") or ord(c) == 0x7F for c in text):
        raise NoteInvalid("签名笔记正文含有控制字符")


@dataclass(frozen=True)
class Signature:
    """One parsed signature line."""

    name: str
    key_hash: bytes
    sig: bytes


def split_note(note: str) -> tuple[str, list[Signature]]:
    """Split a note into its text and parsed signature lines (no verification)."""
    if not note.endswith("\n"):
        raise NoteInvalid("签名笔记必须以换行结尾")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteInvalid("签名笔记缺少正文与签名之间的空行")
    text, block = note[: cut + 1], note[cut + 2 :]
    _check_text(text)
    sigs: list[Signature] = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise NoteInvalid("签名行格式错误")
        parts = line[len(SIG_PREFIX) :].split(" ")
        if len(parts) != 2 or not _valid_name(parts[0]):
            raise NoteInvalid("签名行格式错误")
        raw = _b64decode(parts[1])
        if len(raw) < 5:
            raise NoteInvalid("签名过短")
        sigs.append(Signature(parts[0], raw[:4], raw[4:]))
    if not sigs:
        raise NoteInvalid("签名笔记没有签名")
    if len(sigs) > MAX_SIGNATURES:
        raise NoteInvalid("签名笔记的签名过多")
    return text, sigs


class Verifier:
    """Checks notes against one Ed25519 verifier key."""

    def __init__(self, name: str, pubkey: bytes) -> None:
        self.name = name
        self.public_key = pubkey
        self.key_hash = key_hash(name, pubkey)
        self._key = Ed25519PublicKey.from_public_bytes(pubkey)

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Parse `<name>+<hash>+<base64 key>`; the hash must match the name and key."""
        parts = vkey.strip().split("+", 2)  # base64 may itself contain "+"
        if len(parts) != 3 or not _valid_name(parts[0]) or len(parts[1]) != 8:
            raise NoteInvalid("验证密钥格式错误")
        name, hash_hex, b64 = parts
        raw = _b64decode(b64)
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteInvalid("验证密钥不是 Ed25519 密钥")
        try:
            given = bytes.fromhex(hash_hex)
        except ValueError as e:
            raise NoteInvalid("验证密钥的哈希不是十六进制") from e
        if key_hash(name, raw[1:]) != given:
            raise NoteInvalid("验证密钥的哈希与密钥不符")
        return cls(name, raw[1:])

    def verify(self, note: str) -> str:
        """Return the note's text if it carries a valid signature by this key; raise otherwise."""
        text, sigs = split_note(note)
        mine = [s for s in sigs if s.name == self.name and s.key_hash == self.key_hash]
        if not mine:
            names = "、".join(sorted({s.name for s in sigs}))
            raise UnknownKey(f"签名来自未知密钥（{names}），不是 {self.name} 的密钥",
                             expected=self.name, found=names)
        for s in mine:
            try:
                self._key.verify(s.sig, text.encode("utf-8"))
            except InvalidSignature as e:
                raise SignatureInvalid(f"{self.name} 的签名无效：内容或签名已被改动") from e
        return text
