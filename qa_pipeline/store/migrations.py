"""Versioned schema migrations: `schema_migrations` + an ordered list of migration functions.

Rules: never edit a released migration; append a new one. Each migration runs in its own
transaction together with the row that records it, so an interrupted upgrade leaves the
database at the previous version. The same list runs on SQLite and PostgreSQL; where a step is
specific to one dialect (the search index) the migration says what it does on each.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from . import schema
from .backends import backend_for
from .backends.sqlite import FTS_TABLE, SqliteFts, retag_v13, shingle_columns, tags_column, tags_column_v11


def _m1_core(conn: sa.Connection) -> None:
    """Runs, agents, calls, utterances, events, checks, item scores, and their indexes."""
    # Tables as of version 1. If a later migration alters a core table, freeze the version-1
    # definition here instead of referring to schema.py.
    schema.metadata.create_all(conn, tables=schema.CORE_TABLES)


def _m2_search(conn: sa.Connection) -> None:
    """Full-text index over utterances (jieba words + pinyin); backfills existing rows.
    SQLite: an FTS5 table; PostgreSQL: a table with a GIN-indexed tsvector (backends/postgres.py)."""
    fts = backend_for(conn.dialect.name, 2)
    if conn.dialect.name == "sqlite":
        SqliteFts.create_v2(conn)
    else:
        fts.create_v2(conn)
    u = schema.utterances
    last = 0
    while True:
        rows = conn.execute(
            sa.select(u.c.utterance_id, u.c.text).where(u.c.utterance_id > last).order_by(u.c.utterance_id).limit(5000)
        ).all()
        if not rows:
            break
        # version-2 columns (no tags/grams yet): calls and speakers do not matter
        fts.insert(conn, [{"rowid": r.utterance_id, **fts.index_values(r.text, None, "")} for r in rows])
        last = rows[-1].utterance_id


# Indexes added in version 3 (frozen here: the tables are stubs with just the indexed columns, so
# migration 1's `create_all` never sees them). Names are part of the schema; tests check them.
V3_INDEXES: list[tuple[str, str, tuple[str, ...]]] = [
    ("ix_utterances_call_speaker", "utterances", ("call_id", "speaker")),  # search: filtered calls → utterance ids
    ("ix_calls_name_date", "calls", ("agent_name", "call_date")),  # search/scorecard: --agent NAME
    ("ix_checks_status_call", "checks", ("status", "call_id", "check")),  # --status alone; scorecard violations
    ("ix_item_scores_call_item", "item_scores", ("call_id", "item_id", "status", "idx")),  # scorecard pass rates
]


def _m3_search_indexes(conn: sa.Connection) -> None:
    """Covering indexes for filter-driven search and SQL-side scorecard aggregation; planner stats."""
    md = sa.MetaData()
    tables: dict[str, sa.Table] = {}
    for name, table, cols in V3_INDEXES:
        t = tables.get(table)
        if t is None:
            t = tables[table] = sa.Table(table, md)
        for col in cols:
            if col not in t.c:
                t.append_column(sa.Column(col))
        sa.Index(name, *(t.c[col] for col in cols)).create(conn, checkfirst=True)
    conn.exec_driver_sql("ANALYZE")


def _m4_search_tags(conn: sa.Connection) -> None:
    """Rebuild the full-text index with a ``tags`` column (call date + speaker of each utterance),
    so that date/speaker filters are intersected inside FTS5 (see backends/sqlite.py: bm25 is unchanged).
    PostgreSQL: nothing to do (its planner intersects the GIN match with the call filters itself)."""
    if conn.dialect.name != "sqlite":
        return
    old = f"{FTS_TABLE}_v3"
    conn.exec_driver_sql(f"ALTER TABLE {FTS_TABLE} RENAME TO {old}")
    fts = SqliteFts(4)
    SqliteFts.create_v4(conn)
    sel = (
        f"SELECT f.rowid, f.seg, f.py, u.speaker, c.call_date FROM {old} f "
        "LEFT JOIN utterances u ON u.utterance_id = f.rowid LEFT JOIN calls c ON c.call_id = u.call_id "
        "WHERE f.rowid > ? ORDER BY f.rowid LIMIT 20000"
    )
    last = 0
    while True:
        rows = conn.exec_driver_sql(sel, (last,)).all()
        if not rows:
            break
        fts.insert(
            conn,
            [
                {"rowid": r[0], "seg": r[1], "py": r[2], "tags": tags_column(r[4], r[3] or "unknown", r[1], r[2])}
                for r in rows
            ],
        )
        last = rows[-1][0]
    conn.exec_driver_sql(f"DROP TABLE {old}")
    conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")


# Indexes added in version 5 (frozen stubs, as for version 3): covering (…, score_total, call_id), so
# that search's call filters date + score and team + score are index-only (count and call set).
V5_INDEXES: list[tuple[str, str, tuple[str, ...]]] = [
    ("ix_calls_date_score", "calls", ("call_date", "score_total", "call_id")),
    ("ix_calls_team_score", "calls", ("team", "score_total", "call_id")),
]


def _m5_score_indexes(conn: sa.Connection) -> None:
    """Covering date/team + score indexes for search's call filters; planner stats for calls."""
    md = sa.MetaData()
    t = sa.Table("calls", md, *(sa.Column(c) for c in ("call_date", "team", "score_total", "call_id")))
    for name, _table, cols in V5_INDEXES:
        sa.Index(name, *(t.c[col] for col in cols)).create(conn, checkfirst=True)
    conn.exec_driver_sql("ANALYZE calls")  # same statement on PostgreSQL


