"""Staff accounts and their roles (the keyslot file holds the key; this table holds who is who)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.catalog.db import Database
from archive.errors import Conflict, NotFound, ValidationError
from archive.policy.roles import role_label
from archive.safetext import clean_title

_NAME_RE = re.compile(r"^[\w.\-]{2,32}$")

SCHEMA = [
    """CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        display TEXT NOT NULL DEFAULT '',
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL, created_by TEXT NOT NULL,
        removed_at TEXT, removed_by TEXT
    )""",
]


def check_user_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValidationError(
            f"用户名“{name}”无效：2–32 个字母、数字、汉字、点、下划线或连字符", found=name
        )
    return name


@dataclass(frozen=True)
class User:
    name: str
    role: str
    display: str
    active: bool
    created_at: str

    @property
    def role_name(self) -> str:
        return role_label(self.role)


class Users:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema("catalog.users", 1, SCHEMA)

    def add(self, name: str, role: str, *, display: str, when: str, by: str) -> User:
        display = clean_title(display, max_chars=40)  # shown on pages and forms: no bidi
        check_user_name(name)
        row = self.db.execute("SELECT active FROM users WHERE name = ?", (name,)).fetchone()
        if row is not None:
            if row[0]:
                raise Conflict(f"用户“{name}”已存在")
            self.db.execute(
                "UPDATE users SET role=?, display=?, active=1, created_at=?, created_by=?, "
                "removed_at=NULL, removed_by=NULL WHERE name=?",
                (role, display, when, by, name),
            )
        else:
            self.db.execute(
                "INSERT INTO users (name, role, display, created_at, created_by) VALUES (?,?,?,?,?)",
                (name, role, display, when, by),
            )
        return self.get(name)

    def get(self, name: str, *, active_only: bool = True) -> User:
        row = self.db.execute(
            "SELECT name, role, display, active, created_at FROM users WHERE name = ?", (name,)
        ).fetchone()
        if row is None or (active_only and not row["active"]):
            raise NotFound(f"用户“{name}”不存在或已被移除")
        return User(row["name"], row["role"], row["display"], bool(row["active"]), row["created_at"])

    def list(self, *, include_removed: bool = False) -> list[User]:
        sql = "SELECT name, role, display, active, created_at FROM users"
        if not include_removed:
            sql += " WHERE active = 1"
        return [
            User(r["name"], r["role"], r["display"], bool(r["active"]), r["created_at"])
            for r in self.db.execute(sql + " ORDER BY created_at, name")
        ]

    def remove(self, name: str, *, when: str, by: str) -> None:
        self.get(name)
        self.db.execute(
            "UPDATE users SET active = 0, removed_at = ?, removed_by = ? WHERE name = ?", (when, by, name)
        )

    def set_role(self, name: str, role: str) -> None:
        self.get(name)
        self.db.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))

    def count_role(self, role: str) -> int:
        return self.db.execute(
            "SELECT count(*) FROM users WHERE role = ? AND active = 1", (role,)
        ).fetchone()[0]
