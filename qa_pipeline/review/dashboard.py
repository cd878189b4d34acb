"""评分大盘 (supervisor dashboard): team comparison, per-agent weekly trend, rubric item pass rates, 合格率,
week-on-week change, review and appeal counts — each number with the filter that lists its calls (``drill``).

Definitions (one place, shown on the page):
- score % — the machine's automatic part as a percentage of judged points (``calls.score_total / score_max``);
- 合格 (pass) — the final verdict where an official review was submitted (合格), else the machine's: no fatal
  item failed and score % ≥ the pass mark; 合格率 = passing calls ÷ calls;
- item pass rate — calls where the item passed ÷ calls where it was judged (pass or fail) by the machine.

Speed: the machine side (calls and item scores grouped by team, agent and day) is one scan of the database, kept in
a ``DashboardCache`` until a call is written; every filter is then folded in Python (teams, agents × weeks, this
week and last week). The human side (submitted reviews replace the machine's pass by their verdict; appeals) is
small and read live on every request, so a review or a ruling shows at once.
"""

from __future__ import annotations

import threading
import time
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


@dataclass(slots=True)
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


def _machine_pass(pass_mark: float) -> Any:
    c = S.calls
    return sa.case(
        (
            sa.and_(
                sa.func.coalesce(c.c.fatal, False) == sa.false(),
                c.c.score_max > 0,
                c.c.score_total * 100.0 >= c.c.score_max * pass_mark - 1e-9,
            ),
            1,
        ),
        else_=0,
    )


@dataclass(frozen=True)
class _Base:
    """Machine-side aggregates of every scored call, by team, agent and day (and items by team and day)."""

    days: list[tuple[Any, ...]]  # team, agent_id, agent_name, call_date, n, score_sum, scored, machine_pass, fatal
    items: list[tuple[Any, ...]]  # team, call_date, item_id, passed, failed


def _base(store: Store, pass_mark: float, agent: str | None = None) -> _Base:
    c, ist = S.calls, S.item_scores
    pct = sa.case((c.c.score_max > 0, c.c.score_total * 100.0 / c.c.score_max), else_=None)
    conds: list[Any] = [c.c.status == "ok"]
    if agent:
        conds.append(c.c.agent_id == agent)
    with store.read() as conn:
        days = conn.execute(
            sa.select(
                c.c.team,
                c.c.agent_id,
                sa.func.max(c.c.agent_name),
                c.c.call_date,
                sa.func.count(),
                sa.func.sum(pct),
                sa.func.count(pct),
                sa.func.sum(_machine_pass(pass_mark)),
                sa.func.sum(sa.case((c.c.fatal == sa.true(), 1), else_=0)),
            )
            .where(*conds)
            .group_by(c.c.team, c.c.agent_id, c.c.call_date)
        ).all()
        items = conn.execute(
            sa.select(
                c.c.team,
                c.c.call_date,
                ist.c.item_id,
                sa.func.sum(sa.case((ist.c.status == "pass", 1), else_=0)),
                sa.func.sum(sa.case((ist.c.status == "fail", 1), else_=0)),
            )
            .select_from(ist.join(c, c.c.call_id == ist.c.call_id))
            .where(*conds, ist.c.status.in_(("pass", "fail")))
            .group_by(c.c.team, c.c.call_date, ist.c.item_id)
        ).all()
    return _Base([tuple(r) for r in days], [tuple(r) for r in items])


class DashboardCache:
    """The machine-side aggregates, kept until the calls change: a (count, latest import) stamp of ``calls`` —
    every write of a call sets ``imported_at`` (index ``ix_calls_imported``, migration 10) — read per request,
    and at most `ttl_s` old. Human work (reviews, appeals) is small and always read live."""

    def __init__(self, ttl_s: float = 300.0) -> None:
        self.ttl_s = ttl_s
        self._key: tuple[Any, ...] | None = None
        self._at = 0.0
        self._base: _Base | None = None
        self._lock = threading.Lock()

    def base(self, store: Store, pass_mark: float) -> _Base:
        c = S.calls
        with store.read() as conn:
            stamp = conn.execute(sa.select(sa.func.count(), sa.func.max(c.c.imported_at)).select_from(c)).first()
        key = (tuple(stamp or ()), pass_mark)
        with self._lock:
            if self._base is not None and self._key == key and time.monotonic() - self._at < self.ttl_s:
                return self._base
        base = _base(store, pass_mark)
        with self._lock:
            self._key, self._at, self._base = key, time.monotonic(), base
        return base


