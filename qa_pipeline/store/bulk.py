"""Bulk INSERT for the store's writers (import, rescore): one executemany per table and batch."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def insert_rows(conn: sa.Connection, table: sa.Table | sa.TableClause, rows: list[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys) as one executemany.

    On SQLite the rows go to the driver as tuples: SQLAlchemy's per-row parameter processing was most of an
    import's Python time in the writes, and the values written here need no conversion (str, int, float, bool,
    None). Other dialects go through Core (PostgreSQL batches the rows itself)."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(table.insert(), rows)
        return
    keys = list(rows[0])
    q = conn.dialect.identifier_preparer.quote
    sql = f"INSERT INTO {q(table.name)} ({', '.join(q(k) for k in keys)}) VALUES ({', '.join('?' * len(keys))})"
    conn.exec_driver_sql(sql, [tuple(r[k] for k in keys) for r in rows])
