"""What a search returns: hits with faithful snippets (text + spans), and the visible count."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from archive.search.snippet import Snippet, render_snippet
from archive.search.visibility import ref_of


@dataclass
class Hit:
    """One visible search hit; `snippet_text` + `spans` are the faithful form of the snippet."""

    doc_id: str
    title: str
    date: str
    snippet_text: str
    score: float
    doc_no: str = ""
    category: str = ""
    spans: tuple[tuple[int, int], ...] = ()
    cut_before: bool = False
    cut_after: bool = False

    @property
    def ref(self) -> str:
        """The 档号 (a component's doc_id is '档号#序号')."""
        return ref_of(self.doc_id)

    @property
    def snippet_obj(self) -> Snippet:
        return Snippet(self.snippet_text, self.spans, self.cut_before, self.cut_after)

    @property
    def snippet(self) -> str:
        """The terminal form with 【】 (render_snippet); front ends should use the spans."""
        return render_snippet(self.snippet_obj)


@dataclass
class SearchResult:
    """Hits the caller may read; `total` counts only those (one per 档号), never hidden ones."""

    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    no_text_count: int = 0
    fallback: bool = False

    def __iter__(self) -> Iterator[Any]:
        """`hits, total = index.search(...)` unpacks like a pair."""
        return iter((self.hits, self.total))
