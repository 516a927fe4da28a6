"""Full-text search: extraction, Chinese segmentation and the encrypted FTS5 index (§6a)."""

from archive.search.extract import Extractor, extract
from archive.search.index import SearchIndex
from archive.search.limits import DEFAULT_LIMITS, Extracted, Limits
from archive.search.normalize import normalize
from archive.search.query import parse
from archive.search.results import Hit, SearchResult
from archive.search.snippet import Snippet, render_snippet
from archive.search.visibility import Visibility

__all__ = ["DEFAULT_LIMITS", "Extracted", "Extractor", "Hit", "Limits", "SearchIndex",
           "SearchResult", "Snippet", "Visibility", "extract", "normalize", "parse",
           "render_snippet"]
