"""Per-agent scorecard numbers (pandas), independent of the output format.

Definitions (also in docs/database.md):
* calls scored: calls with status "ok" and a score in the range; failed calls are counted apart.
* score = score.total / score.max × 100 (percent of the automatically judged points: manual items are
  excluded from max, so raw totals of different calls are not comparable); bins and colours use it too.
* item pass rate = pass / (pass + fail); not_applicable and needs_review are excluded (blank if none), so
  manual items (judged by a person) show no rate rather than 0 %.
* violations = check findings with status "fail", counted per check name.
* fatal calls / calls needing review = scored calls with score.fatal / score.needs_review.
* agents without any call in the range are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from .. import dataframes as R
from .. import i18n
from ..checks.registry import check_label
from ..store import schema as S
from ..store.filters import CallFilter, resolve

BINS = [0, 60, 70, 80, 90, 100.0001]
BIN_LABELS = ["<60", "60–69", "70–79", "80–89", "90–100"]
LOW_SCORE = 80.0  # conditional colouring threshold (percent of max)

SUMMARY_COLUMNS = (
    "agent_id", "agent_name", "team", "calls", "failed", "mean", "median", "min", "max", "fatal", "review",
    "violations",
    # from the workstation (review/scorecard_columns.py)
    "reviewed", "final_mean", "appeals", "overturned", "calibrated",
)  # fmt: skip
SCORE_COLUMNS = ("mean", "median", "min", "max", "score_pct", "final_mean")
"""Columns holding a score in percent (coloured below LOW_SCORE in every format)."""
SHEETS = ("summary", "distribution", "items", "violations", "trend", "worst")


def column(name: str) -> str:
    """A column's title in the chosen language (`fatal` in the per-agent summary counts calls)."""
    return i18n.t("scorecard.col." + ("fatal_calls" if name == "fatal" else name))


def summary_columns() -> dict[str, str]:
    return {c: column(c) for c in SUMMARY_COLUMNS}


def score_column_titles() -> set[str]:
    return {column(c) for c in SCORE_COLUMNS}


def sheet_title(sheet: str) -> str:
    return i18n.t(f"scorecard.sheet.{sheet}")


def date_range(card: Scorecard) -> str:
    return i18n.t("scorecard.range", date_from=card.date_from or "—", date_to=card.date_to or "—")


@dataclass
class Scorecard:
    date_from: str | None
    date_to: str | None
    team: str | None
    agent: str | None
    summary: pd.DataFrame  # one row per agent
    distribution: pd.DataFrame  # agent × score bin (counts)
    items: pd.DataFrame  # agent × item pass rate (0..1)
    item_titles: dict[str, str]
    violations: pd.DataFrame  # agent × check (counts)
    trend: pd.DataFrame  # agent, date, calls, mean
    worst: pd.DataFrame  # worst calls with evidence
    overall: dict = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.summary.empty


