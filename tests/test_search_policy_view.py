"""Search visibility is derived from the one access policy and can never drift from it
(issue 12): for every role and every shape of record the index can tell apart, a search finds
exactly the records `decide(actor, "record.read", facts)` lets the user read without a reason.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from archive.policy.roles import ROLES
from archive.policy.rules import Actor, RecordFacts, decide
from archive.search.index import SearchIndex
from archive.search.policy_view import compartment_of, visibility_for
from archive.search.visibility import ref_of

STATION_CLASSES = ["XZ", "FW", "RS", "CW", "DJ"]  # DJ: a class a station added itself
ME, OTHER = "社工甲", "社工乙"


def records() -> list[dict[str, Any]]:
    """Every combination of category × responsible (me / another / nobody) × 密级 × status."""
    out = []
    shapes = itertools.product(STATION_CLASSES, (ME, OTHER, ""), (False, True), (False, True))
    for i, (cat, responsible, secret, destroyed) in enumerate(shapes):
        ref = f"Z001-WS·2026-D30-{cat}-{i:04d}"
        out.append({"doc_id": ref, "title": f"台账{i}", "text": "困境儿童走访记录。",
                    "category": cat, "compartment": compartment_of(cat),
                    "responsible": responsible, "household": "H0001" if cat == "FW" else "",
                    "secret": secret, "year": 2026, "destroyed": destroyed})
        out.append({**out[-1], "doc_id": f"{ref}#2", "title": f"台账{i}（附件）"})
    return out


def readable(actor: Actor, doc: dict[str, Any]) -> bool:
    facts = RecordFacts(category=doc["category"], responsible=doc["responsible"] or None,
                        secret=doc["secret"], destroyed=doc["destroyed"])
    return decide(actor, "record.read", facts).allowed  # no reason given


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Any:
    docs = records()
    ix = SearchIndex.create(Path(tmp_path_factory.mktemp("ix")) / "f.db", b"k" * 32)
    ix.add_many([{k: v for k, v in d.items() if k != "destroyed"} for d in docs])
    yield ix, docs
    ix.close()


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("name", [ME, "站长王"])
def test_search_finds_exactly_what_the_policy_lets_the_user_read(index: Any, role: str,
                                                                  name: str) -> None:
    ix, docs = index
    actor = Actor(name, role)
    destroyed = {ref_of(d["doc_id"]) for d in docs if d["destroyed"]}
    vis = visibility_for(actor, STATION_CLASSES, excluded=destroyed)
    want = {ref_of(d["doc_id"]) for d in docs if readable(actor, d)}
    # the Python rule and the FTS5 clause both agree with the policy, record by record
    for d in docs:
        seen = ref_of(d["doc_id"]) not in vis.excluded and vis.may_see(
            d["doc_id"], category=d["category"], compartment=d["compartment"],
            responsible=d["responsible"], household=d["household"], secret=d["secret"])
        assert seen == readable(actor, d), (role, name, d)
    res = ix.search("困境儿童", vis, limit=1000)
    assert {h.ref for h in res.hits} == want
    assert res.total == len(want)  # one hit per 档号, hidden ones never counted


def test_roles_see_what_the_guideline_says() -> None:
    """Spot checks of the derived view against the guideline (DESIGN §7)."""
    head = visibility_for(Actor("站长王", "head"), STATION_CLASSES)
    assert head.everything and head.secret
    sw = visibility_for(Actor(ME, "social_worker"), STATION_CLASSES)
    assert ("FW", ME) in sw.own and "FW" not in sw.categories and not sw.secret
    assert "XZ" in sw.categories and "RS" not in sw.categories
    archivist = visibility_for(Actor("档案员", "archivist"), STATION_CLASSES)
    assert archivist.secret and archivist.compartments == frozenset({"general"})
    authority = visibility_for(Actor("民政局", "authority"), STATION_CLASSES)
    # format 2: the authority holds no service key; service records reach it as view copies
    assert not authority.everything and not authority.secret
    assert "FW" not in authority.categories and {"XZ", "RS", "CW"} <= authority.categories


def test_a_worker_named_responsible_for_a_personnel_file_does_not_see_it(index: Any) -> None:
    """Only service records are a worker's own: an RS record naming them stays hidden."""
    ix, docs = index
    vis = visibility_for(Actor(ME, "social_worker"), STATION_CLASSES)
    refs = {h.ref for h in ix.search("困境儿童", vis, limit=1000).hits}
    mine_rs = {ref_of(d["doc_id"]) for d in docs
               if d["category"] == "RS" and d["responsible"] == ME}
    assert mine_rs and not refs & mine_rs
