"""What reviews teach about the machine: per check and per rubric item (rule), how often reviewers confirmed or
rejected its hits and how many violations they had to add (漏检).

precision = confirmed / (confirmed + rejected), over the decisions of submitted official reviews; ``missed`` counts
the findings reviewers added (charged to an item; to a check when the reviewer named the check that missed it).
Filtered by call date range and team. Checks whose reviewed precision falls under a threshold (with enough
decisions to mean something) route their hits to the 必检 bucket (``low_precision_checks``, used by triage).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..rubric import Rubric
from ..store import schema as S
from ..store.db import Store
from ..types import Finding
from . import tables as T


@dataclass(frozen=True)
class Accuracy:
    key: str  # check name or rubric item id
    title: str
    confirmed: int
    rejected: int
    missed: int

    @property
    def decided(self) -> int:
        return self.confirmed + self.rejected

    @property
    def precision(self) -> float | None:
        return None if self.decided == 0 else self.confirmed / self.decided


@dataclass(frozen=True)
class AccuracyReport:
    checks: tuple[Accuracy, ...]
    rules: tuple[Accuracy, ...]
    reviews: int  # submitted official reviews in the range
    date_from: str | None
    date_to: str | None
    team: str | None

    def to_json(self) -> dict[str, Any]:
        def row(a: Accuracy) -> dict[str, Any]:
            p = a.precision
            return {
                "key": a.key,
                "title": a.title,
                "confirmed": a.confirmed,
                "rejected": a.rejected,
                "missed": a.missed,
                "precision": None if p is None else round(p, 4),
            }

        return {
            "reviews": self.reviews,
            "date_from": self.date_from,
            "date_to": self.date_to,
            "team": self.team,
            "checks": [row(a) for a in self.checks],
            "rules": [row(a) for a in self.rules],
        }


def _conds(date_from: str | None, date_to: str | None, team: str | None) -> list[Any]:
    rv, c = T.reviews, S.calls
    conds: list[Any] = [rv.c.purpose == "review", rv.c.state == "submitted"]
    if date_from:
        conds.append(c.c.call_date >= date_from)
    if date_to:
        conds.append(c.c.call_date <= date_to)
    if team:
        conds.append(c.c.team == team)
    return conds


def machine_accuracy(
    store: Store,
    rubric: Rubric,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    team: str | None = None,
    check_label: Any = None,
) -> AccuracyReport:
    """Per check and per rubric item, from the submitted official reviews of calls in the range."""
    rv, c, d, a, k = T.reviews, S.calls, T.decisions, T.added_findings, S.checks
    label = check_label or (lambda x: x)
    conds = _conds(date_from, date_to, team)
    joined = rv.join(c, c.c.call_id == rv.c.call_id)
    with store.read() as conn:
        n_reviews = conn.execute(sa.select(sa.func.count()).select_from(joined).where(*conds)).scalar() or 0
        # each decision with the stored finding's detail (bindings may select by category); the finding is
        # matched by check and start as the decision recorded them
        drows = conn.execute(
            sa.select(d.c.check, d.c.decision, d.c.finding_status, k.c.detail_json)
            .select_from(
                d.join(rv, rv.c.review_id == d.c.review_id)
                .join(c, c.c.call_id == rv.c.call_id)
                .outerjoin(
                    k,
                    sa.and_(
                        k.c.call_id == rv.c.call_id,
                        k.c.check == d.c.check,
                        sa.func.abs(sa.func.coalesce(k.c.start, -1.0) - sa.func.coalesce(d.c.finding_start, -1.0))
                        < 0.05,
                    ),
                )
            )
            .where(*conds)
        ).all()
        arows = conn.execute(
            sa.select(a.c.item_id, a.c.check)
            .select_from(a.join(rv, rv.c.review_id == a.c.review_id).join(c, c.c.call_id == rv.c.call_id))
            .where(*conds, a.c.removed_at.is_(None))
        ).all()
    per_check: dict[str, list[int]] = {}
    per_item: dict[str, list[int]] = {i.id: [0, 0, 0] for i in rubric.items if not i.manual}
    for r in drows:
        col = 0 if r.decision == "confirm" else 1
        per_check.setdefault(r.check, [0, 0, 0])[col] += 1
        f = Finding(r.check, "fail", detail=json.loads(r.detail_json or "{}"))
        for item in rubric.items:
            if not item.manual and any(b.selects(f) for b in item.bindings):
                per_item[item.id][col] += 1
    for ar in arows:
        if ar.check:
            per_check.setdefault(ar.check, [0, 0, 0])[2] += 1
        if ar.item_id in per_item:
            per_item[ar.item_id][2] += 1
    titles = {i.id: i.title for i in rubric.items}

    def order(x: Accuracy) -> tuple[float, int, str]:
        p = x.precision
        return (2.0 if p is None else p, -x.decided, x.key)

    checks = sorted((Accuracy(ck, label(ck), *v) for ck, v in per_check.items()), key=order)
    rules = sorted((Accuracy(i, titles.get(i, i), *v) for i, v in per_item.items() if any(v)), key=order)
    return AccuracyReport(tuple(checks), tuple(rules), int(n_reviews), date_from, date_to, team)


def low_precision_checks(store: Store, min_precision: float | None, min_decisions: int) -> frozenset[str]:
    """Checks whose reviewed precision (all submitted official reviews) is under `min_precision`, counting only
    checks with at least `min_decisions` decisions (a few early rejections must not flood 必检)."""
    if min_precision is None:
        return frozenset()
    rv, d = T.reviews, T.decisions
    confirmed = sa.func.sum(sa.case((d.c.decision == "confirm", 1), else_=0))
    with store.read() as conn:
        rows = conn.execute(
            sa.select(d.c.check, confirmed.label("confirmed"), sa.func.count().label("n"))
            .select_from(d.join(rv, rv.c.review_id == d.c.review_id))
            .where(rv.c.purpose == "review", rv.c.state == "submitted")
            .group_by(d.c.check)
        ).all()
    return frozenset(r.check for r in rows if r.n >= max(min_decisions, 1) and (r.confirmed or 0) / r.n < min_precision)


def to_markdown(rep: AccuracyReport) -> str:
    """The report as Markdown tables (``callqa eval --reviews``), wording from the catalog."""
    from ..i18n import t

    if rep.reviews == 0:
        return t("loop.acc.cli.none")
    head = [
        t("loop.acc.col.confirmed"),
        t("loop.acc.col.rejected"),
        t("loop.acc.col.precision"),
        t("loop.acc.col.missed"),
    ]
    lines = [f"# {t('loop.acc.cli.title', reviews=rep.reviews)}", ""]
    for title, kind, rows in (
        (t("loop.acc.by_check"), "check", rep.checks),
        (t("loop.acc.by_rule"), "rule", rep.rules),
    ):
        lines += [f"## {title}", "", "| " + " | ".join([t(f"loop.acc.col.{kind}"), *head]) + " |"]
        lines.append("|" + "---|" * (len(head) + 1))
        for a in rows:
            p = "—" if a.precision is None else f"{100 * a.precision:.1f}%"
            name = a.title if a.title == a.key else f"{a.title} ({a.key})"
            lines.append(f"| {name} | {a.confirmed} | {a.rejected} | {p} | {a.missed} |")
        lines.append("")
    return "\n".join(lines)
