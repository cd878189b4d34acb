"""Bulk INSERT for the store's writers (import, rescore): one statement per table and batch."""

from __future__ import annotations

from collections.abc import Callable
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
    keys, get, q, cols = _columns(conn, rows)
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


def next_values(conn: sa.Connection, sequence: str, n: int) -> list[int]:
    """PostgreSQL: `n` values of `sequence` in one round trip, fetched by the driver's cursor (through
    SQLAlchemy's result objects the 16,000 ids of a 1,000-call import cost ≈ 8 % of its client CPU)."""
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", (sequence, n))
        return [r[0] for r in cur.fetchall()]
    finally:
        cur.close()


def upsert_rows(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], key: str) -> None:
    """PostgreSQL: INSERT `rows` into `table`, replacing the other columns of a row whose `key` exists
    (``ON CONFLICT (key) DO UPDATE``).

    One single-row statement of constant text, executed for all rows at once (psycopg's ``executemany``: one
    pipeline, no round trip per row; the statement is converted once and prepared on the server). The
    multi-row ``VALUES`` list it replaces had one placeholder per value (≈ 5,600 for 200 calls): psycopg parsed
    that text again for every batch (≈ 0.5 ms of client CPU per call, measured) and the server parsed and
    planned it each time. Values are adapted by psycopg exactly as before (one parameter per value)."""
    if not rows:
        return
    keys, get, q, cols = _columns(conn, rows)
    sets = ", ".join(f"{q(k)} = EXCLUDED.{q(k)}" for k in keys if k != key)
    sql = (
        f"INSERT INTO {q(table.name)} ({cols}) VALUES ({', '.join(['%s'] * len(keys))})"
        f" ON CONFLICT ({q(key)}) DO UPDATE SET {sets}"
    )
    conn.exec_driver_sql(sql, [get(r) for r in rows])


def _columns(
    conn: sa.Connection, rows: list[dict[str, Any]]
) -> tuple[list[str], Callable[[dict[str, Any]], tuple[Any, ...]], Callable[[str], str], str]:
    """The rows' keys, a getter of a row's values in that order as a tuple (itemgetter of one key returns the
    bare value), the dialect's identifier quoting and the quoted column list."""
    keys = list(rows[0])
    get = itemgetter(*keys) if len(keys) > 1 else (lambda r: (r[keys[0]],))
    q = conn.dialect.identifier_preparer.quote
    return keys, get, q, ", ".join(q(k) for k in keys)
