"""Relevance on the judged evaluation set: recall@10 ≥ 0.95, MRR@10 reported."""

from __future__ import annotations

import os
from collections import defaultdict

import pytest

from archive.search.index import TOTAL_EXACT_UP_TO, SearchIndex
from tests.search_eval.generate import build


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[float, float, int]]:
    docs, queries = build()
    path = tmp_path_factory.mktemp("eval") / "fulltext.db"
    index = SearchIndex.create(path, os.urandom(32))
    index.rebuild([d.__dict__ for d in docs])
    per_kind: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for q in queries:
        ids = [h.doc_id for h in index.search(q.text, limit=10).hits]
        rel = set(q.relevant)
        recall = len(rel & set(ids)) / min(len(rel), 10)
        rr = next((1 / (i + 1) for i, d in enumerate(ids) if d in rel), 0.0)
        per_kind[q.kind].append((recall, rr))
        per_kind["ALL"].append((recall, rr))
    index.close()
    return {k: (sum(r for r, _ in v) / len(v), sum(m for _, m in v) / len(v), len(v))
            for k, v in per_kind.items()}


def test_corpus_is_large_enough() -> None:
    docs, queries = build()
    assert len(docs) >= 200
    assert len(queries) >= 100
    assert {"one_char", "name", "name_trad", "fullwidth", "docno", "fragment", "sentence",
            "question", "short"} <= {q.kind for q in queries}


def test_recall_at_10(evaluated: dict[str, tuple[float, float, int]]) -> None:
    for kind, (recall, mrr, n) in sorted(evaluated.items()):
        print(f"{kind:12s} n={n:3d} recall@10={recall:.3f} MRR@10={mrr:.3f}")
    recall, mrr, _ = evaluated["ALL"]
    assert recall >= 0.95
    assert mrr >= 0.8



@pytest.fixture(scope="module")
def guideline_index(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The guideline's clauses plus the generated records (distractors) in one index; a
    short word's relevant documents are all those whose normalised title or text has it."""
    from archive.search.normalize import normalize
    from tests.search_eval.guideline import build as build_guideline

    docs, known, short = build_guideline()
    gdocs, _ = build()
    alldocs = docs + gdocs
    norm = {d.doc_id: normalize(d.title + "\n" + d.text) for d in alldocs}
    for q in short:
        q.relevant = [i for i, t in norm.items() if normalize(q.text) in t]
    index = SearchIndex.create(tmp_path_factory.mktemp("eval") / "g.db", os.urandom(32))
    index.rebuild([d.__dict__ for d in alldocs])
    yield index, known, short
    index.close()


def test_known_item_hit_at_10_on_real_text(guideline_index) -> None:  # type: ignore[no-untyped-def]
    index, known, _ = guideline_index
    assert len(known) >= 200
    found = [q.relevant[0] in [h.doc_id for h in index.search(q.text, limit=10).hits]
             for q in known]
    missed = [q.text for q, ok in zip(known, found, strict=True) if not ok]
    print(f"known-item hit@10 = {sum(found) / len(found):.3f} (n={len(found)}) missed={missed}")
    assert sum(found) / len(found) >= 0.99


def test_precision_at_10_for_one_and_two_character_words(guideline_index) -> None:  # type: ignore[no-untyped-def]
    index, _, short = guideline_index
    assert len(short) >= 20
    precisions = []
    for q in short:
        res = index.search(q.text, limit=10)
        rel = set(q.relevant)
        # every document with the word, nothing else (counted up to the cap, then "N 条以上")
        if len(rel) <= TOTAL_EXACT_UP_TO:
            assert (res.total, res.total_exact) == (len(rel), True), q.text
        else:
            assert (res.total, res.total_exact) == (TOTAL_EXACT_UP_TO, False), q.text
        good = sum(1 for h in res.hits if h.doc_id in rel)
        precisions.append(good / min(10, len(rel)))
    p = sum(precisions) / len(precisions)
    print(f"P@10 (1–2 character words) = {p:.3f} (n={len(precisions)})")
    assert p >= 0.95
