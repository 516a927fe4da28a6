"""The search index's view of the access policy: one `Visibility` per user, derived from
`decide(actor, "record.read", facts)` itself, so search can never show what the policy
would refuse, nor hide what it allows (tests/test_search_policy_view.py checks both).

A snippet is content, so search shows what the user may read *without giving a reason*;
reason-gated reads (another worker's service record, …) go through `sgz get`.

The index can tell records apart by category, by whether the user is the responsible
worker, and by 密级. `visibility_for` asks the policy about every such shape of record and
turns the answers into grants; a policy whose answers the index cannot express (e.g. one that
depended on a fact the index does not hold) raises instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable

from archive.policy.rules import CATEGORIES, Actor, RecordFacts, decide
from archive.search.visibility import Visibility

SERVICE_CATEGORY = "FW"
# A category code no station uses: the policy's answer for "any other category".
_PROBE_CATEGORY = "ZZZZ"


def compartment_of(category: str) -> str:
    """Service records (个人资料 of 服务对象) and everything else."""
    return "service" if category == SERVICE_CATEGORY else "general"


def _grants(actor: Actor, category: str, *, secret: bool) -> tuple[bool, bool]:
    """(all records of the category, only the actor's own) for records with this 密级 flag."""
    def ok(responsible: str | None) -> bool:
        facts = RecordFacts(category=category, responsible=responsible, secret=secret)
        return decide(actor, "record.read", facts).allowed

    mine, nobody = ok(actor.name), ok(None)
    theirs = ok(actor.name + "\x00另一人")  # a name no user can have
    if nobody != theirs or (theirs and not mine):
        raise ValueError(f"访问策略对类别 {category} 的回答无法用检索索引表达")
    return theirs, mine and not theirs


def visibility_for(actor: Actor, categories: Iterable[str], *,
                   excluded: Iterable[str] = ()) -> Visibility:
    """What `actor` may find by full-text search: records of `categories` (the station's
    classes; the guideline's four are always included) the policy lets them read without a
    reason, minus `excluded` 档号 (records no longer live)."""
    cats = sorted(set(categories) | set(CATEGORIES))
    plain = {c: _grants(actor, c, secret=False) for c in cats}
    secret = {c: _grants(actor, c, secret=True) for c in cats}
    if secret == plain:
        sees_secret = True
    elif not any(full or own for full, own in secret.values()):
        sees_secret = False
    else:
        raise ValueError("访问策略对密级档案的回答无法用检索索引表达")
    full = frozenset(c for c, (f, _) in plain.items() if f)
    own = frozenset((c, actor.name) for c, (_, o) in plain.items() if o)
    if full == frozenset(cats) and _grants(actor, _PROBE_CATEGORY, secret=False)[0]:
        return Visibility(everything=True, secret=sees_secret, excluded=frozenset(excluded))
    reach = {compartment_of(c) for c in full} | {compartment_of(c) for c, _ in own}
    every = {compartment_of(c) for c in cats}
    return Visibility(categories=full, own=own, secret=sees_secret,
                      excluded=frozenset(excluded),
                      compartments=None if reach == every else frozenset(reach))
