"""档号 (archival reference) per DA/T 22—2015: `{全宗号}-{门类}·{年度}-{保管期限}-{问题}-{件号:04d}`.

件号 runs per (全宗, 门类, 年度, 期限, 问题), gap-free and never reused: the counter row is
incremented in the same transaction that inserts the record, so a rolled-back filing gives its
number back and a destroyed record keeps its number forever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.errors import ValidationError

RETENTIONS: dict[str, str] = {"Y": "永久", "D30": "定期30年", "D10": "定期10年"}
_RETENTION_ALIASES = {
    "永久": "Y", "Y": "Y",
    "30": "D30", "30年": "D30", "定期30年": "D30", "D30": "D30",
    "10": "D10", "10年": "D10", "定期10年": "D10", "D10": "D10",
}
_REF_RE = re.compile(
    r"^(?P<fonds>[A-Z0-9]{4})-(?P<genre>[A-Z]{2})·(?P<year>\d{4})-(?P<retention>Y|D\d{1,3})-"
    r"(?P<cls>[A-Z]{2,4})-(?P<item>\d{4,})$"
)
COUNTERS_SCHEMA = """CREATE TABLE counters (
    fonds TEXT NOT NULL, genre TEXT NOT NULL, year INTEGER NOT NULL, retention TEXT NOT NULL,
    cls TEXT NOT NULL, last INTEGER NOT NULL,
    PRIMARY KEY (fonds, genre, year, retention, cls)
)"""


def parse_retention(text: str) -> str:
    code = _RETENTION_ALIASES.get(text.strip().upper()) or _RETENTION_ALIASES.get(text.strip())
    if code is None:
        raise ValidationError(
            f"未知的保管期限“{text}”，可选：Y（永久）、D30（定期30年）、D10（定期10年）", found=text
        )
    return code


@dataclass(frozen=True)
class RefParts:
    """The six parts of a 档号; a catalogue `Record` keeps them as columns next to the text."""

    fonds: str
    genre: str
    year: int
    retention: str
    cls: str
    item: int


@dataclass(frozen=True)
class ArchivalRef(RefParts):
    """A 档号 as a value: `str()` writes it, `parse` reads it (tolerating look-alike dots)."""

    def __str__(self) -> str:
        return f"{self.fonds}-{self.genre}·{self.year}-{self.retention}-{self.cls}-{self.item:04d}"

    @classmethod
    def parse(cls, text: str) -> ArchivalRef:
        # accept the ASCII middle dot lookalikes people type: '.', '・', '•'
        t = text.strip().replace("・", "·").replace("•", "·").replace("．", "·")
        t = re.sub(r"^([A-Z0-9]{4}-[A-Z]{2})\.(\d{4})", r"\1·\2", t)
        m = _REF_RE.match(t)
        if not m:
            raise ValidationError(
                f"档号格式不正确：“{text}”，应形如 Z001-WS·2026-D30-FW-0007", found=text
            )
        return cls(m["fonds"], m["genre"], int(m["year"]), m["retention"], m["cls"], int(m["item"]))