def _m6_substring_search(conn: sa.Connection) -> None:
    """Substring search: character bigrams of every utterance beside the jieba words (tokens.py).
    SQLite: the FTS5 table is rebuilt with a ``grams`` column (tags re-padded so bm25 stays exact);
    PostgreSQL: the bigrams are added to each row's tsvector (weight C)."""
    if conn.dialect.name != "sqlite":
        backend_for(conn.dialect.name, 6).upgrade_v6(conn)  # type: ignore[attr-defined]
        return
    old = f"{FTS_TABLE}_v5"
    conn.exec_driver_sql(f"ALTER TABLE {FTS_TABLE} RENAME TO {old}")
    fts = SqliteFts(6)
    SqliteFts.create_v6(conn)
    sel = (
        f"SELECT f.rowid, u.text, u.speaker, c.call_date FROM {old} f "
        "JOIN utterances u ON u.utterance_id = f.rowid LEFT JOIN calls c ON c.call_id = u.call_id "
        "WHERE f.rowid > ? ORDER BY f.rowid LIMIT 20000"
    )
    last = 0
    while True:
        rows = conn.exec_driver_sql(sel, (last,)).all()
        if not rows:
            break
        fts.insert(conn, [{"rowid": r[0], **fts.index_values(r[1], r[3], r[2] or "unknown")} for r in rows])
        last = rows[-1][0]
    conn.exec_driver_sql(f"DROP TABLE {old}")
    conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")


def _m7_judgements(conn: sa.Connection) -> None:
    """Stored timelines (rescoring without audio), tags from rules, and the score history per rubric version."""
    # frozen: the three tables as of version 7 (a later change to them is a new migration)
    schema.metadata.create_all(conn, tables=schema.V7_TABLES)


def _m8_reviews(conn: sa.Connection) -> None:
    """Users, assignments, reviews, decisions, added findings, manual scores, triage, audit log (web, issue 10)."""
    from ..review import tables  # frozen as version 8 there

    tables.create(conn)


def _m10_loop(conn: sa.Connection) -> None:
    """Appeals, calibration sessions, trainer collections (loop, issue 11)."""
    from ..review import loop_tables  # frozen as version 10 there

    loop_tables.create(conn)


def _m11_team_agent_tags(conn: sa.Connection) -> None:
    """Search filters inside the index: team and agent tags beside the date/speaker tag, and an FTS5 prefix
    index for "any speaker of that day / team" (backends/sqlite.py; bm25 is unchanged).
    SQLite: the FTS5 table is rebuilt, seg/py/grams copied as they are, tags recomputed from the calls;
    PostgreSQL: nothing to do (its filters are joined at query time)."""
    if conn.dialect.name != "sqlite":
        return
    sel = (
        "SELECT f.rowid, f.seg, f.py, f.grams, u.speaker, c.call_date, c.team, c.agent_id, c.agent_name FROM {old} f "
        "JOIN utterances u ON u.utterance_id = f.rowid LEFT JOIN calls c ON c.call_id = u.call_id "
        "WHERE f.rowid > ? ORDER BY f.rowid LIMIT 20000"
    )

    def row(r: Any) -> dict[str, Any]:
        tags = tags_column_v11(r[5], r[4] or "unknown", r[6], r[7], r[8], r[1], r[2], r[3])
        return {"rowid": r[0], "seg": r[1], "py": r[2], "tags": tags, "grams": r[3]}

    _rebuild_fts(conn, 10, 11, SqliteFts.create_v11, sel, row)


def _m12_pg_filter_lexemes(conn: sa.Connection) -> None:
    """PostgreSQL: each search document gets lexemes for its call's date and team and its speaker (weight D),
    so that the GIN index intersects those filters with the words (backends/postgres.py, plan "tags"); ranks
    are unchanged. SQLite: nothing (its FTS5 index has its own filter tags, migrations 4 and 11)."""
    if conn.dialect.name != "postgresql":
        return
    from .backends.postgres import PgFts

    PgFts.upgrade_v12(conn)


