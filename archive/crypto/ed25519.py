"""Ed25519 signing keys from 32-byte seeds: the safe layer the vault and the audit log sign with."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from archive.errors import IntegrityError

SEED_SIZE = 32
PUBLIC_SIZE = 32
SIGNATURE_SIZE = 64


class SigningKey:
    """An Ed25519 private key kept as its seed (what a keyslot stores)."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise ValueError("Ed25519 seed must be 32 bytes")
        self._seed = bytes(seed)
        self._key = Ed25519PrivateKey.from_private_bytes(self._seed)
        self.public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(os.urandom(SEED_SIZE))

    def seed(self) -> bytes:
        return self._seed

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def __repr__(self) -> str:  # never the seed
        return f"SigningKey(public={self.public.hex()[:16]}…)"


def verify(public: bytes, message: bytes, signature: bytes, *, what: str) -> None:
    """Raise IntegrityError naming `what` unless `signature` is `public`'s over `message`."""
    try:
        if len(public) != PUBLIC_SIZE or len(signature) != SIGNATURE_SIZE:
            raise InvalidSignature
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise IntegrityError(f"{what}的签名无效：文件被改动或来自别处") from None
