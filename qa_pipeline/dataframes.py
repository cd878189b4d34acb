"""Analyst API: call results from the QA database as pandas DataFrames.

    from qa_pipeline import dataframes as R
    calls = R.load_calls("results/callqa.db", date_from="2026-11-01", date_to="2026-11-07", team="一组")
    items = R.load_item_scores(db, ...); checks = R.load_checks(db, ..., status="fail")
    utts = R.load_utterances(db, call_ids=calls.call_id[:5])

Filters (all optional): date_from / date_to (inclusive, on the call's local date), team, agent
(agent id or name). Every frame carries the call columns agent_id, agent_name, team, call_date,
call_hour, started_at so it can be grouped without a merge.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from .checks.registry import check_label
from .store import schema as S
from .store.db import Store, open_store

__all__ = [
    "connect",
    "load_calls",
    "load_checks",
    "load_item_scores",
    "item_status_counts",
    "check_counts",
    "load_utterances",
]


_CALL_COLS = ("agent_id", "agent_name", "team", "call_date", "call_hour", "started_at")


def connect(db: Path | str | Store) -> Store:
    return db if isinstance(db, Store) else open_store(Path(db) if "://" not in str(db) else db)


def _iso(d) -> str | None:
    if d is None:
        return None
    return d.isoformat()[:10] if isinstance(d, date) else str(d)[:10]


def _call_filters(stmt, date_from=None, date_to=None, team=None, agent=None):
    c = S.calls
    if date_from is not None:
        stmt = stmt.where(c.c.call_date >= _iso(date_from))
    if date_to is not None:
        stmt = stmt.where(c.c.call_date <= _iso(date_to))
    if team:
        stmt = stmt.where(c.c.team == team)
    if agent:
        stmt = stmt.where(sa.or_(c.c.agent_id == agent, c.c.agent_name == agent))
    return stmt


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
    return pd.DataFrame(dict(zip(keys, (list(col) for col in zip(*rows)))), columns=keys)


def load_calls(db, date_from=None, date_to=None, team=None, agent=None, status: str | None = None) -> pd.DataFrame:
    """One row per call (status 'ok' and 'failed' unless `status` given); score_pct = total/max*100."""
    c = S.calls
    cols = [
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
    stmt = _call_filters(sa.select(*cols), date_from, date_to, team, agent)
    if status:
        stmt = stmt.where(c.c.status == status)
    df = _read(db, stmt.order_by(c.c.started_at, c.c.call_id))
    df["started_at"] = pd.to_datetime(df["started_at"].str.slice(0, 19), errors="coerce")
    for col in ("score_total", "score_max", "duration_s"):
        df[col] = df[col].astype("float64")
    df["score_pct"] = df["score_total"] / df["score_max"] * 100.0
    for col in ("fatal", "needs_review"):
        df[col] = df[col].astype("boolean")
    return df


def _with_call(table, *cols, date_from=None, date_to=None, team=None, agent=None):
    c = S.calls
    stmt = sa.select(*cols, *[c.c[k] for k in _CALL_COLS]).select_from(table.join(c, c.c.call_id == table.c.call_id))
    return _call_filters(stmt, date_from, date_to, team, agent).where(c.c.status == "ok")


def load_checks(
    db, date_from=None, date_to=None, team=None, agent=None, status: str | None = None, check: str | None = None
) -> pd.DataFrame:
    """One row per check finding of scored calls; `check_label` is the Chinese name."""
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
        date_from=date_from,
        date_to=date_to,
        team=team,
        agent=agent,
    )
    if status:
        stmt = stmt.where(k.c.status == status)
    if check:
        stmt = stmt.where(k.c.check == check)
    df = _read(db, stmt.order_by(k.c.call_id, k.c.idx))
    df["check_label"] = df["check"].map(check_label)
    return df


def load_item_scores(db, date_from=None, date_to=None, team=None, agent=None) -> pd.DataFrame:
    """One row per rubric item per scored call (item_id, title, points, deduction, status, fatal)."""
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
        date_from=date_from,
        date_to=date_to,
        team=team,
        agent=agent,
    )
    return _read(db, stmt.order_by(i.c.call_id, i.c.idx))


def item_status_counts(db, date_from=None, date_to=None, team=None, agent=None) -> pd.DataFrame:
    """Aggregated in SQL: agent_id, item_id, title, status, n (count of calls), first idx (item order)."""
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
    return _read(db, _call_filters(stmt, date_from, date_to, team, agent))


def check_counts(db, date_from=None, date_to=None, team=None, agent=None, status: str = "fail") -> pd.DataFrame:
    """Aggregated in SQL: agent_id, check, n (findings with `status` in scored calls)."""
    k, c = S.checks, S.calls
    stmt = (
        sa.select(c.c.agent_id, k.c.check, sa.func.count().label("n"))
        .select_from(k.join(c, c.c.call_id == k.c.call_id))
        .where(c.c.status == "ok", k.c.status == status)
        .group_by(c.c.agent_id, k.c.check)
    )
    return _read(db, _call_filters(stmt, date_from, date_to, team, agent))


def load_utterances(
    db, call_ids: Iterable[str] | None = None, date_from=None, date_to=None, team=None, agent=None
) -> pd.DataFrame:
    """Transcript lines (call_id, idx, speaker, start, end, text), optionally only for `call_ids`."""
    u = S.utterances
    stmt = _with_call(
        u,
        u.c.call_id,
        u.c.idx,
        u.c.speaker,
        u.c.start,
        u.c.end,
        u.c.text,
        date_from=date_from,
        date_to=date_to,
        team=team,
        agent=agent,
    )
    if call_ids is not None:
        ids = [str(x) for x in call_ids]
        if not ids:
            stmt = stmt.where(sa.false())
        else:
            stmt = stmt.where(u.c.call_id.in_(ids))
    return _read(db, stmt.order_by(u.c.call_id, u.c.idx))