def build_scorecard(
    db: Any, where: CallFilter | str | None = None, *legacy: Any, worst_n: int = 3, **filters: Any
) -> Scorecard:
    """The scorecard of the calls `where` selects (a `CallFilter`, or its fields as keyword arguments).

    The older positional form ``build_scorecard(db, date_from, date_to, team, agent)`` is still read."""
    if not isinstance(where, CallFilter) and (where is not None or legacy):
        names = ("date_from", "date_to", "team", "agent")
        filters = {**dict(zip(names, (where, *legacy), strict=False)), **filters}
        where = None
    f = resolve(where, **filters)
    date_from, date_to, team, agent = f.date_from, f.date_to, f.team, f.agent
    store = R.connect(db)
    try:
        calls = R.load_calls(store, f)
        items = R.item_status_counts(store, f)
        fails = R.check_counts(store, f, status="fail")  # agent_id, check, n (aggregated in SQL)
        calls["agent_id"] = calls["agent_id"].fillna(i18n.t("scorecard.unknown_agent"))
        names = calls.groupby("agent_id").agg(agent_name=("agent_name", "last"), team=("team", "last"))
        scored = calls[(calls.status == "ok") & calls.score_pct.notna()]
        g = scored.groupby("agent_id")
        summary = pd.DataFrame(index=names.index)
        summary["agent_name"] = names.agent_name
        summary["team"] = names.team
        summary["calls"] = g.size().reindex(names.index).fillna(0).astype(int)
        summary["failed"] = (
            calls[calls.status != "ok"].groupby("agent_id").size().reindex(names.index).fillna(0).astype(int)
        )
        summary["mean"] = g.score_pct.mean()
        summary["median"] = g.score_pct.median()
        summary["min"] = g.score_pct.min()
        summary["max"] = g.score_pct.max()
        summary["fatal"] = g.fatal.sum().reindex(names.index).fillna(0).astype(int)
        summary["review"] = g.needs_review.sum().reindex(names.index).fillna(0).astype(int)
        if not fails.empty:
            fails["agent_id"] = fails["agent_id"].fillna(i18n.t("scorecard.unknown_agent"))
            fails["n"] = fails["n"].astype(int)
        summary["violations"] = (
            fails.groupby("agent_id").n.sum().reindex(names.index).fillna(0).astype(int) if not fails.empty else 0
        )
        # review, appeal and calibration columns from the workstation (issue 11)
        from ..review.scorecard_columns import review_columns

        extra = review_columns(store, f).reindex(names.index)
        for k in extra.columns:
            summary[k] = extra[k] if k == "final_mean" else extra[k].fillna(0).astype(int)
        summary = summary.sort_values(["mean", "agent_id"], na_position="last").reset_index()

        bins = pd.cut(scored.score_pct, BINS, right=False, labels=BIN_LABELS)
        dist = pd.crosstab(scored.agent_id, bins).reindex(columns=BIN_LABELS, fill_value=0)
        dist = dist.reindex(summary.agent_id, fill_value=0)

        titles = items.drop_duplicates("item_id").set_index("item_id")["title"].to_dict() if not items.empty else {}
        if items.empty:
            item_rates = pd.DataFrame(index=summary.agent_id)
        else:
            items["agent_id"] = items["agent_id"].fillna(i18n.t("scorecard.unknown_agent"))
            # judged = pass or fail; needs_review (manual items, mono calls without roles) is for a human
            applicable = items[items.status.isin(["pass", "fail"])]
            passed = applicable.assign(ok=applicable.n.where(applicable.status == "pass", 0))
            sums = passed.groupby(["agent_id", "item_id"])[["ok", "n"]].sum()
            item_rates = (sums.ok / sums.n).unstack("item_id")
            order = list(items.groupby("item_id").idx.min().sort_values().index)
            item_rates = item_rates.reindex(index=summary.agent_id, columns=order).astype(float)
            tot = passed.groupby("item_id")[["ok", "n"]].sum()
            overall_item_rates = (tot.ok / tot.n).reindex(order).to_dict()

        if fails.empty:
            viol = pd.DataFrame(index=summary.agent_id)
        else:
            viol = fails.pivot_table(index="agent_id", columns="check", values="n", aggfunc="sum", fill_value=0)
            viol.columns.name, viol.index.name = "check", "agent_id"
            viol = viol[viol.sum().sort_values(ascending=False, kind="stable").index]
            viol = viol.reindex(summary.agent_id, fill_value=0)

        trend = (
            scored.groupby(["agent_id", "call_date"])
            .score_pct.agg(["size", "mean"])
            .reset_index()
            .rename(columns={"size": "calls", "mean": "mean"})
        )
        trend = trend.merge(names, left_on="agent_id", right_index=True)[
            ["agent_id", "agent_name", "team", "call_date", "calls", "mean"]
        ]

        worst = _worst_calls(store, scored, worst_n)
        if not worst.empty:
            agent_rank = {a: i for i, a in enumerate(summary.agent_id)}
            worst = (
                worst.assign(_o=worst.agent_id.map(agent_rank), _r=worst.final_total.fillna(worst.score_pct))
                .sort_values(["_o", "_r", "started_at"])
                .drop(columns=["_o", "_r"])
                .reset_index(drop=True)
            )
        overall = {
            "calls": int(len(scored)),
            "failed": int((calls.status != "ok").sum()),
            "agents": int(len(summary)),
            "mean": float(scored.score_pct.mean()) if len(scored) else None,
            "fatal": int(scored.fatal.sum()) if len(scored) else 0,
            "review": int(scored.needs_review.sum()) if len(scored) else 0,
            "day_means": scored.groupby("call_date").score_pct.mean().to_dict(),
            "item_rates": overall_item_rates if not items.empty else {},
            "distribution": (bins.value_counts().reindex(BIN_LABELS, fill_value=0).to_dict()),
        }
        return Scorecard(
            _s(date_from), _s(date_to), team, agent, summary, dist, item_rates, titles, viol, trend, worst, overall
        )
    finally:
        if store is not db:
            store.close()


def _s(d):
    return None if d is None else str(d)[:10]


