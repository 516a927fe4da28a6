"""Opening the SQLCipher catalogue with a raw key, and per-owner schema installation.

Each concern owns its tables: it passes its DDL to `Database.ensure_schema(owner, version,
statements)`; nobody else writes SQL against them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlcipher3

from archive.catalog import sqlite_memory
from archive.errors import DamagedFile, DecryptionFailed, IntegrityError

sqlite_memory.configure()  # before the first connection: lookaside for memory security

Row = sqlcipher3.Row


def connect_keyed(path: Path, key: bytes, *, timeout: float = 5.0) -> Any:
    """The one place a SQLCipher file is keyed: raw 32-byte key, memory security, and a read
    that proves the key (a wrong key or a damaged header raises DecryptionFailed)."""
    if len(key) != 32:
        raise ValueError("database key must be 32 bytes")
    conn = sqlcipher3.connect(str(path), timeout=timeout, isolation_level=None,
                              check_same_thread=False)
    conn.execute("PRAGMA cipher_log_level = NONE")  # the library never prints
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    conn.execute("PRAGMA cipher_memory_security = ON")
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError:
        conn.close()
        raise DecryptionFailed() from None
    return conn


class Database:
    """A SQLCipher connection keyed with 32 raw bytes; memory-only temp store, secure delete."""

    def __init__(self, path: Path, key: bytes, *, create: bool = False) -> None:
        if len(key) != 32:
            raise ValueError("database key must be 32 bytes")
        path = Path(path)
        if not create and not path.exists():
            raise DamagedFile(f"档案目录数据库缺失：{path}；请从备份恢复", ref=str(path))
        self.path = path
        self._key = key
        try:
            self.conn = connect_keyed(path, key, timeout=30.0)
        except DecryptionFailed:
            # the key came from an authenticated keyslot: not a passphrase problem but a
            # damaged (or foreign) catalogue file
            raise DamagedFile(f"档案目录数据库已损坏或无法解密：{path}；请从备份恢复",
                              ref=str(path)) from None
        c = self.conn
        c.row_factory = sqlcipher3.Row
        c.execute("PRAGMA secure_delete = ON")
        c.execute("PRAGMA temp_store = MEMORY")
        c.execute("PRAGMA journal_mode = WAL")
        c.execute("PRAGMA synchronous = FULL")
        c.execute("PRAGMA foreign_keys = ON")
        c.execute("PRAGMA busy_timeout = 30000")
        c.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions (owner TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )

    def ensure_schema(self, owner: str, version: int, statements: Sequence[str]) -> None:
        """Install `owner`'s tables once; refuse a database newer than this code."""
        row = self.conn.execute(
            "SELECT version FROM schema_versions WHERE owner = ?", (owner,)
        ).fetchone()
        if row is not None:
            if row[0] > version:
                raise IntegrityError(
                    f"档案库格式（{owner} v{row[0]}）比本程序新，请升级 sgz", expected=version, found=row[0]
                )
            if row[0] == version:
                return
        with self.transaction():
            for stmt in statements:
                self.conn.execute(stmt)
            self.conn.execute(
                "INSERT OR REPLACE INTO schema_versions (owner, version) VALUES (?, ?)",
                (owner, version),
            )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlcipher3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception; takes the write lock up front."""
        c = self.conn
        if c.in_transaction:
            yield c
            return
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        else:
            c.execute("COMMIT")

    def generation(self) -> tuple[int, int]:
        """Changes whenever the database may have changed: a commit by another connection
        (PRAGMA data_version) or any row this connection wrote (total_changes). Lets a
        long-running process cache what it derived from the catalogue."""
        return (int(self.conn.execute("PRAGMA data_version").fetchone()[0]),
                int(self.conn.total_changes))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlcipher3.Cursor:
        """Run one statement; a page that fails SQLCipher's HMAC becomes DamagedFile."""
        try:
            return self.conn.execute(sql, params)
        except sqlcipher3.DatabaseError as exc:
            raise self._damaged(exc) from None
        except MemoryError:
            # SQLCipher reports a page failing its HMAC as SQLITE_NOMEM; confirm before blaming
            # the file (integrity_check raises DamagedFile when a page is bad)
            self.integrity_check()
            raise

    def _damaged(self, exc: sqlcipher3.DatabaseError) -> Exception:
        text = str(exc).lower()
        if type(exc) is sqlcipher3.DatabaseError and (
                "not a database" in text or "malformed" in text or "corrupt" in text):
            return DamagedFile(f"档案目录数据库已损坏：{self.path}；请从备份恢复",
                               ref=str(self.path))
        return exc

    def integrity_check(self) -> None:
        """Read every page (SQLCipher HMAC + SQLite structure); raise DamagedFile if any fails."""
        try:
            bad = [r[0] for r in self.conn.execute("PRAGMA cipher_integrity_check")]
            ok = [r[0] for r in self.conn.execute("PRAGMA integrity_check")]
        except (sqlcipher3.DatabaseError, MemoryError):  # read-only: a failure is the file's
            raise DamagedFile(f"档案目录数据库已损坏：{self.path}；请从备份恢复",
                              ref=str(self.path)) from None
        if bad or ok != ["ok"]:
            raise DamagedFile(f"档案目录数据库已损坏：{self.path}；请从备份恢复",
                              ref=str(self.path), details=(bad + ok)[:20])

    def checkpoint_truncate(self) -> None:
        """Fold the WAL into the main file and truncate it (after destructions)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def backup_to(self, dst: Path) -> None:
        """An online copy into `dst`, keyed identically; proved to open with the same tables
        and row counts before returning."""
        target = connect_keyed(dst, self._key)
        try:
            self.conn.backup(target)
            if target.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise IntegrityError("档案目录数据库的副本校验失败", ref=str(dst))
            tables = [r[0] for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
            for t in tables:
                q = f'SELECT count(*) FROM "{t}"'
                if self.conn.execute(q).fetchone()[0] != target.execute(q).fetchone()[0]:
                    raise IntegrityError("档案目录数据库的副本与原库不一致", ref=str(dst))
        finally:
            target.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
