"""The age STREAM payload (ChaCha20-Poly1305 in 64 KiB chunks) and buffered byte sources.

Buffers are allocated once per stream and reused, so memory does not grow with the payload
and no per-chunk bytes objects are created.
"""

from __future__ import annotations

from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from archive.crypto.age_errors import PayloadError

CHUNK = 64 * 1024
TAG = 16
ENC_CHUNK = CHUNK + TAG
NONCE_SIZE = 16
_READ_BLOCK = 16 * 1024
BLOCK_CHUNKS = 16  # chunks per read/write on the streaming paths (1 MiB)


class ReadStream(Protocol):
    """Anything with read(n): files, BytesIO, raw and buffered streams."""

    def read(self, n: int = ..., /) -> bytes | None: ...


class WriteStream(Protocol):
    """Anything with write(buffer)."""

    def write(self, data: memoryview, /) -> int | None: ...


def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 with a 32-byte output, as every age derivation uses."""
    return HKDF(algorithm=SHA256(), length=32, salt=salt, info=info).derive(ikm)


def readinto_full(src: Any, view: memoryview) -> int:
    """Fill view from src until full or EOF; returns the number of bytes stored."""
    total = 0
    size = len(view)
    readinto = getattr(src, "readinto", None)
    while total < size:
        if readinto is not None:
            n = readinto(view[total:])
        else:
            data = src.read(size - total)
            n = len(data)
            view[total : total + n] = data
        if not n:
            break
        total += n
    return total


def write_all(dst: Any, data: memoryview | bytes) -> None:
    """Write all of data, looping over short writes of raw streams."""
    view = memoryview(data)
    while view:
        n = dst.write(view)
        if n is None or n >= len(view):
            return
        view = view[n:]


class ByteSource:
    """A read buffer with peek and bounded readline over any binary stream."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._buf = bytearray()
        self._eof = False

    def _fill(self, n: int) -> None:
        while len(self._buf) < n and not self._eof:
            data = self._raw.read(max(n - len(self._buf), _READ_BLOCK))
            if not data:
                self._eof = True
            else:
                self._buf += data

    def peek(self, n: int) -> bytes:
        """Up to n bytes without consuming them (fewer only at EOF)."""
        self._fill(n)
        return bytes(self._buf[:n])

    def readline(self, limit: int) -> bytes:
        """A line including its LF, or at most limit bytes if no LF comes first (or at EOF)."""
        start = 0
        while True:
            idx = self._buf.find(b"\n", start, limit)
            if idx >= 0:
                return self.read(idx + 1)
            if len(self._buf) >= limit or self._eof:
                return self.read(limit)
            start = len(self._buf)
            self._fill(len(self._buf) + 1)

    def read(self, n: int) -> bytes:
        """Up to n bytes (fewer only at EOF)."""
        self._fill(n)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def readinto(self, view: memoryview) -> int:
        """Fill view from the buffer first, then directly from the underlying stream."""
        if self._buf:
            n = min(len(view), len(self._buf))
            view[:n] = self._buf[:n]
            del self._buf[:n]
            return n
        if self._eof:
            return 0
        n = readinto_full(self._raw, view[:])
        if n < len(view):
            self._eof = True
        return n


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class Buffers(Protocol):
    """Where the encryptor takes its block buffers from and gives them back."""

    def get(self, size: int) -> bytearray: ...

    def put(self, buf: bytearray) -> None: ...


class FreshBuffers:
    """A new buffer per block, never reused: a reader or writer may keep views of them."""

    def get(self, size: int) -> bytearray:
        return bytearray(size)

    def put(self, buf: bytearray) -> None:
        pass


