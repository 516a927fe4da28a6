"""Full-text search: extraction, Chinese segmentation and the encrypted FTS5 index (§6a)."""

from archive.search.extract import Extractor, extract
from archive.search.index import Hit, SearchIndex, SearchResult
from archive.search.limits import DEFAULT_LIMITS, Extracted, Limits
from archive.search.normalize import normalize
from archive.search.query import parse

__all__ = ["DEFAULT_LIMITS", "Extracted", "Extractor", "Hit", "Limits", "SearchIndex",
           "SearchResult", "extract", "normalize", "parse"]
