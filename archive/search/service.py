"""The search service: indexing at filing, `sgz search`, `sgz index rebuild|status`.

One index per record compartment (`indexes/<compartment>.db`, vault format 2), each under a key
derived from its compartment's current epoch: a user searches the indexes of the compartments
she holds and no other. Filing by a member adds to the index; a filer who is not a member (the
archivist filing a service record) queues the text sealed to the compartment
(archive/catalog/index_queue.py) and the next member who opens that index drains the queue.
After a rotation an index still opens with the older epoch's key and is re-keyed on the spot;
destruction rebuilds it. Derived data: `sgz index rebuild` recreates what this user holds.
Text is extracted in an isolated child process (archive/search/extract.py). Visibility
(archive/search/policy_view.py, derived from the one access policy) is part of each FTS5 query,
so hidden records are never counted, ranked or shown.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import sqlcipher3

from archive.catalog.numbering import parse_retention
from archive.catalog.records import Component, Record
from archive.errors import ArchiveError, Conflict, DecryptionFailed, NotFound
from archive.fs.atomic import ensure_private_dir
from archive.fs.sources import InMemoryFile, open_source
from archive.kernel.kernel import Kernel
from archive.policy.rules import Actor, decide
from archive.search.extract import too_large
from archive.search.extract_pool import ExtractionJob, ExtractionPool
from archive.search.index import IndexOutdated, SearchIndex
from archive.search.limits import DEFAULT_LIMITS, Extracted
from archive.search.phrases import PHRASES
from archive.search.policy_view import compartment_of, visibility_for
from archive.search.results import Hit, SearchResult
from archive.search.visibility import Visibility
from archive.vault.compartments import RECORD_COMPARTMENTS
from archive.vault.index_queue import IndexQueue

log = logging.getLogger(__name__)


@dataclass
class SearchResults(SearchResult):
    """What `sgz search` shows: the merged hits of the user's indexes (one per 档号), their
    count, and how many live components no index holds yet (a rebuild is due)."""

    unindexed: int = 0


def hit_dict(hit: Hit) -> dict[str, Any]:
    """A hit for `--json` / the web UI: the snippet as text plus highlight offsets."""
    return {"ref": hit.ref, "title": hit.title, "date": hit.date, "doc_no": hit.doc_no,
            "category": hit.category, "score": hit.score,
            "snippet": hit.snippet_obj.as_dict()}


INDEX_MISSING = ("全文索引不存在或为空（例如刚从备份恢复），检索结果不可信；"
                 "请先运行 sgz index rebuild 重建索引")


def _doc_id(ref: str, seq: int) -> str:
    """The 正文 is indexed under the 档号 itself; other components as 档号#序号."""
    return ref if seq == 1 else f"{ref}#{seq}"


class _Part(NamedTuple):
    """What indexing needs of a component just filed (no catalogue read)."""

    seq: int
    kind: str


def _ref_of(doc_id: str) -> str:
    return doc_id.split("#", 1)[0]


