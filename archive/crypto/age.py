"""age v1 file encryption (https://age-encryption.org/v1) on `cryptography` primitives.

The public surface of the crypto layer: keys, streaming encrypt/decrypt and a pull reader.
Decryption releases plaintext only after each 64 KiB chunk authenticated; every failure is an
AgeError subclass naming the failing layer (armor, header, MAC, payload, no matching key).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

from archive.crypto.age_errors import (
    AgeError,
    ArmorError,
    HeaderError,
    HMACError,
    KeyFormatError,
    NoIdentityMatch,
    PayloadError,
)
from archive.crypto.age_header import Header, Stanza, encode_header, parse_header, verify_mac
from archive.crypto.age_keys import (
    FILE_KEY_SIZE,
    Identity,
    Random,
    Recipient,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
)
from archive.crypto.age_stream import (
    BLOCK_CHUNKS,
    CHUNK,
    NONCE_SIZE,
    Buffers,
    ByteSource,
    PayloadDecryptor,
    ReadStream,
    WriteStream,
    encrypt_payload,
    write_all,
)
from archive.crypto.armor import ArmorReader, ArmorWriter, looks_armored

__all__ = [
    "CHUNK",
    "AgeError",
    "ArmorError",
    "HMACError",
    "HeaderError",
    "Identity",
    "KeyFormatError",
    "NoIdentityMatch",
    "PayloadError",
    "ReadStream",
    "Recipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "Stanza",
    "WriteStream",
    "X25519Identity",
    "X25519Recipient",
    "decrypt",
    "decrypt_bytes",
    "encrypt",
    "encrypt_bytes",
    "open_decrypt",
]


def encrypt(
    src: ReadStream,
    dst: WriteStream,
    recipients: Sequence[Recipient],
    *,
    armor: bool = False,
    random: Random = os.urandom,
    buffers: Buffers | None = None,
) -> int:
    """Encrypt src to dst for recipients, streaming; returns the plaintext bytes written.

    random supplies the file key, nonce, ephemeral keys and salts (os.urandom unless a test
    needs reproducible output). The payload is read and written a block (1 MiB) at a time in
    buffers from `buffers` (by default fresh ones, never reused); see `encrypt_payload`.
    """
    if not recipients:
        raise ValueError("at least one recipient is required")
    file_key = random(FILE_KEY_SIZE)
    stanzas = [s for r in recipients for s in r.wrap(file_key, random)]
    if len(stanzas) != 1 and any(s.type == "scrypt" for s in stanzas):
        raise ValueError("a scrypt recipient must be the only recipient")
    out: Any = ArmorWriter(dst) if armor else dst
    write_all(out, encode_header(stanzas, file_key))
    nonce = random(NONCE_SIZE)
    write_all(out, nonce)
    total = encrypt_payload(src, out, file_key, nonce, buffers)
    if armor:
        out.finish()
    return total


def _unwrap(header: Header, identities: Sequence[Identity]) -> bytes:
    if len(header.stanzas) != 1 and any(s.type == "scrypt" for s in header.stanzas):
        raise HeaderError("a scrypt stanza must be the only stanza")
    for identity in identities:
        file_key = identity.unwrap(header.stanzas)
        if file_key is not None:
            if len(file_key) != FILE_KEY_SIZE:
                raise HeaderError("unwrapped file key has the wrong size")
            return file_key
    raise NoIdentityMatch("no identity matched any recipient stanza")


def _open(src: ReadStream, identities: Sequence[Identity], armor: bool | None) -> PayloadDecryptor:
    source = ByteSource(src)
    if armor is None:
        armor = looks_armored(source)
    if armor:
        source = ByteSource(ArmorReader(source))
    header = parse_header(source)
    file_key = _unwrap(header, identities)
    verify_mac(header, file_key)
    nonce = source.read(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise HeaderError("payload nonce missing or truncated")
    return PayloadDecryptor(source, file_key, nonce)


def decrypt(
    src: ReadStream, dst: WriteStream, identities: Sequence[Identity], *, armor: bool | None = None
) -> int:
    """Decrypt src to dst, streaming; returns the plaintext bytes written.

    Identities are tried in order. armor=None detects ASCII armor from the first bytes. Each
    chunk reaches dst only after it authenticated; on error the chunks already written stay.
    """
    decryptor = _open(src, identities, armor)
    buf = memoryview(bytearray(CHUNK))  # grows to one write per block of BLOCK_CHUNKS
    total = 0
    while True:
        if len(buf) < BLOCK_CHUNKS * CHUNK and total:
            buf = memoryview(bytearray(min(2 * len(buf), BLOCK_CHUNKS * CHUNK)))
        filled = 0
        try:
            while filled + CHUNK <= len(buf):
                n = decryptor.next_chunk_into(buf[filled:])
                if n is None:
                    break
                filled += n
        except AgeError:
            write_all(dst, buf[:filled])  # what authenticated before the failure
            raise
        write_all(dst, buf[:filled])
        total += filled
        if filled < len(buf):
            return total


class _PlaintextRaw(io.RawIOBase):
    """A raw readable stream over a PayloadDecryptor; a read of at least one chunk decrypts
    straight into the caller's buffer."""

    def __init__(self, decryptor: PayloadDecryptor) -> None:
        super().__init__()
        self._decryptor: PayloadDecryptor | None = decryptor
        self._pending = memoryview(b"")
        self._error: AgeError | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not self._pending and len(view) >= CHUNK:
            return self._readinto_direct(view)
        while not self._pending:
            if self._error is not None:
                err, self._error = self._error, None
                raise err
            if self._decryptor is None:
                return 0
            chunk = self._decryptor.next_chunk()
            if chunk is None:
                self._decryptor = None
                return 0
            self._pending = chunk
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _readinto_direct(self, view: memoryview) -> int:
        if self._error is not None:
            err, self._error = self._error, None
            raise err
        filled = 0
        try:
            while self._decryptor is not None and filled + CHUNK <= len(view):
                n = self._decryptor.next_chunk_into(view[filled:])
                if n is None:
                    self._decryptor = None
                    break
                filled += n
        except AgeError as exc:
            if not filled:
                raise
            self._error = exc  # the chunks before it are returned first
        return filled


def open_decrypt(
    src: ReadStream, identities: Sequence[Identity], *, armor: bool | None = None
) -> io.BufferedReader:
    """A readable plaintext stream; the header is checked now, chunks as they are read.

    Header failures raise here; payload failures raise from read().
    """
    return io.BufferedReader(_PlaintextRaw(_open(src, identities, armor)), CHUNK)


def encrypt_bytes(
    data: bytes, recipients: Sequence[Recipient], *, armor: bool = False
) -> bytes:
    """Encrypt a bytes object in memory."""
    out = io.BytesIO()
    encrypt(io.BytesIO(data), out, recipients, armor=armor)
    return out.getvalue()


def decrypt_bytes(data: bytes, identities: Sequence[Identity]) -> bytes:
    """Decrypt a bytes object in memory (armor detected automatically)."""
    out = io.BytesIO()
    decrypt(io.BytesIO(data), out, identities)
    return out.getvalue()
