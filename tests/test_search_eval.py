"""Relevance on the judged evaluation set: recall@10 ≥ 0.95, MRR@10 reported."""

from __future__ import annotations

import os
from collections import defaultdict

import pytest

from archive.search.index import SearchIndex
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