class SearchService:
    """`sgz search` and `sgz index` over the kernel; owns the index file and the extractor."""

    def __init__(self, kernel: Kernel, *,
                 destroyed: Callable[[], dict[str, int]] | None = None) -> None:
        """`destroyed()`: 档号 → component count of destroyed records (Disposals.destroyed);
        without it, the catalogue is scanned (slow on a large catalogue)."""
        self._k = kernel
        self._destroyed = destroyed
        self._indexes: dict[str, SearchIndex] = {}
        self._extraction: ExtractionPool | None = None
        self._facts: tuple[Any, tuple[int, list[str], Visibility]] | None = None

    # ------------------------------------------------------------------ the index files
    def _compartments(self) -> list[str]:
        return [c for c in RECORD_COMPARTMENTS if self._k.keys.bag.holds(c)]

    def _path(self, comp: str) -> Path:
        return self._k.home.indexes / f"{comp}.db"

    def _open_index(self, comp: str, *, create: bool = True) -> SearchIndex:
        if comp in self._indexes:
            return self._indexes[comp]
        path = self._path(comp)
        ensure_private_dir(path.parent)
        keys = self._k.keys.index_keys(comp)
        index: SearchIndex | None = None
        with self._k.writer_lock:  # two processes must not create (or drop) it at the same time
            if path.exists():
                for i, key in enumerate(keys):
                    try:
                        index = SearchIndex.open(path, key)
                    except IndexOutdated:
                        raise  # refused, not dropped: `sgz index rebuild` is the fix it names
                    except sqlcipher3.DatabaseError as exc:
                        if "locked" in str(exc) or "busy" in str(exc):
                            raise Conflict("全文索引正被另一个进程使用，请稍后再试") from None
                        break  # half-created by a crashed process: derived data
                    except (DecryptionFailed, ArchiveError):
                        continue
                    if i > 0:
                        index.rekey(keys[0])  # the compartment rotated since
                    break
                if index is None:
                    _remove_db(path)  # under no key this user holds: derived data, rebuilt
            if index is None:
                if not create:
                    raise NotFound("全文索引不存在，请运行 sgz index rebuild")
                index = SearchIndex.create(path, keys[0])
                for suffix in ("", "-wal", "-shm", "-journal"):  # SQLite made them 0644
                    with contextlib.suppress(FileNotFoundError):
                        os.chmod(f"{path}{suffix}", 0o600)
            self._drain(comp, index)
        self._indexes[comp] = index
        return index

    def rekey_indexes(self) -> None:
        """Re-key every index this user holds to its compartment's current epoch (before a
        `--rewrap` erases the older epochs they are keyed by)."""
        self.close()
        for comp in self._compartments():
            if self._path(comp).exists():
                self._open_index(comp, create=False)
        self.close()

    def _drain(self, comp: str, index: SearchIndex) -> None:
        """Index what non-members filed into `comp` since (their text waits sealed)."""
        queue = IndexQueue(self._k.db)
        if not queue.pending(comp):
            return
        docs = list(self._k.door.open_queued(comp, queue.sealed(comp)))
        index.add_many(docs)
        with self._k.db.transaction():
            for d in docs:
                queue.done(d["doc_id"])

    def extract_ahead(self, items: list[tuple[Path | InMemoryFile, str]], *,
                      titles: bool = False) -> ExtractionJob:
        """Start extracting the text (and with `titles` the document's own title) of
        (file, mime) items in the pool of isolated workers while the caller goes on
        (filing); `index_batch(..., texts=job.results())` takes the texts."""
        return self._pool().submit([(functools.partial(_load, src), src.name, mime)
                                    for src, mime in items], titles=titles)

    def _pool(self) -> ExtractionPool:
        if self._extraction is None:
            self._extraction = ExtractionPool(tmpdir=str(self._k.objects.tmp))
        return self._extraction

    def close(self) -> None:
        if self._extraction is not None:
            self._extraction.close()
            self._extraction = None
        for index in self._indexes.values():
            index.close()
        self._indexes.clear()

    # ------------------------------------------------------------------ filing hook
    def index_batch(self, items: list[tuple[str, int, int, str, Path | InMemoryFile, str]],
                    records: dict[str, Record] | None = None,
                    texts: list[Extracted] | None = None) -> None:
        """Extract each new component's text from the user's file and index the batch in one
        transaction per compartment index. Derived data: a failure never undoes the filing;
        each component's text status says what happened and `sgz index rebuild` can retry.
        Items are (档号, component id, seq, kind, file, mime). `records` (档号 → a record
        filed in this batch, so not on hold) spares reading each back, and lets a write-only
        filer index fields she cannot read from the sealed catalogue. `texts`, one per item,
        were extracted ahead (`extract_ahead`); without them the batch is extracted here."""
        if not items:
            return
        if texts is None:
            texts = self.extract_ahead([(src, mime) for *_, src, mime in items]).results()
        by_comp: dict[str, list[dict[str, Any]]] = {}
        statuses: list[tuple[int, str]] = []
        ids = [i[1] for i in items]
        compartments: list[str] = []
        filed = records or {}
        for (ref, component_id, seq, kind, _src, _mime), extracted in zip(items, texts,
                                                                          strict=True):
            new = filed.get(ref)
            rec = new or self._k.records.get(ref)
            compartments.append(rec.compartment)
            statuses.append((component_id, extracted.status))
            by_comp.setdefault(rec.compartment, []).append(
                {"doc_id": _doc_id(rec.ref, seq), **self._index_fields(
                    rec, _Part(seq, kind), rec, extracted.text, extracted.status,
                    held=False if new is not None else None)})
        failed: set[int] = set()
        queued: list[tuple[str, dict[str, Any]]] = []
        for cname, docs in by_comp.items():
            if not self._k.keys.bag.holds(cname):
                queued += [(cname, d) for d in docs]  # write-only filer: sealed for a member
                continue
            try:
                self._open_index(cname).add_many(docs)
            except ArchiveError:
                failed |= {cid for cid, c in zip(ids, compartments, strict=True) if c == cname}
        with self._k.db.transaction():
            queue = IndexQueue(self._k.db)
            for cname, d in queued:
                queue.put(self._k.keys.ring, cname, d)
            for cid, status in statuses:
                self._k.records.set_text_status(cid, "failed" if cid in failed else status)

    def _index_fields(self, rec: Record, comp: Component | _Part, fields: Any, text: str,
                      status: str, *, held: bool | None = None) -> dict[str, Any]:
        """The document's text and the facts search filters on; who may see it is decided
        from the same facts the policy reads (kernel.facts; `held` False: filed just now)."""
        facts = self._k.facts(rec, held=held)
        title = fields.title
        return {
            "title": title if comp.seq == 1 else f"{title}（{comp.kind}）",
            "text": text, "doc_no": fields.doc_no, "date": rec.date, "category": rec.cls,
            "year": rec.year, "retention": rec.retention, "household": fields.household,
            "responsible": facts.responsible or "", "compartment": compartment_of(rec.cls),
            "secret": facts.secret, "status": status,
        }

    def visibility(self) -> Visibility:
        """What the current user may find: derived from the access policy (policy_view)."""
        return self._visibility(self._destroyed_refs(), self._searchable())

    def _searchable(self) -> list[str]:
        return [c for c in self._compartments()
                if self._path(c).exists() or IndexQueue(self._k.db).pending(c)]

    def _destroyed_refs(self) -> dict[str, int]:
        if self._destroyed is not None:
            return self._destroyed()
        return {r.ref: len(self._k.records.components(r.id))
                for r in self._k.records.list(status="destroyed")}

    def _visibility(self, destroyed: dict[str, int], comps: list[str]) -> Visibility:
        # destruction rebuilds the indexes under fresh keys; a crash in between must not let
        # a destroyed record's words be found: exclude those an index still holds
        excluded: set[str] = set()
        if destroyed:
            for c in comps:
                excluded |= set(self._open_index(c).held_refs(destroyed))
        user = self._k.user
        return visibility_for(Actor(user.name, user.role), self._k.station.classes,
                              excluded=excluded)

    # ------------------------------------------------------------------ search
    def query(self, query: str, *, category: str | None = None,
              year: int | None = None, retention: str | None = None,
              household: str | None = None, limit: int = 20,
              offset: int = 0) -> SearchResults:
        """Ranked hits the user may see (one per 档号); hidden records are not even counted.
        Audited. Each compartment index this user holds is queried with the same visibility;
        records belong to one compartment, so the merged hits never repeat."""
        self._k.authorize("search")
        cls = self._k.station.class_code(category) if category else None
        ret = parse_retention(retention) if retention else None
        self._k.log("search", None, query=query, category=cls, year=year, retention=ret,
                    household=household or None, offset=offset or None)
        unindexed, comps, visible = self._preamble()
        indexes = [(c, self._open_index(c)) for c in comps]

        def each(fallback: Literal["never", "only"]) -> list[tuple[str, SearchResult]]:
            # one index after another: on threads it was 20-35 % faster in round 2 but saw
            # SQLCipher fail reads (SQLITE_NOMEM) at 200,000 documents; since round 4 most
            # searches take a few ms per index and threads measure slower (ADR 0005)
            return [(c, ix.search(query, visible, limit=limit + offset, offset=0,
                                  category=cls, year=year, retention=ret, household=household,
                                  snippets=False, fallback=fallback)) for c, ix in indexes]

        # no exact match in any index: the OR of the rarest bigrams, in every index
        parts = each("never")
        if not any(p.total for _, p in parts):
            parts = each("only")
        out = SearchResults(unindexed=unindexed)
        hits: list[tuple[Hit, str, list[str]]] = []
        for comp, part in parts:
            hits += [(h, comp, part.literals) for h in part.hits]
            out.total += part.total
            out.total_exact = out.total_exact and part.total_exact
            out.no_text_count += part.no_text_count
            out.fallback = out.fallback or part.fallback
        hits.sort(key=lambda h: h[0].score, reverse=True)  # bm25 per index, merged
        page = hits[offset:offset + limit]
        for comp, _ in parts:  # snippets only for the hits shown
            mine = [(h, lits) for h, c, lits in page if c == comp]
            if mine:
                self._open_index(comp).add_snippets([h for h, _ in mine], mine[0][1])
        out.hits = [h for h, _, _ in page]
        return out

    def prepare_phrases(self) -> None:
        """Have the phrase indexes of this user's indexes built in the background, so that a
        pasted sentence is answered from memory (archive/search/phrases.py). Only in a
        process that enabled them (`sgz serve`); an index that cannot be opened is left to
        the first search, which says why."""
        if not PHRASES.enabled:
            return
        user = self._k.user
        if not decide(Actor(user.name, user.role), "search", None).allowed:
            return  # asked, not audited: nobody searched yet
        for comp in self._compartments():
            if not self._path(comp).exists():
                continue
            try:
                self._open_index(comp).prepare_phrases()
            except (ArchiveError, sqlcipher3.DatabaseError):
                pass  # the first search says what is wrong with this index
            except Exception:  # an optimisation must never stop a sign-in
                log.exception("phrase index of %s not requested", comp)

    def _preamble(self) -> tuple[int, list[str], Visibility]:
        """(live components no index holds yet, the indexes to query, what the user may
        find): derived from the catalogue and the indexes, so remembered until either
        changes (a long-running `sgz serve` asks this on every search)."""
        comps = self._compartments()
        for c in comps:  # open first, so the key below is the same from one search to the next
            if self._path(c).exists():
                self._open_index(c)
        key = (self._k.db.generation(), tuple(
            (c, self._path(c).exists(), c in self._indexes and self._indexes[c].generation())
            for c in comps))
        if self._facts is not None and self._facts[0] == key:
            return self._facts[1]
        expected = docs = 0
        lives = self._k.records.count_live_by_compartment()  # one pass over the catalogue
        for comp in comps:  # never "共 0 条" from an index that is not there
            live = lives.get(comp, 0)
            if not live:
                continue
            if not self._path(comp).exists() and not IndexQueue(self._k.db).pending(comp):
                raise Conflict(INDEX_MISSING)
            n = self._open_index(comp).count()
            if not n:
                raise Conflict(INDEX_MISSING)
            expected, docs = expected + live, docs + n
        searchable = self._searchable()
        found = (max(0, expected - docs), searchable,
                 self._visibility(self._destroyed_refs(), searchable))
        self._facts = (key, found)
        return found

    # ------------------------------------------------------------------ rebuild / status
    def rebuild(self, *, fresh_key: bool = False,
                      progress: Callable[[int, int], None] | None = None) -> int:
        """Recreate the index from the vault (each component read through the audited door).

        With `fresh_key`, the new index is written under a new random key and the old file is
        deleted: after a destruction nothing of the destroyed text survives in any index.
        """
        grant = self._k.authorize("check")
        comps = self._compartments()
        self._k.log("index.rebuild.begin", None, fresh_key=fresh_key, compartments=comps)
        self.close()
        _remove_db(self._k.home.fulltext)  # the format-1 single index, if one is left
        pairs = [(rec, comp) for rec in self._k.records.list() if rec.compartment in comps
                 for comp in self._k.records.components(rec.id)]
        count = 0
        for cname in comps:
            _remove_db(self._path(cname))
            with self._k.db.transaction():  # the queue's text is re-extracted from the objects
                for rec, _comp in pairs:
                    if rec.compartment == cname:
                        IndexQueue(self._k.db).drop(rec.ref)
            idx = self._open_index(cname)
            mine = [p for p in pairs if p[0].compartment == cname]
            count += idx.rebuild(self._reindex_docs(grant, mine),
                                 progress=_offset(progress, count, len(pairs)))
        self._k.log("index.rebuild", None, documents=count, fresh_key=fresh_key)
        return count

    def _reindex_docs(self, grant: Any, pairs: list[tuple[Record, Component]],
                      batch: int = 64) -> Iterator[dict[str, Any]]:
        """The documents of `pairs`, read through the door (one audit entry per batch of
        `batch`) and extracted by the pool of isolated workers, as filing does: while the index
        takes one batch, the workers decrypt and parse the next."""
        ahead: tuple[list[tuple[Record, Component, Any]], ExtractionJob] | None = None
        for start in range(0, len(pairs), batch):
            opened = list(self._k.door.open_many(grant, pairs[start:start + batch],
                                                 action="index.read", detail={}))
            job = self._pool().submit([(functools.partial(_read_stream, stream, comp.size),
                                        comp.filename, comp.mime)
                                       for _rec, comp, stream in opened])
            if ahead is not None:
                yield from self._reindexed(*ahead)
            ahead = (opened, job)
        if ahead is not None:
            yield from self._reindexed(*ahead)

    def _reindexed(self, opened: list[tuple[Record, Component, Any]],
                   job: ExtractionJob) -> Iterator[dict[str, Any]]:
        statuses: list[tuple[int, str]] = []
        for (rec, comp, _stream), extracted in zip(opened, job.results(), strict=True):
            statuses.append((comp.id, extracted.status))
            yield {"doc_id": _doc_id(rec.ref, comp.seq),
                   **self._index_fields(rec, comp, rec, extracted.text, extracted.status)}
        with self._k.db.transaction():
            for cid, status in statuses:
                self._k.records.set_text_status(cid, status)

    def status(self) -> dict[str, Any]:
        """Index counts vs the catalogue, over the compartments this user holds; says whether
        a rebuild is needed."""
        comps = self._compartments()
        expected = self._k.records.count_live_components(comps)
        queued = sum(IndexQueue(self._k.db).pending(c) for c in comps)
        present = [c for c in comps if self._path(c).exists()]
        if not present and not queued:
            return {"exists": False, "docs": 0, "expected": expected, "needs_rebuild": expected > 0,
                    "compartments": comps}
        st: dict[str, Any] = {"docs": 0, "no_text": 0, "failed": 0, "truncated": 0, "ocr": 0,
                              "size_bytes": 0}
        for c in comps:
            if c in present or IndexQueue(self._k.db).pending(c):
                try:
                    part = self._open_index(c).status()
                except IndexOutdated:
                    return {"exists": True, "outdated": True, "docs": 0, "expected": expected,
                            "needs_rebuild": True, "compartments": comps}
                for k, v in part.items():
                    st[k] = st.get(k, 0) + v
        st.update(exists=True, expected=expected, needs_rebuild=st["docs"] != expected,
                  records_without_text=self._k.records.count_records_without_text(),
                  compartments=comps)
        return st


    def verify(self) -> IndexVerdict:
        """What `sgz check` reports about the indexes this user holds, never altering them:
        pages that fail their MAC or structure check and documents held for records no longer
        live (problems), and live components they lack (a filing interrupted after its commit:
        search misses them until `sgz index rebuild`). Text still queued by a write-only filer
        is not missing: the next member to search indexes it."""
        verdict = IndexVerdict()
        self.close()
        live = [rec for rec in self._k.records.list(status="active")]
        queue = IndexQueue(self._k.db)
        for cname in self._compartments():
            path = self._path(cname)
            if not path.exists():
                continue
            idx = None
            outdated = False
            for key in self._k.keys.index_keys(cname):
                try:
                    idx = SearchIndex.open(path, key)
                    break
                except IndexOutdated as exc:
                    verdict.problems.append(str(exc))
                    outdated = True
                    break
                except (ArchiveError, sqlcipher3.DatabaseError):
                    continue
            if idx is None and outdated:
                continue
            if idx is None:
                verdict.problems.append(f"全文索引 {path.name} 无法打开（已损坏或密钥不符）")
                continue
            try:
                try:
                    verdict.problems += [f"全文索引 {path.name} 页面或结构校验失败：{p}"
                                         for p in idx.integrity()[:5]]
                    held = set(idx.doc_ids())
                except sqlcipher3.DatabaseError as exc:
                    verdict.problems.append(f"全文索引 {path.name} 已损坏：{exc}")
                    continue
            finally:
                idx.close()
            queued = {ref for ref, _e, _b in queue.sealed(cname)}
            expected = {_doc_id(rec.ref, comp.seq) for rec in live if rec.compartment == cname
                        and rec.ref not in queued
                        for comp in self._k.records.components(rec.id)}
            verdict.missing += sorted(expected - held)
            extra = held - expected - {d for d in held if _ref_of(d) in queued}
            if extra:
                verdict.problems.append(f"全文索引 {path.name} 中有 {len(extra)} 个文档不属于任何"
                                        "在库档案（可能是已销毁档案的文字）")
        return verdict


