"""The full-text index: FTS5 inside an SQLCipher database (`indexes/fulltext.db`).

Derived data: everything in it can be rebuilt from the vault and catalogue. It stores the
normalised text (for snippets) and bigram/unit token streams in a contentless FTS5 table with
FTS5 secure-delete, plus `PRAGMA secure_delete=ON`, so a removed record's words leave the file.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sized
from pathlib import Path
from typing import Any, Literal

import sqlcipher3

from archive.catalog.db import connect_keyed
from archive.errors import Conflict, NotFound, ValidationError
from archive.search.normalize import normalize
from archive.search.phrases import (
    MIN_BIGRAMS,
    PHRASES,
    PhraseIndex,
    Row,
    Stamp,
    rows_reader,
    visible_mask,
)
from archive.search.query import COLUMNS, ParsedQuery, parse
from archive.search.rank import SCORE_CHARS, varints
from archive.search.rank import score as bm25_score
from archive.search.results import Hit, SearchResult
from archive.search.snippet import make_snippet
from archive.search.tokens import index_tokens
from archive.search.visibility import (
    CATEGORY,
    HOUSEHOLD,
    RETENTION,
    STATUS,
    YEAR,
    Visibility,
    doc_tokens,
    token,
)

# 3: + the title index (tfts); a "2" index gains it on open. 4: the newest document has the
# lowest FTS5 rowid (FIRST_ROWID - docs.id), so "newest first" is FTS5's forward walk (a
# backward walk first reads each word's whole doclist: 2-4x the cost). A "3" index keeps
# working in its old order until `sgz index rebuild` (or SearchIndex.rebuild) writes it anew.
SCHEMA_VERSION = "4"
OLD_ORDER_SCHEMAS = ("2", "3")
FIRST_ROWID = 2**62  # schema 4: FTS5 rowid = FIRST_ROWID - docs.id (docs.id counts up)
# a rebuild numbers and inserts this many documents (or characters of text) together: FTS5
# writes a segment whenever a rowid is lower than the one before
REBUILD_CHUNK, REBUILD_CHUNK_CHARS = 1000, 16_000_000
# bm25 weights per column, in FTS_COLUMNS order: title counts most, then 文号, then body;
# the access tokens never rank.
WEIGHTS = {"title_bi": 6.0, "title_uni": 6.0, "body_bi": 1.0, "body_uni": 1.0,
           "no_bi": 3.0, "no_uni": 3.0, "acl": 0.0}
FTS_COLUMNS = (*COLUMNS, "acl")
FALLBACK_MIN_BIGRAMS = 3
FALLBACK_DF_CAP = 100  # a bigram in more documents than this is common enough for the fallback
FALLBACK_MAX_TERMS = 8  # rarest bigrams OR-ed when nothing matches exactly (24 → 8: same recall, p50 −15 %)
# Work per query is bounded by the size of the answer the user can look at, not by how many
# documents contain a common word (docs/adr/0005-search-visibility-in-query.md):
# - the visible 档号 are counted exactly up to TOTAL_EXACT_UP_TO and ranked by bm25 (rank.py,
#   from what the index stores); beyond it the total is a lower bound ("200 条以上"), as
#   Elasticsearch's track_total_hits does, and the answer lists title/文号 matches first (from
#   the small title index), then the other matches, newest first.
TOTAL_EXACT_UP_TO = 200
# A long query (a pasted sentence) costs FTS5 a position check per word per document, so
# it is counted exactly only up to EXACT_TOKEN_BUDGET / its number of bigrams (at least
# EXACT_LONG_QUERY_MIN): about 40 for a sentence of 30 characters, 200 up to 6 bigrams.
# (2,400 / 50 until round 4: the probe of a common pasted sentence, 86 matches per index,
# was most of its 33 ms median; ADR 0005 "Round 4".)
EXACT_TOKEN_BUDGET = 1200
EXACT_LONG_QUERY_MIN = 30
TITLE_TIER_MAX = 1000
OPTIMIZE_GROWTH, OPTIMIZE_MIN_DOCS = 0.10, 500  # merge FTS5 segments after this much growth


def _chunks(items: Iterable[dict[str, Any]], size: int,
            chars: int) -> Iterator[list[dict[str, Any]]]:
    """Lists of up to `size` documents holding up to about `chars` characters of text."""
    chunk: list[dict[str, Any]] = []
    held = 0
    for item in items:
        chunk.append(item)
        held += len(item.get("text", ""))
        if len(chunk) == size or held >= chars:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def literals_tokens(literals: list[str]) -> list[str]:
    """The bigrams (or single units) FTS5 checks for these normalised literals."""
    out: list[str] = []
    for lit in literals:
        out += [lit[i:i + 2] for i in range(len(lit) - 1)] or [lit]
    return out


def exact_up_to(tokens: int) -> int:
    """How many visible 档号 a query of this many bigrams is counted (and ranked) up to."""
    return max(EXACT_LONG_QUERY_MIN, min(TOTAL_EXACT_UP_TO, EXACT_TOKEN_BUDGET // max(1, tokens)))


Allowed = Callable[[str], bool] | set[str] | frozenset[str] | None

# The title index: the same columns (so the same MATCH expression applies) holding only the
# title, the 文号 and the access tokens: "which matches have the word in the title" is then
# a small doclist, not a column filter over every body match.
_TITLE_SCHEMA = [
    f"""CREATE VIRTUAL TABLE tfts USING fts5({", ".join(FTS_COLUMNS)}, content='',
       contentless_delete=1, tokenize='unicode61 remove_diacritics 0')""",
    "INSERT INTO tfts(tfts, rank) VALUES('secure-delete', 1)",
]

_SCHEMA = [
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE docs(id INTEGER PRIMARY KEY, doc_id TEXT UNIQUE NOT NULL, ref TEXT NOT NULL,
       seq INTEGER NOT NULL, title TEXT NOT NULL, doc_no TEXT NOT NULL, date TEXT NOT NULL,
       category TEXT NOT NULL, year INTEGER, retention TEXT NOT NULL, household TEXT NOT NULL,
       responsible TEXT NOT NULL, compartment TEXT NOT NULL, secret INTEGER NOT NULL,
       status TEXT NOT NULL)""",
    "CREATE INDEX docs_status ON docs(status)",
    "CREATE INDEX docs_multi ON docs(ref) WHERE seq > 1",
    "CREATE TABLE texts(id INTEGER PRIMARY KEY, text TEXT NOT NULL)",
    f"""CREATE VIRTUAL TABLE fts USING fts5({", ".join(FTS_COLUMNS)}, content='',
       contentless_delete=1, tokenize='unicode61 remove_diacritics 0')""",
    "INSERT INTO fts(fts, rank) VALUES('secure-delete', 1)",
    *_TITLE_SCHEMA,
]
_STATUSES = {"ok", "no_text", "ocr", "truncated", "failed"}
_FIELDS = ("title", "text", "doc_no", "date", "category", "year", "retention", "household",
           "responsible", "compartment", "secret", "status")


