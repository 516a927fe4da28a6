"""盒号 and 存放位置 of paper originals, and the internal lending register (附件2 四(四)3).

Owns its tables (`paper` schema owner). Lending is for station staff only (outside units go
through access requests); precious (珍贵) records are never lent. Returning needs a check:
the pages counted and whether the item is intact; a mismatch is kept on the loan and the loan
stays listed as a discrepancy until someone resolves it — 返还档案要认真检查核对.
Times are passed in (ISO strings in station time); this module never reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.catalog.db import Database
from archive.errors import Conflict, NotFound, ValidationError

OWNER = "paper"
VERSION = 1
SCHEMA = [
    """CREATE TABLE paper_places (
        record_id INTEGER PRIMARY KEY REFERENCES records(id),
        box_no TEXT NOT NULL DEFAULT '',           -- 盒号
        location TEXT NOT NULL DEFAULT '',         -- 存放位置, e.g. 档案室 2号柜 第3层
        updated_by TEXT NOT NULL, updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX paper_places_box ON paper_places(box_no)",
    """CREATE TABLE paper_loans (
        id INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records(id),
        borrower TEXT NOT NULL, purpose TEXT NOT NULL,
        lent_by TEXT NOT NULL, lent_at TEXT NOT NULL, due_at TEXT NOT NULL,
        pages_out INTEGER,                         -- pages counted when lent
        returned_at TEXT, received_by TEXT,
        pages_back INTEGER, intact INTEGER, return_note TEXT NOT NULL DEFAULT '',
        discrepancy INTEGER NOT NULL DEFAULT 0,
        resolved_by TEXT, resolved_at TEXT, resolution TEXT
    )""",
    "CREATE UNIQUE INDEX paper_loans_open ON paper_loans(record_id) WHERE returned_at IS NULL",
]


@dataclass(frozen=True)
class Place:
    record_id: int
    box_no: str
    location: str
    updated_by: str
    updated_at: str


@dataclass(frozen=True)
class Loan:
    id: int
    record_id: int
    borrower: str
    purpose: str
    lent_by: str
    lent_at: str
    due_at: str
    pages_out: int | None
    returned_at: str | None
    received_by: str | None
    pages_back: int | None
    intact: bool | None
    return_note: str
    discrepancy: bool
    resolved_by: str | None
    resolved_at: str | None
    resolution: str | None


@dataclass(frozen=True)
class ReturnCheck:
    """What the archivist checked when the original came back."""

    pages_counted: int
    intact: bool  # no damage, no marks, nothing removed or added
    note: str = ""


def _loan(row: object) -> Loan:
    d = dict(row)  # type: ignore[call-overload]
    d["intact"] = None if d["intact"] is None else bool(d["intact"])
    d["discrepancy"] = bool(d["discrepancy"])
    return Loan(**d)


_LOAN_COLS = ("id, record_id, borrower, purpose, lent_by, lent_at, due_at, pages_out, "
              "returned_at, received_by, pages_back, intact, return_note, discrepancy, "
              "resolved_by, resolved_at, resolution")


