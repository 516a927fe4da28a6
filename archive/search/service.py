"""The search service: indexing at filing, `sgz search`, `sgz index rebuild|status`.

The index (`indexes/fulltext.db`) is derived data under its own key from the keyring: filing
adds to it, destruction rebuilds it under a fresh key, and `sgz index rebuild` recreates it
from the vault. Text is extracted in an isolated child process (archive/search/extract.py).
Search results are filtered by the access policy before anything is counted.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlcipher3

from archive.catalog.numbering import parse_retention
from archive.catalog.records import Component, Record
from archive.errors import ArchiveError, Conflict, DecryptionFailed, NotFound
from archive.kernel.kernel import Kernel
from archive.search.extract import Extractor, too_large
from archive.search.index import SearchIndex


@dataclass
class SearchHit:
    ref: str
    title: str
    date: str
    snippet: str
    score: float
    doc_no: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SearchResults:
    hits: list[SearchHit] = field(default_factory=list)
    total: int = 0
    no_text_count: int = 0
    fallback: bool = False


def _doc_id(ref: str, comp: Component) -> str:
    """The 正文 is indexed under the 档号 itself; other components as 档号#序号."""
    return ref if comp.seq == 1 else f"{ref}#{comp.seq}"


def _ref_of(doc_id: str) -> str:
    return doc_id.split("#", 1)[0]