def _m13_shingles(conn: sa.Connection) -> None:
    """Faster phrases: word pairs (``sh``) and character trigrams (``tri``) beside seg/grams, the ``tags`` padding
    shortened by as many tokens so that bm25 is bit-identical (backends/sqlite.py).
    SQLite: the FTS5 table is rebuilt, seg/py/grams copied as they are, sh/tri computed from them and the tag
    tokens moved; PostgreSQL: nothing to do."""
    if conn.dialect.name != "sqlite":
        return

    def row(r: Any) -> dict[str, Any]:
        rowid, seg, py, tags, grams = r
        sh, tri = shingle_columns(seg, grams)
        tags = retag_v13(tags, seg, py, grams, sh, tri)
        return {"rowid": rowid, "seg": seg, "py": py, "tags": tags, "grams": grams, "sh": sh, "tri": tri}

    sel = "SELECT rowid, seg, py, tags, grams FROM {old} WHERE rowid > ? ORDER BY rowid LIMIT 20000"
    _rebuild_fts(conn, 12, 13, SqliteFts.create_v13, sel, row)


def _rebuild_fts(
    conn: sa.Connection,
    old_version: int,
    version: int,
    create: Callable[[sa.Connection], None],
    select: str,
    row: Callable[[Any], dict[str, Any]],
) -> None:
    """SQLite: rebuild the FTS5 table at `version` from the one of `old_version`, 20,000 rows at a time in rowid
    order (`select` reads a batch from ``{old}`` after a rowid; `row` turns one into the new columns), then drop
    the old table and optimise the new one."""
    old = f"{FTS_TABLE}_v{old_version}"
    conn.exec_driver_sql(f"ALTER TABLE {FTS_TABLE} RENAME TO {old}")
    fts = SqliteFts(version)
    create(conn)
    sel = select.format(old=old)
    last = 0
    while True:
        rows = conn.exec_driver_sql(sel, (last,)).all()
        if not rows:
            break
        fts.insert(conn, [row(r) for r in rows])
        last = rows[-1][0]
    conn.exec_driver_sql(f"DROP TABLE {old}")
    conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")


MIGRATIONS: list[tuple[int, str, Callable[[sa.Connection], None]]] = [
    (1, "core tables", _m1_core),
    (2, "utterance full-text search", _m2_search),
    (3, "search and scorecard indexes", _m3_search_indexes),
    (4, "search filter tags", _m4_search_tags),
    (5, "search score indexes", _m5_score_indexes),
    (6, "substring search", _m6_substring_search),
    (7, "stored timelines, tags, score history", _m7_judgements),
    (8, "reviews, users and audit log", _m8_reviews),
    (10, "appeals, calibration and collections", _m10_loop),
    (11, "search team and agent tags", _m11_team_agent_tags),
    (12, "search filter lexemes (PostgreSQL)", _m12_pg_filter_lexemes),
    (13, "search word pairs and trigrams (SQLite)", _m13_shingles),
]
LATEST = MIGRATIONS[-1][0]


def current_version(conn: sa.Connection) -> int:
    if not sa.inspect(conn).has_table("schema_migrations"):
        return 0
    v = conn.execute(sa.select(sa.func.max(schema.schema_migrations.c.version))).scalar()
    return int(v or 0)


# pg_advisory_lock key of callqa's migrations (any constant; "callqa" in ASCII)
_MIGRATION_LOCK = 0x63616C6C7161


def migrate(engine: sa.Engine, target: int | None = None) -> list[int]:
    """Apply pending migrations up to `target` (default: latest). Returns the versions applied.

    Several processes may open a new database at once (parallel importers, a batch and the workstation):
    on PostgreSQL they queue on an advisory lock, so each migration runs once and the others find it
    recorded; on SQLite every migration transaction takes the write lock (BEGIN IMMEDIATE)."""
    if engine.dialect.name != "postgresql":
        return _migrate(engine, target)
    with engine.connect() as lock:
        lock.execute(sa.select(sa.func.pg_advisory_lock(_MIGRATION_LOCK)))
        lock.commit()
        try:
            return _migrate(engine, target)
        finally:
            lock.execute(sa.select(sa.func.pg_advisory_unlock(_MIGRATION_LOCK)))
            lock.commit()


def _migrate(engine: sa.Engine, target: int | None) -> list[int]:
    target = LATEST if target is None else target
    applied = []
    with engine.begin() as conn:
        schema.metadata.create_all(conn, tables=[schema.schema_migrations])
    for version, name, fn in MIGRATIONS:
        if version > target:
            break
        with engine.begin() as conn:
            # by membership, not max: numbers are pre-assigned, so a database may hold 8 before 6 and 7 exist
            if conn.execute(
                sa.select(schema.schema_migrations.c.version).where(schema.schema_migrations.c.version == version)
            ).first():
                continue
            fn(conn)
            conn.execute(
                schema.schema_migrations.insert().values(
                    version=version, name=name, applied_at=datetime.now(timezone.utc).isoformat(timespec="seconds")
                )
            )
            applied.append(version)
    return applied
