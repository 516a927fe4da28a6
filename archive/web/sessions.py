"""Server-side sessions: a signed-in user's unlocked archive lives only here, in memory.

A session is a random id (the cookie value), a CSRF token, and one worker thread that owns the
user's unlocked `Archive`. Every piece of work on that archive runs in that one thread, one job at
a time: the single-thread executor is both the per-session lock and the guarantee that the
SQLCipher connections are only ever used by the thread that opened them; across sessions,
`DATABASES` makes them take turns (see there). Sessions end on sign-out,
after `idle` without a request and after `max_age` in total; ending one closes the archive (its
database connections and staging), drops every reference to it and stops the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")

# One session at a time works on the encrypted databases. Two sessions' threads using their
# own SQLCipher connections to the same index files at once made reads fail with
# SQLITE_NOMEM (MemoryError) at 200,000 documents (two archives searching side by side in one
# process: two failures in 28 s; one after the other: none). Archive work is milliseconds to
# seconds and a station has a handful of users, so they take turns.
DATABASES = threading.Lock()

IDLE = timedelta(minutes=15)
LISTING_TTL = timedelta(seconds=60)
MAX_AGE = timedelta(hours=8)


@dataclass
class Session:
    """One signed-in browser. `archive` is only touched from `worker`'s thread."""

    id: str
    csrf: str
    user: str
    role: str
    display: str
    created: datetime
    seen: datetime
    archive: Any = None
    worker: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="sgz-session"))
    closed: bool = False
    # listings a user pages and sorts through (the catalogue, the due list): filled by one
    # library call (one audit entry, like one `sgz ls`), kept for LISTING_TTL or until this
    # user changes anything; wiped with the session
    listings: dict[Any, tuple[datetime, Any]] = field(default_factory=dict)

    async def listing(self, key: Any, now: datetime, fn: Callable[..., T], /, *args: Any) -> T:
        hit = self.listings.get(key)
        if hit is not None and now - hit[0] < LISTING_TTL:
            return hit[1]  # type: ignore[no-any-return]
        value = await self.run(fn, *args)
        self.listings[key] = (now, value)
        return value

    async def run(self, fn: Callable[..., T], /, *args: Any, **kw: Any) -> T:
        """Run `fn(archive, *args, **kw)` in this session's own thread; one job at a time."""
        if self.closed:
            raise SessionEnded()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.worker, functools.partial(self._call, fn, args, kw))

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...], kw: dict[str, Any]) -> T:
        with DATABASES:
            if self.closed or self.archive is None:
                raise SessionEnded()
            return fn(self.archive, *args, **kw)

    def wipe(self, *, wait: bool = True) -> None:
        """Close the archive in its own thread, drop it, stop the thread. Idempotent.

        Closing is queued behind a job that is still running for this session (it finishes
        first: SQLCipher connections are not interrupted mid-statement); no new job starts.
        `wait=False` (from the event loop) returns at once; the thread closes and drops the
        archive as soon as it is free."""
        if self.closed:
            return
        self.closed = True
        self.csrf = ""
        self.listings.clear()

        def _close() -> None:
            arc, self.archive = self.archive, None
            if arc is not None:
                with DATABASES, contextlib.suppress(Exception):
                    arc.close()
            del arc

        try:
            done = self.worker.submit(_close)
        except RuntimeError:  # already shut down
            return
        self.worker.shutdown(wait=False, cancel_futures=False)
        if wait:
            with contextlib.suppress(Exception):
                done.result(timeout=120)


class SessionEnded(Exception):
    """The session was wiped while a request was waiting for it."""


class SessionStore:
    """All live sessions of one server process, keyed by their random id."""

    def __init__(self, clock: Callable[[], datetime], *, idle: timedelta = IDLE,
                 max_age: timedelta = MAX_AGE) -> None:
        self.clock = clock
        self.idle = idle
        self.max_age = max_age
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    async def open(self, unlock: Callable[[], Any], *, display: Callable[[Any], str]
                   ) -> Session:
        """Unlock an archive in a fresh session thread (the KDF runs there too); store it."""
        now = self.clock()
        sess = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), user="",
                       role="", display="", created=now, seen=now)
        loop = asyncio.get_running_loop()

        def _unlock() -> None:
            with DATABASES:
                arc = unlock()
            sess.archive = arc
            sess.user = arc.kernel.user.name
            sess.role = arc.kernel.user.role
            sess.display = display(arc)

        try:
            await loop.run_in_executor(sess.worker, _unlock)
        except BaseException:
            sess.worker.shutdown(wait=False)
            raise
        with self._lock:
            self._sessions[sess.id] = sess
        return sess

    def get(self, sid: str | None) -> Session | None:
        """The live session for a cookie value, touched; an expired one is ended (its archive
        closed by its own thread right after) and None returned."""
        if not sid:
            return None
        with self._lock:
            sess = self._sessions.get(sid)
        if sess is None:
            return None
        now = self.clock()
        if self._expired(sess, now):
            self.end(sid, wait=False)
            return None
        sess.seen = now
        return sess

    def _expired(self, sess: Session, now: datetime) -> bool:
        return now - sess.seen >= self.idle or now - sess.created >= self.max_age

    def end(self, sid: str, *, wait: bool = True) -> None:
        with self._lock:
            sess = self._sessions.pop(sid, None)
        if sess is not None:
            sess.wipe(wait=wait)

    def sweep(self) -> int:
        """Wipe every expired session (called periodically, not only on requests)."""
        now = self.clock()
        with self._lock:
            dead = [sid for sid, s in self._sessions.items() if self._expired(s, now)]
        for sid in dead:
            self.end(sid)
        return len(dead)

    def close_all(self) -> None:
        with self._lock:
            ids = list(self._sessions)
        for sid in ids:
            self.end(sid)

    def __len__(self) -> int:
        return len(self._sessions)

    def live(self) -> list[Session]:
        with self._lock:
            return list(self._sessions.values())
