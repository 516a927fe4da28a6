"""Behaviour of the age layer: round trips, keys, tamper detection and streaming memory."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
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
from archive.crypto.age_stream import BLOCK_CHUNKS, hkdf

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
    """size bytes of deterministic data, produced on demand, at most one chunk per read
    (short reads, as a pipe gives)."""

    _wrap = True

    def __init__(self, size: int) -> None:
        super().__init__()
        self._left = size
        self._block = _data(2 * CHUNK)
        self._offset = 0

    @classmethod
    def of(cls, data: bytes) -> _Generated:
        """The same short reads over given bytes."""
        g = cls(len(data))
        g._block = data
        g._wrap = False
        return g

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._left, CHUNK)
        start = self._offset % CHUNK if self._wrap else self._offset
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


def _stream_peaks(tmp_path: Path, size: int) -> tuple[int, int]:
    """Peak traced memory of encrypting, and of decrypting (to a sink and by reads), `size`
    generated bytes."""
    reference = _HashSink()
    src = _Generated(size)
    while chunk := src.read(CHUNK):
        reference.write(chunk)
    enc = tmp_path / f"big{size}.age"
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
        tracemalloc.reset_peak()
        sink2 = _HashSink()
        with enc.open("rb") as f:
            stream = open_decrypt(f, [ALICE])
            while part := stream.read(1 << 20):
                sink2.write(part)
            del part
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.sha.digest() == reference.sha.digest() == sink2.sha.digest()
    return enc_peak, max(dec_peak, read_peak)


def test_streaming_memory_is_bounded(tmp_path: Path) -> None:
    """A block of 16 chunks in and out (about 2 MiB) whatever the size: 64 MiB takes no more
    than 4 MiB, and no more than 4 MiB does."""
    small = _stream_peaks(tmp_path, 4 * 1024 * 1024)
    big = _stream_peaks(tmp_path, 64 * 1024 * 1024)
    assert max(big) < 4 * 1024 * 1024, big
    for s, b in zip(small, big, strict=True):
        assert b <= s + 64 * 1024, (small, big)  # does not grow with the size


BLOCK = BLOCK_CHUNKS * CHUNK
# blocks grow 1, 2, 4, 8, 16, 16 … chunks: they end after 1, 3, 7, 15, 31, 47 … chunks
BOUNDARY_SIZES = [0, 1] + [k * CHUNK + d for k in (1, 3, 7, 15, 16, 31, 47) for d in (-1, 0, 1)]


def _reference_payload(plain: bytes, file_key: bytes, nonce: bytes) -> bytes:
    """STREAM as the spec writes it, one chunk at a time: the independent oracle."""
    aead = ChaCha20Poly1305(hkdf(file_key, nonce, b"payload"))
    chunks = [plain[i : i + CHUNK] for i in range(0, len(plain), CHUNK)] or [b""]
    out = []
    for i, chunk in enumerate(chunks):
        last = b"\x01" if i == len(chunks) - 1 else b"\x00"
        out.append(aead.encrypt(i.to_bytes(11, "big") + last, chunk, None))
    return b"".join(out)


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
def test_block_streaming_is_byte_exact_at_chunk_and_block_boundaries(size: int) -> None:
    """Encrypting a block of chunks at a time from short reads yields the spec's
    chunk-at-a-time bytes, and every way of reading decrypts it: whole, by odd-sized reads
    (straight into the caller's buffer when a read is a chunk or more), from short reads."""
    plain = _data(size)
    file_key = _counter_random(b"boundaries")(16)  # encrypt draws the file key first
    out = io.BytesIO()
    assert encrypt(_Generated.of(plain), out, [ALICE.recipient()],
                   random=_counter_random(b"boundaries")) == size
    ct = out.getvalue()
    header_end = ct.index(b"\n--- ") + 49
    nonce = ct[header_end : header_end + 16]
    assert ct[header_end + 16 :] == _reference_payload(plain, file_key, nonce)
    assert decrypt_bytes(ct, [ALICE]) == plain
    for read in (1, CHUNK - 1, CHUNK, CHUNK + 1, BLOCK, 3 * BLOCK):
        stream = open_decrypt(_Generated.of(ct), [ALICE])
        parts = []
        while part := stream.read(read):
            parts.append(part)
        assert b"".join(parts) == plain, read


def test_a_bad_chunk_in_a_later_block_releases_exactly_the_chunks_before_it() -> None:
    plain = _data(2 * BLOCK + 5)
    ct = bytearray(encrypt_bytes(plain, [ALICE.recipient()]))
    payload = ct.index(b"\n--- ") + 49 + 16
    bad = BLOCK_CHUNKS + 3  # the fourth chunk of the second block
    ct[payload + bad * (CHUNK + 16) + 7] ^= 1
    out = io.BytesIO()
    with pytest.raises(PayloadError):
        decrypt(io.BytesIO(bytes(ct)), out, [ALICE])
    assert out.getvalue() == plain[: bad * CHUNK]
    for read in (CHUNK - 1, BLOCK):  # a buffered read that fails returns nothing of its own
        stream = open_decrypt(io.BytesIO(bytes(ct)), [ALICE])
        got = bytearray()
        with pytest.raises(PayloadError):
            while part := stream.read(read):
                got += part
        assert bad * CHUNK - read <= len(got) <= bad * CHUNK, read
        assert bytes(got) == plain[: len(got)], read
    buf = bytearray(BLOCK)  # the raw stream decrypts straight into the reader's buffer
    raw = open_decrypt(io.BytesIO(bytes(ct)), [ALICE]).raw
    assert raw.readinto(buf) == BLOCK and buf == plain[:BLOCK]  # the first block is whole
    assert raw.readinto(buf) == 3 * CHUNK  # then the chunks before the bad one
    assert buf[: 3 * CHUNK] == plain[BLOCK : BLOCK + 3 * CHUNK]
    assert buf[3 * CHUNK : 4 * CHUNK] == bytes(CHUNK)  # nothing unauthenticated left behind
    with pytest.raises(PayloadError):
        raw.readinto(buf)
