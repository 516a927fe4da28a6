"""Who may see which index entries, as part of the FTS5 query instead of a per-hit callback.

Every indexed document carries access tokens in the FTS5 column `acl`: one each for its
问题 (category), compartment, responsible social worker, household, 档号, year, retention
period, extraction status and, when it has a 密级, a secret marker. A `Visibility` (built by
the service from the access policy) becomes a MATCH clause over those tokens, so FTS5 itself
intersects "matches the words" with "may be read" in C and the count is of readable documents
only. Tokens are keyed hashes of (kind, value): the plain values never appear as terms, and
no value can collide with another kind's.

When the index is split per compartment (one database per compartment), `compartments`
decides which files are opened and the rest of the clause stays as it is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

# Kinds of access token; the column weight of `acl` in bm25 is 0, so they never rank.
CATEGORY, COMPARTMENT, RESPONSIBLE, HOUSEHOLD, REF = "cat", "cpt", "rsp", "hh", "ref"
OWN = "own"  # (category, responsible): "service records of this worker", not all their records
YEAR, RETENTION, STATUS, SECRET = "yr", "ret", "st", "sec"


def token(kind: str, value: object) -> str:
    """The access token for (kind, value): 'z' + 20 hex digits, one term for unicode61."""
    digest = hashlib.blake2b(f"{kind}\x00{value}".encode(), digest_size=10,
                             person=b"sgz-acl-v1").hexdigest()
    return "z" + digest


def ref_of(doc_id: str) -> str:
    """The 档号 a document id belongs to: components other than the 正文 are '档号#序号'."""
    return doc_id.split("#", 1)[0]


def doc_tokens(doc_id: str, *, category: str, compartment: str, responsible: str,
               household: str, year: int | None, retention: str, status: str,
               secret: bool) -> str:
    """The `acl` column text of one document."""
    toks = [token(CATEGORY, category), token(COMPARTMENT, compartment),
            token(REF, ref_of(doc_id)), token(YEAR, year if year is not None else ""),
            token(RETENTION, retention), token(STATUS, status)]
    if responsible:
        toks.append(token(RESPONSIBLE, responsible))
        toks.append(token(OWN, own_key(category, responsible)))
    if household:
        toks.append(token(HOUSEHOLD, household))
    if secret:
        toks.append(token(SECRET, 1))
    return " ".join(toks)


def own_key(category: str, responsible: str) -> str:
    """The value of an OWN token: one worker's records of one category."""
    return f"{category}\x00{responsible}"


def _any(kind: str, values: frozenset[str] | set[str]) -> list[str]:
    return [f'"{token(kind, v)}"' for v in sorted(values)]


@dataclass(frozen=True)
class Visibility:
    """What one user may see in search results (content, not only the catalogue line).

    A document is visible when it is in one of `compartments` (None: any), is granted by
    `everything` or by one of `categories`, `responsible`, `own` ((category, responsible)
    pairs: a worker's records of one category only), `households` or `refs`, is not in
    `excluded`, and is not secret unless `secret` is set. Built by the service from the
    access policy, e.g. head: `Visibility(everything=True, secret=True)`; a social worker:
    `Visibility(categories={"XZ"}, responsible={"社工甲"}, refs=own_rs_refs)`.
    """

    everything: bool = False
    categories: frozenset[str] = field(default_factory=frozenset)
    responsible: frozenset[str] = field(default_factory=frozenset)
    households: frozenset[str] = field(default_factory=frozenset)
    refs: frozenset[str] = field(default_factory=frozenset)
    own: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    excluded: frozenset[str] = field(default_factory=frozenset)
    secret: bool = False
    compartments: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for name in ("categories", "responsible", "households", "refs", "own", "excluded"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        if self.compartments is not None:
            object.__setattr__(self, "compartments", frozenset(self.compartments))

    @classmethod
    def all(cls) -> Visibility:
        """Everything, secret included (trusted callers: rebuild checks, tests)."""
        return cls(everything=True, secret=True)

    def sees_nothing(self) -> bool:
        """True when no document can be visible: search answers without touching the index."""
        granted = self.everything or bool(self.categories or self.responsible
                                          or self.households or self.refs or self.own)
        return not granted or self.compartments == frozenset()

    def may_see(self, doc_id: str, *, category: str, compartment: str, responsible: str,
                household: str, secret: bool) -> bool:
        """The same rule in Python, for tests and for checking the SQL clause."""
        ref = ref_of(doc_id)
        if self.compartments is not None and compartment not in self.compartments:
            return False
        if ref in self.excluded or (secret and not self.secret):
            return False
        return (self.everything or category in self.categories
                or (bool(responsible) and responsible in self.responsible)
                or (bool(responsible) and (category, responsible) in self.own)
                or (bool(household) and household in self.households) or ref in self.refs)

    def clauses(self) -> tuple[str | None, str | None]:
        """(must, must_not): FTS5 expressions over `acl`; None where there is no condition.

        The caller guarantees `not sees_nothing()`.
        """
        must: list[str] = []
        if self.compartments is not None:
            must.append("acl : (" + " OR ".join(_any(COMPARTMENT, self.compartments)) + ")")
        if not self.everything:
            grants = (_any(CATEGORY, self.categories) + _any(RESPONSIBLE, self.responsible)
                      + _any(HOUSEHOLD, self.households) + _any(REF, self.refs)
                      + _any(OWN, {own_key(c, r) for c, r in self.own}))
            must.append("acl : (" + " OR ".join(grants) + ")")
        never = _any(REF, self.excluded)
        if not self.secret:
            never.append(f'"{token(SECRET, 1)}"')
        return (" AND ".join(must) or None,
                ("acl : (" + " OR ".join(never) + ")") if never else None)
