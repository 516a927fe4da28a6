"""The search service: indexing at filing, `sgz search`, `sgz index rebuild|status`.

The index (`indexes/fulltext.db`) is derived data under its own key from the keyring: filing
adds to it, destruction rebuilds it under a fresh key, and `sgz index rebuild` recreates it
from the vault. Text is extracted in an isolated child process (archive/search/extract.py).
Visibility (archive/search/policy_view.py, derived from the one access policy) is part of the
FTS5 query, so hidden records are never counted, ranked or shown.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlcipher3

from archive.catalog.numbering import parse_retention
from archive.catalog.records import Component, Record
from archive.errors import ArchiveError, Conflict, DecryptionFailed, NotFound
from archive.fs.atomic import ensure_private_dir
from archive.fs.sources import InMemoryFile, open_source
from archive.kernel.kernel import Kernel
from archive.policy.rules import Actor
from archive.search.extract import Extractor, too_large
from archive.search.index import IndexOutdated, SearchIndex
from archive.search.limits import Extracted
from archive.search.policy_view import compartment_of, visibility_for
from archive.search.results import Hit
from archive.search.visibility import Visibility


@dataclass
class SearchResults:
    """What `sgz search` shows: hits (one per 档号) the user may read, and their count."""

    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    no_text_count: int = 0
    fallback: bool = False
    unindexed: int = 0  # live components the index does not hold (a rebuild is due)


def hit_dict(hit: Hit) -> dict[str, Any]:
    """A hit for `--json` / the web UI: the snippet as text plus highlight offsets."""
    return {"ref": hit.ref, "title": hit.title, "date": hit.date, "doc_no": hit.doc_no,
            "category": hit.category, "score": hit.score,
            "snippet": hit.snippet_obj.as_dict()}


Source = Path | InMemoryFile
IndexItem = tuple[str, int, Source, str]  # 档号, component id, source, mime

INDEX_MISSING = ("全文索引不存在或为空（例如刚从备份恢复），检索结果不可信；"
                 "请先运行 sgz index rebuild 重建索引")


def _doc_id(ref: str, comp: Component) -> str:
    """The 正文 is indexed under the 档号 itself; other components as 档号#序号."""
    return ref if comp.seq == 1 else f"{ref}#{comp.seq}"


