"""Former home of the search index code, now split (issue 8): `tokens` (tokenisation), `query` (the query
language), `backends/` (SQLite FTS5, PostgreSQL tsvector). Kept only as a re-export for callers written
against the old module; import from the new modules instead."""

from __future__ import annotations

from .backends.sqlite import build_match, tags_match, to_fts5, token_count
from .query import QueryError, parse_query, positive_terms, short_term_words
from .tokens import index_columns, segment

__all__ = [
    "QueryError",
    "build_match",
    "index_columns",
    "parse_query",
    "positive_terms",
    "segment",
    "short_term_words",
    "tags_match",
    "to_fts5",
    "token_count",
]
