"""Ed25519 signing keys and verification: the safe layer over `cryptography` for signatures.

Private keys travel as 32-byte seeds (what a keyslot stores); public keys as 32 raw bytes.
Verification raises `BadSignature` instead of returning False. `cryptography` releases the
GIL while verifying, so a caller may check many signatures on several threads.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SEED_SIZE = 32
PUBLIC_SIZE = 32
SIGNATURE_SIZE = 64


class BadSignature(Exception):
    """A signature does not verify, or a public key is malformed (never carries key material)."""


class SigningKey:
    """An Ed25519 private key built from its 32-byte seed."""

    __slots__ = ("_key", "public")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise ValueError("Ed25519 seed must be 32 bytes")
        self._key = Ed25519PrivateKey.from_private_bytes(bytes(seed))
        self.public: bytes = self._key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> tuple[SigningKey, bytes]:
        """A fresh key and its seed."""
        seed = os.urandom(SEED_SIZE)
        return cls(seed), seed

    def sign(self, message: bytes) -> bytes:
        """The 64-byte deterministic signature of `message`."""
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"SigningKey(public={self.public.hex()[:16]}…)"


class VerifyKey:
    """An Ed25519 public key."""

    __slots__ = ("_key", "raw")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != PUBLIC_SIZE:
            raise BadSignature("Ed25519 public key must be 32 bytes")
        try:
            self._key = Ed25519PublicKey.from_public_bytes(bytes(raw))
        except ValueError as e:
            raise BadSignature("malformed Ed25519 public key") from e
        self.raw = bytes(raw)

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise BadSignature unless `signature` is this key's signature of `message`."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            raise BadSignature("signature does not verify") from None

    def check(self, signature: bytes, message: bytes) -> bool:
        """True if the signature verifies (for batch checks that report the first failure)."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True