def encrypt_payload(src: ReadStream, dst: Any, file_key: bytes, nonce: bytes,
                    buffers: Buffers | None = None) -> int:
    """Encrypt all of src to dst as STREAM chunks; returns the plaintext length.

    Works a block of chunks at a time: one read, one write per block. Blocks grow from one
    chunk to `BLOCK_CHUNKS` (a small file never touches a 1 MiB buffer). Each block
    is read into a buffer from `buffers` and encrypted into another; both are given back once
    the block was written, and not written to again until `buffers` hands them out anew (with
    the default, never), so src and dst may keep views of them until then (ObjectStore hashes
    and writes them on other threads)."""
    pool = buffers if buffers is not None else FreshBuffers()
    aead = ChaCha20Poly1305(hkdf(file_key, nonce, b"payload"))
    per_block = 1
    carry = b""  # one byte of look-ahead tells us whether a chunk is the last
    counter = 0
    total = 0
    while True:
        cap = per_block * CHUNK
        inbuf = pool.get(cap + 1)
        outbuf = pool.get(cap + per_block * TAG)
        inview, outview = memoryview(inbuf), memoryview(outbuf)
        try:
            inview[: len(carry)] = carry
            n = len(carry) + readinto_full(src, inview[len(carry):])
            last_block = n <= cap
            size = n if last_block else cap
            chunks = max(1, -(-size // CHUNK))
            for i in range(chunks):
                start, end = i * CHUNK, min((i + 1) * CHUNK, size)
                at = start + i * TAG
                aead.encrypt_into(_nonce(counter, last_block and i == chunks - 1),
                                  inview[start:end], None, outview[at : at + end - start + TAG])
                counter += 1
            write_all(dst, outview[: size + chunks * TAG])
            carry = b"" if last_block else bytes(inview[cap:])
        finally:
            inview.release()
            outview.release()
            pool.put(outbuf)
            pool.put(inbuf)
            del inbuf, outbuf  # fresh buffers go before the next ones are made
        total += size
        if last_block:
            return total
        per_block = min(2 * per_block, BLOCK_CHUNKS)


class PayloadDecryptor:
    """Pulls authenticated plaintext chunks from a STREAM payload, one at a time.

    A chunk is released only after its tag verified. When a chunk authenticates but sits in the
    wrong place (a final chunk followed by data, a full non-final chunk at EOF), it is released
    and the error is raised on the next call, matching the reference implementation's vectors.
    The ciphertext is read `BLOCK_CHUNKS` chunks at a time.
    """

    def __init__(self, src: ByteSource, file_key: bytes, nonce: bytes) -> None:
        self._src = src
        self._aead = ChaCha20Poly1305(hkdf(file_key, nonce, b"payload"))
        self._in = bytearray(ENC_CHUNK + 1)  # grows to BLOCK_CHUNKS chunks as reading goes on
        self._inview = memoryview(self._in)
        self._start = 0  # unread ciphertext is self._in[_start:_end]
        self._end = 0
        self._eof = False
        self._out = memoryview(bytearray(CHUNK))
        self._counter = 0
        self._done = False
        self._pending: PayloadError | None = None

    def _open(self, data: memoryview, last: bool, out: memoryview) -> bool:
        try:
            self._aead.decrypt_into(_nonce(self._counter, last), data, None, out)
        except InvalidTag:
            out[:] = bytes(len(out))  # never leave unauthenticated plaintext in a buffer
            return False
        return True

    def _fill(self) -> int:
        """Make ENC_CHUNK + 1 bytes available (fewer only at EOF); return how many are."""
        if self._end - self._start < ENC_CHUNK + 1 and not self._eof:
            rest = self._end - self._start
            if self._end == len(self._in) < BLOCK_CHUNKS * ENC_CHUNK + 1:
                # the last read filled the buffer: a bigger file, read more at once
                grown = bytearray(min(2 * len(self._in) - 1, BLOCK_CHUNKS * ENC_CHUNK + 1))
                grown[:rest] = self._in[self._start : self._end]
                self._in, self._inview = grown, memoryview(grown)
            else:
                self._in[:rest] = self._in[self._start : self._end]
            self._start, self._end = 0, rest
            got = readinto_full(self._src, self._inview[rest:])
            self._end += got
            self._eof = self._end < len(self._in)
        return min(self._end - self._start, ENC_CHUNK + 1)

    def next_chunk(self) -> memoryview | None:
        """The next plaintext chunk (a view valid until the next call), or None at the end."""
        n = self.next_chunk_into(self._out)
        return None if n is None else self._out[:n]

    def next_chunk_into(self, buffer: memoryview) -> int | None:
        """Decrypt the next chunk into buffer (at least CHUNK bytes); return its length, or None
        at the end. On an authentication failure nothing readable is left in buffer."""
        if self._pending is not None:
            err, self._pending = self._pending, None
            self._done = True
            raise err
        if self._done:
            return None
        n = self._fill()
        if n == 0:
            raise PayloadError("payload truncated: no final chunk")
        last = n <= ENC_CHUNK
        size = n if last else ENC_CHUNK
        if size < TAG:
            raise PayloadError("payload chunk truncated")
        if last and size == TAG and self._counter > 0:
            raise PayloadError("final chunk is empty")
        data = self._inview[self._start : self._start + size]
        out = buffer[: size - TAG]
        if self._open(data, last, out):
            self._done = last
        elif size == ENC_CHUNK and self._open(data, not last, out):
            reason = "payload truncated" if last else "trailing data after final chunk"
            self._pending = PayloadError(reason)
        else:
            raise PayloadError("payload chunk failed to authenticate")
        self._start += size
        self._counter += 1
        return size - TAG
