"""评分大盘 (supervisor dashboard): team comparison, per-agent weekly trend, rubric item pass rates, 合格率,
week-on-week change, review and appeal counts — each number with the filter that lists its calls (``drill``).

Definitions (one place, shown on the page):
- score % — the machine's automatic part as a percentage of judged points (``calls.score_total / score_max``);
- 合格 (pass) — the final verdict where an official review was submitted (合格), else the machine's: no fatal
  item failed and score % ≥ the pass mark; 合格率 = passing calls ÷ calls;
- item pass rate — calls where the item passed ÷ calls where it was judged (pass or fail) by the machine.

One scan of the calls in range, grouped by team, agent and day, gives every call-level number (folded in Python
into teams, agents × weeks, this week and last week); item pass rates and appeal counts are one query each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from ..store import schema as S
from ..store.db import Store
from . import loop_tables as L
from . import tables as T
from .final import DEFAULT_PASS_MARK


@dataclass(frozen=True)
class DashFilter:
    date_from: str
    date_to: str
    team: str | None = None
    agent: str | None = None  # agent id


@dataclass
class Tally:
    calls: int = 0
    score_sum: float = 0.0
    scored: int = 0
    passed: int = 0
    fatal: int = 0
    reviewed: int = 0
    appeals: int = 0

    def add(self, o: Tally) -> None:
        self.calls += o.calls
        self.score_sum += o.score_sum
        self.scored += o.scored
        self.passed += o.passed
        self.fatal += o.fatal
        self.reviewed += o.reviewed
        self.appeals += o.appeals

    @property
    def avg_score(self) -> float | None:
        return None if not self.scored else self.score_sum / self.scored

    @property
    def pass_rate(self) -> float | None:
        return None if not self.calls else self.passed / self.calls


@dataclass
class Week:
    start: str
    end: str
    tally: Tally = field(default_factory=Tally)


@dataclass(frozen=True)
class ItemRate:
    item_id: str
    title: str
    passed: int
    failed: int

    @property
    def rate(self) -> float | None:
        n = self.passed + self.failed
        return None if not n else self.passed / n


@dataclass(frozen=True)
class Dashboard:
    f: DashFilter
    total: Tally
    teams: list[tuple[str, Tally]]
    agents: list[tuple[str, str, str, list[Tally]]]  # agent id, name, team, one tally per week
    weeks: list[Week]
    this_week: Week
    last_week: Week
    items: list[ItemRate]
    appeals: dict[str, int]  # state → count, in range


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _pass_expr(pass_mark: float) -> Any:
    c, rv = S.calls, T.reviews
    machine_pass = sa.and_(
        sa.func.coalesce(c.c.fatal, False) == sa.false(),
        c.c.score_max > 0,
        c.c.score_total * 100.0 >= c.c.score_max * pass_mark - 1e-9,
    )
    reviewed = sa.and_(rv.c.state == "submitted", rv.c.verdict.in_(("pass", "fail", "fatal")))
    return sa.case((reviewed, sa.case((rv.c.verdict == "pass", 1), else_=0)), (machine_pass, 1), else_=0)


def _conds(f: DashFilter, date_from: str) -> list[Any]:
    c = S.calls
    conds: list[Any] = [c.c.call_date >= date_from, c.c.call_date <= f.date_to, c.c.status == "ok"]
    if f.team:
        conds.append(c.c.team == f.team)
    if f.agent:
        conds.append(c.c.agent_id == f.agent)
    return conds


def dashboard(
    store: Store, f: DashFilter, rubric_items: list[tuple[str, str]], pass_mark: float = DEFAULT_PASS_MARK
) -> Dashboard:
    c, rv, ap = S.calls, T.reviews, L.appeals
    d_to = date.fromisoformat(f.date_to)
    this_start = d_to - timedelta(days=6)
    last_start = this_start - timedelta(days=7)
    scan_from = min(f.date_from, last_start.isoformat())
    official = sa.and_(rv.c.call_id == c.c.call_id, rv.c.purpose == "review")
    pct = sa.case((c.c.score_max > 0, c.c.score_total * 100.0 / c.c.score_max), else_=None)
    with store.read() as conn:
        rows = conn.execute(
            sa.select(
                c.c.team,
                c.c.agent_id,
                sa.func.max(c.c.agent_name).label("agent_name"),
                c.c.call_date,
                sa.func.count().label("n"),
                sa.func.sum(pct).label("score_sum"),
                sa.func.count(pct).label("scored"),
                sa.func.sum(_pass_expr(pass_mark)).label("passed"),
                sa.func.sum(sa.case((c.c.fatal == sa.true(), 1), else_=0)).label("fatal"),
                sa.func.sum(sa.case((rv.c.state == "submitted", 1), else_=0)).label("reviewed"),
            )
            .select_from(c.outerjoin(rv, official))
            .where(*_conds(f, scan_from))
            .group_by(c.c.team, c.c.agent_id, c.c.call_date)
        ).all()
        appeal_rows = conn.execute(
            sa.select(c.c.team, c.c.agent_id, c.c.call_date, ap.c.state, sa.func.count().label("n"))
            .select_from(ap.join(c, c.c.call_id == ap.c.call_id))
            .where(*_conds(f, scan_from))
            .group_by(c.c.team, c.c.agent_id, c.c.call_date, ap.c.state)
        ).all()
        ist = S.item_scores
        item_rows = conn.execute(
            sa.select(ist.c.item_id, ist.c.status, sa.func.count().label("n"))
            .select_from(ist.join(c, c.c.call_id == ist.c.call_id))
            .where(*_conds(f, f.date_from), ist.c.status.in_(("pass", "fail")))
            .group_by(ist.c.item_id, ist.c.status)
        ).all()
    # weeks (Monday–Sunday) covering the range, for the agent trend
    weeks: list[Week] = []
    d = monday(date.fromisoformat(f.date_from))
    while d <= d_to:
        weeks.append(Week(max(d.isoformat(), f.date_from), min((d + timedelta(days=6)).isoformat(), f.date_to)))
        d += timedelta(days=7)
    this_week = Week(this_start.isoformat(), f.date_to)
    last_week = Week(last_start.isoformat(), (this_start - timedelta(days=1)).isoformat())
    total = Tally()
    teams: dict[str, Tally] = {}
    agents: dict[str, tuple[str, str, list[Tally]]] = {}
    appeals: dict[str, int] = {}
    appeal_by: dict[tuple[str | None, str | None, str], int] = {}
    for r in appeal_rows:
        appeal_by[(r.team, r.agent_id, r.call_date)] = appeal_by.get((r.team, r.agent_id, r.call_date), 0) + r.n
        if f.date_from <= r.call_date <= f.date_to:
            appeals[r.state] = appeals.get(r.state, 0) + r.n
    for r in rows:
        t = Tally(
            int(r.n),
            float(r.score_sum or 0.0),
            int(r.scored or 0),
            int(r.passed or 0),
            int(r.fatal or 0),
            int(r.reviewed or 0),
            appeal_by.get((r.team, r.agent_id, r.call_date), 0),
        )
        day = r.call_date
        for w in (this_week, last_week):
            if w.start <= day <= w.end:
                w.tally.add(t)
        if not (f.date_from <= day <= f.date_to):
            continue
        total.add(t)
        teams.setdefault(r.team or "", Tally()).add(t)
        a = agents.setdefault(r.agent_id or "", (r.agent_name or "", r.team or "", [Tally() for _ in weeks]))
        for i, w in enumerate(weeks):
            if w.start <= day <= w.end:
                a[2][i].add(t)
                break
    titles = dict(rubric_items)
    counts: dict[str, list[int]] = {}
    for r in item_rows:
        counts.setdefault(r.item_id, [0, 0])[0 if r.status == "pass" else 1] += int(r.n)
    order = {k: i for i, (k, _) in enumerate(rubric_items)}
    items = sorted(
        (ItemRate(k, titles.get(k, k), v[0], v[1]) for k, v in counts.items()),
        key=lambda x: (x.rate if x.rate is not None else 2.0, order.get(x.item_id, 999)),
    )
    return Dashboard(
        f,
        total,
        sorted(teams.items()),
        sorted(((k, *v) for k, v in agents.items()), key=lambda x: (x[2], x[1], x[0])),
        weeks,
        this_week,
        last_week,
        items,
        appeals,
    )


@dataclass(frozen=True)
class Drill:
    """The calls behind one dashboard number."""

    date_from: str
    date_to: str
    team: str | None = None
    agent: str | None = None
    outcome: str | None = None  # pass | nopass | fatal
    reviewed: bool = False
    appealed: bool = False
    item: str | None = None
    item_status: str | None = None  # pass | fail


def drill_calls(
    store: Store, d: Drill, pass_mark: float = DEFAULT_PASS_MARK, limit: int = 200
) -> tuple[list[dict[str, Any]], int]:
    """(the first `limit` calls, how many match) — the same definitions as ``dashboard``."""
    c, rv, ap, ist = S.calls, T.reviews, L.appeals, S.item_scores
    f = DashFilter(d.date_from, d.date_to, d.team, d.agent)
    conds = _conds(f, d.date_from)
    passes = _pass_expr(pass_mark)
    if d.outcome == "pass":
        conds.append(passes == 1)
    elif d.outcome == "nopass":
        conds.append(passes == 0)
    elif d.outcome == "fatal":
        conds.append(c.c.fatal == sa.true())
    if d.reviewed:
        conds.append(rv.c.state == "submitted")
    if d.appealed:
        conds.append(sa.exists(sa.select(ap.c.appeal_id).where(ap.c.call_id == c.c.call_id)))
    if d.item:
        st = ("pass", "fail") if d.item_status not in ("pass", "fail") else (d.item_status,)
        conds.append(
            sa.exists(
                sa.select(ist.c.call_id).where(
                    ist.c.call_id == c.c.call_id, ist.c.item_id == d.item, ist.c.status.in_(st)
                )
            )
        )
    joined = c.outerjoin(rv, sa.and_(rv.c.call_id == c.c.call_id, rv.c.purpose == "review"))
    with store.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(joined).where(*conds)).scalar() or 0
        rows = conn.execute(
            sa.select(
                c.c.call_id,
                c.c.agent_id,
                c.c.agent_name,
                c.c.team,
                c.c.started_at,
                c.c.score_total,
                c.c.score_max,
                c.c.fatal,
                rv.c.state,
                rv.c.final_total,
                rv.c.verdict,
                passes.label("passes"),
            )
            .select_from(joined)
            .where(*conds)
            .order_by(c.c.call_date.desc(), c.c.started_at.desc(), c.c.call_id)
            .limit(limit)
        ).all()
    return [dict(r._mapping) for r in rows], int(n)
