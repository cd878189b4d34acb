"""评分大盘 (supervisor dashboard): team comparison, per-agent weekly trend, rubric item pass rates, 合格率,
week-on-week change, review and appeal counts — each number with the filter that lists its calls (``drill``).

Definitions (one place, shown on the page):
- score % — the machine's automatic part as a percentage of judged points (``calls.score_total / score_max``);
- 合格 (pass) — the final verdict where an official review was submitted (合格), else the machine's: no fatal
  item failed and score % ≥ the pass mark; 合格率 = passing calls ÷ calls;
- item pass rate — calls where the item passed ÷ calls where it was judged (pass or fail) by the machine.

Speed: the machine side (calls and item scores grouped by team, agent and day) is one scan of the database, kept as
numpy arrays in a ``DashboardCache`` until a call is written; a request folds its range, filter, teams, agents ×
weeks, this week and last week with vector sums over those rows (a month of a 300-agent centre is ~9,000 rows).
The human side (submitted reviews replace the machine's pass by their verdict; appeals) is small and read live on
every request, so a review or a ruling shows at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
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


# the columns of a folded row, in Tally's field order
_CALLS, _SCORE_SUM, _SCORED, _PASSED, _FATAL, _REVIEWED, _APPEALS = range(7)


@dataclass(frozen=True)
class _Base:
    """Machine-side aggregates of every scored call by team, agent and day, as arrays so that a request folds its
    filter, weeks and teams with a few vector sums instead of a Python loop over ~10,000 rows (a month of a
    300-agent centre): one row per (team, agent, day)."""

    keys: dict[tuple[Any, Any, Any], int]  # (team, agent_id, day) → row
    agent: list[tuple[str, str, str]]  # per row: agent id, name, team
    team_names: list[str]  # the distinct teams
    team_index: np.ndarray  # per row: index of its team in team_names
    agent_index: np.ndarray  # per row: index of its agent id among the distinct agent ids
    day: np.ndarray  # per row: date ordinal, -1 for a call without a date
    values: np.ndarray  # rows × 7: calls, score sum, scored, machine passes, fatal, 0, 0 (human side per request)
    item_ids: list[str]  # distinct rubric item ids
    item_rows: np.ndarray  # per (team, day, item) row: item index, team index (-1: a team without calls), day ordinal
    item_counts: np.ndarray  # per row: calls where the item passed, failed

    @classmethod
    def from_rows(cls, days: list[tuple[Any, ...]], items: list[tuple[Any, ...]]) -> _Base:
        values = np.zeros((len(days), 7))
        ordinals = np.full(len(days), -1, dtype=np.int64)
        keys: dict[tuple[Any, Any, Any], int] = {}
        agent: list[tuple[str, str, str]] = []
        for i, (tm, agent_id, agent_name, day, n, score_sum, scored, mpass, fatal) in enumerate(days):
            keys[(tm, agent_id, day)] = i
            agent.append((agent_id or "", agent_name or "", tm or ""))
            if day is not None:
                ordinals[i] = date.fromisoformat(day).toordinal()
            values[i, :5] = (n, score_sum or 0.0, scored or 0, mpass or 0, fatal or 0)
        team_ids: dict[str, int] = {}
        agent_ids: dict[str, int] = {}
        team_index = np.array([team_ids.setdefault(a[2], len(team_ids)) for a in agent], dtype=np.int64)
        agent_index = np.array([agent_ids.setdefault(a[0], len(agent_ids)) for a in agent], dtype=np.int64)
        item_ids: dict[str, int] = {}
        item_rows = np.array(
            [
                (
                    item_ids.setdefault(item_id, len(item_ids)),
                    team_ids.get(tm or "", -1),
                    -1 if day is None else date.fromisoformat(day).toordinal(),
                )
                for tm, day, item_id, _, _ in items
            ],
            dtype=np.int64,
        ).reshape(-1, 3)
        item_counts = np.array([(p or 0, f or 0) for *_, p, f in items], dtype=np.int64).reshape(-1, 2)
        return cls(
            keys,
            agent,
            list(team_ids),
            team_index,
            agent_index,
            ordinals,
            values,
            list(item_ids),
            item_rows,
            item_counts,
        )


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
    return _Base.from_rows([tuple(r) for r in days], [tuple(r) for r in items])


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


def _tallies(m: np.ndarray) -> list[Tally]:
    """One Tally per row of a rows × 7 matrix (converted in bulk: numpy scalars are slow one at a time)."""
    counts = np.rint(m).astype(np.int64).tolist()
    sums = m[:, _SCORE_SUM].tolist()
    return [Tally(n[0], s, n[2], n[3], n[4], n[5], n[6]) for n, s in zip(counts, sums, strict=True)]


def _tally(v: np.ndarray) -> Tally:
    return _tallies(v.reshape(1, -1))[0]


def _sum_by(index: np.ndarray, values: np.ndarray, groups: int) -> np.ndarray:
    """groups × 7: the rows' values summed per group index."""
    out = np.zeros((groups, values.shape[1]))
    np.add.at(out, index, values)
    return out


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
    # machine side: cached for the whole database; one agent: only that agent's rows are read (so no agent mask below)
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
    values = base.values.copy()
    # a human number counts where its call's machine row does (both read calls with status ok)
    for team, agent_id, day, n, adj in reviewed:
        i = base.keys.get((team, agent_id, day))
        if i is not None:
            values[i, _REVIEWED] += int(n)
            values[i, _PASSED] += int(adj or 0)
    appeals: dict[str, int] = {}
    for r in appeal_rows:
        i = base.keys.get((r.team, r.agent_id, r.call_date))
        if i is not None:
            values[i, _APPEALS] += r.n
        if f.date_from <= r.call_date <= f.date_to:
            appeals[r.state] = appeals.get(r.state, 0) + r.n
    # weeks (Monday–Sunday) covering the range, for the agent trend
    d_from = date.fromisoformat(f.date_from)
    weeks: list[Week] = []
    d = monday(d_from)
    while d <= d_to:
        weeks.append(Week(max(d.isoformat(), f.date_from), min((d + timedelta(days=6)).isoformat(), f.date_to)))
        d += timedelta(days=7)
    this_week = Week(this_start.isoformat(), f.date_to)
    last_week = Week(last_start.isoformat(), (this_start - timedelta(days=1)).isoformat())

    day = base.day
    keep = (day >= date.fromisoformat(scan_from).toordinal()) & (day <= d_to.toordinal())
    team_wanted = base.team_names.index(f.team) if f.team in base.team_names else -2  # -2: no such team
    if f.team:
        keep &= base.team_index == team_wanted
    this_week.tally.add(_tally(values[keep & (day >= this_start.toordinal())].sum(axis=0)))
    last_week.tally.add(
        _tally(values[keep & (day >= last_start.toordinal()) & (day < this_start.toordinal())].sum(axis=0))
    )
    rows = np.flatnonzero(keep & (day >= d_from.toordinal()))  # the range itself, base order
    total = _tally(values[rows].sum(axis=0))
    # teams and agents, each named by its first row in base order (an agent who moved team: the first team seen)
    week_index = (day[rows] - monday(d_from).toordinal()) // 7
    team_of, team_first, t_index = np.unique(base.team_index[rows], return_index=True, return_inverse=True)
    agent_of, agent_first, a_index = np.unique(base.agent_index[rows], return_index=True, return_inverse=True)
    team_sums = _tallies(_sum_by(t_index, values[rows], len(team_of)))
    cells = _tallies(_sum_by(a_index * len(weeks) + week_index, values[rows], len(agent_of) * len(weeks)))
    teams = sorted((base.team_names[base.team_index[rows[j]]], team_sums[g]) for g, j in enumerate(team_first.tolist()))
    agents = sorted(
        (
            (*base.agent[rows[j]], cells[g * len(weeks) : (g + 1) * len(weeks)])
            for g, j in enumerate(agent_first.tolist())
        ),
        key=lambda x: (x[2], x[1], x[0]),
    )
    titles = dict(rubric_items)
    item_of, item_team, item_day = base.item_rows.T
    in_items = (item_day >= d_from.toordinal()) & (item_day <= d_to.toordinal())
    if f.team:
        in_items &= item_team == team_wanted
    item_sums = np.zeros((len(base.item_ids), 2), dtype=np.int64)
    np.add.at(item_sums, item_of[in_items], base.item_counts[in_items])
    judged = item_sums.sum(axis=1) > 0
    counts = {base.item_ids[k]: v for k, v in enumerate(item_sums.tolist()) if judged[k]}
    order = {k: i for i, (k, _) in enumerate(rubric_items)}
    items = sorted(
        (ItemRate(k, titles.get(k, k), v[0], v[1]) for k, v in counts.items()),
        key=lambda x: (x.rate if x.rate is not None else 2.0, order.get(x.item_id, 999)),
    )
    return Dashboard(f, total, teams, agents, weeks, this_week, last_week, items, appeals)


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
