"""Long plain queries (pasted sentences) in a long-running process: a positional bigram index
in memory (ADR 0005, round 7).

FTS5 evaluates a pasted sentence by walking the position lists of every bigram of each of
its phrases wherever their doclists meet; when the sentence is in few documents it must walk
the whole intersection to prove there is no further match (67–169 ms p95 at 50,000
documents as a normal user). This module holds, for one index, the position of every bigram
of its three bigram columns (title, body, 文号) as sorted 32-bit numbers, and evaluates a
phrase from its rarest bigram, looking every other bigram up by binary search, over windows
of documents from the newest. The streams are FTS5's own (`index_tokens` of the stored
title, text and 文号) at FTS5's positions, so a phrase matches here exactly where it matches
in FTS5; a one-unit segment ("21" between two commas) is found through the bigrams that
hold it. What a user may see is still FTS5's answer: `SearchIndex` asks FTS5 for the
documents its access clause matches and passes them in as a mask.

Built from the encrypted index file, in a spawned child process fed over a pipe (the
tokenising would hold the server's GIL for seconds), in the background, one index at a time,
only when `enable()` was called (`sgz serve`); a one-shot `sgz search` never builds one. An
index whose content changed since (another filing, a rebuild) is not used until it is built
again: FTS5 answers meanwhile. The postings are plaintext-derived and held only in memory,
within a budget; they are dropped when the last session holding the index closes it.
"""

from __future__ import annotations

import array
import collections
import contextlib
import itertools
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archive.host.memory import forbid_core_dumps, return_free_memory
from archive.search.tokens import index_tokens, segments

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

# a query is sent here when it has at least this many bigrams (a short query is a few ms on
# FTS5 already, and its probe stops early)
MIN_BIGRAMS = 8
# memory for the postings of all indexes of the process (4 bytes per bigram position: ~170
# MiB per 50,000 documents); a build needs about 5x its own share for a moment, in a child
# process, one build at a time. SGZ_SEARCH_MEMORY_MB overrides it.
DEFAULT_BUDGET_MB = 1024
READ_CHUNK = 2000  # documents read per query while building
FIRST_WINDOW = 64  # documents in the first window from the newest, at least
WINDOW_POSITIONS = 256  # ... and about this many positions of the rarest bigram list


Row = tuple[int, str, str, str]  # docs.id, title, 文号, text


@dataclass(frozen=True)
class Stamp:
    """What a built index was built from: the file, its instance and its write counter."""

    path: str
    instance: str
    writes: int


