"""Large-file plumbing for staging: ordered work on other cores, reused block buffers, and
writes that reach the disk as they go.

`OrderedWorker` runs `fn(block)` jobs in submission order on one background thread; OpenSSL
hashing and `os.write` release the GIL, so hashing and writing a big file run beside its
encryption. The queue is bounded: memory stays flat whatever the file size. Small inputs never
start a thread (most filings are a few hundred KB).

`BufferPool` hands the encryptor's block buffers out again once every thread is done with them.

`BlockWriter` writes blocks to a file descriptor and asks the kernel to start writing each
few MiB to the disk at once (`posix_fadvise(DONTNEED)` starts write-back of the dirty range
without waiting), so the final fsync has little left to do instead of flushing the whole file.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Any

Block = bytes | bytearray | memoryview

BLOCK = 1 << 20  # hand-off unit: large enough that GIL hand-offs and syscalls are rare
INLINE = 4 * BLOCK  # up to this many bytes are processed in the caller: no thread
KICK = 8 * BLOCK  # start write-back every this many bytes
_DEPTH = 8  # blocks waiting per worker: bounds memory (a few MiB) whatever the file size
_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", None)


class BufferPool:
    """Block buffers reused instead of allocated per block (a fresh 1 MiB buffer costs page
    faults and zero-filling each time). A buffer from `get` is held by its taker until `put`,
    and by each `OrderedWorker(pool=...)` job it was submitted to until that job ran; it is
    handed out again only when nobody holds it. At most `limit` buffers of each size exist
    (enough for a full queue and the one being filled): `get` waits for one to come back
    (the workers always finish their queues)."""

    def __init__(self, limit: int = _DEPTH + 2) -> None:
        self._cond = threading.Condition()
        self._free: dict[int, list[bytearray]] = {}
        self._holders: dict[int, int] = {}  # id(buffer) -> holders
        self._limit = limit
        self._made: dict[int, int] = {}

    def get(self, size: int) -> bytearray:
        with self._cond:
            while True:
                free = self._free.get(size)
                if free:
                    buf = free.pop()
                    break
                if self._made.get(size, 0) < self._limit:
                    buf = bytearray(size)
                    self._made[size] = self._made.get(size, 0) + 1
                    break
                self._cond.wait()
            self._holders[id(buf)] = 1
            return buf

    def put(self, buf: Any) -> None:
        """Drop one hold on `buf` (a pool buffer, or a view of one; anything else is ignored)."""
        obj: Any = buf.obj if isinstance(buf, memoryview) else buf
        with self._cond:
            n = self._holders.get(id(obj))
            if n is None:
                return
            if n > 1:
                self._holders[id(obj)] = n - 1
                return
            del self._holders[id(obj)]
            self._free.setdefault(len(obj), []).append(obj)
            self._cond.notify()

    def hold(self, buf: Any) -> None:
        obj = buf.obj if isinstance(buf, memoryview) else buf
        with self._cond:
            if id(obj) in self._holders:
                self._holders[id(obj)] += 1


class OrderedWorker:
    """Runs submitted jobs in order on one thread, started only once more than `INLINE`
    bytes were submitted; before that, jobs run in the caller (same order).

    A job's block must not change until its job ran: callers hand over fresh buffers, or
    buffers of `pool`, which the worker holds until then.
    The first error stops further work; `submit` re-raises it early so a full disk is noticed
    while the input is still being read, and `close` re-raises it at the end.
    """

    def __init__(self, name: str, inline: int = INLINE, pool: BufferPool | None = None) -> None:
        self._name = name
        self._pool = pool
        self._inline_left = inline
        self._q: queue.Queue[tuple[Callable[[Any], object], Block] | None] = \
            queue.Queue(maxsize=_DEPTH)
        self._error: BaseException | None = None
        self._t: threading.Thread | None = None

    def _run(self) -> None:
        while (item := self._q.get()) is not None:
            if self._error is None:
                try:
                    item[0](item[1])
                except BaseException as exc:  # re-raised by submit() / close()
                    self._error = exc
            if self._pool is not None:
                self._pool.put(item[1])  # also after an error: the producer may wait for it

    def submit(self, fn: Callable[[Any], object], block: Block) -> None:
        if self._error is not None:
            raise self._error
        if self._t is None and len(block) <= self._inline_left:
            self._inline_left -= len(block)
            fn(block)  # nothing is queued yet: same order as the queue
            return
        if self._t is None:
            self._t = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._t.start()
        if self._pool is not None:
            self._pool.hold(block)
        self._q.put((fn, block))

    def close(self) -> None:
        """Wait for every submitted job; re-raise the first error."""
        if self._t is not None:
            self._q.put(None)
            self._t.join()
            self._t = None
        if self._error is not None:
            raise self._error


class BlockWriter:
    """Writes whole blocks to `fd` (looping over short writes), starting write-back every
    `KICK` bytes. Use as an `OrderedWorker` job: `worker.submit(writer.write, block)`."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = 0
        self._kicked = 0

    def write(self, block: Block) -> None:
        view = memoryview(block)
        while view:
            view = view[os.write(self.fd, view):]
        self.size += len(block)
        if _DONTNEED is not None and self.size - self._kicked >= KICK:
            try:
                os.posix_fadvise(self.fd, self._kicked, self.size - self._kicked, _DONTNEED)
            except OSError:
                pass  # only a hint: the final fsync still makes the file durable
            self._kicked = self.size

