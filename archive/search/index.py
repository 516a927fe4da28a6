"""The full-text index: FTS5 inside an SQLCipher database (`indexes/fulltext.db`).

Derived data: everything in it can be rebuilt from the vault and catalogue. It stores the
normalised text (for snippets) and bigram/unit token streams in a contentless FTS5 table with
FTS5 secure-delete, plus `PRAGMA secure_delete=ON`, so a removed record's words leave the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlcipher3

from archive.catalog.db import connect_keyed
from archive.errors import Conflict, NotFound, ValidationError
from archive.search.normalize import normalize, strip_cjk_spaces
from archive.search.query import COLUMNS, ParsedQuery, parse
from archive.search.snippet import make_snippet
from archive.search.tokens import index_tokens

SCHEMA_VERSION = "1"
# bm25 weights per column, in COLUMNS order: title counts most, then 文号, then body.
WEIGHTS = {"title_bi": 6.0, "title_uni": 6.0, "body_bi": 1.0, "body_uni": 1.0,
           "no_bi": 3.0, "no_uni": 3.0}
FALLBACK_MIN_BIGRAMS = 3
FALLBACK_MAX_TERMS = 8  # rarest bigrams OR-ed when nothing matches exactly (24 → 8: same recall, p50 −15 %)
Allowed = Callable[[str], bool] | set[str] | frozenset[str] | None

_SCHEMA = [
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE docs(id INTEGER PRIMARY KEY, doc_id TEXT UNIQUE NOT NULL, title TEXT NOT NULL,
       doc_no TEXT NOT NULL, date TEXT NOT NULL, category TEXT NOT NULL, year INTEGER,
       retention TEXT NOT NULL, household TEXT NOT NULL, status TEXT NOT NULL,
       text TEXT NOT NULL)""",
    "CREATE INDEX docs_status ON docs(status)",
    f"""CREATE VIRTUAL TABLE fts USING fts5({", ".join(COLUMNS)}, content='',
       contentless_delete=1, tokenize='unicode61 remove_diacritics 0')""",
    "INSERT INTO fts(fts, rank) VALUES('secure-delete', 1)",
    "CREATE VIRTUAL TABLE vocab USING fts5vocab(fts, row)",
]
_STATUSES = {"ok", "no_text", "ocr", "truncated", "failed"}
_FILTERS = ("category", "year", "retention", "household")


@dataclass
class Hit:
    """One visible search hit."""

    doc_id: str
    title: str
    date: str
    snippet: str
    score: float
    doc_no: str = ""
    category: str = ""


@dataclass
class SearchResult:
    """Hits the caller may read; `total` counts only those, never hidden ones."""

    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    no_text_count: int = 0
    fallback: bool = False


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


def _is_allowed(allowed: Allowed) -> Callable[[str], bool] | None:
    if allowed is None:
        return None
    if callable(allowed):
        return allowed
    return allowed.__contains__