def dashboard(
    store: Store,
    f: DashFilter,
    rubric_items: list[tuple[str, str]],
    pass_mark: float = DEFAULT_PASS_MARK,
    cache: DashboardCache | None = None,
) -> Dashboard:
    c, rv, ap = S.calls, T.reviews, L.appeals
    d_to = date.fromisoformat(f.date_to)
    this_start = d_to - timedelta(days=6)
    last_start = this_start - timedelta(days=7)
    scan_from = min(f.date_from, last_start.isoformat())
    # machine side: cached for the whole database (one agent: read directly, it is a few hundred calls)
    base = _base(store, pass_mark, f.agent) if (cache is None or f.agent) else cache.base(store, pass_mark)
    # human side, live: submitted official reviews (their verdict replaces the machine's pass) and appeals
    conds = _conds(f, scan_from)
    with store.read() as conn:
        reviewed = conn.execute(
            sa.select(
                c.c.team,
                c.c.agent_id,
                c.c.call_date,
                sa.func.count(),
                sa.func.sum(
                    sa.case(
                        (rv.c.verdict.in_(("pass", "fail", "fatal")), _pass_expr(pass_mark) - _machine_pass(pass_mark)),
                        else_=0,
                    )
                ),
            )
            .select_from(rv.join(c, c.c.call_id == rv.c.call_id))
            .where(
                rv.c.purpose == "review",
                rv.c.state == "submitted",
                rv.c.call_date >= scan_from,
                rv.c.call_date <= f.date_to,
                *conds,
            )
            .group_by(c.c.team, c.c.agent_id, c.c.call_date)
        ).all()
        appeal_rows = conn.execute(
            sa.select(c.c.team, c.c.agent_id, c.c.call_date, ap.c.state, sa.func.count().label("n"))
            .select_from(ap.join(c, c.c.call_id == ap.c.call_id))
            .where(*conds)
            .group_by(c.c.team, c.c.agent_id, c.c.call_date, ap.c.state)
        ).all()
    human: dict[tuple[Any, ...], list[int]] = {}
    for team, agent_id, day, n, adj in reviewed:
        human[(team, agent_id, day)] = [int(n), int(adj or 0), 0]
    appeals: dict[str, int] = {}
    for r in appeal_rows:
        human.setdefault((r.team, r.agent_id, r.call_date), [0, 0, 0])[2] += r.n
        if f.date_from <= r.call_date <= f.date_to:
            appeals[r.state] = appeals.get(r.state, 0) + r.n
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
    week_of: dict[str, int] = {}  # day → index into weeks (the days of the range only)
    for wi, w in enumerate(weeks):
        day_ = date.fromisoformat(w.start)
        while day_.isoformat() <= w.end:
            week_of[day_.isoformat()] = wi
            day_ += timedelta(days=1)
    no_human = (0, 0, 0)
    for team, agent_id, agent_name, day, n, score_sum, scored, mpass, fatal in base.days:
        if day is None or day < scan_from or day > f.date_to:
            continue
        if (f.team and team != f.team) or (f.agent and agent_id != f.agent):
            continue
        h = human.get((team, agent_id, day), no_human)
        t = Tally(
            int(n), float(score_sum or 0.0), int(scored or 0), int(mpass or 0) + h[1], int(fatal or 0), h[0], h[2]
        )
        if day >= this_week.start:
            this_week.tally.add(t)
        elif last_week.start <= day <= last_week.end:
            last_week.tally.add(t)
        wi_ = week_of.get(day)
        if wi_ is None:
            continue
        total.add(t)
        team_t = teams.get(team or "")
        if team_t is None:
            team_t = teams[team or ""] = Tally()
        team_t.add(t)
        a = agents.get(agent_id or "")
        if a is None:
            a = agents[agent_id or ""] = (agent_name or "", team or "", [Tally() for _ in weeks])
        a[2][wi_].add(t)
    titles = dict(rubric_items)
    counts: dict[str, list[int]] = {}
    for team, day, item_id, passed, failed in base.items:
        if day is None or not (f.date_from <= day <= f.date_to) or (f.team and team != f.team):
            continue
        cnt = counts.setdefault(item_id, [0, 0])
        cnt[0] += int(passed or 0)
        cnt[1] += int(failed or 0)
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
