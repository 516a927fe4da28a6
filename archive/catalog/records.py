"""Records (件), their components and the 档号 counters: the catalogue's own SQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from archive.catalog.db import Database
from archive.catalog.numbering import COUNTERS_SCHEMA, ArchivalRef, RefParts
from archive.errors import NotFound

# Descriptive fields that vault format 2 seals per record to its compartment
# (archive/vault/sealed_catalogue.py); their clear columns stay ''.
RECORD_FIELDS = ("title", "doc_no", "author", "note", "household")
COMPONENT_FIELDS = ("filename", "reason")


class RecordSealing(Protocol):
    """What `Records` asks of the format-2 sealing layer (archive/vault/sealed_catalogue.py)."""

    def household_tag(self, household: str) -> str: ...

    def record_columns(self, ref: str, cls: str, secrecy: str, fields: dict[str, Any]
                       ) -> dict[str, Any]: ...

    def component_columns(self, ref: str, compartment: str, seq: int, fields: dict[str, Any]
                          ) -> dict[str, Any]: ...

    def open_record(self, d: dict[str, Any]) -> dict[str, Any]: ...

    def open_component(self, ref: str, compartment: str, d: dict[str, Any]) -> dict[str, Any]: ...

SCHEMA = [
    COUNTERS_SCHEMA,
    """CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        ref TEXT NOT NULL UNIQUE,                 -- 档号
        fonds TEXT NOT NULL, genre TEXT NOT NULL, year INTEGER NOT NULL,
        retention TEXT NOT NULL, cls TEXT NOT NULL, item INTEGER NOT NULL,
        title TEXT NOT NULL, title_source TEXT NOT NULL,   -- given | document | filename
        doc_no TEXT NOT NULL DEFAULT '', author TEXT NOT NULL DEFAULT '',
        date TEXT NOT NULL DEFAULT '',            -- 8 digits, e.g. 20260506
        secrecy TEXT NOT NULL DEFAULT '',         -- 密级; '' = 公开/内部
        pages INTEGER, note TEXT NOT NULL DEFAULT '',
        household TEXT NOT NULL DEFAULT '',       -- 一户一档 household id
        responsible TEXT NOT NULL DEFAULT '',     -- responsible social worker (service records)
        precious INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'destroyed')),
        filed_at TEXT NOT NULL, filed_by TEXT NOT NULL,
        destroyed_at TEXT,
        UNIQUE (fonds, genre, year, retention, cls, item)
    )""",
    "CREATE INDEX records_household ON records(household)",
    """CREATE TABLE components (
        id INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records(id),
        seq INTEGER NOT NULL,                     -- order inside the item; 1 = 正文
        kind TEXT NOT NULL,                       -- 正文 附件 签字扫描件 更正版本 …
        supersedes INTEGER REFERENCES components(id),
        reason TEXT NOT NULL DEFAULT '',
        object_id TEXT NOT NULL REFERENCES objects(id),
        filename TEXT NOT NULL, mime TEXT NOT NULL, size INTEGER NOT NULL,
        fp_sha TEXT NOT NULL, fp_sm3 TEXT NOT NULL,
        pages INTEGER,
        text_status TEXT NOT NULL DEFAULT '',
        added_at TEXT NOT NULL, added_by TEXT NOT NULL,
        UNIQUE (record_id, seq)
    )""",
    "CREATE INDEX components_fp ON components(fp_sha)",
]

RECORD_COLUMNS = (
    "ref", "fonds", "genre", "year", "retention", "cls", "item", "title", "title_source", "doc_no",
    "author", "date", "secrecy", "pages", "note", "household", "responsible", "precious", "status",
    "filed_at", "filed_by", "destroyed_at",
)


@dataclass(frozen=True)
class Component:
    id: int
    seq: int
    kind: str
    supersedes: int | None
    reason: str
    object_id: str
    filename: str
    mime: str
    size: int
    fp_sha: str
    fp_sm3: str
    pages: int | None
    text_status: str
    added_at: str
    added_by: str


@dataclass(frozen=True)
class Record(RefParts):
    """One catalogue row (件): its 档号 parts (from RefParts), the 档号 text and its metadata."""

    id: int
    ref: str
    title: str
    title_source: str
    doc_no: str
    author: str
    date: str
    secrecy: str
    pages: int | None
    note: str
    household: str
    responsible: str
    precious: bool
    status: str
    filed_at: str
    filed_by: str
    destroyed_at: str | None
    compartment: str = ""  # vault format 2: the key compartment the record belongs to
    readable: bool = True  # False: descriptive fields are sealed to a compartment she lacks

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("id", *RECORD_COLUMNS)}


_SEALED_COLUMNS = ("compartment", "seal_epoch", "sealed")


def _record(row: Any, sealing: RecordSealing | None = None) -> Record:
    d = dict(row)
    d["precious"] = bool(d["precious"])
    if sealing is not None:
        sealing.open_record(d)
        d.pop("seal_epoch")
        d.pop("sealed")
    return Record(**d)


class Records:
    """All SQL over records, components and counters. With a `RecordSealing` (vault format 2)
    the descriptive fields are sealed on insert and opened (or shown as NO_ACCESS) on read."""

    def __init__(self, db: Database, sealing: RecordSealing | None = None) -> None:
        self.db = db
        self.sealing = sealing
        db.ensure_schema("catalog.records", 1, SCHEMA)
        self._cols = ", ".join(("id", *RECORD_COLUMNS, *(_SEALED_COLUMNS if sealing else ())))

    def next_ref(self, fonds: str, genre: str, year: int, retention: str, cls: str) -> ArchivalRef:
        """Allocate the next 件号 (inside the caller's write transaction)."""
        key = (fonds, genre, year, retention, cls)
        row = self.db.execute(
            "SELECT last FROM counters WHERE fonds=? AND genre=? AND year=? AND retention=? AND cls=?",
            key,
        ).fetchone()
        n = (row[0] if row else 0) + 1
        self.db.execute(
            "INSERT INTO counters (fonds, genre, year, retention, cls, last) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT (fonds, genre, year, retention, cls) DO UPDATE SET last = excluded.last",
            (*key, n),
        )
        return ArchivalRef(fonds, genre, year, retention, cls, n)

    def insert(self, ref: ArchivalRef, fields: dict[str, Any]) -> int:
        return self.insert_record(ref, fields).id

    def insert_record(self, ref: ArchivalRef, fields: dict[str, Any]) -> Record:
        """Insert a new record; return it as `get` would show it to its filer, without
        reading it back (filing many items: no query and no unsealing per item)."""
        clear = fields
        if self.sealing is not None:
            fields = self.sealing.record_columns(str(ref), ref.cls, str(fields.get("secrecy", "")),
                                                 fields)
        cols = {
            "ref": str(ref), "fonds": ref.fonds, "genre": ref.genre, "year": ref.year,
            "retention": ref.retention, "cls": ref.cls, "item": ref.item, **fields,
        }
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)
        cur = self.db.execute(f"INSERT INTO records ({names}) VALUES ({marks})", tuple(cols.values()))
        d: dict[str, Any] = {"doc_no": "", "author": "", "date": "", "secrecy": "", "pages": None,
                             "note": "", "household": "", "responsible": "", "precious": 0,
                             "status": "active", "destroyed_at": None}
        d.update({k: v for k, v in cols.items() if k in RECORD_COLUMNS})
        d.update({k: v for k, v in clear.items() if k in RECORD_COLUMNS})
        d["precious"] = bool(d["precious"])
        return Record(id=int(cur.lastrowid), **d,
                      compartment=str(fields.get("compartment", "")) if self.sealing else "")

    def add_component(self, record_id: int, fields: dict[str, Any]) -> int:
        seq = self.db.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM components WHERE record_id = ?", (record_id,)
        ).fetchone()[0]
        if self.sealing is not None:
            r = self.db.execute("SELECT ref, compartment FROM records WHERE id = ?",
                                (record_id,)).fetchone()
            fields = self.sealing.component_columns(r[0], r[1], seq, fields)
        cols = {"record_id": record_id, "seq": seq, **fields}
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)
        cur = self.db.execute(f"INSERT INTO components ({names}) VALUES ({marks})", tuple(cols.values()))
        return int(cur.lastrowid)

    def component_seq(self, component_id: int) -> int:
        return int(self.db.execute("SELECT seq FROM components WHERE id = ?",
                                   (component_id,)).fetchone()[0])

    def get(self, ref: str) -> Record:
        ref = str(ArchivalRef.parse(ref))  # validates and normalises look-alike dots
        row = self.db.execute(f"SELECT {self._cols} FROM records WHERE ref = ?", (ref,)).fetchone()
        if row is None:
            raise NotFound(f"档号 {ref} 不存在", ref=ref)
        return _record(row, self.sealing)

    def components(self, record_id: int) -> list[Component]:
        sealed = ", seal_epoch, sealed" if self.sealing else ""
        rows = self.db.execute(
            "SELECT id, seq, kind, supersedes, reason, object_id, filename, mime, size, fp_sha, "
            f"fp_sm3, pages, text_status, added_at, added_by{sealed} FROM components "
            "WHERE record_id = ? ORDER BY seq",
            (record_id,),
        ).fetchall()
        if self.sealing is None:
            return [Component(**dict(r)) for r in rows]
        r = self.db.execute("SELECT ref, compartment FROM records WHERE id = ?",
                            (record_id,)).fetchone()
        out = []
        for row in rows:
            d = self.sealing.open_component(r[0], r[1], dict(row))
            d.pop("seal_epoch")
            d.pop("sealed")
            out.append(Component(**d))
        return out

    def find_by_fingerprint(self, fp_sha: str) -> list[tuple[str, int]]:
        """(档号, component seq) of every live component with this keyed fingerprint, in
        filing order (the same content can be in records of different compartments)."""
        rows = self.db.execute(
            "SELECT r.ref, c.seq FROM components c JOIN records r ON r.id = c.record_id "
            "WHERE c.fp_sha = ? AND r.status = 'active' ORDER BY c.id",
            (fp_sha,),
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def list(
        self,
        *,
        cls: str | None = None,
        year: int | None = None,
        retention: str | None = None,
        household: str | None = None,
        status: str | None = "active",
    ) -> Iterator[Record]:
        where: list[str] = []
        params: list[Any] = []
        hh_col: str
        hh_val: str | None
        if household is not None and self.sealing is not None:
            hh_col, hh_val = "household_tag", self.sealing.household_tag(household)
        else:
            hh_col, hh_val = "household", household
        for col, val in (("cls", cls), ("year", year), ("retention", retention),
                         (hh_col, hh_val), ("status", status)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        sql = f"SELECT {self._cols} FROM records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY fonds, genre, year, retention, cls, item"
        for row in self.db.execute(sql, params).fetchall():
            yield _record(row, self.sealing)

    def set_text_status(self, component_id: int, status: str) -> None:
        self.db.execute("UPDATE components SET text_status = ? WHERE id = ?", (status, component_id))

    def update_fields(self, record_id: int, fields: dict[str, Any]) -> None:
        if self.sealing is not None and any(f in fields for f in RECORD_FIELDS):
            row = self.db.execute(f"SELECT {self._cols} FROM records WHERE id = ?",
                                  (record_id,)).fetchone()
            rec = _record(row, self.sealing)
            if not rec.readable:
                from archive.errors import AccessDenied

                raise AccessDenied("当前用户不持有该档案所在分区的密钥，不能修改其著录项", ref=rec.ref)
            merged = {f: getattr(rec, f) for f in RECORD_FIELDS} | {
                f: v for f, v in fields.items() if f in RECORD_FIELDS}
            cols = self.sealing.record_columns(rec.ref, rec.cls, rec.secrecy, merged)
            fields = {k: v for k, v in fields.items() if k not in RECORD_FIELDS} | cols
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE records SET {sets} WHERE id = ?", (*fields.values(), record_id))

    def count_live_components(self, compartments: Sequence[str] | None = None) -> int:
        """Live components (of records in `compartments`, vault format 2, when given)."""
        sql = ("SELECT count(*) FROM components c JOIN records r ON r.id = c.record_id "
               "WHERE r.status = 'active'")
        if compartments is None:
            return int(self.db.execute(sql).fetchone()[0])
        marks = ",".join("?" * len(compartments))
        return int(self.db.execute(f"{sql} AND r.compartment IN ({marks})",
                                   compartments).fetchone()[0])

    def count_live_by_compartment(self) -> dict[str, int]:
        """Live components per compartment, in one pass (`count_live_components` per key)."""
        return {str(c): int(n) for c, n in self.db.execute(
            "SELECT r.compartment, count(*) FROM components c JOIN records r ON r.id = c.record_id"
            " WHERE r.status = 'active' GROUP BY r.compartment")}

    def count_components(self) -> int:
        """Every component, destroyed records' included (a scan of a small index)."""
        return int(self.db.execute("SELECT count(*) FROM components").fetchone()[0])

    def count_records_without_text(self) -> int:
        """Live records with a component whose text could not be extracted (未识别文字)."""
        return self.db.execute(
            "SELECT count(DISTINCT c.record_id) FROM components c JOIN records r ON r.id = "
            "c.record_id WHERE r.status = 'active' AND c.text_status IN ('no_text', 'failed')"
        ).fetchone()[0]