OUTDATED = "全文索引是旧版本格式，检索前须重建：请运行 sgz index rebuild"
OLD_ORDER = "全文索引是旧版排列，可以检索但较慢：运行 sgz index rebuild 可加快检索"


class IndexOutdated(Conflict):
    """The index file was written by an earlier version (another schema): rebuild it."""


def _connect(path: Path, key: bytes) -> Any:
    if len(key) != 32:
        raise ValidationError("索引密钥必须是 32 字节")
    conn = connect_keyed(path, key)
    # derived data: WAL + synchronous=NORMAL (no fsync per commit); a crash can lose the
    # last entries, which `index status` reports and `index rebuild` restores
    for pragma in ("secure_delete=ON", "temp_store=MEMORY", "journal_mode=WAL",
                   "synchronous=NORMAL", "cache_size=-65536", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def _title_row(rowid: int, doc_id: str, title: str, doc_no: str, acl: str) -> tuple[Any, ...]:
    t_bi, t_uni = index_tokens(title)
    n_bi, n_uni = index_tokens(doc_no)
    return (rowid, t_bi, t_uni, "", "", n_bi, n_uni, acl)


_INSERT_TITLE = f"INSERT INTO tfts(rowid, {', '.join(FTS_COLUMNS)}) VALUES(?,?,?,?,?,?,?,?)"


def _add_title_index(conn: Any) -> None:
    """Schema 2 → 3: build the title index from the catalogue rows the index already holds
    (titles, 文号 and access facts are stored; no document text is needed)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for stmt in _TITLE_SCHEMA:
            conn.execute(stmt)
        rows = conn.execute(
            "SELECT id, doc_id, title, doc_no, category, year, retention, household,"
            " responsible, compartment, secret, status FROM docs").fetchall()
        for (rowid, doc_id, title, doc_no, category, year, retention, household, responsible,
             compartment, secret, status) in rows:
            acl = doc_tokens(doc_id, category=category, compartment=compartment,
                             responsible=responsible, household=household, year=year,
                             retention=retention, status=status, secret=bool(secret))
            conn.execute(_INSERT_TITLE, _title_row(rowid, doc_id, title, doc_no, acl))
        conn.execute("UPDATE meta SET value='3' WHERE key='schema'")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class SearchIndex:
    """Encrypted FTS5 index of extracted record text, keyed by 档号 (doc_id)."""

    def __init__(self, conn: Any, path: Path, *, newest_lowest: bool = True,
                 reopen: Callable[[], Any] | None = None) -> None:
        self._conn = conn
        self.path = path
        # opens another connection to the same file under the same key, from which a phrase
        # index is built in the background (phrases.py); None: this index never gets one
        self._reopen = reopen
        self._masks: dict[tuple[Stamp, str | None, str | None], Any] = {}
        # schema 4: FTS5 rowids count down, the newest document first in FTS5's forward order
        self.newest_lowest = newest_lowest
        self._multi: bool | None = None
        self._counted: tuple[tuple[int, int], int] | None = None

    @classmethod
    def create(cls, path: Path, key: bytes) -> SearchIndex:
        """Create a new empty index at `path`; refuses to overwrite."""
        path = Path(path)
        if path.exists():
            raise Conflict(f"索引文件已存在：{path.name}", ref=str(path))
        conn = _connect(path, key)
        try:
            conn.execute("BEGIN")
            for stmt in _SCHEMA:
                conn.execute(stmt)
            conn.execute("INSERT INTO meta VALUES('schema', ?)", (SCHEMA_VERSION,))
            conn.execute("INSERT INTO meta VALUES('instance', ?)", (secrets.token_hex(8),))
            conn.execute("COMMIT")
        except Exception:
            conn.close()
            path.unlink(missing_ok=True)
            raise
        return cls(conn, path, reopen=functools.partial(_connect, path, key))

    @classmethod
    def open(cls, path: Path, key: bytes) -> SearchIndex:
        """Open an existing index; a wrong key raises DecryptionFailed."""
        path = Path(path)
        if not path.is_file():
            raise NotFound(f"索引文件不存在：{path.name}（可运行 sgz index rebuild 重建）")
        conn = _connect(path, key)
        row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is not None and row[0] == "2":
            _add_title_index(conn)
        elif row is None or row[0] not in (SCHEMA_VERSION, *OLD_ORDER_SCHEMAS):
            conn.close()
            raise IndexOutdated(OUTDATED, found=row and row[0], expected=SCHEMA_VERSION)
        return cls(conn, path, newest_lowest=row[0] == SCHEMA_VERSION,
                   reopen=functools.partial(_connect, path, key))

    def close(self) -> None:
        """Close the database connection (and let go of this file's phrase index)."""
        PHRASES.release(id(self), str(self.path))
        self._masks.clear()
        self._reopen = None  # it holds the key
        self._conn.close()

    def rekey(self, key: bytes) -> None:
        """Re-encrypt the whole index under `key` (its compartment rotated to a new epoch)."""
        if len(key) != 32:
            raise ValidationError("索引密钥必须是 32 字节")
        self._conn.execute(f"PRAGMA rekey = \"x'{key.hex()}'\"")

    def doc_ids(self) -> dict[str, str]:
        """Every indexed document id with its text status (for `sgz check`)."""
        return dict(self._conn.execute("SELECT doc_id, status FROM docs"))

    def held_refs(self, refs: Iterable[str]) -> set[str]:
        """Which of these 档号 the index holds any document of (e.g. destroyed records whose
        words a crash left behind before the fresh-key rebuild)."""
        wanted, held = list(refs), set[str]()
        for start in range(0, len(wanted), 500):  # the 正文's doc_id is the 档号 (unique index)
            part = wanted[start:start + 500]
            marks = ",".join("?" * len(part))
            held.update(r for (r,) in self._conn.execute(
                f"SELECT doc_id FROM docs WHERE doc_id IN ({marks})"
                f" UNION SELECT ref FROM docs WHERE seq > 1 AND ref IN ({marks})", part + part))
        return held

    def generation(self) -> tuple[int, int]:
        """Changes whenever the index may have: another process's commit or our own write."""
        return (int(self._conn.execute("PRAGMA data_version").fetchone()[0]),
                int(self._conn.total_changes))

    def count(self) -> int:
        """Indexed documents (components); remembered until the index changes (this
        connection's writes or another process's commit), as every search asks."""
        gen = self.generation()
        if self._counted is None or self._counted[0] != gen:
            self._counted = (gen, int(self._conn.execute("SELECT count(*) FROM docs")
                                      .fetchone()[0]))
        return self._counted[1]

    def integrity(self) -> list[str]:
        """Page MACs (SQLCipher), b-tree structure and the FTS index's own consistency check;
        an empty list when all is well. Reads every page: a flipped byte is found."""
        problems = [str(r[0]) for r in self._conn.execute("PRAGMA cipher_integrity_check")]
        quick = [str(r[0]) for r in self._conn.execute("PRAGMA quick_check")]
        if quick != ["ok"]:
            problems += quick
        if not problems:
            try:
                self._conn.execute("INSERT INTO fts(fts) VALUES('integrity-check')")
                self._conn.execute("INSERT INTO tfts(tfts) VALUES('integrity-check')")
            except sqlcipher3.DatabaseError as exc:
                problems.append(f"fts: {exc}")
        return problems

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------
    def add(self, doc_id: str, *, title: str, text: str, doc_no: str = "", date: str = "",
            category: str = "", year: int | None = None, retention: str = "",
            household: str = "", responsible: str = "", compartment: str = "",
            secret: bool = False, status: str = "ok") -> None:
        """Index one document, replacing any earlier entry with the same doc_id.

        doc_id is the 档号 for a record's 正文 and '档号#序号' for its other components;
        category, compartment, responsible, household and secret decide who sees it.
        """
        self.add_many([{"doc_id": doc_id, "title": title, "text": text, "doc_no": doc_no,
                        "date": date, "category": category, "year": year,
                        "retention": retention, "household": household,
                        "responsible": responsible, "compartment": compartment,
                        "secret": secret, "status": status}])

    def add_many(self, docs: Iterable[dict[str, Any]]) -> int:
        """Index several documents (dicts of add()'s arguments) in one transaction."""
        batch = list(docs)  # numbered together: one FTS5 segment per call, as before schema 4
        n = len(batch)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._add_chunk(batch)
            self._settle(n)
            self._wrote()
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return n

    def _wrote(self) -> None:
        """Count a write (inside its transaction): a phrase index built before it is stale,
        and is dropped now (it may hold the words of a document just removed)."""
        PHRASES.forget(str(self.path))
        self._conn.execute("INSERT OR IGNORE INTO meta VALUES('instance', ?)",
                           (secrets.token_hex(8),))
        self._conn.execute("INSERT INTO meta VALUES('writes', '1') ON CONFLICT(key)"
                           " DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def stamp(self, conn: Any = None) -> Stamp:
        """What this index holds, as a phrase index is keyed: the file (path and inode), its
        instance (random, from its creation or first write) and its count of writes."""
        meta = dict((conn or self._conn).execute(
            "SELECT key, value FROM meta WHERE key IN ('instance', 'writes')"))
        try:
            ino = os.stat(self.path).st_ino
        except FileNotFoundError:
            ino = 0
        return Stamp(str(self.path), f"{ino}:{meta.get('instance', '')}",
                     int(meta.get("writes", 0)))

    def _settle(self, added: int) -> None:
        """Merge FTS5's segments into one when the index has grown by OPTIMIZE_GROWTH since
        the last merge: each filing writes a segment, and a word's lookup seeks in every
        segment (at 50,000 documents filed in batches, a phrase's first hits took 10 ms
        unmerged and 1.7 ms merged). Costs about a second per 10,000 documents."""
        row = self._conn.execute("SELECT value FROM meta WHERE key='unmerged'").fetchone()
        pending = int(row[0]) + added if row else added
        if pending >= max(OPTIMIZE_MIN_DOCS, OPTIMIZE_GROWTH * self.count()):
            for table in ("fts", "tfts"):
                self._conn.execute(f"INSERT INTO {table}({table}) VALUES('optimize')")
            pending = 0
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES('unmerged', ?)", (str(pending),))

    def _add_chunk(self, docs: list[dict[str, Any]]) -> None:
        """Index these documents, the last the newest. The `docs` and `texts` rows go in first,
        in filing order (rising `docs.id`: SQLite appends at the right edge of its b-trees);
        then the FTS5 rows, in rising FTS5 rowid order (schema 4: the reverse), because FTS5
        writes its pending terms out as a new segment whenever a rowid is lower than the one
        before (newest first made a segment per document: 82 documents/s)."""
        # the same document twice in one batch: the later one is what the index keeps
        last = {doc.get("doc_id"): i for i, doc in enumerate(docs)}
        docs = [doc for i, doc in enumerate(docs) if last[doc.get("doc_id")] == i]
        rows = [self._add_row(doc) for doc in docs]
        if self.newest_lowest:
            rows.reverse()
        for fts_row, title_row in rows:
            self._conn.execute(
                f"INSERT INTO fts(rowid, {', '.join(FTS_COLUMNS)}) VALUES(?,?,?,?,?,?,?,?)",
                fts_row)
            self._conn.execute(_INSERT_TITLE, title_row)

    def _rowid(self, key: int) -> int:
        """FTS5 rowid of the document with `docs.id` = key, and back (an involution): schema 4
        counts FTS5 rowids down from FIRST_ROWID as `docs.id` counts up."""
        return FIRST_ROWID - key if self.newest_lowest else key

    def _key_sql(self, rowid: str) -> str:
        """SQL for the `docs.id` of an FTS5 rowid expression."""
        return f"({FIRST_ROWID} - {rowid})" if self.newest_lowest else rowid

    def _add_row(self, doc: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Write a document's catalogue row and text; return its FTS5 and title-index rows."""
        unknown = set(doc) - {"doc_id", *_FIELDS}
        if unknown:
            raise ValidationError("索引条目含未知字段", found=sorted(unknown))
        doc_id = doc.get("doc_id") or ""
        if not doc_id:
            raise ValidationError("档号不能为空")
        status = doc.get("status", "ok")
        if status not in _STATUSES:
            raise ValidationError(f"未知的提取状态：{status}", found=status)
        title, text = doc.get("title", ""), doc.get("text", "")
        doc_no, year = doc.get("doc_no", ""), doc.get("year")
        facts = {k: doc.get(k, "") for k in ("category", "retention", "household",
                                              "responsible", "compartment")}
        secret = bool(doc.get("secret", False))
        self._delete(doc_id)
        ref, _, seq = doc_id.partition("#")
        cur = self._conn.execute(
            "INSERT INTO docs(doc_id, ref, seq, title, doc_no, date, category, year, retention,"
            " household, responsible, compartment, secret, status)"
            " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (doc_id, ref, int(seq) if seq.isdigit() else 1, title, doc_no, doc.get("date", ""),
             facts["category"], year, facts["retention"], facts["household"],
             facts["responsible"], facts["compartment"], int(secret), status))
        key = int(cur.lastrowid)
        self._conn.execute("INSERT INTO texts(id, text) VALUES(?, ?)", (key, text))
        b_bi, b_uni = index_tokens(normalize(text), normalized=True)
        acl = doc_tokens(doc_id, year=year, status=status, secret=secret, **facts)
        trow = _title_row(self._rowid(key), doc_id, title, doc_no, acl)
        self._multi = None
        return (trow[0], trow[1], trow[2], b_bi, b_uni, trow[5], trow[6], acl), trow

    def _delete(self, doc_id: str) -> bool:
        row = self._conn.execute("SELECT id FROM docs WHERE doc_id=?", (doc_id,)).fetchone()
        if row is None:
            return False
        self._conn.execute("DELETE FROM fts WHERE rowid=?", (self._rowid(row[0]),))
        self._conn.execute("DELETE FROM tfts WHERE rowid=?", (self._rowid(row[0]),))
        self._conn.execute("DELETE FROM texts WHERE id=?", (row[0],))
        self._conn.execute("DELETE FROM docs WHERE id=?", (row[0],))
        self._multi = None
        return True

    def remove(self, doc_id: str) -> None:
        """Remove a document's text and tokens for good (FTS5 secure-delete, zeroed pages)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            found = self._delete(doc_id)
            self._wrote()
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        if not found:
            raise NotFound(f"索引中没有该档号：{doc_id}", ref=doc_id)

    def rebuild(self, docs: Iterable[dict[str, Any]],
                progress: Callable[[int, int], None] | None = None) -> int:
        """Replace the whole index with `docs` (dicts of add()'s arguments); returns the count.

        progress(done, total) is called every 100 documents and at the end; total is 0 when
        `docs` has no length.
        """
        total = len(docs) if isinstance(docs, Sized) else 0
        was = self.newest_lowest  # restored if the rebuild fails (rolled back: old order)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.execute("DELETE FROM docs")
            self._conn.execute("DELETE FROM texts")
            self._conn.execute("INSERT INTO fts(fts) VALUES('delete-all')")
            self._conn.execute("INSERT INTO tfts(tfts) VALUES('delete-all')")
            self._conn.execute("UPDATE meta SET value=? WHERE key='schema'", (SCHEMA_VERSION,))
            self.newest_lowest = True  # written anew: schema 4
            done = 0  # documents pulled from `docs` (each is indexed in its chunk)

            def counted() -> Iterator[dict[str, Any]]:
                nonlocal done
                for doc in docs:  # extracted as they are pulled: progress per 100 pulled
                    yield doc
                    done += 1
                    if progress and done % 100 == 0:
                        progress(done, total)

            for chunk in _chunks(counted(), REBUILD_CHUNK, REBUILD_CHUNK_CHARS):
                self._add_chunk(chunk)
            self._conn.execute("INSERT INTO fts(fts) VALUES('optimize')")
            self._conn.execute("INSERT INTO tfts(tfts) VALUES('optimize')")
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES('unmerged', '0')")
            self._wrote()
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            self.newest_lowest = was
            raise
        if progress:
            progress(done, total or done)
        return done

    # -- reading -----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Counts and file size: docs, no_text, failed, truncated, ocr, size_bytes, and
        old_order (1 for an index of schema 2/3, whose newest-first walk is slower until a
        rebuild)."""
        counts = dict(self._conn.execute("SELECT status, count(*) FROM docs GROUP BY status"))
        size = os.path.getsize(self.path) if self.path.exists() else 0
        return {"docs": sum(counts.values()), "no_text": counts.get("no_text", 0),
                "failed": counts.get("failed", 0), "truncated": counts.get("truncated", 0),
                "ocr": counts.get("ocr", 0), "size_bytes": size,
                "old_order": int(not self.newest_lowest)}

    def search(self, query: str, visible: Visibility | None = None, *, limit: int = 20,
               offset: int = 0, category: str | None = None, year: int | None = None,
               retention: str | None = None, household: str | None = None,
               allowed: Allowed = None, snippets: bool = True,
               fallback: Literal["auto", "never", "only"] = "auto") -> SearchResult:
        """Ranked hits the caller may read, one per 档号, with snippets as text + spans.

        `visible` (default: everything) is applied inside the FTS5 query, before counting,
        ranking and paging; `total` counts visible 档号 only. A plain query of several
        characters with no exact match falls back to an OR of its rarest bigrams.
        `allowed` (a per-document callback or set) is the old interface, kept until every
        caller passes a Visibility; it is slow on common words. With `snippets=False` the
        hits come without snippets: a caller merging several indexes makes them for the
        hits it keeps (`add_snippets`). `fallback`: "auto" (as above), "never", or "only"
        (just the fallback: a caller of several indexes falls back only when none of them
        has an exact match).
        """
        if limit < 1:
            raise ValidationError("结果条数必须大于 0")
        if offset < 0:
            raise ValidationError("结果起始位置不能为负数")
        parsed = parse(query)
        vis = Visibility.all() if visible is None else visible
        if vis.sees_nothing():
            return SearchResult()
        must, never = vis.clauses()
        filters = [f'acl : "{token(kind, value)}"' for kind, value in (
            (CATEGORY, category), (YEAR, year), (RETENTION, retention),
            (HOUSEHOLD, household)) if value is not None and value != ""]
        scope = " AND ".join(x for x in (must, *filters) if x)

        def expr(words: str) -> str:
            out = f"({words})" + (f" AND {scope}" if scope else "")
            return f"({out}) NOT {never}" if never else out

        check = None if allowed is None else (
            allowed if callable(allowed) else allowed.__contains__)
        literals = parsed.literals
        fast = None if fallback == "only" or check is not None else self._phrase_plan(
            parsed, scope or None, never)
        total, exact, rows = (0, True, []) if fallback == "only" else self._run(
            parsed.fts, expr, literals, limit, offset, check, fast=fast)
        fell_back = False
        if (total == 0 and fallback != "never" and parsed.plain
                and len(parsed.bigrams) >= FALLBACK_MIN_BIGRAMS):
            words = self._fallback_expr(parsed)
            if words:
                # an OR of single bigrams checks no positions: the long-query budget does
                # not apply, and its answer is only useful ranked (bm25 over every bigram)
                total, exact, rows = self._run(words, expr, parsed.bigrams, limit, offset, check,
                                               cap=TOTAL_EXACT_UP_TO)
                literals, fell_back = parsed.bigrams, total > 0
        out = SearchResult(total=total, total_exact=exact, fallback=fell_back,
                           hits=self._hits(rows, literals if snippets else None),
                           literals=literals)
        no_text = f'acl : "{token(STATUS, "no_text")}"'
        if check is None:
            out.no_text_count = self._count(expr(no_text))
        else:
            out.no_text_count = sum(1 for (d,) in self._conn.execute(
                "SELECT doc_id FROM docs WHERE status='no_text'") if check(d))
        return out

    def _has_multi(self) -> bool:
        """Whether any 档号 has more than one indexed component (then hits are grouped)."""
        if self._multi is None:
            self._multi = self._conn.execute(
                "SELECT EXISTS(SELECT 1 FROM docs WHERE seq > 1)").fetchone()[0] == 1
        return bool(self._multi)

    def _sql(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlcipher3.OperationalError as exc:
            raise ValidationError("查询无法执行，请检查查询写法", details=str(exc)) from None

    def _count(self, match: str) -> int:
        if self._has_multi():
            sql = ("SELECT count(DISTINCT d.ref) FROM fts JOIN docs d"
                   f" ON d.id = {self._key_sql('fts.rowid')} WHERE fts MATCH ?")
        else:
            sql = "SELECT count(*) FROM fts WHERE fts MATCH ?"
        return int(self._sql(sql, [match])[0][0])

    def _walk(self, match: str, n: int, *, table: str = "fts", newest: bool = True,
              past: int | None = None) -> list[int]:
        """Rowids of `n` matches after rowid `past` in the walk's order: newest first, or
        (`newest=False`, for counting) in FTS5's forward order. FTS5 stops after `n`, so this
        costs what the answer is, not what the word's doclist is. A schema-4 index walks
        forwards either way; an older one walks backwards for newest first, which costs
        FTS5 2-4x more (it reads each word's whole doclist before the first row)."""
        forward = self.newest_lowest or not newest
        after = "" if past is None else f" AND rowid {'>' if forward else '<'} {int(past)}"
        sql = (f"SELECT rowid FROM {table} WHERE {table} MATCH ?{after}"
               f" ORDER BY rowid {'ASC' if forward else 'DESC'} LIMIT ?")
        return [int(r[0]) for r in self._sql(sql, [match, n])]

    def _newest(self, match: str, n: int, *, table: str = "fts") -> list[int]:
        """Rowids of the newest `n` matches, newest first."""
        return self._walk(match, n, table=table)

    # -- long plain queries: matches from the phrase index, visibility from FTS5 (phrases.py)
    def prepare_phrases(self, stamp: Stamp | None = None) -> None:
        """Have this index's phrase index built in the background, if the process builds
        them (`PHRASES.enable()`, `sgz serve`) and it is not built for this content yet."""
        docs = self.count() if PHRASES.enabled else 0
        if not docs or self._reopen is None or not self.newest_lowest:
            return  # nothing to build (an empty index has no averages record either)
        stamp = stamp or self.stamp()
        positions = int(self._avg_tokens() * docs / 2)  # bigram ≈ unit columns
        PHRASES.request(id(self), stamp, positions, self._phrase_rows)

    def _phrase_rows(self) -> tuple[Stamp, Iterator[Row], Callable[[], None]]:
        """For the builder's thread: its own connection, one read transaction, the stamp of
        what it reads and the rows."""
        assert self._reopen is not None
        with PHRASES.lock:
            conn = self._reopen()
            conn.execute("BEGIN")
            stamp = self.stamp(conn)  # the first read: the snapshot the rows below come from

        def done() -> None:
            with PHRASES.lock:
                conn.execute("COMMIT")
                conn.close()

        return stamp, rows_reader(conn), done

    def _phrase_plan(self, parsed: ParsedQuery, scope: str | None, never: str | None
                     ) -> tuple[PhraseIndex, ParsedQuery, Any] | None:
        """(phrase index, the parsed query, visible mask) for a long plain query when this
        content has a built phrase index; None sends it to FTS5 alone (and asks for a build)."""
        if not (PHRASES.enabled and parsed.plain and parsed.phrases and self.newest_lowest
                and self._reopen is not None and len(parsed.bigrams) >= MIN_BIGRAMS):
            return None
        stamp = self.stamp()
        found = PHRASES.lookup(stamp)
        if found is None:
            self.prepare_phrases(stamp)
            return None
        key = (stamp, scope, never)
        if key not in self._masks:
            if len(self._masks) >= 8:
                self._masks.clear()
            self._masks[key] = visible_mask(found, self._keys_of, scope, never)
        return found, parsed, self._masks[key]

    def _keys_of(self, match: str) -> list[int]:
        """The docs.id of every document matching an access expression."""
        return [self._rowid(int(r[0])) for r in self._sql(
            "SELECT rowid FROM fts WHERE fts MATCH ?", [match])]

    def _probe_phrases(self, multi: bool, cap: int, fast: tuple[PhraseIndex, ParsedQuery, Any]
                       ) -> tuple[list[int], int]:
        """What `_probe` returns, from the phrase index: its matches are FTS5's (the same token
        streams at the same positions), visibility is FTS5's own answer to the access clause
        (the mask), and they come newest first, which is FTS5's forward order here."""
        index, parsed, mask = fast
        want = cap + 1
        rows: list[int] = []
        refs: set[str] = set()
        for keys in index.candidates(parsed.phrases, parsed.units, mask):
            found = [self._rowid(int(k)) for k in keys]
            if not multi:
                rows += found[:want - len(rows)]
                if len(rows) == want:
                    return rows, want
                continue
            for start in range(0, len(found), want):  # 档号 counted as _probe counts them
                part = found[start:start + want]
                rows += part
                refs |= set(self._refs(part).values())
                if len(refs) >= want:
                    return rows, len(refs)
        return rows, len(refs) if multi else len(rows)

    def _probe(self, match: str, multi: bool, cap: int,
               fast: tuple[PhraseIndex, ParsedQuery, Any] | None = None
               ) -> tuple[list[int], int]:
        """Matches in FTS5's forward order (newest first in schema 4) until cap + 1 distinct
        档号 are seen, or all of them: (their rowids, how many 档号 they hold)."""
        if fast is not None:
            return self._probe_phrases(multi, cap, fast)
        want = cap + 1
        rows = self._walk(match, want, newest=False)
        if not multi:
            return rows, len(rows)
        refs = set(self._refs(rows).values())
        while len(refs) < want and len(rows) % want == 0 and rows:
            more = self._walk(match, want, newest=False, past=rows[-1])
            if not more:
                break
            rows += more
            refs |= set(self._refs(more).values())
        return rows, len(refs)

    def _avg_tokens(self) -> float:
        """Tokens per row over all columns, from FTS5's averages record (what bm25 uses)."""
        nums = varints(self._conn.execute("SELECT block FROM fts_data WHERE id=1").fetchone()[0])
        return sum(nums[1:]) / nums[0] if nums and nums[0] else 0.0

    def _rank(self, ids: list[int], literals: list[str]) -> list[tuple[int, float]]:
        """(rowid, -bm25) of these documents, best first (rank.py)."""
        avg = self._avg_tokens()
        weights = (WEIGHTS["title_bi"], WEIGHTS["no_bi"], WEIGHTS["body_bi"])
        rows: list[tuple[int, float]] = []
        for start in range(0, len(ids), 500):
            part = [self._rowid(r) for r in ids[start:start + 500]]  # their docs.id
            for key, title, doc_no, text, sz in self._conn.execute(
                    "SELECT d.id, d.title, d.doc_no, substr(t.text, 1, ?), s.sz FROM docs d"
                    " JOIN texts t ON t.id = d.id JOIN fts_docsize s"
                    f" ON s.id = {self._key_sql('d.id')}"
                    f" WHERE d.id IN ({','.join('?' * len(part))})", [SCORE_CHARS, *part]):
                rows.append((self._rowid(int(key)), -bm25_score(literals, title, doc_no, text,
                                                     sum(varints(sz)), avg, weights)))
        newest = 1 if self.newest_lowest else -1  # equal scores: the newest first
        return sorted(rows, key=lambda r: (r[1], newest * r[0]))

    def _run(self, words: str, expr: Callable[[str], str], literals: list[str], limit: int,
             offset: int, check: Callable[[str], bool] | None, *, cap: int | None = None,
             fast: tuple[PhraseIndex, ParsedQuery, Any] | None = None
             ) -> tuple[int, bool, list[tuple[int, float]]]:
        """(visible 档号 count, whether it is exact, the page of (rowid, score)), one row per
        档号. The order is the same for every page. `cap`: counted exactly up to this many
        (default: by the literals' bigrams, `exact_up_to`)."""
        match = expr(words)
        if check is not None:
            total, page = self._run_checked(match, limit, offset, check)
            return total, True, page
        multi = self._has_multi()
        need = offset + limit
        if cap is None:
            cap = exact_up_to(len(literals_tokens(literals)))
        probe, counted = self._probe(match, multi, cap, fast)
        exact = counted <= cap
        if not probe:
            return 0, True, []
        if exact:
            rows = self._rank(probe, literals)
            if multi:
                rows = self._one_per_ref(rows)
            return len(rows), True, rows[offset:need]
        # a large answer: title/文号 matches first, then the other matches, newest first
        # only as deep as this page: the order (every title match, then the rest) is the same
        head = self._newest(match, min(need, TITLE_TIER_MAX), table="tfts")
        in_head = set(head)
        # schema 4: the probe walked newest first already
        newest = (probe[:need] if self.newest_lowest and need <= len(probe)
                  else self._newest(match, need))
        order = [(r, 0.0) for r in head + [r for r in newest if r not in in_head]]
        if multi:
            order = self._one_per_ref(order)
        total = min(counted, cap)
        if need <= len(order) or len(newest) < need:
            return total, exact, order[offset:need]
        return total, exact, order[offset:] + self._tail(
            match, order, newest[-1], max(0, offset - len(order)), need - max(offset, len(order)))

    def _tail(self, match: str, head: list[tuple[int, float]], past: int, skip: int,
              n: int) -> list[tuple[int, float]]:
        """Matches after the ranked head, newest first: rows skip … skip+n of that order."""
        ids = {r[0] for r in head}
        refs = {ref for _, ref in self._refs([r[0] for r in head]).items()}
        out: list[tuple[int, float]] = []
        forward = self.newest_lowest
        sql = (f"SELECT fts.rowid, d.ref FROM fts JOIN docs d ON d.id = {self._key_sql('fts.rowid')}"
               f" WHERE fts MATCH ? AND fts.rowid {'>' if forward else '<'} ?"
               f" ORDER BY fts.rowid {'ASC' if forward else 'DESC'}")
        for rowid, ref in self._conn.execute(sql, [match, past]):
            if rowid in ids or ref in refs:
                continue
            refs.add(ref)
            if skip:
                skip -= 1
                continue
            out.append((rowid, 0.0))
            if len(out) == n:
                break
        return out

    def _refs(self, ids: list[int]) -> dict[int, str]:
        refs: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            part = [self._rowid(r) for r in ids[start:start + 500]]  # their docs.id
            refs.update((self._rowid(key), ref) for key, ref in self._conn.execute(
                f"SELECT id, ref FROM docs WHERE id IN ({','.join('?' * len(part))})", part))
        return refs

    def _one_per_ref(self, rows: list[tuple[int, float]]) -> list[tuple[int, float]]:
        refs = self._refs([r[0] for r in rows])
        seen: set[str] = set()
        out = []
        for row in rows:
            ref = refs[row[0]]
            if ref not in seen:
                seen.add(ref)
                out.append(row)
        return out

    def _run_checked(self, match: str, limit: int, offset: int,
                     check: Callable[[str], bool]) -> tuple[int, list[tuple[int, float]]]:
        weights = ", ".join(str(WEIGHTS[c]) for c in FTS_COLUMNS)
        sql = (f"SELECT fts.rowid, d.doc_id, d.ref, bm25(fts, {weights}) AS score FROM fts"
               f" JOIN docs d ON d.id = {self._key_sql('fts.rowid')} WHERE fts MATCH ?"
               " ORDER BY score")
        page: list[tuple[int, float]] = []
        seen: set[str] = set()
        try:
            for rowid, doc_id, ref, score in self._conn.execute(sql, [match]):
                if ref not in seen and check(doc_id):
                    seen.add(ref)
                    if offset < len(seen) <= offset + limit:
                        page.append((rowid, score))
        except sqlcipher3.OperationalError as exc:
            raise ValidationError("查询无法执行，请检查查询写法", details=str(exc)) from None
        return len(seen), page

    def _fallback_expr(self, parsed: ParsedQuery) -> str:
        """OR of the query's rarest bigrams. How rare is measured up to FALLBACK_DF_CAP
        documents (a bounded walk per bigram; fts5vocab would read whole doclists)."""
        cols = "{title_bi body_bi no_bi}"
        df = {t: len(self._walk(f'{cols} : "{t}"', FALLBACK_DF_CAP, newest=False))
              for t in parsed.bigrams}
        terms = sorted((t for t in parsed.bigrams if df[t]), key=lambda t: df[t])
        return " OR ".join(f'{cols} : "{t}"' for t in terms[:FALLBACK_MAX_TERMS])

    def _hits(self, rows: list[tuple[int, float]], literals: list[str] | None) -> list[Hit]:
        hits = []
        for rowid, score in rows:
            doc_id, title, date, doc_no, category = self._conn.execute(
                "SELECT doc_id, title, date, doc_no, category FROM docs WHERE id=?",
                (self._rowid(rowid),)).fetchone()
            hits.append(Hit(doc_id, title, date, "", 0.0 - score, doc_no, category))  # never -0.0
        if literals is not None:
            self.add_snippets(hits, literals)
        return hits

    def add_snippets(self, hits: list[Hit], literals: list[str]) -> None:
        """Give these hits (of this index) their snippets: text + highlight spans."""
        for hit in hits:
            row = self._conn.execute(
                "SELECT t.text FROM docs d JOIN texts t ON t.id = d.id WHERE d.doc_id=?",
                (hit.doc_id,)).fetchone()
            text = row[0] if row else ""
            snip = make_snippet(text if text.strip() else hit.title, literals)
            hit.snippet_text, hit.spans = snip.text, snip.spans
            hit.cut_before, hit.cut_after = snip.cut_before, snip.cut_after
