"""Bulk INSERT for the store's writers (import, rescore): one statement per table and batch."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import sqlalchemy as sa


def insert_rows(conn: sa.Connection, table: sa.Table | sa.TableClause, rows: list[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys; plain values: str, int, float, bool, None) into `table`.

    SQLite: one executemany with the rows as tuples, straight to the driver (SQLAlchemy's per-row parameter
    processing was most of an import's Python time in the writes). PostgreSQL: ``COPY … FROM STDIN`` in the
    transaction of `conn` (psycopg 3 adapts the values; several times faster than INSERTs, client and server).
    Other dialects: a Core executemany."""
    if not rows:
        return
    keys = list(rows[0])
    # a tuple of the row's values in `keys` order (itemgetter of one key returns the bare value)
    get = itemgetter(*keys) if len(keys) > 1 else (lambda r: (r[keys[0]],))
    q = conn.dialect.identifier_preparer.quote
    cols = ", ".join(q(k) for k in keys)
    if conn.dialect.name == "sqlite":
        sql = f"INSERT INTO {q(table.name)} ({cols}) VALUES ({', '.join('?' * len(keys))})"
        conn.exec_driver_sql(sql, [get(r) for r in rows])
    elif conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cur.copy(f"COPY {q(table.name)} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(get(r))
        finally:
            cur.close()
    else:
        conn.execute(table.insert(), rows)