class PhraseIndex:
    """The bigram positions of one index's documents (rows in rising `docs.id`).

    Positions are global: each document's title, body and 文号 streams follow one another,
    each followed by one unused position, so no phrase runs from one column (or document)
    into the next. `starts[n]` is the first position of document n; `keys[n]` its `docs.id`.
    """

    def __init__(self, keys: np.ndarray, starts: np.ndarray, postings: np.ndarray,
                 offsets: np.ndarray, vocab: dict[str, int]) -> None:
        self.keys = keys
        self.starts = starts
        self.postings = postings
        self.offsets = offsets
        self.vocab = vocab
        self._units: dict[str, list[int]] | None = None

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (the vocabulary's strings not counted)."""
        return int(self.keys.nbytes + self.starts.nbytes + self.postings.nbytes
                   + self.offsets.nbytes)

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def build(cls, rows: Iterator[Row],
              stop: Callable[[], bool] = lambda: False) -> PhraseIndex | None:
        """From (docs.id, title, 文号, text) in rising docs.id; None when `stop()` turns true."""
        import numpy as np

        vocab: collections.defaultdict[str, int] = collections.defaultdict(
            itertools.count().__next__)
        number = vocab.__getitem__
        # one growing buffer of bigram numbers, -1 between streams (not an array per stream:
        # millions of small blocks left the heap fragmented, RSS 3.5x what is kept)
        stream = array.array("i")
        keys: list[int] = []
        starts: list[int] = []
        for n, (key, title, doc_no, text) in enumerate(rows):
            if n % 256 == 0 and stop():
                return None
            keys.append(key)
            starts.append(len(stream))
            for s in (title, text, doc_no):  # as FTS5 has them: normalised, then tokenised
                stream.extend(map(number, index_tokens(s)[0].split()))
                stream.append(-1)
        if len(stream) >= 2**32:
            raise OverflowError("too many bigram positions for 32-bit postings")
        starts.append(len(stream))
        ids = np.frombuffer(stream, dtype=np.int32) if stream else np.empty(0, dtype=np.int32)
        order = np.argsort(ids, kind="stable")  # by bigram, then by position
        gaps = int(np.count_nonzero(ids < 0))
        postings = order[gaps:].astype(np.uint32)
        del order
        counts = np.bincount(ids[ids >= 0], minlength=len(vocab))
        offsets = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        built = cls(np.asarray(keys, dtype=np.int64), np.asarray(starts, dtype=np.uint32),
                    postings, offsets, dict(vocab))
        built._unit_table()  # now, not on the first query that needs it
        return built

    def _list(self, bigram: str) -> np.ndarray:
        i = self.vocab.get(bigram)
        if i is None:
            return self.postings[:0]
        return self.postings[self.offsets[i]:self.offsets[i + 1]]

    def documents(self, keys: np.ndarray) -> np.ndarray:
        """The document numbers of these `docs.id` (absent ones dropped)."""
        import numpy as np

        at = np.searchsorted(self.keys, keys)
        at = at[at < len(self.keys)]
        return at[np.isin(self.keys[at], keys)]

    def _unit_lists(self, unit: str) -> list[np.ndarray]:
        """The postings of every bigram stream token holding this unit (a one-unit segment
        is its own token): a unit is in a column's unit stream exactly when one of them is
        in its bigram stream."""
        return [self.postings[self.offsets[i]:self.offsets[i + 1]]
                for i in self._unit_table().get(unit, [])]

    def _unit_table(self) -> dict[str, list[int]]:
        """Unit → the numbers of the bigram stream tokens holding it (made once)."""
        if self._units is None:
            units: dict[str, list[int]] = collections.defaultdict(list)
            for tok, i in self.vocab.items():
                for u in {u for seg in segments(tok) for u in seg}:
                    units[u].append(i)
            self._units = dict(units)
        return self._units

    def _having(self, docs: np.ndarray, lists: list[np.ndarray]) -> np.ndarray:
        """Which of these document numbers hold a position in any of `lists`."""
        import numpy as np

        first, end = self.starts[docs], self.starts[docs + 1]
        has = np.zeros(len(docs), dtype=bool)
        for p in lists:
            at = np.searchsorted(p, first)
            inside = at < len(p)
            inside[inside] = p[at[inside]] < end[inside]
            has |= inside
        return docs[has]

    def candidates(self, phrases: list[list[str]], units: Sequence[str] = (),
                   visible: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """The `docs.id` of the documents holding every phrase (a list of bigrams at
        consecutive positions of one column) and every unit (a one-unit segment, anywhere),
        newest first, window by window from the newest: what FTS5 finds for the plain query
        these come from. `visible`: a boolean mask over document numbers (None: all)."""
        unit_lists = [self._unit_lists(u) for u in dict.fromkeys(units)]
        if any(not having for having in unit_lists):
            return  # a unit no document has
        ready: list[tuple[int, list[tuple[int, np.ndarray]]]] = []
        for bigrams in phrases:
            lists = [(j, self._list(b)) for j, b in enumerate(bigrams)]
            if any(not len(p) for _, p in lists):
                return  # a bigram no document has: nothing matches
            lists.sort(key=lambda jp: len(jp[1]))
            ready.append((len(lists[0][1]), lists))
        if not ready:
            return  # one-unit segments only: a short query, FTS5's
        ready.sort(key=lambda r: r[0])
        # the first window holds about WINDOW_POSITIONS of the rarest list (all of a rare
        # phrase's, at once); each next one is twice as wide
        hi = len(self.keys)
        width = max(FIRST_WINDOW, hi * WINDOW_POSITIONS // max(1, ready[0][0]))
        while hi > 0:
            lo = max(0, hi - width)
            found: np.ndarray | None = None
            for _n, lists in ready:
                found = self._phrase(lists, lo, hi, found, visible)
                if not len(found):
                    break
            for having in unit_lists:
                if found is None or not len(found):
                    break
                found = self._having(found, having)
            if found is not None and len(found):
                yield self.keys[found[::-1]]
            hi, width = lo, width * 2

    def _phrase(self, lists: list[tuple[int, np.ndarray]], lo: int, hi: int,
                within: np.ndarray | None, visible: np.ndarray | None) -> np.ndarray:
        """Document numbers in [lo, hi) where the phrase's bigrams are consecutive."""
        import numpy as np

        j0, p0 = lists[0]
        first, last = self.starts[lo], self.starts[hi]
        p0 = p0[p0.searchsorted(first):p0.searchsorted(last)]
        if within is not None or visible is not None:
            docs = self.starts.searchsorted(p0, side="right") - 1
            keep = np.ones(len(p0), dtype=bool)
            if within is not None:
                keep &= np.isin(docs, within)
            if visible is not None:
                keep &= visible[docs]
            p0 = p0[keep]
        # every array here is uint32, as the postings are: searchsorted with another dtype
        # would convert (copy) the whole list on each call
        cand = p0[p0 >= first + j0] - np.uint32(j0)  # where the phrase would start
        for j, p in lists[1:]:
            if not len(cand):
                break
            want = cand + np.uint32(j)
            at = p.searchsorted(want)
            at[at == len(p)] = 0
            cand = cand[p[at] == want]
        return np.unique(self.starts.searchsorted(cand, side="right") - 1)


# what a build reads: (the stamp of the snapshot, its rows, a callable ending the read)
Reader = Callable[[], tuple[Stamp, Iterator[Row], Callable[[], None]]]


class Registry:
    """The phrase indexes of this process, shared by the sessions that opened the same index
    file, built in the background within a memory budget."""

    def __init__(self) -> None:
        self.enabled = False
        self.budget = DEFAULT_BUDGET_MB * 2**20
        self.lock: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        self._lock = threading.Lock()
        self._built: dict[str, tuple[Stamp, PhraseIndex]] = {}
        self._building: dict[str, threading.Thread] = {}
        self._holders: dict[str, set[int]] = collections.defaultdict(set)
        self._pending: dict[str, int] = {}  # bytes expected of the builds queued or running
        self._changes: dict[str, int] = {}  # forget() calls per file: a build's read is stale
        self._one_at_a_time = threading.Lock()
        self._stop = threading.Event()

    def enable(self, budget_mb: int | None = None,
               lock: contextlib.AbstractContextManager[Any] | None = None) -> None:
        """Build and use phrase indexes from now on (a long-running process: `sgz serve`).
        `lock`: held around each read of a build (the server's databases take turns)."""
        if lock is not None:
            self.lock = lock
        env = os.environ.get("SGZ_SEARCH_MEMORY_MB", "")
        mb = budget_mb if budget_mb is not None else (
            int(env) if env.isdigit() else DEFAULT_BUDGET_MB)
        self.budget = mb * 2**20
        self.enabled = True
        self._stop.clear()

    def disable(self) -> None:
        """Stop building, drop every phrase index (tests; the end of `sgz serve`)."""
        self.enabled = False
        self._stop.set()
        for thread in list(self._building.values()):
            thread.join()
        self.lock = contextlib.nullcontext()  # after the builds: their reads took it
        with self._lock:
            self._built.clear()
            self._building.clear()
            self._pending.clear()
            self._holders.clear()

    def lookup(self, stamp: Stamp) -> PhraseIndex | None:
        """The phrase index built from exactly this content, if there is one. One built from
        other content of the same file is dropped at once: it may hold words the file no
        longer does (a destroyed record's, written by another process)."""
        with self._lock:
            got = self._built.get(stamp.path)
            if got is not None and got[0] != stamp:
                self._forget(stamp.path)
                return None
            return got[1] if got is not None else None

    def forget(self, path: str) -> None:
        """This file's content changed (or it was removed): drop its phrase index now, and
        let no build under way register what it read before."""
        with self._lock:
            self._forget(path)

    def _forget(self, path: str) -> None:
        self._built.pop(path, None)
        self._changes[path] = self._changes.get(path, 0) + 1

    def held_bytes(self) -> int:
        """Memory of the built phrase indexes."""
        return sum(p.nbytes for _, p in self._built.values())

    def request(self, holder: int, stamp: Stamp, size_hint: int, reader: Reader) -> None:
        """Build the phrase index of this content in the background unless it is built or
        being built, or would not fit the budget with the others built or queued
        (`size_hint`: its bigram positions, about 4 bytes each). One build runs at a time."""
        if not self.enabled:
            return
        with self._lock:
            self._holders[stamp.path].add(holder)
            got = self._built.get(stamp.path)
            if (got is not None and got[0] == stamp) or stamp.path in self._building:
                return
            others = sum(p.nbytes for path, (_, p) in self._built.items() if path != stamp.path)
            others += sum(n for path, n in self._pending.items() if path != stamp.path)
            if others + 4 * size_hint > self.budget:
                log.info("phrase index of %s not built: over the memory budget", stamp.path)
                return
            thread = threading.Thread(target=self._build, args=(stamp.path, reader),
                                      name="sgz-phrase-index", daemon=True)
            self._building[stamp.path] = thread
            self._pending[stamp.path] = 4 * size_hint
        thread.start()

    def _build(self, path: str, reader: Reader) -> None:
        def stop() -> bool:  # the server is closing, or the last holder has gone
            return self._stop.is_set() or not self._holders.get(path)

        try:
            with self._one_at_a_time:  # a build needs ~5x what it keeps for a moment
                if stop():
                    return
                with self._lock:
                    changes = self._changes.get(path, 0)
                stamp, rows, done = reader()
                try:
                    built = build_apart(rows, stop)
                finally:
                    done()
            with self._lock:
                if (built is not None and self._holders.get(path) and self.enabled
                        and self._changes.get(path, 0) == changes):
                    self._built[path] = (stamp, built)
            return_free_memory()  # reading and sending the rows freed much in small blocks
        except Exception:  # derived data: FTS5 answers without it
            log.exception("phrase index of %s not built", path)
        finally:
            with self._lock:
                self._building.pop(path, None)
                self._pending.pop(path, None)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the builds under way (tests, the bench)."""
        for thread in list(self._building.values()):
            thread.join(timeout)

    def release(self, holder: int, path: str) -> None:
        """A session closed its index: the last one out drops the phrase index."""
        with self._lock:
            holders = self._holders.get(path)
            if holders is not None:
                holders.discard(holder)
                if not holders:
                    self._holders.pop(path, None)
                    self._built.pop(path, None)


PHRASES = Registry()
ROWS_PER_MESSAGE = 500


def build_apart(rows: Iterator[Row],
                stop: Callable[[], bool] = lambda: False) -> PhraseIndex | None:
    """`PhraseIndex.build` in a spawned child process, fed the rows over a pipe: tokenising
    holds the GIL for seconds and numpy's large steps for hundreds of milliseconds, which
    in the server's own process made every other request wait (p95 of other searches
    10.7 → 134 ms while a build ran). The child gets no key, writes nothing, may not dump
    core, and its memory (about 5x the index it builds, for a moment) goes when it exits."""
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    child = ctx.Process(target=_build_child, args=(theirs,), name="sgz-phrase-index",
                        daemon=True)
    child.start()
    theirs.close()
    stopped = True
    try:
        chunk: list[Row] = []
        for n, row in enumerate(rows):
            if n % 256 == 0 and stop():
                return None
            chunk.append(row)
            if len(chunk) == ROWS_PER_MESSAGE:
                mine.send(chunk)
                chunk = []
        if chunk:
            mine.send(chunk)
        mine.send(None)
        while not mine.poll(0.2):  # building: a closing server must not wait for it
            if stop() or not child.is_alive():
                return None
        built = mine.recv()
        stopped = False
        return built if isinstance(built, PhraseIndex) else None
    finally:
        mine.close()
        if stopped:
            child.kill()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()


def _build_child(conn: Any) -> None:
    """The child's side of `build_apart`: rows until None, then the built index back."""
    forbid_core_dumps()

    def rows() -> Iterator[Row]:
        while (chunk := conn.recv()) is not None:
            yield from chunk

    try:
        conn.send(PhraseIndex.build(rows()))
    except (EOFError, OSError):
        return  # the parent stopped the build


def visible_mask(index: PhraseIndex, keys_of: Callable[[str], list[int]], must: str | None,
                 never: str | None) -> np.ndarray | None:
    """A boolean mask over the documents of `index` for an access scope, from FTS5's own
    answer to the scope's MATCH (`keys_of(expr)` → docs.id); None when everything is."""
    import numpy as np

    if must is None and never is None:
        return None
    if must is None:
        mask = np.ones(len(index), dtype=bool)
    else:
        mask = np.zeros(len(index), dtype=bool)
        mask[index.documents(np.asarray(keys_of(must), dtype=np.int64))] = True
    if never is not None:
        mask[index.documents(np.asarray(keys_of(never), dtype=np.int64))] = False
    return mask


def rows_reader(conn: Any) -> Iterator[Row]:
    """(docs.id, title, 文号, text) in rising docs.id, READ_CHUNK at a time."""
    past = -1
    while True:
        with PHRASES.lock:
            chunk = conn.execute(
                "SELECT d.id, d.title, d.doc_no, t.text FROM docs d JOIN texts t"
                " ON t.id = d.id WHERE d.id > ? ORDER BY d.id LIMIT ?",
                (past, READ_CHUNK)).fetchall()
        if not chunk:
            return
        yield from chunk
        past = chunk[-1][0]
