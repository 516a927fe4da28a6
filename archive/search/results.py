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
    """Hits the caller may read; `total` counts only those (one per 档号), never hidden ones.
    When `total_exact` is false there are more than `total` (a very common word: counting
    every match is not worth its time; the hits are still complete page by page)."""

    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    total_exact: bool = True
    no_text_count: int = 0
    fallback: bool = False
    literals: list[str] = field(default_factory=list)  # what the snippets highlight

    @property
    def count_text(self) -> str:
        """The count as people read it: "共 12 条", or "200 条以上（…）" past the cap."""
        if self.total_exact:
            return f"共 {self.total} 条"
        return f"{self.total} 条以上（标题命中的在前，其余按归档先后；加词可缩小范围）"

    def __iter__(self) -> Iterator[Any]:
        """`hits, total = index.search(...)` unpacks like a pair."""
        return iter((self.hits, self.total))
