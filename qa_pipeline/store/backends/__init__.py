"""Search-index backends: one per SQL dialect, the same query language (`..query`) and filters."""

from __future__ import annotations

import sqlalchemy as sa

from .sqlite import SqliteFts

SearchBackend = SqliteFts  # the interface; PgFts (postgres.py) implements the same methods


def backend_for(dialect: str, version: int) -> SqliteFts:
    """The search backend for a database of `dialect` at schema `version` (≥ 2)."""
    if dialect == "sqlite":
        return SqliteFts(version)
    if dialect == "postgresql":
        from .postgres import PgFts

        return PgFts(version)  # type: ignore[return-value]
    raise NotImplementedError(f"full-text search is implemented for SQLite and PostgreSQL, not {dialect}")


def dialect_of(bind: sa.Engine | sa.Connection) -> str:
    return bind.dialect.name
