"""档号 (archival reference) per DA/T 22—2015: `{全宗号}-{门类}·{年度}-{保管期限}-{问题}-{件号:04d}`.

件号 runs per (全宗, 门类, 年度, 期限, 问题), gap-free and never reused: the counter row is
incremented in the same transaction that inserts the record, so a rolled-back filing gives its
number back and a destroyed record keeps its number forever.
"""

from __future__ import annotations

import re
import unicodedata
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
        """Parse a 档号 as people type it (see `canonical_ref_text`); malformed → ValidationError."""
        m = _REF_RE.match(canonical_ref_text(text))
        if not m:
            raise ValidationError(
                f"档号格式不正确：“{text}”，应形如 Z001-WS·2026-D30-FW-0007", found=text
            )
        return cls(m["fonds"], m["genre"], int(m["year"]), m["retention"], m["cls"], int(m["item"]))


# Characters typed for the middle dot between 门类 and 年度: a Chinese input method gives "・"
# (katakana middle dot), "．" or "。"; an English keyboard gives "-", "." or "•".
_DOTS = "·・•‧∙⋅．。.-"
_LOOSE_RE = re.compile(
    r"^([A-Z0-9]{4})-([A-Z]{2})[" + re.escape(_DOTS) + r"](\d{4}-(?:Y|D\d{1,3})-[A-Z]{2,4}-\d{4,})$"
)


def canonical_ref_text(text: str) -> str:
    """Bring a typed 档号 into canonical spelling without validating it.

    Full-width letters, digits and dashes become ASCII (NFKC), any dash-like character becomes
    "-", spaces are dropped, letters are upper-cased, and "-", ".", "・", "．" or "•" between
    门类 and 年度 becomes "·". Text that does not look like a 档号 comes back cleaned but
    otherwise unchanged, so the caller's error message can quote it.
    """
    t = unicodedata.normalize("NFKC", text)
    t = re.sub(r"[\u2010-\u2015\u2212\ufe63\uff0d\u30fc]", "-", t)  # ‐ ‑ ‒ – — ― − ﹣ － ー
    t = re.sub(r"\s+", "", t).upper()
    m = _LOOSE_RE.match(t)
    if m:
        return f"{m[1]}-{m[2]}·{m[3]}"
    return t


def parse_ref(text: str) -> str:
    """The canonical 档号 string for any accepted spelling; ValidationError in Chinese if not one.

    Accepts "-", ".", "・", "．" for "·", full-width characters and any letter case:
    `parse_ref("j207-ws-2026-y-xz-0001") == "J207-WS·2026-Y-XZ-0001"`.
    """
    return str(ArchivalRef.parse(text))
