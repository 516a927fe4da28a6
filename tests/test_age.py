"""Behaviour of the age layer: round trips, keys, tamper detection and streaming memory."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.crypto.age import (
    CHUNK,
    AgeError,
    ArmorError,
    HeaderError,
    HMACError,
    KeyFormatError,
    NoIdentityMatch,
    PayloadError,
    ScryptIdentity,
    ScryptRecipient,
    Stanza,
    X25519Identity,
    X25519Recipient,
    decrypt,
    decrypt_bytes,
    encrypt,
    encrypt_bytes,
    open_decrypt,
)

ALICE = X25519Identity.from_secret_bytes(bytes(range(32)))
BOB = X25519Identity.from_secret_bytes(bytes(range(32, 64)))
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17]


def _counter_random(seed: bytes) -> Callable[[int], bytes]:
    """A reproducible stand-in for os.urandom."""
    state = {"n": 0}

    def random(n: int) -> bytes:
        out = b""
        while len(out) < n:
            state["n"] += 1
            out += hashlib.sha256(seed + state["n"].to_bytes(8, "big")).digest()
        return out[:n]

    return random


def _data(n: int) -> bytes:
    block = hashlib.sha256(n.to_bytes(8, "big")).digest() * 2048  # 64 KiB
    return (block * (n // len(block) + 1))[:n]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("armor", [False, True])
def test_round_trip_sizes(size: int, armor: bool) -> None:
    data = _data(size)
    ct = encrypt_bytes(data, [ALICE.recipient()], armor=armor)
    assert ct.startswith(b"-----BEGIN AGE" if armor else b"age-encryption.org/v1\n")
    assert decrypt_bytes(ct, [ALICE]) == data
    chunks = max(1, -(-size // CHUNK))
    if not armor:
        header_len = ct.index(b"\n--- ") + 49
        assert len(ct) == header_len + 16 + size + 16 * chunks


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=3 * CHUNK + 5), armor=st.booleans(), read=st.integers(1, 70000))
def test_round_trip_property(data: bytes, armor: bool, read: int) -> None:
    ct = encrypt_bytes(data, [BOB.recipient(), ALICE.recipient()], armor=armor)
    assert decrypt_bytes(ct, [ALICE]) == data
    stream = open_decrypt(io.BytesIO(ct), [BOB])
    parts = []
    while part := stream.read(read):
        parts.append(part)
    assert b"".join(parts) == data


def test_encrypt_returns_plaintext_length_and_decrypt_streams_to_file(tmp_path: Path) -> None:
    data = _data(2 * CHUNK + 3)
    enc = tmp_path / "x.age"
    with enc.open("wb") as dst:
        assert encrypt(io.BytesIO(data), dst, [ALICE.recipient()]) == len(data)
    out = io.BytesIO()
    with enc.open("rb") as src:
        assert decrypt(src, out, [ALICE]) == len(data)
    assert out.getvalue() == data


def test_multiple_recipients_each_decrypt() -> None:
    ct = encrypt_bytes(b"hello", [ALICE.recipient(), BOB.recipient()])
    assert decrypt_bytes(ct, [ALICE]) == b"hello"
    assert decrypt_bytes(ct, [BOB]) == b"hello"
    assert decrypt_bytes(ct, [X25519Identity.generate(), BOB]) == b"hello"


def test_wrong_identity_is_no_match() -> None:
    ct = encrypt_bytes(b"secret", [ALICE.recipient()])
    with pytest.raises(NoIdentityMatch):
        decrypt_bytes(ct, [BOB])
    with pytest.raises(NoIdentityMatch):
        decrypt_bytes(ct, [])


class _GreaseRecipient:
    """Adds a stanza of a type no identity knows, as other age clients may."""

    def wrap(self, file_key: bytes, random: Callable[[int], bytes]) -> list[Stanza]:
        return [Stanza("sgz-grease", ["a", "b"], random(70))]


def test_unknown_stanza_type_is_fine_when_another_matches() -> None:
    ct = encrypt_bytes(b"ok", [_GreaseRecipient(), ALICE.recipient()])
    assert decrypt_bytes(ct, [ALICE]) == b"ok"


def test_scrypt_round_trip_and_wrong_passphrase() -> None:
    ct = encrypt_bytes(b"vrk", [ScryptRecipient(b"correct horse", work_factor=10)])
    assert b"-> scrypt " in ct and b" 10\n" in ct
    assert decrypt_bytes(ct, [ALICE, ScryptIdentity(b"correct horse")]) == b"vrk"
    with pytest.raises(NoIdentityMatch):
        decrypt_bytes(ct, [ScryptIdentity(b"wrong")])
    with pytest.raises(HeaderError):
        decrypt_bytes(ct, [ScryptIdentity(b"correct horse", max_work_factor=9)])


def test_scrypt_must_be_alone() -> None:
    with pytest.raises(ValueError):
        encrypt_bytes(b"x", [ScryptRecipient(b"pw", 10), ALICE.recipient()])
    ct = encrypt_bytes(b"x", [ScryptRecipient(b"pw", 10)])
    extra = encrypt_bytes(b"x", [ALICE.recipient()])
    stanza = extra[extra.index(b"->") : extra.index(b"\n---") + 1]
    forged = ct.replace(b"\n---", b"\n" + stanza.rstrip(b"\n") + b"\n---", 1)
    with pytest.raises(HeaderError):
        decrypt_bytes(forged, [ScryptIdentity(b"pw")])


def test_every_flipped_byte_is_detected() -> None:
    ct = encrypt_bytes(b"small payload", [ALICE.recipient()])
    payload_start = ct.index(b"\n--- ") + 49
    for i in range(len(ct)):
        bad = bytearray(ct)
        bad[i] ^= 0x01
        with pytest.raises(AgeError) as info:
            decrypt_bytes(bytes(bad), [ALICE])
        if i >= payload_start + 16:
            assert type(info.value) is PayloadError
        elif i >= payload_start:
            assert type(info.value) is PayloadError  # a different nonce, a different key


def test_header_tampering_errors() -> None:
    ct = encrypt_bytes(b"x" * 100, [ALICE.recipient()])
    mac_at = ct.index(b"\n--- ") + 5
    bad = bytearray(ct)
    bad[mac_at + 3] = ord("A") if bad[mac_at + 3] != ord("A") else ord("B")
    with pytest.raises(HMACError):
        decrypt_bytes(bytes(bad), [ALICE])
    with pytest.raises(HeaderError):
        decrypt_bytes(ct.replace(b"/v1", b"/v2", 1), [ALICE])
    with pytest.raises(HeaderError):
        decrypt_bytes(ct[: mac_at + 20], [ALICE])


def test_payload_truncation_and_trailing_data() -> None:
    data = _data(2 * CHUNK + 10)
    ct = encrypt_bytes(data, [ALICE.recipient()])
    for cut in (1, 16, 26, 26 + 65536):
        with pytest.raises(PayloadError):
            decrypt_bytes(ct[:-cut], [ALICE])
    with pytest.raises(PayloadError):
        decrypt_bytes(ct + b"\x00", [ALICE])
    out = io.BytesIO()
    with pytest.raises(PayloadError):
        decrypt(io.BytesIO(ct[:-1]), out, [ALICE])
    assert out.getvalue() == data[: 2 * CHUNK]  # authenticated chunks only


def test_open_decrypt_raises_header_errors_early_and_payload_errors_on_read() -> None:
    data = _data(CHUNK + 5)
    ct = encrypt_bytes(data, [ALICE.recipient()])
    with pytest.raises(NoIdentityMatch):
        open_decrypt(io.BytesIO(ct), [BOB])
    stream = open_decrypt(io.BytesIO(ct[:-1]), [ALICE])
    assert stream.read(10) == data[:10]
    with pytest.raises(PayloadError):
        stream.read()


def test_armor_tampering_is_armor_error() -> None:
    ct = encrypt_bytes(b"hi", [ALICE.recipient()], armor=True)
    with pytest.raises(ArmorError):
        decrypt_bytes(ct.replace(b"\n", b" \n", 1), [ALICE])
    with pytest.raises(ArmorError):
        decrypt_bytes(ct + b"junk", [ALICE])
    assert decrypt_bytes(b"\n  \n" + ct.replace(b"\n", b"\r\n") + b"\n\n", [ALICE]) == b"hi"


def test_key_strings_round_trip_and_reject_garbage() -> None:
    text = str(ALICE)
    assert text.startswith("AGE-SECRET-KEY-1") and text == text.upper()
    assert X25519Identity.parse(text).secret_bytes() == ALICE.secret_bytes()
    rec = str(ALICE.recipient())
    assert rec.startswith("age1") and X25519Recipient.parse(rec) == ALICE.recipient()
    for bad in (rec[:-1] + ("q" if rec[-1] != "q" else "p"), rec.upper()[:10] + rec[10:], text,
                "", "age1", rec + "q"):
        with pytest.raises(KeyFormatError):
            X25519Recipient.parse(bad)
    with pytest.raises(KeyFormatError):
        X25519Identity.parse(rec)
    assert X25519Identity.generate().secret_bytes() != X25519Identity.generate().secret_bytes()


def test_format_is_stable() -> None:
    """A reproducible encryption must not change bytes across releases."""
    out = io.BytesIO()
    random = _counter_random(b"sgz-age-golden")
    encrypt(io.BytesIO(b"\xe7\xa4\xbe\xe5\xb7\xa5\xe7\xab\x99" * 1000), out,
            [ALICE.recipient()], random=random)
    assert hashlib.sha256(out.getvalue()).hexdigest() == GOLDEN_SHA256
    assert decrypt_bytes(out.getvalue(), [ALICE]).startswith("社工站".encode())


GOLDEN_SHA256 = "314f943780741e3c78dc2d0c548396311485aaf1588503c67ff99374481f869f"


class _Generated(io.RawIOBase):
    """size bytes of deterministic data, produced on demand."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._left = size
        self._block = _data(2 * CHUNK)
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._left, CHUNK)
        start = self._offset % CHUNK
        buffer[:n] = self._block[start : start + n]
        self._offset += n
        self._left -= n
        return n


class _HashSink(io.RawIOBase):
    def __init__(self) -> None:
        super().__init__()
        self.sha = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self.sha.update(b)
        return len(b)


def test_streaming_memory_is_bounded(tmp_path: Path) -> None:
    size = 64 * 1024 * 1024
    reference = _HashSink()
    src = _Generated(size)
    while chunk := src.read(CHUNK):
        reference.write(chunk)
    enc = tmp_path / "big.age"
    tracemalloc.start()
    try:
        with enc.open("wb") as dst:
            assert encrypt(_Generated(size), dst, [ALICE.recipient()]) == size
        _, enc_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sink = _HashSink()
        with enc.open("rb") as f:
            assert decrypt(f, sink, [ALICE]) == size
        _, dec_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert enc_peak < 2 * 1024 * 1024 and dec_peak < 2 * 1024 * 1024, (enc_peak, dec_peak)
    assert sink.sha.digest() == reference.sha.digest()