class SearchService:
    """`sgz search` and `sgz index` over the kernel; owns the index file and the extractor."""

    def __init__(self, kernel: Kernel) -> None:
        self._k = kernel
        self._index: SearchIndex | None = None
        self._extractor: Extractor | None = None

    # ------------------------------------------------------------------ the index file
    def _open_index(self, *, create: bool = True) -> SearchIndex:
        if self._index is not None:
            return self._index
        path = self._k.home.fulltext
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._k.writer_lock:  # two processes must not create (or drop) it at the same time
            if path.exists():
                try:
                    self._index = SearchIndex.open(path, self._k.keys.index_key)
                except sqlcipher3.DatabaseError as exc:
                    if "locked" in str(exc) or "busy" in str(exc):
                        raise Conflict("全文索引正被另一个进程使用，请稍后再试") from None
                    _remove_db(path)  # half-created by a crashed process: derived data
                except (DecryptionFailed, ArchiveError):
                    # derived data under a key we no longer hold (e.g. crash during a
                    # re-key): drop it; `sgz index rebuild` refills it
                    _remove_db(path)
            if self._index is None:
                if not create:
                    raise NotFound("全文索引不存在，请运行 sgz index rebuild")
                self._index = SearchIndex.create(path, self._k.keys.index_key)
        return self._index

    def _extract(self, data_or_stream: Any, *, filename: str, mime: str,
                 size: int) -> Any:
        skipped = too_large(size)
        if skipped is not None:
            return skipped  # decided from the size alone: a huge file is never read into memory
        if self._extractor is None:
            self._extractor = Extractor(tmpdir=str(self._k.objects.tmp))
        return self._extractor.extract(data_or_stream, filename=filename, mime=mime)

    def close(self) -> None:
        if self._extractor is not None:
            self._extractor.close()
            self._extractor = None
        if self._index is not None:
            self._index.close()
            self._index = None

    # ------------------------------------------------------------------ filing hook
    def index_batch(self, items: list[tuple[str, int, Path, str]]) -> None:
        """Extract each new component's text from the user's file and index the batch in one
        index transaction. Derived data: a failure never undoes the filing; each component's
        text status says what happened and `sgz index rebuild` can retry."""
        if not items:
            return
        docs: list[dict[str, Any]] = []
        statuses: list[tuple[int, str]] = []
        for ref, component_id, src, mime in items:
            rec = self._k.records.get(ref)
            comp = next(c for c in self._k.records.components(rec.id) if c.id == component_id)
            try:
                with open(src, "rb") as f:
                    extracted = self._extract(f, filename=src.name, mime=mime,
                                              size=os.fstat(f.fileno()).st_size)
            except OSError:
                statuses.append((component_id, "failed"))
                continue
            statuses.append((component_id, extracted.status))
            docs.append({"doc_id": _doc_id(rec.ref, comp),
                         **self._index_fields(rec, comp, extracted.text, extracted.status)})
        try:
            self._open_index().add_many(docs)
        except ArchiveError:
            statuses = [(cid, "failed") for cid, _ in statuses]
        with self._k.db.transaction():
            for cid, status in statuses:
                self._k.records.set_text_status(cid, status)

    @staticmethod
    def _index_fields(rec: Record, comp: Component, text: str, status: str) -> dict[str, Any]:
        return {
            "title": rec.title if comp.seq == 1 else f"{rec.title}（{comp.kind}）",
            "text": text, "doc_no": rec.doc_no, "date": rec.date, "category": rec.cls,
            "year": rec.year, "retention": rec.retention, "household": rec.household,
            "status": status,
        }

    # ------------------------------------------------------------------ search
    def query(self, query: str, *, category: str | None = None,
               year: int | None = None, retention: str | None = None,
               household: str | None = None, limit: int = 20) -> SearchResults:
        """Ranked hits the user may see; hidden records are not even counted. Audited."""
        self._k.authorize("search")
        cls = self._k.station.class_code(category) if category else None
        ret = parse_retention(retention) if retention else None
        self._k.log("search", None, query=query, category=cls, year=year, retention=ret,
                 household=household or None)
        idx = self._open_index()
        visible: dict[str, bool] = {}

        def allowed(doc_id: str) -> bool:
            ref = _ref_of(doc_id)
            if ref not in visible:
                try:
                    rec = self._k.records.get(ref)
                    # a snippet is content: show only what the user may read without
                    # having to state a reason (reason-gated reads go through `sgz get`)
                    visible[ref] = rec.status == "active" and self._k.may("record.read", rec)
                except ArchiveError:
                    visible[ref] = False
            return visible[ref]

        res = idx.search(query, category=cls, year=year, retention=ret, household=household,
                         allowed=allowed, limit=limit * 2)
        out = SearchResults(total=res.total, no_text_count=res.no_text_count,
                            fallback=res.fallback)
        seen: set[str] = set()
        for h in res.hits:
            ref = _ref_of(h.doc_id)
            if ref in seen:
                out.total -= 1
                continue
            seen.add(ref)
            if len(out.hits) < limit:
                out.hits.append(SearchHit(ref, h.title, h.date, h.snippet, h.score, h.doc_no))
        return out

    # ------------------------------------------------------------------ rebuild / status
    def rebuild(self, *, fresh_key: bool = False,
                      progress: Callable[[int, int], None] | None = None) -> int:
        """Recreate the index from the vault (each component read through the audited door).

        With `fresh_key`, the new index is written under a new random key and the old file is
        deleted: after a destruction nothing of the destroyed text survives in any index.
        """
        grant = self._k.authorize("check")
        self._k.log("index.rebuild.begin", None, fresh_key=fresh_key)
        self.close()
        if fresh_key:
            with self._k.writer_lock:
                self._k.keys.new_index_key()
        _remove_db(self._k.home.fulltext)
        idx = self._open_index()
        pairs = [(rec, comp) for rec in self._k.records.list()
                 for comp in self._k.records.components(rec.id)]
        count = idx.rebuild(self._reindex_docs(grant, pairs),
                            progress=lambda d, _t: progress(d, len(pairs)) if progress else None)
        self._k.log("index.rebuild", None, documents=count, fresh_key=fresh_key)
        return count

    def _reindex_docs(self, grant: Any, pairs: list[tuple[Record, Component]],
                      batch: int = 64) -> Iterator[dict[str, Any]]:
        for start in range(0, len(pairs), batch):
            statuses: list[tuple[int, str]] = []
            for rec, comp, stream in self._k.door.open_many(grant, pairs[start:start + batch],
                                                            action="index.read", detail={}):
                with stream:
                    extracted = self._extract(stream, filename=comp.filename, mime=comp.mime,
                                              size=comp.size)
                statuses.append((comp.id, extracted.status))
                yield {"doc_id": _doc_id(rec.ref, comp),
                       **self._index_fields(rec, comp, extracted.text, extracted.status)}
            with self._k.db.transaction():
                for cid, status in statuses:
                    self._k.records.set_text_status(cid, status)

    def status(self) -> dict[str, Any]:
        """Index counts vs the catalogue; says whether a rebuild is needed."""
        expected = self._k.records.count_live_components()
        if not self._k.home.fulltext.exists():
            return {"exists": False, "docs": 0, "expected": expected, "needs_rebuild": expected > 0}
        st = dict(self._open_index().status())
        st.update(exists=True, expected=expected, needs_rebuild=st["docs"] != expected,
                  records_without_text=self._k.records.count_records_without_text())
        return st


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")