class SearchIndex:
    """Encrypted FTS5 index of extracted record text, keyed by 档号 (doc_id)."""

    def __init__(self, conn: Any, path: Path) -> None:
        self._conn = conn
        self.path = path

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
            conn.execute("COMMIT")
        except Exception:
            conn.close()
            path.unlink(missing_ok=True)
            raise
        return cls(conn, path)

    @classmethod
    def open(cls, path: Path, key: bytes) -> SearchIndex:
        """Open an existing index; a wrong key raises DecryptionFailed."""
        path = Path(path)
        if not path.is_file():
            raise NotFound(f"索引文件不存在：{path.name}（可运行 sgz index rebuild 重建）")
        conn = _connect(path, key)
        row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            conn.close()
            raise Conflict("索引版本不符，请运行 sgz index rebuild 重建", found=row and row[0])
        return cls(conn, path)

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def rekey(self, key: bytes) -> None:
        """Re-encrypt the whole index under `key` (its compartment rotated to a new epoch)."""
        if len(key) != 32:
            raise ValidationError("索引密钥必须是 32 字节")
        self._conn.execute(f"PRAGMA rekey = \"x'{key.hex()}'\"")

    def doc_ids(self) -> dict[str, str]:
        """Every indexed document id with its text status (for `sgz check`)."""
        return dict(self._conn.execute("SELECT doc_id, status FROM docs"))

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
            household: str = "", status: str = "ok") -> None:
        """Index one record, replacing any earlier entry with the same doc_id."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._add(doc_id, title=title, text=text, doc_no=doc_no, date=date,
                      category=category, year=year, retention=retention,
                      household=household, status=status)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def add_many(self, docs: Iterable[dict[str, Any]]) -> int:
        """Index several records in one transaction (batch filing); returns the count."""
        n = 0
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for doc in docs:
                d = dict(doc)
                self._add(d.pop("doc_id"), title=d.pop("title", ""), text=d.pop("text", ""),
                          doc_no=d.pop("doc_no", ""), date=d.pop("date", ""),
                          category=d.pop("category", ""), year=d.pop("year", None),
                          retention=d.pop("retention", ""), household=d.pop("household", ""),
                          status=d.pop("status", "ok"))
                n += 1
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return n

    def _add(self, doc_id: str, *, title: str, text: str, doc_no: str, date: str,
             category: str, year: int | None, retention: str, household: str,
             status: str) -> None:
        if not doc_id:
            raise ValidationError("档号不能为空")
        if status not in _STATUSES:
            raise ValidationError(f"未知的提取状态：{status}", found=status)
        self._delete(doc_id)
        ntext = normalize(text)
        stored = strip_cjk_spaces(text)
        cur = self._conn.execute(
            "INSERT INTO docs(doc_id, title, doc_no, date, category, year, retention, household,"
            " status, text) VALUES(?,?,?,?,?,?,?,?,?,?)",
            (doc_id, title, doc_no, date, category, year, retention, household, status, stored))
        rowid = cur.lastrowid
        t_bi, t_uni = index_tokens(title)
        b_bi, b_uni = index_tokens(ntext, normalized=True)
        n_bi, n_uni = index_tokens(doc_no)
        self._conn.execute(
            f"INSERT INTO fts(rowid, {', '.join(COLUMNS)}) VALUES(?,?,?,?,?,?,?)",
            (rowid, t_bi, t_uni, b_bi, b_uni, n_bi, n_uni))

    def _delete(self, doc_id: str) -> bool:
        row = self._conn.execute("SELECT id FROM docs WHERE doc_id=?", (doc_id,)).fetchone()
        if row is None:
            return False
        self._conn.execute("DELETE FROM fts WHERE rowid=?", (row[0],))
        self._conn.execute("DELETE FROM docs WHERE id=?", (row[0],))
        return True

    def remove(self, doc_id: str) -> None:
        """Remove a record's text and tokens for good (FTS5 secure-delete, zeroed pages)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            found = self._delete(doc_id)
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
        done = 0
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.execute("DELETE FROM docs")
            self._conn.execute("INSERT INTO fts(fts) VALUES('delete-all')")
            for doc in docs:
                d = dict(doc)
                self._add(d.pop("doc_id"), title=d.pop("title", ""), text=d.pop("text", ""),
                          doc_no=d.pop("doc_no", ""), date=d.pop("date", ""),
                          category=d.pop("category", ""), year=d.pop("year", None),
                          retention=d.pop("retention", ""), household=d.pop("household", ""),
                          status=d.pop("status", "ok"))
                done += 1
                if progress and done % 100 == 0:
                    progress(done, total)
            self._conn.execute("INSERT INTO fts(fts) VALUES('optimize')")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        if progress:
            progress(done, total or done)
        return done

    # -- reading -----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Counts and file size: docs, no_text, failed, truncated, ocr, size_bytes."""
        counts = dict(self._conn.execute("SELECT status, count(*) FROM docs GROUP BY status"))
        size = os.path.getsize(self.path) if self.path.exists() else 0
        return {"docs": sum(counts.values()), "no_text": counts.get("no_text", 0),
                "failed": counts.get("failed", 0), "truncated": counts.get("truncated", 0),
                "ocr": counts.get("ocr", 0), "size_bytes": size}

    def search(self, query: str, *, category: str | None = None, year: int | None = None,
               retention: str | None = None, household: str | None = None,
               allowed: Allowed = None, limit: int = 20) -> SearchResult:
        """Ranked hits (bm25, title weighted) the caller may read, with snippets.

        Hits not allowed are dropped before counting and limiting. A plain query of several
        characters with no exact match falls back to an OR of its rarest bigrams.
        """
        if limit < 1:
            raise ValidationError("结果条数必须大于 0")
        parsed = parse(query)
        filters = {"category": category, "year": year, "retention": retention,
                   "household": household}
        where, params = self._filter_sql(filters)
        check = _is_allowed(allowed)
        result = self._run(parsed.fts, where, params, check, limit)
        literals = parsed.literals
        if result[1] == 0 and parsed.plain and len(parsed.bigrams) >= FALLBACK_MIN_BIGRAMS:
            expr = self._fallback_expr(parsed)
            if expr:
                result = self._run(expr, where, params, check, limit)
                literals = parsed.bigrams
        rows, total = result
        out = SearchResult(total=total, fallback=literals is parsed.bigrams and total > 0)
        out.hits = self._hits(rows, literals)
        out.no_text_count = self._no_text_count(where, params, check)
        return out

    @staticmethod
    def _filter_sql(filters: dict[str, Any]) -> tuple[str, list[Any]]:
        where, params = "", []
        for name in _FILTERS:
            value = filters[name]
            if value is not None and value != "":
                where += f" AND d.{name} = ?"
                params.append(int(value) if name == "year" else value)
        return where, params

    def _run(self, expr: str, where: str, params: list[Any],
             check: Callable[[str], bool] | None, limit: int) -> tuple[list[tuple], int]:
        weights = ", ".join(str(WEIGHTS[c]) for c in COLUMNS)
        base = (f"SELECT d.id, d.doc_id, bm25(fts, {weights}) AS score"
                f" FROM fts JOIN docs d ON d.id = fts.rowid WHERE fts MATCH ?{where}")
        try:
            if check is None and not where:  # no join needed until the top rows are known
                sql = ("SELECT rowid, NULL, score, count(*) OVER () FROM (SELECT rowid,"
                       f" bm25(fts, {weights}) AS score FROM fts WHERE fts MATCH ?)"
                       " ORDER BY score LIMIT ?")
                rows = self._conn.execute(sql, [expr, limit]).fetchall()
                return [r[:3] for r in rows], (rows[0][3] if rows else 0)
            if check is None:
                sql = (f"SELECT id, doc_id, score, count(*) OVER () FROM ({base})"
                       " ORDER BY score LIMIT ?")
                rows = self._conn.execute(sql, [expr, *params, limit]).fetchall()
                return [r[:3] for r in rows], (rows[0][3] if rows else 0)
            visible: list[tuple[Any, ...]] = []
            total = 0
            for row in self._conn.execute(base + " ORDER BY score", [expr, *params]):
                if check(row[1]):
                    total += 1
                    if len(visible) < limit:
                        visible.append(row)
            return visible, total
        except sqlcipher3.OperationalError as exc:
            raise ValidationError("查询无法执行，请检查查询写法", details=str(exc)) from None

    def _fallback_expr(self, parsed: ParsedQuery) -> str:
        marks = ",".join("?" * len(parsed.bigrams))
        rows = self._conn.execute(
            f"SELECT term, doc FROM vocab WHERE term IN ({marks}) ORDER BY doc",
            parsed.bigrams).fetchall()
        terms = [t for t, _ in rows[:FALLBACK_MAX_TERMS]]
        cols = "{title_bi body_bi no_bi}"
        return " OR ".join(f'{cols} : "{t}"' for t in terms)

    def _hits(self, rows: list[tuple], literals: list[str]) -> list[Hit]:
        hits = []
        for rowid, _, score in rows:
            doc_id, title, date, doc_no, category, text = self._conn.execute(
                "SELECT doc_id, title, date, doc_no, category, text FROM docs WHERE id=?",
                (rowid,)).fetchone()
            snippet = make_snippet(text, literals) if text else make_snippet(title, literals)
            hits.append(Hit(doc_id, title, date, snippet, -float(score), doc_no, category))
        return hits

    def _no_text_count(self, where: str, params: list[Any],
                       check: Callable[[str], bool] | None) -> int:
        sql = f"SELECT d.doc_id FROM docs d WHERE d.status = 'no_text'{where}"
        ids = [r[0] for r in self._conn.execute(sql, params)]
        return len(ids) if check is None else sum(1 for i in ids if check(i))