class PaperRegister:
    """Box numbers, storage places and loans of paper originals."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(OWNER, VERSION, SCHEMA)

    # ------------------------------------------------------------------ places
    def set_place(self, record_id: int, box_no: str, location: str, by: str, when: str) -> None:
        box_no, location = box_no.strip(), location.strip()
        if not box_no and not location:
            raise ValidationError("盒号和存放位置不能都为空")
        self.db.execute(
            "INSERT INTO paper_places (record_id, box_no, location, updated_by, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (record_id) DO UPDATE SET box_no = excluded.box_no,"
            " location = excluded.location, updated_by = excluded.updated_by, "
            "updated_at = excluded.updated_at",
            (record_id, box_no, location, by, when))

    def place(self, record_id: int) -> Place | None:
        row = self.db.execute(
            "SELECT record_id, box_no, location, updated_by, updated_at FROM paper_places "
            "WHERE record_id = ?", (record_id,)).fetchone()
        return Place(**dict(row)) if row else None

    def places(self) -> dict[int, Place]:
        rows = self.db.execute(
            "SELECT record_id, box_no, location, updated_by, updated_at FROM paper_places")
        return {r["record_id"]: Place(**dict(r)) for r in rows}

    def in_box(self, box_no: str) -> list[int]:
        return [r[0] for r in self.db.execute(
            "SELECT record_id FROM paper_places WHERE box_no = ? ORDER BY record_id", (box_no,))]

    # ------------------------------------------------------------------ loans
    def lend(self, record_id: int, *, borrower: str, purpose: str, by: str, when: str,
             due: str, pages: int | None, precious: bool = False) -> int:
        """Register a loan of the paper original; returns the loan id."""
        if precious:
            raise Conflict("珍贵档案不外借")
        if not borrower.strip() or not purpose.strip():
            raise ValidationError("借阅人和借阅目的不能为空")
        if due <= when:
            raise ValidationError("归还期限必须晚于借出时间", expected=f"> {when}", found=due)
        if self.open_loan(record_id) is not None:
            raise Conflict("该档案原件已借出，尚未归还")
        cur = self.db.execute(
            "INSERT INTO paper_loans (record_id, borrower, purpose, lent_by, lent_at, due_at, "
            "pages_out) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (record_id, borrower.strip(), purpose.strip(), by, when, due, pages))
        return int(cur.lastrowid)

    def open_loan(self, record_id: int) -> Loan | None:
        row = self.db.execute(f"SELECT {_LOAN_COLS} FROM paper_loans WHERE record_id = ? "
                              "AND returned_at IS NULL", (record_id,)).fetchone()
        return _loan(row) if row else None

    def get(self, loan_id: int) -> Loan:
        row = self.db.execute(f"SELECT {_LOAN_COLS} FROM paper_loans WHERE id = ?",
                              (loan_id,)).fetchone()
        if row is None:
            raise NotFound(f"借阅登记不存在：{loan_id}", ref=str(loan_id))
        return _loan(row)

    def return_(self, loan_id: int, check: ReturnCheck, *, by: str, when: str) -> Loan:
        """Close a loan with the return check; a mismatch marks it as a discrepancy."""
        loan = self.get(loan_id)
        if loan.returned_at is not None:
            raise Conflict("该借阅已登记归还")
        if check.pages_counted < 0:
            raise ValidationError("清点页数无效", found=check.pages_counted)
        pages_ok = loan.pages_out is None or check.pages_counted == loan.pages_out
        bad = not (pages_ok and check.intact)
        if bad and not check.note.strip():
            raise ValidationError("归还检查发现问题（页数不符或有损坏），请填写说明",
                                  expected=loan.pages_out, found=check.pages_counted)
        self.db.execute(
            "UPDATE paper_loans SET returned_at = ?, received_by = ?, pages_back = ?, intact = ?, "
            "return_note = ?, discrepancy = ? WHERE id = ?",
            (when, by, check.pages_counted, int(check.intact), check.note.strip(), int(bad),
             loan_id))
        return self.get(loan_id)

    def resolve(self, loan_id: int, resolution: str, *, by: str, when: str) -> None:
        """Record how a return discrepancy was settled."""
        loan = self.get(loan_id)
        if not loan.discrepancy or loan.resolved_at is not None:
            raise Conflict("该借阅没有待处理的归还问题")
        if not resolution.strip():
            raise ValidationError("处理说明不能为空")
        self.db.execute("UPDATE paper_loans SET resolved_by = ?, resolved_at = ?, resolution = ?"
                        " WHERE id = ?", (by, when, resolution.strip(), loan_id))

    def overdue(self, now: str) -> list[Loan]:
        """Loans not returned whose due time has passed, oldest due first."""
        rows = self.db.execute(f"SELECT {_LOAN_COLS} FROM paper_loans WHERE returned_at IS NULL "
                               "AND due_at < ? ORDER BY due_at, id", (now,)).fetchall()
        return [_loan(r) for r in rows]

    def discrepancies(self) -> list[Loan]:
        rows = self.db.execute(f"SELECT {_LOAN_COLS} FROM paper_loans WHERE discrepancy = 1 "
                               "AND resolved_at IS NULL ORDER BY returned_at, id").fetchall()
        return [_loan(r) for r in rows]

    def history(self, record_id: int | None = None) -> list[Loan]:
        sql = f"SELECT {_LOAN_COLS} FROM paper_loans"
        args: tuple[int, ...] = ()
        if record_id is not None:
            sql, args = sql + " WHERE record_id = ?", (record_id,)
        return [_loan(r) for r in self.db.execute(sql + " ORDER BY lent_at, id", args).fetchall()]
