"""Outside access requests and issued copies: the access concern's own tables and SQL.

Request ids (`CY-2026-0001`, 查阅) and copy numbers (`FZ-2026-0001`, 复制) run per year and are
gap-free: the counter row is bumped in the same transaction that inserts the row it numbers,
so a rolled-back registration gives its number back. View copies are numbered per request
(`CY-2026-0001-01`). Unit, purpose and applicant live only here (encrypted catalogue) and in
audit details, never in an audit `ref`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from archive.catalog.db import Database
from archive.errors import NotFound, ValidationError

SCHEMA = [
    """CREATE TABLE access_counters (
        prefix TEXT NOT NULL, year INTEGER NOT NULL, last INTEGER NOT NULL,
        PRIMARY KEY (prefix, year)
    )""",
    """CREATE TABLE access_requests (
        id INTEGER PRIMARY KEY,
        no TEXT NOT NULL UNIQUE,                 -- CY-2026-0001
        year INTEGER NOT NULL,
        unit TEXT NOT NULL, purpose TEXT NOT NULL,
        applicant TEXT NOT NULL DEFAULT '', phone TEXT NOT NULL DEFAULT '',
        id_doc TEXT NOT NULL DEFAULT '', letter_no TEXT NOT NULL DEFAULT '',
        letter_ref TEXT NOT NULL,                -- 档号 of the filed 介绍信
        copy_requested INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
        registered_by TEXT NOT NULL, registered_at TEXT NOT NULL,
        decided_by TEXT, decided_at TEXT,
        valid_until TEXT,                        -- ISO UTC instant; approved requests only
        copy_approved INTEGER NOT NULL DEFAULT 0,
        decision_note TEXT NOT NULL DEFAULT ''   -- reason for a denial
    )""",
    """CREATE TABLE access_request_items (
        request_id INTEGER NOT NULL REFERENCES access_requests(id),
        position INTEGER NOT NULL, ref TEXT NOT NULL,
        PRIMARY KEY (request_id, position), UNIQUE (request_id, ref)
    )""",
    """CREATE TABLE access_copies (
        id INTEGER PRIMARY KEY,
        no TEXT NOT NULL UNIQUE,                 -- CY-2026-0001-01 (view) or FZ-2026-0001 (copy)
        kind TEXT NOT NULL CHECK (kind IN ('view', 'copy')),
        request_id INTEGER NOT NULL REFERENCES access_requests(id),
        ref TEXT NOT NULL, component_seq INTEGER NOT NULL,
        format TEXT NOT NULL,                    -- what was handed out: pdf or the original mime
        issued_at TEXT NOT NULL, issued_by TEXT NOT NULL, out TEXT NOT NULL
    )""",
]

REQUEST_PREFIX = "CY"
COPY_PREFIX = "FZ"
STATUS_NAMES = {"pending": "待审批", "approved": "已批准", "denied": "已驳回", "expired": "已过期"}


@dataclass(frozen=True)
class AccessRequest:
    """One registered outside request (外单位查阅申请)."""

    id: int
    no: str
    year: int
    unit: str
    purpose: str
    applicant: str
    phone: str
    id_doc: str
    letter_no: str
    letter_ref: str
    copy_requested: bool
    status: str
    registered_by: str
    registered_at: str
    decided_by: str | None
    decided_at: str | None
    valid_until: str | None
    copy_approved: bool
    decision_note: str
    items: tuple[str, ...]

    def effective_status(self, now_iso: str) -> str:
        """`expired` for an approval whose period has passed, else the stored status."""
        if self.status == "approved" and self.valid_until is not None and now_iso > self.valid_until:
            return "expired"
        return self.status

    def as_dict(self, now_iso: str | None = None) -> dict[str, Any]:
        d = asdict(self)
        d["items"] = list(self.items)
        if now_iso is not None:
            d["status"] = self.effective_status(now_iso)
        return d


@dataclass(frozen=True)
class IssuedCopy:
    """A view copy or a copy handed to an outside unit (copy register line)."""

    no: str
    kind: str
    request_no: str
    ref: str
    component_seq: int
    format: str
    issued_at: str
    issued_by: str
    out: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_REQ_COLS = ("id", "no", "year", "unit", "purpose", "applicant", "phone", "id_doc", "letter_no",
             "letter_ref", "copy_requested", "status", "registered_by", "registered_at",
             "decided_by", "decided_at", "valid_until", "copy_approved", "decision_note")


def parse_request_no(text: str) -> str:
    """Normalise a request id typed by a person (`cy-2026-1` → `CY-2026-0001`)."""
    m = re.fullmatch(r"\s*CY-(\d{4})-(\d{1,6})\s*", text, flags=re.IGNORECASE)
    if not m:
        raise ValidationError(f"查阅申请编号格式不正确：“{text}”，应形如 CY-2026-0001", found=text)
    return f"{REQUEST_PREFIX}-{m[1]}-{int(m[2]):04d}"


class Requests:
    """All SQL over access requests, their items and issued copies."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema("access.requests", 1, SCHEMA)

    # ------------------------------------------------------------------ numbering
    def _next(self, prefix: str, year: int) -> int:
        """Bump and return the year's counter (inside the caller's write transaction)."""
        row = self.db.execute("SELECT last FROM access_counters WHERE prefix = ? AND year = ?",
                              (prefix, year)).fetchone()
        n = (row[0] if row else 0) + 1
        self.db.execute(
            "INSERT INTO access_counters (prefix, year, last) VALUES (?, ?, ?) "
            "ON CONFLICT (prefix, year) DO UPDATE SET last = excluded.last", (prefix, year, n))
        return n

    # ------------------------------------------------------------------ requests
    def insert(self, year: int, fields: dict[str, Any], items: list[str]) -> str:
        """Insert a request and its items; return its new id `CY-YYYY-NNNN`."""
        no = f"{REQUEST_PREFIX}-{year}-{self._next(REQUEST_PREFIX, year):04d}"
        cols = {"no": no, "year": year, **fields}
        cur = self.db.execute(
            f"INSERT INTO access_requests ({', '.join(cols)}) VALUES "
            f"({', '.join('?' for _ in cols)})", tuple(cols.values()))
        rid = int(cur.lastrowid)
        for pos, ref in enumerate(items, 1):
            self.db.execute("INSERT INTO access_request_items (request_id, position, ref) "
                            "VALUES (?, ?, ?)", (rid, pos, ref))
        return no

    def _load(self, row: Any) -> AccessRequest:
        d = dict(row)
        items = tuple(r[0] for r in self.db.execute(
            "SELECT ref FROM access_request_items WHERE request_id = ? ORDER BY position",
            (d["id"],)))
        d["copy_requested"] = bool(d["copy_requested"])
        d["copy_approved"] = bool(d["copy_approved"])
        return AccessRequest(**d, items=items)

    def get(self, no: str) -> AccessRequest:
        no = parse_request_no(no)
        row = self.db.execute(f"SELECT {', '.join(_REQ_COLS)} FROM access_requests WHERE no = ?",
                              (no,)).fetchone()
        if row is None:
            raise NotFound(f"查阅申请 {no} 不存在", ref=no)
        return self._load(row)

    def find(self, *, year: int | None = None) -> list[AccessRequest]:
        sql = f"SELECT {', '.join(_REQ_COLS)} FROM access_requests"
        params: tuple[Any, ...] = ()
        if year is not None:
            sql += " WHERE year = ?"
            params = (year,)
        return [self._load(r) for r in self.db.execute(sql + " ORDER BY year, no", params)]

    def decide(self, request_id: int, fields: dict[str, Any]) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE access_requests SET {sets} WHERE id = ? AND status = 'pending'",
                        (*fields.values(), request_id))

    # ------------------------------------------------------------------ copies
    def next_view_no(self, req: AccessRequest) -> str:
        """The number the next view copy of `req` will get (allocated on insert)."""
        n = self.db.execute("SELECT count(*) FROM access_copies WHERE request_id = ? AND "
                            "kind = 'view'", (req.id,)).fetchone()[0]
        return f"{req.no}-{n + 1:02d}"

    def next_copy_no(self, year: int) -> str:
        row = self.db.execute("SELECT last FROM access_counters WHERE prefix = ? AND year = ?",
                              (COPY_PREFIX, year)).fetchone()
        return f"{COPY_PREFIX}-{year}-{(row[0] if row else 0) + 1:04d}"

    def add_copy(self, req: AccessRequest, *, kind: str, no: str, ref: str, seq: int, fmt: str,
                 when: str, by: str, out: str) -> None:
        """Register an issued copy; for `copy` also consume the year's FZ number."""
        if kind == "copy":
            year = int(no.split("-")[1])
            n = self._next(COPY_PREFIX, year)
            if no != f"{COPY_PREFIX}-{year}-{n:04d}":
                raise ValidationError("复制件编号已被占用，请重试", found=no)
        elif no != self.next_view_no(req):
            raise ValidationError("查阅件编号已被占用，请重试", found=no)
        self.db.execute(
            "INSERT INTO access_copies (no, kind, request_id, ref, component_seq, format, "
            "issued_at, issued_by, out) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (no, kind, req.id, ref, seq, fmt, when, by, out))

    def copies(self, req: AccessRequest | None = None) -> list[IssuedCopy]:
        sql = ("SELECT c.no, c.kind, r.no AS request_no, c.ref, c.component_seq, c.format, "
               "c.issued_at, c.issued_by, c.out FROM access_copies c "
               "JOIN access_requests r ON r.id = c.request_id")
        params: tuple[Any, ...] = ()
        if req is not None:
            sql += " WHERE c.request_id = ?"
            params = (req.id,)
        return [IssuedCopy(**dict(r)) for r in self.db.execute(sql + " ORDER BY c.id", params)]