class SearchService:
    """`sgz search` and `sgz index` over the kernel; owns the index file and the extractor."""

    def __init__(self, kernel: Kernel, *,
                 destroyed: Callable[[], dict[str, int]] | None = None) -> None:
        """`destroyed()`: 档号 → component count of destroyed records (Disposals.destroyed);
        without it, the catalogue is scanned (slow on a large catalogue)."""
        self._k = kernel
        self._destroyed = destroyed
        self._index: SearchIndex | None = None
        self._extractor: Extractor | None = None

    # ------------------------------------------------------------------ the index file
    def _open_index(self, *, create: bool = True) -> SearchIndex:
        if self._index is not None:
            return self._index
        path = self._k.home.fulltext
        ensure_private_dir(path.parent)
        with self._k.writer_lock:  # two processes must not create (or drop) it at the same time
            if path.exists():
                try:
                    self._index = SearchIndex.open(path, self._k.keys.index_key)
                except sqlcipher3.DatabaseError as exc:
                    if "locked" in str(exc) or "busy" in str(exc):
                        raise Conflict("全文索引正被另一个进程使用，请稍后再试") from None
                    _remove_db(path)  # half-created by a crashed process: derived data
                except IndexOutdated:
                    raise  # refused, not dropped: `sgz index rebuild` is the fix it names
                except (DecryptionFailed, ArchiveError):
                    # derived data under a key we no longer hold (e.g. crash during a
                    # re-key): drop it; `sgz index rebuild` refills it
                    _remove_db(path)
            if self._index is None:
                if not create:
                    raise NotFound("全文索引不存在，请运行 sgz index rebuild")
                self._index = SearchIndex.create(path, self._k.keys.index_key)
                for suffix in ("", "-wal", "-shm", "-journal"):  # SQLite made them 0644
                    with contextlib.suppress(FileNotFoundError):
                        os.chmod(f"{path}{suffix}", 0o600)
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
    def index_batch(self, items: Sequence[IndexItem]) -> None:
        """Extract each new component's text from the user's file and index the batch in one
        index transaction. Derived data: a failure never undoes the filing; each component's
        text status says what happened and `sgz index rebuild` can retry."""
        if not items:
            return
        docs: list[dict[str, Any]] = []
        statuses: list[tuple[int, str]] = []
        for group in _by_size(items):
            extracted = self._extract_files([(src, mime) for _, _, src, mime in group])
            for (ref, component_id, _src, _mime), ext in zip(group, extracted, strict=True):
                if ext is None:
                    statuses.append((component_id, "failed"))
                    continue
                rec = self._k.records.get(ref)
                comp = next(c for c in self._k.records.components(rec.id)
                            if c.id == component_id)
                statuses.append((component_id, ext.status))
                docs.append({"doc_id": _doc_id(rec.ref, comp),
                             **self._index_fields(rec, comp, ext.text, ext.status)})
        try:
            self._open_index().add_many(docs)
        except ArchiveError:
            statuses = [(cid, "failed") for cid, _ in statuses]
        with self._k.db.transaction():
            for cid, status in statuses:
                self._k.records.set_text_status(cid, status)

    def _extract_files(self, files: list[tuple[Source, str]],
                       ) -> list[Extracted | None]:
        """Extract several files in one pipelined round trip (Extractor.extract_many); None
        for a file that cannot be read. Files too large are decided from their size."""
        out: list[Extracted | None] = [None] * len(files)
        todo: list[tuple[int, bytes, str, str]] = []
        for i, (src, mime) in enumerate(files):
            try:
                with open_source(src) as f:
                    skipped = too_large(_size_of(src))
                    if skipped is not None:
                        out[i] = skipped
                        continue
                    todo.append((i, f.read(), src.name, mime))
            except OSError:
                continue
        if todo:
            if self._extractor is None:
                self._extractor = Extractor(tmpdir=str(self._k.objects.tmp))
            results = self._extractor.extract_many([(d, n, m) for _, d, n, m in todo])
            for (i, *_), ext in zip(todo, results, strict=True):
                out[i] = ext
        return out

    def _index_fields(self, rec: Record, comp: Component, text: str,
                      status: str) -> dict[str, Any]:
        """The document's text and the facts search filters on; who may see it is decided
        from the same facts the policy reads (kernel.facts)."""
        facts = self._k.facts(rec)
        return {
            "title": rec.title if comp.seq == 1 else f"{rec.title}（{comp.kind}）",
            "text": text, "doc_no": rec.doc_no, "date": rec.date, "category": rec.cls,
            "year": rec.year, "retention": rec.retention, "household": rec.household,
            "responsible": facts.responsible or "", "compartment": compartment_of(rec.cls),
            "secret": facts.secret, "status": status,
        }

    def visibility(self) -> Visibility:
        """What the current user may find: derived from the access policy (policy_view)."""
        return self._visibility(self._destroyed_refs())

    def _destroyed_refs(self) -> dict[str, int]:
        if self._destroyed is not None:
            return self._destroyed()
        return {r.ref: len(self._k.records.components(r.id))
                for r in self._k.records.list(status="destroyed")}

    def _visibility(self, destroyed: dict[str, int]) -> Visibility:
        # destruction rebuilds the index under a fresh key; a crash in between must not
        # let a destroyed record's words be found: exclude those the index still holds
        excluded = self._open_index().held_refs(destroyed) if destroyed else set()
        user = self._k.user
        return visibility_for(Actor(user.name, user.role), self._k.station.classes,
                              excluded=excluded)

    def _live_components(self, destroyed: dict[str, int]) -> int:
        """Live components (= count_live_components), without scanning the catalogue."""
        return self._k.records.count_components() - sum(destroyed.values())

    # ------------------------------------------------------------------ search
    def query(self, query: str, *, category: str | None = None,
               year: int | None = None, retention: str | None = None,
               household: str | None = None, limit: int = 20,
               offset: int = 0) -> SearchResults:
        """Ranked hits the user may see; hidden records are not even counted. Audited."""
        self._k.authorize("search")
        cls = self._k.station.class_code(category) if category else None
        ret = parse_retention(retention) if retention else None
        self._k.log("search", None, query=query, category=cls, year=year, retention=ret,
                 household=household or None, offset=offset or None)
        destroyed = self._destroyed_refs()
        expected = self._live_components(destroyed)
        if expected and not self._k.home.fulltext.exists():
            raise Conflict(INDEX_MISSING)  # never "共 0 条" from an index that is not there
        idx = self._open_index()
        docs = idx.count()
        if expected and not docs:
            raise Conflict(INDEX_MISSING)
        res = idx.search(query, self._visibility(destroyed), limit=limit, offset=offset, category=cls,
                         year=year, retention=ret, household=household)
        return SearchResults(hits=res.hits, total=res.total, no_text_count=res.no_text_count,
                             fallback=res.fallback, unindexed=max(0, expected - docs))

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
        try:
            st = dict(self._open_index().status())
        except IndexOutdated:
            return {"exists": True, "outdated": True, "docs": 0, "expected": expected,
                    "needs_rebuild": True}
        st.update(exists=True, expected=expected, needs_rebuild=st["docs"] != expected,
                  records_without_text=self._k.records.count_records_without_text())
        return st

    def verify(self) -> IndexVerdict:
        """What `sgz check` reports about the index, never altering it: pages that fail their
        MAC or structure check and documents held for records no longer live (problems), and
        live components it lacks (a filing interrupted after its commit: search misses them
        until `sgz index rebuild`)."""
        verdict = IndexVerdict()
        path = self._k.home.fulltext
        if not path.exists():
            return verdict
        self.close()
        try:
            idx = SearchIndex.open(path, self._k.keys.index_key)
        except IndexOutdated as exc:
            verdict.problems.append(str(exc))
            return verdict
        except (ArchiveError, sqlcipher3.DatabaseError) as exc:
            verdict.problems.append(f"全文索引无法打开（已损坏或密钥不符）：{exc}")
            return verdict
        try:
            try:
                verdict.problems += [f"全文索引页面或结构校验失败：{p}"
                                     for p in idx.integrity()[:5]]
                held = set(idx.doc_ids())
            except sqlcipher3.DatabaseError as exc:
                verdict.problems.append(f"全文索引已损坏：{exc}")
                return verdict
        finally:
            idx.close()
        expected = {_doc_id(rec.ref, comp) for rec in self._k.records.list(status="active")
                    for comp in self._k.records.components(rec.id)}
        verdict.missing = sorted(expected - held)
        extra = held - expected
        if extra:
            verdict.problems.append(f"全文索引中有 {len(extra)} 个文档不属于任何在库档案"
                                    "（可能是已销毁档案的文字）")
        return verdict


@dataclass
class IndexVerdict:
    """`SearchService.verify`: problems (Chinese lines) and the doc ids the index lacks."""

    problems: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _size_of(src: Source) -> int:
    return src.size if isinstance(src, InMemoryFile) else os.stat(src).st_size


def _by_size(items: Sequence[IndexItem], budget: int = 64 << 20) -> Iterator[list[IndexItem]]:
    """Groups of filing items whose files together stay under `budget` bytes in memory."""
    group: list[IndexItem] = []
    size = 0
    for item in items:
        try:
            n = _size_of(item[2])
        except OSError:
            n = 0
        if group and size + n > budget:
            yield group
            group, size = [], 0
        group.append(item)
        size += n
    if group:
        yield group


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")