@dataclass
class IndexVerdict:
    """`SearchService.verify`: problems (Chinese lines) and the doc ids the index lacks."""

    problems: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _offset(progress: Callable[[int, int], None] | None, base: int,
            total: int) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, _t: progress(base + done, total)


def _load(src: Path | InMemoryFile) -> bytes | Extracted:
    """A file's bytes for extraction (in a feeding thread), or why it is not extracted."""
    try:
        with open_source(src) as f:
            size = src.size if isinstance(src, InMemoryFile) else os.fstat(f.fileno()).st_size
            return _read_limited(f, size)
    except OSError:
        return Extracted("", "failed", "无法读取文件，未提取文字", None)


def _read_stream(stream: Any, size: int) -> bytes | Extracted:
    """A decrypted component's bytes for extraction (in a feeding thread), then closed."""
    with stream:
        return _read_limited(stream, size)


def _read_limited(f: Any, size: int) -> bytes | Extracted:
    """Up to one byte past the extraction limit of `f` (the extractor says "too large"), or,
    decided from the size alone, why it is not read into memory at all."""
    skipped = too_large(size)
    if skipped is not None:
        return skipped
    data: bytes = f.read(DEFAULT_LIMITS.max_input + 1)
    return data


def _remove_db(path: Path) -> None:
    PHRASES.forget(str(path))  # nothing of it stays in memory either
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")