def _worst_calls(store, scored: pd.DataFrame, n: int) -> pd.DataFrame:
    """The `n` lowest-scored calls per agent that lost points — by the final score where a reviewer submitted one,
    else the machine's automatic part (%) — each with its heaviest deduction (a fatal item first) as the reason,
    the failed check behind it and the transcript line at that time."""
    cols = [
        "agent_id",
        "agent_name",
        "team",
        "call_id",
        "started_at",
        "score_pct",
        "final_total",
        "fatal",
        "verdict",
        "severity",
        "reason",
        "check",
        "check_label",
        "evidence",
        "offset_s",
        "speaker",
        "transcript",
    ]
    lost = scored[(scored.score_pct < 100) | scored.fatal.fillna(False).astype(bool)]  # a 100-point call is no "worst"
    if lost.empty or n <= 0:
        return pd.DataFrame(columns=cols)
    final = _final_totals(store, lost.call_id.tolist())
    lost = lost.assign(final_total=lost.call_id.map(final))
    lost = lost.assign(_rank=lost.final_total.fillna(lost.score_pct))
    w = lost.sort_values(["_rank", "started_at", "call_id"]).groupby("agent_id", sort=False).head(n)
    ids = w.call_id.tolist()
    k, u, it = S.checks, S.utterances, S.item_scores
    first_fail: dict[str, sa.Row[Any]] = {}
    fails: dict[str, list[sa.Row[Any]]] = {}
    heaviest: dict[str, tuple[tuple[bool, float], sa.Row[Any]]] = {}
    by_call: dict[str, list[sa.Row[Any]]] = {}
    failed_items: dict[str, list[sa.Row[Any]]] = {}
    rubrics = _rubrics(store, w)
    with store.read() as conn:
        for i in range(0, len(ids), 500):  # bounded IN lists
            chunk = ids[i : i + 500]
            for r in conn.execute(
                sa.select(k.c.call_id, k.c.check, k.c.evidence, k.c.start)
                .where(k.c.call_id.in_(chunk), k.c.status == "fail")
                .order_by(k.c.call_id, k.c.idx)
            ):
                first_fail.setdefault(r.call_id, r)
                fails.setdefault(r.call_id, []).append(r)
            for r in conn.execute(
                sa.select(it.c.call_id, it.c.item_id, it.c.title, it.c.deduction, it.c.fatal)
                .where(it.c.call_id.in_(chunk), it.c.status == "fail")
                .order_by(it.c.call_id, it.c.idx)
            ):
                key = (bool(r.fatal), float(r.deduction or 0.0))
                failed_items.setdefault(r.call_id, []).append(r)
                if r.call_id not in heaviest or key > heaviest[r.call_id][0]:
                    heaviest[r.call_id] = (key, r)
            for r in conn.execute(
                sa.select(u.c.call_id, u.c.speaker, u.c.start, u.c.end, u.c.text)
                .where(u.c.call_id.in_(chunk))
                .order_by(u.c.call_id, u.c.idx)
            ):
                by_call.setdefault(r.call_id, []).append(r)
    bound = _item_checks()
    rows = []
    for r in w.itertuples():
        ff = first_fail.get(r.call_id)
        hv = heaviest.get(r.call_id)
        reason = None
        if hv is not None:
            item = hv[1]
            wording = "scorecard.reason_red_line" if item.fatal else "scorecard.reason"
            reason = i18n.t(wording, title=item.title, deduction=f"{float(item.deduction or 0):g}")
            behind = [f for f in fails.get(r.call_id, []) if f.check in bound.get(item.item_id, ())]
            ff = behind[0] if behind else ff
        at = None if ff is None or ff.start is None else float(ff.start)
        line, spk, off = "", "", at
        utts = by_call.get(r.call_id)
        if utts:
            if at is not None:
                inside = [x for x in utts if x.start <= at + 0.5 and x.end >= at - 0.5]
                pick = inside[0] if inside else min(utts, key=lambda x: abs(x.start - at))
            else:
                pick = utts[0]
            line, spk = pick.text, pick.speaker
            off = float(pick.start) if at is None else at
        verdict, severity = _verdict(rubrics.get(r.call_id), r, failed_items.get(r.call_id, []))
        rows.append(
            {
                "agent_id": r.agent_id,
                "agent_name": r.agent_name,
                "team": r.team,
                "call_id": r.call_id,
                "started_at": r.started_at,
                "score_pct": r.score_pct,
                "final_total": r.final_total,
                "fatal": bool(r.fatal),
                "verdict": i18n.t(f"judge.verdict.{verdict}") if verdict else None,
                "severity": i18n.t(f"judge.severity.{severity}") if severity else None,
                "reason": reason,
                "check": None if ff is None else ff.check,
                "check_label": None if ff is None else check_label(ff.check),
                "evidence": None if ff is None else ff.evidence,
                "offset_s": off,
                "speaker": spk,
                "transcript": line,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def _rubrics(store, calls: pd.DataFrame) -> dict[str, Any]:
    """call_id → the rubric its run was scored with (the default one where the run names none or an unknown)."""
    from ..review.service import rubric_named

    names: dict[Any, str] = {}
    run_ids = [int(x) for x in calls.get("run_id", pd.Series(dtype=float)).dropna().unique()]
    if run_ids:
        with store.read() as conn:
            q = sa.select(S.runs.c.run_id, S.runs.c.rubric).where(S.runs.c.run_id.in_(run_ids))
            names = {r.run_id: r.rubric for r in conn.execute(q)}
    out: dict[str, Any] = {}
    for r in calls.itertuples():
        rid = getattr(r, "run_id", None)
        out[r.call_id] = rubric_named(names.get(int(rid)) if rid is not None and not pd.isna(rid) else "")
    return out


def _verdict(rubric: Any, call: Any, failed: list[sa.Row[Any]]) -> tuple[str, str]:
    """The rubric's per-call verdict and worst severity from the stored score and failed items (issue 9)."""
    from ..rubric import verdict_of

    if rubric is None or call.score_max is None or pd.isna(call.score_max):
        return "", ""
    severity = {i.id: ("red_line" if i.fatal else i.severity) for i in rubric.items}
    sev = [("red_line" if f.fatal else severity.get(f.item_id, "minor")) for f in failed]
    return verdict_of(rubric, float(call.score_total or 0.0), float(call.score_max), sev, bool(call.fatal))


def _final_totals(store, ids: list[str]) -> dict[str, float]:
    """Final 100-point scores submitted on the workstation (reviews; absent before migration 8)."""
    from ..review import tables as T

    out: dict[str, float] = {}
    rv = T.reviews
    with store.read() as conn:
        if not sa.inspect(conn).has_table("reviews"):
            return out
        for i in range(0, len(ids), 500):
            for r in conn.execute(
                sa.select(rv.c.call_id, rv.c.final_total).where(
                    rv.c.call_id.in_(ids[i : i + 500]),
                    rv.c.purpose == "review",
                    rv.c.state == "submitted",
                    rv.c.final_total.is_not(None),
                )
            ):
                out[r.call_id] = float(r.final_total)
    return out


def _item_checks() -> dict[str, set[str]]:
    """Rubric item id → the checks bound to it (the default rubric), to show the check behind a deduction."""
    from ..rubric import RubricError, load_rubric

    try:
        rubric = load_rubric("10086")
    except RubricError:
        return {}
    return {i.id: {b.check for b in i.bindings} for i in rubric.items}


def label_check(name: str) -> str:
    return i18n.t("scorecard.with_id", label=check_label(name), id=name)


def views(card: Scorecard) -> dict[str, pd.DataFrame]:
    """The scorecard as display tables, keyed by sheet (`SHEETS`), with column titles in the chosen language
    (shared by xlsx, csv and html)."""
    col = summary_columns()
    s = card.summary.rename(columns=col)
    d = card.distribution.copy()
    d.columns = [i18n.t("scorecard.bin", bin=c) for c in d.columns]
    d = d.reset_index(drop=True)
    d.insert(0, col["agent_name"], card.summary.agent_name.values)
    d.insert(0, col["agent_id"], card.summary.agent_id.values)
    it = card.items.copy()
    it.columns = [i18n.t("scorecard.with_id", label=card.item_titles.get(c, c), id=c) for c in it.columns]
    it = it.reset_index(drop=True)
    it.insert(0, col["agent_name"], card.summary.agent_name.values)
    it.insert(0, col["agent_id"], card.summary.agent_id.values)
    v = card.violations.copy()
    v.columns = [label_check(c) for c in v.columns]
    v = v.reset_index(drop=True)
    v.insert(0, col["agent_name"], card.summary.agent_name.values)
    v.insert(0, col["agent_id"], card.summary.agent_id.values)
    t = card.trend.rename(columns={**col, "call_date": column("call_date")})
    worst_names = [c for c in card.worst.columns if c not in ("verdict", "severity")]
    w = card.worst.rename(
        columns={
            **{c: column(c) for c in worst_names},
            "fatal": i18n.t("scorecard.col.fatal"),  # here: this call has a fatal error (yes/no)
            "verdict": i18n.t("judge.col.verdict"),
            "severity": i18n.t("judge.col.worst_severity"),
        }
    )
    return {"summary": s, "distribution": d, "items": it, "violations": v, "trend": t, "worst": w}
