"""One filter object for every store query: search, the pandas API (results.py) and scorecards.

`CallFilter` holds the call-level filters (date range, team, agent, score range, calls with a check of a
given status) and the utterance-level speaker filter; `conditions()` turns them into SQLAlchemy
conditions on the ``calls`` table, written once here for both backends. Functions that take a filter also
accept its fields as keyword arguments (``search(store, q, team="一组")``): `resolve` merges them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

import sqlalchemy as sa

from . import schema as S


def iso_day(d: Any) -> str | None:
    """YYYY-MM-DD of a date, datetime or ISO string (None stays None)."""
    if d is None:
        return None
    return d.isoformat()[:10] if isinstance(d, date) else str(d)[:10]


@dataclass(frozen=True)
class CallFilter:
    date_from: str | None = None  # first call day, inclusive (the call's local date)
    date_to: str | None = None  # last call day, inclusive
    team: str | None = None
    agent: str | None = None  # agent id or name as recorded on the call
    min_score: float | None = None
    max_score: float | None = None
    check: str | None = None  # only calls where this check has `check_status` (default "fail")
    check_status: str | None = None  # alone: calls with any check of this status
    speaker: str | None = None  # utterance-level: search hits / transcript lines of this speaker
    tag: str | None = None  # only calls a rule tagged so (topic 话费查询, 升级风险 …; call_tags, schema v7)

    def __post_init__(self) -> None:
        # dates given as date/datetime objects are stored as their ISO day (the filter is hashable, comparable)
        object.__setattr__(self, "date_from", iso_day(self.date_from))
        object.__setattr__(self, "date_to", iso_day(self.date_to))
        for name in ("min_score", "max_score"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, float(v))

    def date_conditions(self) -> list[sa.ColumnElement[bool]]:
        c = S.calls
        out: list[sa.ColumnElement[bool]] = []
        if self.date_from:
            out.append(c.c.call_date >= self.date_from)
        if self.date_to:
            out.append(c.c.call_date <= self.date_to)
        return out

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        """Conditions on ``calls`` (speaker excluded: it applies to utterances)."""
        c = S.calls
        out = self.date_conditions()
        if self.agent:
            out.append(sa.or_(c.c.agent_id == self.agent, c.c.agent_name == self.agent))
        if self.team:
            out.append(c.c.team == self.team)
        if self.min_score is not None:
            out.append(c.c.score_total >= self.min_score)
        if self.max_score is not None:
            out.append(c.c.score_total <= self.max_score)
        if self.check or self.check_status:
            ch = S.checks
            cc = [ch.c.status == (self.check_status or "fail")]
            if self.check:
                cc.append(ch.c.check == self.check)
            out.append(c.c.call_id.in_(sa.select(ch.c.call_id).where(*cc)))
        if self.tag:
            tg = S.call_tags
            out.append(c.c.call_id.in_(sa.select(tg.c.call_id).where(tg.c.tag == self.tag)))
        return out

    def apply(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        """`stmt` (which must select from / join ``calls``) with the call conditions added."""
        conds = self.conditions()
        return stmt.where(*conds) if conds else stmt

    @property
    def only_dates(self) -> bool:
        """True when the only call conditions are the date bounds."""
        return len(self.conditions()) == len(self.date_conditions())


NO_FILTER = CallFilter()
FIELDS = frozenset(f.name for f in fields(CallFilter))


def resolve(where: CallFilter | None = None, **kwargs: Any) -> CallFilter:
    """`where` with fields overridden by keyword arguments (``status`` is accepted for ``check_status``)."""
    if "status" in kwargs:
        kwargs["check_status"] = kwargs.pop("status")
    unknown = set(kwargs) - FIELDS
    if unknown:
        raise TypeError(f"unknown filter(s): {', '.join(sorted(unknown))}")
    base = where or NO_FILTER
    return replace(base, **kwargs) if kwargs else base
