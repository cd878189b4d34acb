"""Versioned schema migrations: `schema_migrations` + an ordered list of migration functions.

Rules: never edit a released migration; append a new one. Each migration runs in its own
transaction together with the row that records it, so an interrupted upgrade leaves the
database at the previous version.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import sqlalchemy as sa

from . import schema
from .fts import backend_for


def _m1_core(conn: sa.Connection) -> None:
    """Runs, agents, calls, utterances, events, checks, item scores, and their indexes."""
    # Tables as of version 1. If a later migration alters a core table, freeze the version-1
    # definition here instead of referring to schema.py.
    schema.metadata.create_all(conn, tables=schema.CORE_TABLES)


def _m2_search(conn: sa.Connection) -> None:
    """Full-text index over utterances (jieba words + pinyin); backfills existing rows."""
    fts = backend_for(conn.engine)
    fts.create(conn)
    u = schema.utterances
    last = 0
    while True:
        rows = conn.execute(
            sa.select(u.c.utterance_id, u.c.text).where(u.c.utterance_id > last).order_by(u.c.utterance_id).limit(5000)
        ).all()
        if not rows:
            break
        fts.index(conn, [(r.utterance_id, r.text) for r in rows])
        last = rows[-1].utterance_id


MIGRATIONS: list[tuple[int, str, Callable[[sa.Connection], None]]] = [
    (1, "core tables", _m1_core),
    (2, "utterance full-text search", _m2_search),
]
LATEST = MIGRATIONS[-1][0]


def current_version(conn: sa.Connection) -> int:
    if not sa.inspect(conn).has_table("schema_migrations"):
        return 0
    v = conn.execute(sa.select(sa.func.max(schema.schema_migrations.c.version))).scalar()
    return int(v or 0)


def migrate(engine: sa.Engine, target: int | None = None) -> list[int]:
    """Apply pending migrations up to `target` (default: latest). Returns the versions applied."""
    target = LATEST if target is None else target
    applied = []
    with engine.begin() as conn:
        schema.metadata.create_all(conn, tables=[schema.schema_migrations])
    for version, name, fn in MIGRATIONS:
        if version > target:
            break
        with engine.begin() as conn:
            if current_version(conn) >= version:
                continue
            fn(conn)
            conn.execute(
                schema.schema_migrations.insert().values(
                    version=version, name=name, applied_at=datetime.now(timezone.utc).isoformat(timespec="seconds")
                )
            )
            applied.append(version)
    return applied
