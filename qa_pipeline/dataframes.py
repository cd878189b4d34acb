"""Analyst API: call results from the QA database as pandas DataFrames.

    from qa_pipeline import dataframes as R
    calls = R.load_calls("results/callqa.db", date_from="2026-11-01", date_to="2026-11-07", team="一组")
    items = R.load_item_scores(db, ...); checks = R.load_checks(db, ..., status="fail")
    utts = R.load_utterances(db, call_ids=calls.call_id[:5])

Filters (all optional): a `CallFilter` (qa_pipeline.store.filters) as `where`, or its fields as keyword
arguments: date_from / date_to (inclusive, on the call's local date), team, agent (agent id or name),
min_score / max_score, check (+ check_status), speaker (transcript lines only). Every frame carries the
call columns agent_id, agent_name, team, call_date, call_hour, started_at so it can be grouped without a
merge. `db` is a SQLite file, a database URL (``postgresql://…``) or an open `Store`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from .checks.registry import check_label
from .store import schema as S
from .store.db import Store, open_store
from .store.filters import CallFilter, resolve

__all__ = [
    "connect",
    "load_calls",
    "load_checks",
    "load_item_scores",
    "item_status_counts",
    "check_counts",
    "load_utterances",
    "CallFilter",
]


_CALL_COLS = ("agent_id", "agent_name", "team", "call_date", "call_hour", "started_at")


def connect(db: Path | str | Store) -> Store:
    return db if isinstance(db, Store) else open_store(db)


def _read(db, stmt) -> pd.DataFrame:
    store = connect(db)
    try:
        with store.read() as conn:
            res = conn.execute(stmt)
            keys = list(res.keys())
            rows = res.all()
    finally:
        if store is not db:
            store.close()
    if not rows:
        return pd.DataFrame(columns=keys)
    # column-wise construction: pandas' row-wise path inspects every Row object (slow for 100k rows)
    return pd.DataFrame(dict(zip(keys, (list(col) for col in zip(*rows, strict=True)), strict=True)), columns=keys)


def load_calls(db: Any, where: CallFilter | None = None, *, status: str | None = None, **filters: Any) -> pd.DataFrame:
    """One row per call (status 'ok' and 'failed' unless `status`, the call status, is given);
    score_pct = total/max*100 (the automatic part as % of the judged points, as everywhere); final_total /
    final_verdict / review_state: the reviewed 100-point score from the workstation (empty until submitted)."""
    where = resolve(where, **filters)
    c = S.calls
    cols: list[Any] = [
        c.c[k]
        for k in (
            "call_id",
            "status",
            "error",
            "agent_id",
            "agent_name",
            "team",
            "queue",
            "started_at",
            "call_date",
            "call_hour",
            "duration_s",
            "audio_path",
            "score_total",
            "score_max",
            "fatal",
            "needs_review",
            "run_id",
        )
    ]
    # the workstation's final score (100-point scale) where a reviewer submitted one, beside the machine's
    from .review import tables as T

    rv = T.reviews
    cols += [rv.c.state.label("review_state"), rv.c.final_total, rv.c.verdict.label("final_verdict")]
    joined = c.outerjoin(rv, sa.and_(rv.c.call_id == c.c.call_id, rv.c.purpose == "review"))
    stmt = where.apply(sa.select(*cols).select_from(joined))
    if status:
        stmt = stmt.where(c.c.status == status)
    df = _read(db, stmt.order_by(c.c.started_at, c.c.call_id))
    df["final_total"] = df["final_total"].astype("float64")
    df["started_at"] = pd.to_datetime(df["started_at"].str.slice(0, 19), errors="coerce")
    for col in ("score_total", "score_max", "duration_s"):
        df[col] = df[col].astype("float64")
    df["score_pct"] = df["score_total"] / df["score_max"] * 100.0
    for col in ("fatal", "needs_review"):
        df[col] = df[col].astype("boolean")
    return df


def _with_call(table: sa.Table, *cols: Any, where: CallFilter) -> sa.Select[Any]:
    c = S.calls
    stmt = sa.select(*cols, *[c.c[k] for k in _CALL_COLS]).select_from(table.join(c, c.c.call_id == table.c.call_id))
    return where.apply(stmt).where(c.c.status == "ok")


def load_checks(
    db: Any, where: CallFilter | None = None, *, status: str | None = None, check: str | None = None, **filters: Any
) -> pd.DataFrame:
    """One row per check finding of scored calls; `check_label` is the Chinese name. `status` / `check`
    select the findings themselves (the filter's check / check_status select calls)."""
    where = resolve(where, **filters)
    k = S.checks
    stmt = _with_call(
        k,
        k.c.call_id,
        k.c.idx,
        k.c.check,
        k.c.status,
        k.c.start,
        k.c.end,
        k.c.speaker,
        k.c.evidence,
        where=where,
    )
    if status:
        stmt = stmt.where(k.c.status == status)
    if check:
        stmt = stmt.where(k.c.check == check)
    df = _read(db, stmt.order_by(k.c.call_id, k.c.idx))
    df["check_label"] = df["check"].map(check_label)
    return df


def load_item_scores(db: Any, where: CallFilter | None = None, **filters: Any) -> pd.DataFrame:
    """One row per rubric item per scored call (item_id, title, points, deduction, status, fatal)."""
    where = resolve(where, **filters)
    i = S.item_scores
    stmt = _with_call(
        i,
        i.c.call_id,
        i.c.idx,
        i.c.item_id,
        i.c.title,
        i.c.points,
        i.c.deduction,
        i.c.status,
        i.c.fatal,
        where=where,
    )
    return _read(db, stmt.order_by(i.c.call_id, i.c.idx))


def item_status_counts(db: Any, where: CallFilter | None = None, **filters: Any) -> pd.DataFrame:
    """Aggregated in SQL: agent_id, item_id, title, status, n (count of calls), first idx (item order)."""
    where = resolve(where, **filters)
    i, c = S.item_scores, S.calls
    stmt = (
        sa.select(
            c.c.agent_id,
            i.c.item_id,
            sa.func.max(i.c.title).label("title"),
            i.c.status,
            sa.func.count().label("n"),
            sa.func.min(i.c.idx).label("idx"),
        )
        .select_from(i.join(c, c.c.call_id == i.c.call_id))
        .where(c.c.status == "ok")
        .group_by(c.c.agent_id, i.c.item_id, i.c.status)
    )
    return _read(db, where.apply(stmt))


def check_counts(db: Any, where: CallFilter | None = None, *, status: str = "fail", **filters: Any) -> pd.DataFrame:
    """Aggregated in SQL: agent_id, check, n (findings with `status` in scored calls)."""
    where = resolve(where, **filters)
    k, c = S.checks, S.calls
    stmt = (
        sa.select(c.c.agent_id, k.c.check, sa.func.count().label("n"))
        .select_from(k.join(c, c.c.call_id == k.c.call_id))
        .where(c.c.status == "ok", k.c.status == status)
        .group_by(c.c.agent_id, k.c.check)
    )
    return _read(db, where.apply(stmt))


def load_utterances(
    db: Any, call_ids: Iterable[str] | None = None, where: CallFilter | None = None, **filters: Any
) -> pd.DataFrame:
    """Transcript lines (call_id, idx, speaker, start, end, text), optionally only for `call_ids`
    (and the filter's speaker)."""
    where = resolve(where, **filters)
    u = S.utterances
    stmt = _with_call(
        u,
        u.c.call_id,
        u.c.idx,
        u.c.speaker,
        u.c.start,
        u.c.end,
        u.c.text,
        where=where,
    )
    if where.speaker:
        stmt = stmt.where(u.c.speaker == where.speaker)
    if call_ids is not None:
        ids = [str(x) for x in call_ids]
        if not ids:
            stmt = stmt.where(sa.false())
        else:
            stmt = stmt.where(u.c.call_id.in_(ids))
    return _read(db, stmt.order_by(u.c.call_id, u.c.idx))
