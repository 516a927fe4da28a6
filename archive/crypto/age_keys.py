"""age recipients and identities: native X25519 and scrypt passphrase."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from archive.crypto import bech32
from archive.crypto.age_errors import HeaderError, KeyFormatError
from archive.crypto.age_header import Stanza, b64decode, b64encode
from archive.crypto.age_stream import hkdf

FILE_KEY_SIZE = 16
_ZERO_NONCE = bytes(12)
_X25519_LABEL = b"age-encryption.org/v1/X25519"
_SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
_WORK_FACTOR = re.compile(r"[1-9][0-9]?")

Random = Callable[[int], bytes]


class Recipient(Protocol):
    """Something that can wrap a file key into stanzas."""

    def wrap(self, file_key: bytes, random: Random) -> list[Stanza]: ...


class Identity(Protocol):
    """Something that can unwrap a file key: None means no stanza is ours."""

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None: ...


def _seal(key: bytes, file_key: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, file_key, None)


def _unseal(key: bytes, body: bytes) -> bytes | None:
    try:
        return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _stanzas_of(stanzas: Sequence[Stanza], kind: str, *, nargs: int) -> Iterator[Stanza]:
    """The stanzas of type `kind`, in order; one with the wrong argument count is a HeaderError."""
    for stanza in stanzas:
        if stanza.type == kind:
            if len(stanza.args) != nargs:
                raise HeaderError(f"invalid {kind} stanza")
            yield stanza


def _decode_key(text: str, hrp: str, error: str) -> bytes:
    """The 32 key bytes of a Bech32 age key string with human-readable part `hrp`."""
    try:
        found, data = bech32.decode(text)
    except ValueError:
        raise KeyFormatError(error) from None
    if found != hrp or len(data) != 32:
        raise KeyFormatError(error)
    return data


class X25519Recipient:
    """A native age public key (age1...)."""

    def __init__(self, public_bytes: bytes) -> None:
        if len(public_bytes) != 32:
            raise KeyFormatError("X25519 public key must be 32 bytes")
        self._public = bytes(public_bytes)
        self._key = X25519PublicKey.from_public_bytes(self._public)

    @classmethod
    def parse(cls, s: str) -> X25519Recipient:
        """Parse an age1... recipient string."""
        return cls(_decode_key(s, "age", "malformed age recipient"))

    def public_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self._public

    def __str__(self) -> str:
        return bech32.encode("age", self._public)

    def __repr__(self) -> str:
        return f"X25519Recipient({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other._public == self._public

    def __hash__(self) -> int:
        return hash(self._public)

    def wrap(self, file_key: bytes, random: Random) -> list[Stanza]:
        """One X25519 stanza for file_key, from a fresh ephemeral key."""
        ephemeral = X25519PrivateKey.from_private_bytes(random(32))
        share = _raw_public(ephemeral.public_key())
        shared = ephemeral.exchange(self._key)
        key = hkdf(shared, share + self._public, _X25519_LABEL)
        return [Stanza("X25519", [b64encode(share)], _seal(key, file_key))]


class X25519Identity:
    """A native age secret key (AGE-SECRET-KEY-1...)."""

    def __init__(self, key: X25519PrivateKey) -> None:
        self._key = key
        self._public = _raw_public(key.public_key())

    @classmethod
    def generate(cls) -> X25519Identity:
        """A fresh random identity."""
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_secret_bytes(cls, raw: bytes) -> X25519Identity:
        """An identity from its 32 raw secret bytes."""
        if len(raw) != 32:
            raise KeyFormatError("X25519 secret key must be 32 bytes")
        return cls(X25519PrivateKey.from_private_bytes(bytes(raw)))

    def secret_bytes(self) -> bytes:
        """The raw 32 secret bytes."""
        return self._key.private_bytes_raw()

    @classmethod
    def parse(cls, s: str) -> X25519Identity:
        """Parse an AGE-SECRET-KEY-1... string (upper case, as age writes it)."""
        return cls.from_secret_bytes(_decode_key(s, "AGE-SECRET-KEY-", "malformed age identity"))

    def __str__(self) -> str:
        return bech32.encode("AGE-SECRET-KEY-", self.secret_bytes()).upper()

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={self.recipient()})"

    def recipient(self) -> X25519Recipient:
        """The matching public recipient."""
        return X25519Recipient(self._public)

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key from the first X25519 stanza addressed to us, else None."""
        for stanza in _stanzas_of(stanzas, "X25519", nargs=1):
            share = b64decode(stanza.args[0])
            if len(share) != 32 or len(stanza.body) != FILE_KEY_SIZE + 16:
                raise HeaderError("invalid X25519 stanza")
            try:
                shared = self._key.exchange(X25519PublicKey.from_public_bytes(share))
            except ValueError:
                raise HeaderError("invalid X25519 share (low order point)") from None
            file_key = _unseal(hkdf(shared, share + self._public, _X25519_LABEL), stanza.body)
            if file_key is not None:
                return file_key
        return None


def _scrypt_key(passphrase: bytes, salt: bytes, work_factor: int) -> bytes:
    kdf = Scrypt(salt=_SCRYPT_LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    try:
        return kdf.derive(passphrase)
    except (MemoryError, ValueError):  # 128 * 2**work_factor * 8 bytes could not be allocated
        raise HeaderError("scrypt work factor needs more memory than available") from None


class ScryptRecipient:
    """A passphrase recipient; it must be the only recipient of a file."""

    def __init__(self, passphrase: bytes, work_factor: int = 18) -> None:
        if not 1 <= work_factor <= 30:
            raise ValueError("scrypt work factor must be between 1 and 30")
        self._passphrase = bytes(passphrase)
        self._work_factor = work_factor

    def __repr__(self) -> str:
        return f"ScryptRecipient(work_factor={self._work_factor})"

    def wrap(self, file_key: bytes, random: Random) -> list[Stanza]:
        """One scrypt stanza with a fresh salt."""
        salt = random(16)
        key = _scrypt_key(self._passphrase, salt, self._work_factor)
        args = [b64encode(salt), str(self._work_factor)]
        return [Stanza("scrypt", args, _seal(key, file_key))]


class ScryptIdentity:
    """A passphrase identity; refuses work factors above max_work_factor."""

    def __init__(self, passphrase: bytes, max_work_factor: int = 22) -> None:
        self._passphrase = bytes(passphrase)
        self._max_work_factor = max_work_factor

    def __repr__(self) -> str:
        return f"ScryptIdentity(max_work_factor={self._max_work_factor})"

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key from the scrypt stanza, else None (wrong passphrase or no stanza)."""
        for stanza in _stanzas_of(stanzas, "scrypt", nargs=2):
            salt = b64decode(stanza.args[0])
            if len(salt) != 16 or not _WORK_FACTOR.fullmatch(stanza.args[1]):
                raise HeaderError("invalid scrypt stanza")
            work_factor = int(stanza.args[1])
            if work_factor > self._max_work_factor:
                raise HeaderError("scrypt work factor too large")
            if len(stanza.body) != FILE_KEY_SIZE + 16:
                raise HeaderError("invalid scrypt stanza")
            key = _scrypt_key(self._passphrase, salt, work_factor)
            file_key = _unseal(key, stanza.body)
            if file_key is not None:
                return file_key
        return None
