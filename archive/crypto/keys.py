"""Key derivation, key wrapping and keyed fingerprints: the safe layer over `cryptography`.

Every symmetric key in sgz is derived from the vault root key (VRK) with HKDF-SHA256 under a
distinct label, or is random and wrapped with AES-256-GCM under such a key. This module is the
one seam where an SM4/SM3 profile could be added (standards.md, 国密).
"""

from __future__ import annotations

import hmac as _hmac
import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from archive.errors import DecryptionFailed

KEY_LEN: Final = 32
NONCE_LEN: Final = 12

# HKDF labels: one per derived key. Changing one orphans every file keyed by it.
LABEL_CATALOG: Final = b"sgz/v1/catalog-db"
LABEL_AUDIT_DETAIL: Final = b"sgz/v1/audit-detail"
LABEL_AUDIT_SIGNING: Final = b"sgz/v1/audit-signing-ed25519"
LABEL_FINGERPRINT: Final = b"sgz/v1/fingerprint-hmac"
LABEL_KEYRING: Final = b"sgz/v1/keyring-wrap"


def random_key() -> bytes:
    """A fresh 32-byte key from the OS CSPRNG."""
    return os.urandom(KEY_LEN)


def derive(root: bytes, label: bytes, length: int = KEY_LEN) -> bytes:
    """HKDF-SHA256(root) with `label` as info; salt-free because root is uniformly random."""
    if len(root) != KEY_LEN:
        raise ValueError("root key must be 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=label).derive(root)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM encrypt; output is nonce ‖ ciphertext ‖ tag."""
    nonce = os.urandom(NONCE_LEN)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Inverse of `seal`; any failure is one `DecryptionFailed`."""
    if len(sealed) < NONCE_LEN + 16:
        raise DecryptionFailed()
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_LEN], sealed[NONCE_LEN:], aad)
    except InvalidTag:
        raise DecryptionFailed() from None


class Fingerprinter:
    """Keyed fingerprints of plaintext (HMAC-SHA256, optionally HMAC-SM3), computed while streaming.

    A bare plaintext hash would let anyone holding a candidate document confirm it is in the
    vault; a keyed one only lets the unlocked station do so. Uses the stdlib `hmac` over
    OpenSSL, whose updates release the GIL, so callers may feed it from a worker thread.
    SM3 runs at about 110 MB/s here (vs ~530 MB/s for SHA-256), so it is opt-in
    (station.toml `[crypto] sm3 = true`; ADR 0003).
    """

    def __init__(self, key: bytes, *, sm3: bool = False) -> None:
        self._sha = _hmac.new(key, digestmod="sha256")
        self._sm3 = _hmac.new(key, digestmod="sm3") if sm3 else None

    def update(self, data: bytes | memoryview) -> None:
        self._sha.update(data)
        if self._sm3 is not None:
            self._sm3.update(data)

    def finalize(self) -> tuple[str, str]:
        """Return (hmac_sha256_hex, hmac_sm3_hex or '')."""
        return self._sha.hexdigest(), self._sm3.hexdigest() if self._sm3 is not None else ""


def constant_time_equal(a: bytes | str, b: bytes | str) -> bool:
    """Compare secrets or MACs without leaking where they differ."""
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return _hmac.compare_digest(a, b)
