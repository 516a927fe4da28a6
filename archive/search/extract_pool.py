"""Extraction ahead of indexing, on every core: a pool of isolated extraction workers.

Filing many small files spends most of its time in the parent (encrypting, sealing, the
catalogue) and in parsing (pdfium, python-docx) in the extraction worker. `ExtractionPool.submit`
hands a batch to the workers and returns at once; the parent goes on filing while they parse,
and `ExtractionJob.results()` collects the texts when the batch is indexed.

Each worker is an `Extractor` (archive/search/extract.py): its own spawned process with the
same memory cap, timeout and PDF pre-scan as before, replaced when it dies. One feeding thread
per worker (not per file) sends its requests and waits on its pipe; that wait releases the GIL.
A batch is dealt round-robin, so PDFs and .docx files spread evenly over the workers.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from archive.search.extract import Extractor, Input
from archive.search.limits import DEFAULT_LIMITS, Extracted, Limits

# A second worker (and its memory cap) is worth starting only for a batch this large.
POOL_MIN_ITEMS = 8


def default_workers() -> int:
    """Two workers where there are two cores: the parent's own work overlaps theirs."""
    return max(1, min(2, os.cpu_count() or 1))


class ExtractionJob:
    """A submitted batch; `results()` waits for it and returns the texts in input order."""

    def __init__(self, size: int, parts: list[tuple[list[int], Future[list[Extracted]]]]) -> None:
        self._size = size
        self._parts = parts

    def results(self) -> list[Extracted]:
        out: list[Extracted] = [Extracted("", "failed", "未提取文字")] * self._size
        for positions, future in self._parts:
            for pos, res in zip(positions, future.result(), strict=True):
                out[pos] = res
        return out


class ExtractionPool(contextlib.AbstractContextManager["ExtractionPool"]):
    """Up to `workers` isolated extraction processes, each fed by one thread."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, tmpdir: str | None = None, *,
                 workers: int | None = None) -> None:
        self.limits = limits
        self.tmpdir = tmpdir
        self.workers = workers if workers is not None else default_workers()
        if self.workers < 1:
            raise ValueError("an extraction pool needs at least one worker")
        self._extractors: list[Extractor] = []
        self._feeders: list[ThreadPoolExecutor] = []

    def _lane(self, i: int) -> tuple[Extractor, ThreadPoolExecutor]:
        while len(self._extractors) <= i:
            self._extractors.append(Extractor(self.limits, self.tmpdir))
            self._feeders.append(ThreadPoolExecutor(1, thread_name_prefix="sgz-extract"))
        return self._extractors[i], self._feeders[i]

    def submit(self, items: Sequence[tuple[Input, str, str | None]], *,
               ocr: bool = True, titles: bool = False) -> ExtractionJob:
        """Start extracting (input, filename, mime) items; inputs are read by the feeding
        threads when their turn comes (a callable input is called there). With `titles`,
        the workers also read each document's own title (`Extracted.title`)."""
        lanes = self.workers if len(items) >= POOL_MIN_ITEMS else 1
        parts: list[tuple[list[int], Future[list[Extracted]]]] = []
        for lane in range(min(lanes, len(items))):
            positions = list(range(lane, len(items), lanes))
            extractor, feeder = self._lane(lane)
            parts.append((positions, feeder.submit(
                extractor.extract_many, [items[p] for p in positions], ocr=ocr,
                titles=titles)))
        return ExtractionJob(len(items), parts)

    def extract_many(self, items: Sequence[tuple[Input, str, str | None]], *,
                     ocr: bool = True) -> list[Extracted]:
        """Extract and wait: the same results as one `Extractor`, in the same order."""
        return self.submit(items, ocr=ocr).results()

    def close(self) -> None:
        """Finish what was submitted, then stop the threads and the worker processes."""
        for feeder in self._feeders:
            feeder.shutdown(wait=True)
        for extractor in self._extractors:
            extractor.close()
        self._extractors.clear()
        self._feeders.clear()

    def __exit__(self, *exc: object) -> None:  # __enter__ (returns the pool) from the base
        self.close()
