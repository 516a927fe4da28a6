"""The C2SP/CCTV age test vectors: every classic vector must give its expected outcome."""

from __future__ import annotations

import hashlib
import io
import zlib
from pathlib import Path

import pytest
from conftest import VECTORS as ALL_VECTORS

from archive.crypto.age import (
    AgeError,
    ArmorError,
    HeaderError,
    HMACError,
    NoIdentityMatch,
    PayloadError,
    ScryptIdentity,
    X25519Identity,
    decrypt,
)

# Vendored from C2SP/CCTV (see tests/vectors/README.md). Only the 124 classic vectors are in the
# repository: the 19 post-quantum ones (`hybrid_*`, `armor_hybrid`, mlkem768x25519 recipients) are
# deliberately not vendored because archive.crypto.age does not implement that recipient type.
VECTORS = ALL_VECTORS / "age" / "testdata"
CLASSIC_COUNT = 124
KNOWN_KEYS = {"expect", "payload", "file key", "identity", "passphrase", "armored", "compressed",
              "comment"}
EXPECTED: dict[str, type[AgeError] | None] = {
    "success": None,
    "no match": NoIdentityMatch,
    "HMAC failure": HMACError,
    "header failure": HeaderError,
    "payload failure": PayloadError,
    "armor failure": ArmorError,
}


def _parse(path: Path) -> tuple[dict[str, list[str]], bytes]:
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n\n")
    fields: dict[str, list[str]] = {}
    for line in head.decode().splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    if fields.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    return fields, body


class _Hasher(io.RawIOBase):
    """A sink that only hashes what it is given (the vectors reach several MB)."""

    def __init__(self) -> None:
        super().__init__()
        self.sha = hashlib.sha256()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self.sha.update(b)
        self.count += len(b)
        return len(b)


def _vector_names() -> list[str]:
    if not VECTORS.is_dir():
        return []
    return sorted(p.name for p in VECTORS.iterdir() if p.is_file())


def test_vectors_present() -> None:
    """Guard: the vendored vectors must be there, all of them (a missing folder is a failure)."""
    assert VECTORS.is_dir(), f"age vectors missing: {VECTORS}"
    assert len(_vector_names()) >= CLASSIC_COUNT


# With no vectors, one missing name: the test fails instead of skipping an empty parameter set.
@pytest.mark.parametrize("name", _vector_names() or ["missing"])
def test_vector(name: str) -> None:
    fields, body = _parse(VECTORS / name)
    # Upstream says to ignore vectors with unknown keys; here a vendored one must be understood,
    # so updating the vectors cannot silently drop cases.
    assert not set(fields) - KNOWN_KEYS, f"unknown header keys {set(fields) - KNOWN_KEYS}"
    ids = fields.get("identity", [])
    identities: list[X25519Identity | ScryptIdentity] = [X25519Identity.parse(i) for i in ids]
    identities += [ScryptIdentity(p.encode()) for p in fields.get("passphrase", [])]
    expected = EXPECTED[fields["expect"][0]]
    sink = _Hasher()
    armored = fields.get("armored") == ["yes"]
    if expected is None:
        decrypt(io.BytesIO(body), sink, identities, armor=armored)
    else:
        with pytest.raises(AgeError) as info:
            decrypt(io.BytesIO(body), sink, identities, armor=armored)
        assert type(info.value) is expected, f"{info.value!r}"
    if "payload" in fields:
        assert sink.sha.hexdigest() == fields["payload"][0]
    else:
        assert sink.count == 0
