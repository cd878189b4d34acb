"""Reviews through the store: load a stored call, record decisions, compute and keep the final score, the
queue with triage, assignments. Every change is written together with its audit-log row (one transaction).

The audit log is append-only: this module only ever inserts into it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from ..i18n import t
from ..rubric import Item, Rubric, RubricError, load_rubric
from ..store import schema as S
from ..store.db import Store
from ..types import Finding
from . import tables as T
from .access import User
from .final import AddedFinding, Decision, FinalScore, ManualEntry, attach, final_score
from .machine_accuracy import low_precision_checks
from .triage import TriageConfig, TriageInput, low_confidence_hit, triage

DEFAULT_RUBRIC = "10086"


class ReviewError(ValueError):
    """A review action that cannot be done (unknown finding, bad deduction, ...); the message says why."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _j(x: Any) -> str | None:
    return None if x is None else json.dumps(x, ensure_ascii=False, sort_keys=True, default=str)


def audit(
    conn: sa.Connection,
    user: User | None,
    action: str,
    *,
    call_id: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    before: Any = None,
    after: Any = None,
    comment: str | None = None,
) -> None:
    conn.execute(
        T.audit_log.insert().values(
            at=_now(),
            user_id=None if user is None else user.user_id,
            username="(cli)" if user is None else user.username,
            action=action,
            call_id=call_id,
            object_type=object_type,
            object_id=object_id,
            before_json=_j(before),
            after_json=_j(after),
            comment=comment or None,
        )
    )


# ------------------------------------------------------------------------------------------------ reading


@lru_cache(maxsize=16)
def rubric_named(name: str) -> Rubric:
    try:
        return load_rubric(name)
    except RubricError:
        return load_rubric(DEFAULT_RUBRIC)


@dataclass(frozen=True)
class StoredFinding:
    row_id: int
    finding: Finding


@dataclass(frozen=True)
class CallData:
    call: dict[str, Any]
    rubric: Rubric
    utterances: list[dict[str, Any]]
    events: list[dict[str, Any]]
    findings: list[StoredFinding]
    review: dict[str, Any] | None
    decisions: list[Decision]
    added: list[AddedFinding]
    manual: list[ManualEntry]
    assignee: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def final(self, pass_mark: float | None = None) -> FinalScore:
        kw = {} if pass_mark is None else {"pass_mark": pass_mark}
        return final_score(
            self.rubric, [f.finding for f in self.findings], self.decisions, self.added, self.manual, **kw
        )


def call_agent(store: Store, call_id: str) -> tuple[bool, str | None]:
    """(exists, agent_id) — what the access check needs, before anything else is read."""
    with store.read() as conn:
        row = conn.execute(sa.select(S.calls.c.agent_id).where(S.calls.c.call_id == call_id)).first()
    return (row is not None, None if row is None else row.agent_id)


def _review_row(conn: sa.Connection, call_id: str, purpose: str = "review") -> sa.Row | None:
    return conn.execute(
        sa.select(T.reviews)
        .where(T.reviews.c.call_id == call_id, T.reviews.c.purpose == purpose)
        .order_by(T.reviews.c.review_id)
        .limit(1)
    ).first()


def load_call(store: Store, call_id: str, *, transcript: bool = True) -> CallData | None:
    c = S.calls
    with store.read() as conn:
        row = conn.execute(
            sa.select(c, S.runs.c.rubric)
            .select_from(c.outerjoin(S.runs, S.runs.c.run_id == c.c.run_id))
            .where(c.c.call_id == call_id)
        ).first()
        if row is None:
            return None
        call = dict(row._mapping)
        utts = []
        if transcript:
            u = S.utterances
            utts = [
                dict(r._mapping)
                for r in conn.execute(
                    sa.select(u.c.idx, u.c.speaker, u.c.start, u.c.end, u.c.text)
                    .where(u.c.call_id == call_id)
                    .order_by(u.c.idx)
                ).all()
            ]
        e = S.events
        events = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(e.c.type, e.c.start, e.c.end, e.c.speaker).where(e.c.call_id == call_id).order_by(e.c.idx)
            ).all()
        ]
        k = S.checks
        findings = [
            StoredFinding(
                r.check_row_id,
                Finding(
                    r.check, r.status, r.start, r.end, r.speaker, r.evidence or "", json.loads(r.detail_json or "{}")
                ),
            )
            for r in conn.execute(sa.select(k).where(k.c.call_id == call_id).order_by(k.c.idx)).all()
        ]
        review = _review_row(conn, call_id)
        decisions: list[Decision] = []
        added: list[AddedFinding] = []
        manual: list[ManualEntry] = []
        if review is not None:
            rid = review.review_id
            d = T.decisions
            decisions = [
                Decision(
                    r.check,
                    r.finding_start,
                    r.finding_end,
                    r.decision,
                    r.finding_status,
                    r.comment or "",
                    r.decision_id,
                )
                for r in conn.execute(sa.select(d).where(d.c.review_id == rid).order_by(d.c.decision_id)).all()
            ]
            a = T.added_findings
            added = [
                AddedFinding(r.item_id, r.deduction, r.start, r.end, r.comment or "", r.check, r.added_id)
                for r in conn.execute(
                    sa.select(a).where(a.c.review_id == rid, a.c.removed_at.is_(None)).order_by(a.c.added_id)
                ).all()
            ]
            m = T.manual_scores
            manual = [
                ManualEntry(r.item_id, r.deduction, r.comment or "")
                for r in conn.execute(sa.select(m).where(m.c.review_id == rid)).all()
            ]
        asg = conn.execute(
            sa.select(T.users.c.username)
            .select_from(T.assignments.join(T.users, T.users.c.user_id == T.assignments.c.reviewer_id))
            .where(T.assignments.c.call_id == call_id, T.assignments.c.purpose == "review")
            .order_by(T.assignments.c.assignment_id.desc())
            .limit(1)
        ).scalar()
    rubric = rubric_named(call.get("rubric") or DEFAULT_RUBRIC)
    return CallData(
        call,
        rubric,
        utts,
        events,
        findings,
        None if review is None else dict(review._mapping),
        decisions,
        added,
        manual,
        asg,
    )


# ------------------------------------------------------------------------------------------------ writing


def _ensure_review(conn: sa.Connection, call_id: str, user: User) -> sa.Row:
    row = _review_row(conn, call_id)
    if row is not None:
        return row
    call = conn.execute(
        sa.select(S.calls.c.call_date, S.calls.c.source_sha256, S.calls.c.score_total, S.calls.c.score_max).where(
            S.calls.c.call_id == call_id
        )
    ).first()
    if call is None:
        raise ReviewError(t("review.error.no_call", call_id=call_id))
    now = _now()
    conn.execute(
        T.reviews.insert().values(
            call_id=call_id,
            call_date=call.call_date,
            purpose="review",
            reviewer_id=user.user_id,
            state="draft",
            machine_sha256=call.source_sha256,
            machine_total=call.score_total,
            machine_max=call.score_max,
            created_at=now,
            updated_at=now,
        )
    )
    audit(conn, user, "review_open", call_id=call_id, object_type="review")
    row = _review_row(conn, call_id)
    assert row is not None
    return row


def _finding_row(conn: sa.Connection, call_id: str, row_id: int) -> sa.Row:
    k = S.checks
    row = conn.execute(sa.select(k).where(k.c.check_row_id == row_id, k.c.call_id == call_id)).first()
    if row is None:
        raise ReviewError(t("review.error.finding_gone"))
    if row.status not in ("fail", "needs_review"):
        raise ReviewError(t("review.error.not_judgeable"))
    return row


def decide(store: Store, user: User, call_id: str, row_id: int, decision: str, comment: str = "") -> None:
    """确认 / 误报 one machine finding (by its stored row); replaces this review's earlier decision on it."""
    if decision not in ("confirm", "reject"):
        raise ReviewError(t("review.error.bad_verdict"))
    with store.engine.begin() as conn:
        f = _finding_row(conn, call_id, row_id)
        review = _ensure_review(conn, call_id, user)
        d = T.decisions
        cur = load_call_decisions(conn, review.review_id)
        attached = {
            a.finding_index: a.decision
            for a in attach(cur, [Finding(f.check, f.status, f.start, f.end)])
            if a.finding_index is not None
        }
        before = None
        if 0 in attached and attached[0].decision_id is not None:
            old = attached[0]
            before = {"decision": old.decision, "comment": old.comment}
            conn.execute(d.delete().where(d.c.decision_id == old.decision_id))
        conn.execute(
            d.insert().values(
                review_id=review.review_id,
                check=f.check,
                finding_start=f.start,
                finding_end=f.end,
                finding_status=f.status,
                evidence=f.evidence,
                decision=decision,
                comment=comment or None,
                decided_by=user.user_id,
                decided_at=_now(),
            )
        )
        _touch(conn, review.review_id)
        audit(
            conn,
            user,
            "decision",
            call_id=call_id,
            object_type="finding",
            object_id=f"{f.check}@{'' if f.start is None else round(f.start, 2)}",
            before=before,
            after={"decision": decision, "comment": comment or ""},
            comment=comment,
        )


def load_call_decisions(conn: sa.Connection, review_id: int) -> list[Decision]:
    d = T.decisions
    return [
        Decision(r.check, r.finding_start, r.finding_end, r.decision, r.finding_status, r.comment or "", r.decision_id)
        for r in conn.execute(sa.select(d).where(d.c.review_id == review_id).order_by(d.c.decision_id)).all()
    ]


def _item(rubric: Rubric, item_id: str) -> Item:
    for it in rubric.items:
        if it.id == item_id:
            return it
    raise ReviewError(t("review.error.no_item", item_id=item_id))


def _rubric_of(conn: sa.Connection, call_id: str) -> Rubric:
    name = conn.execute(
        sa.select(S.runs.c.rubric)
        .select_from(S.calls.outerjoin(S.runs, S.runs.c.run_id == S.calls.c.run_id))
        .where(S.calls.c.call_id == call_id)
    ).scalar()
    return rubric_named(name or DEFAULT_RUBRIC)


def add_finding(
    store: Store,
    user: User,
    call_id: str,
    item_id: str,
    *,
    start: float | None,
    deduction: float | None,
    comment: str = "",
    end: float | None = None,
) -> None:
    """漏检: charge a violation the machine missed to an automatic item (default deduction: the item's binding
    deduction, or all its points)."""
    with store.engine.begin() as conn:
        rubric = _rubric_of(conn, call_id)
        item = _item(rubric, item_id)
        if item.manual:
            raise ReviewError(t("review.error.manual_item"))
        if deduction is None:
            fixed = [b.deduct for b in item.bindings if b.deduct is not None]
            deduction = fixed[0] if fixed else item.points
        if not (0 < deduction <= item.points):
            raise ReviewError(t("review.error.deduction_range", points=f"{item.points:g}"))
        review = _ensure_review(conn, call_id, user)
        conn.execute(
            T.added_findings.insert().values(
                review_id=review.review_id,
                item_id=item_id,
                start=start,
                end=end,
                deduction=float(deduction),
                comment=comment or None,
                created_by=user.user_id,
                created_at=_now(),
            )
        )
        _touch(conn, review.review_id)
        audit(
            conn,
            user,
            "add_finding",
            call_id=call_id,
            object_type="item",
            object_id=item_id,
            after={"start": start, "deduction": deduction, "comment": comment or ""},
            comment=comment,
        )


def remove_added(store: Store, user: User, call_id: str, added_id: int) -> None:
    a = T.added_findings
    with store.engine.begin() as conn:
        review = _review_row(conn, call_id)
        row = (
            None
            if review is None
            else conn.execute(
                sa.select(a).where(
                    a.c.added_id == added_id, a.c.review_id == review.review_id, a.c.removed_at.is_(None)
                )
            ).first()
        )
        if row is None or review is None:
            raise ReviewError(t("review.error.no_missed"))
        conn.execute(a.update().where(a.c.added_id == added_id).values(removed_at=_now()))
        _touch(conn, review.review_id)
        audit(
            conn,
            user,
            "remove_finding",
            call_id=call_id,
            object_type="item",
            object_id=row.item_id,
            before={"start": row.start, "deduction": row.deduction, "comment": row.comment or ""},
        )


def set_manual(store: Store, user: User, call_id: str, item_id: str, deduction: float, comment: str = "") -> None:
    """Enter (or change) a manual item's score: deduction 0 = passed."""
    with store.engine.begin() as conn:
        rubric = _rubric_of(conn, call_id)
        item = _item(rubric, item_id)
        if not item.manual:
            raise ReviewError(t("review.error.machine_item", title=item.title))
        if not (0 <= deduction <= item.points):
            raise ReviewError(t("review.error.deduction_range", points=f"{item.points:g}"))
        review = _ensure_review(conn, call_id, user)
        m = T.manual_scores
        old = conn.execute(sa.select(m).where(m.c.review_id == review.review_id, m.c.item_id == item_id)).first()
        if old is not None:
            conn.execute(m.delete().where(m.c.review_id == review.review_id, m.c.item_id == item_id))
        conn.execute(
            m.insert().values(
                review_id=review.review_id,
                item_id=item_id,
                deduction=float(deduction),
                comment=comment or None,
                entered_by=user.user_id,
                entered_at=_now(),
            )
        )
        _touch(conn, review.review_id)
        audit(
            conn,
            user,
            "manual_score",
            call_id=call_id,
            object_type="item",
            object_id=item_id,
            before=None if old is None else {"deduction": old.deduction, "comment": old.comment or ""},
            after={"deduction": float(deduction), "comment": comment or ""},
            comment=comment,
        )


def _touch(conn: sa.Connection, review_id: int) -> None:
    conn.execute(T.reviews.update().where(T.reviews.c.review_id == review_id).values(updated_at=_now()))


def submit(store: Store, user: User, call_id: str, comment: str = "", pass_mark: float | None = None) -> FinalScore:
    """Recompute the final score from the decisions and keep it on the review (the machine score stays beside)."""
    data = load_call(store, call_id, transcript=False)
    if data is None:
        raise ReviewError(t("review.error.no_call", call_id=call_id))
    fs = data.final(pass_mark)
    with store.engine.begin() as conn:
        review = _ensure_review(conn, call_id, user)
        before = {"state": review.state, "final_total": review.final_total, "verdict": review.verdict}
        sc = fs.scale
        values = dict(
            state="submitted",
            comment=comment or review.comment,
            final_total=sc.total,
            final_auto=sc.auto_score,
            final_auto_max=sc.auto_points,
            final_fatal=sc.fatal,
            verdict=sc.verdict,
            machine_sha256=data.call.get("source_sha256"),
            machine_total=data.call.get("score_total"),
            machine_max=data.call.get("score_max"),
            submitted_at=_now(),
            updated_at=_now(),
        )
        if review.reviewer_id is None:
            values["reviewer_id"] = user.user_id
        conn.execute(T.reviews.update().where(T.reviews.c.review_id == review.review_id).values(**values))
        audit(
            conn,
            user,
            "submit",
            call_id=call_id,
            object_type="review",
            object_id=str(review.review_id),
            before=before,
            after={"state": "submitted", "final_total": sc.total, "verdict": sc.verdict},
            comment=comment,
        )
    return fs


def assign(store: Store, user: User, call_ids: Sequence[str], reviewer_id: int) -> int:
    """Assign calls to a reviewer (replacing an earlier review assignment). Returns the number assigned."""
    a = T.assignments
    n = 0
    with store.engine.begin() as conn:
        rv = conn.execute(sa.select(T.users).where(T.users.c.user_id == reviewer_id)).first()
        if rv is None or rv.role not in ("reviewer", "supervisor", "admin"):
            raise ReviewError(t("review.error.bad_assignee"))
        for cid in call_ids:
            if conn.execute(sa.select(S.calls.c.call_id).where(S.calls.c.call_id == cid)).first() is None:
                continue
            old = conn.execute(sa.select(a.c.reviewer_id).where(a.c.call_id == cid, a.c.purpose == "review")).scalar()
            conn.execute(a.delete().where(a.c.call_id == cid, a.c.purpose == "review"))
            conn.execute(
                a.insert().values(
                    call_id=cid, purpose="review", reviewer_id=reviewer_id, assigned_by=user.user_id, assigned_at=_now()
                )
            )
            audit(
                conn,
                user,
                "assign",
                call_id=cid,
                object_type="assignment",
                before=None if old is None else {"reviewer_id": old},
                after={"reviewer": rv.username},
            )
            n += 1
    return n


def audit_for_call(store: Store, call_id: str) -> list[dict[str, Any]]:
    al = T.audit_log
    with store.read() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(sa.select(al).where(al.c.call_id == call_id).order_by(al.c.audit_id)).all()
        ]


# ------------------------------------------------------------------------------------------------ triage + queue


_TRIAGE_CHECKED: dict[tuple[int, str, str], float] = {}


def ensure_triage(store: Store, call_date: str, config: TriageConfig, fresh_within_s: float = 0.0) -> None:
    """Bucket one day's calls and keep the result; recomputed when a call was (re-)scored or settings changed.
    With `fresh_within_s`, a day checked that recently in this process is not checked again (the queue page)."""
    c, tr = S.calls, T.triage
    # checks reviewers often reject send their hits to 必检; the set is part of the key, so triage follows it
    weak = low_precision_checks(store, config.min_precision, config.min_decisions)
    key = config.key if not weak else hashlib.sha256(f"{config.key}|{','.join(sorted(weak))}".encode()).hexdigest()[:16]
    memo = (id(store), call_date, key)
    now = time.monotonic()
    if fresh_within_s and now - _TRIAGE_CHECKED.get(memo, -1e9) < fresh_within_s:
        return
    _TRIAGE_CHECKED[memo] = now
    with store.read() as conn:
        stale = conn.execute(
            sa.select(c.c.call_id)
            .select_from(c.outerjoin(tr, tr.c.call_id == c.c.call_id))
            .where(
                c.c.call_date == call_date,
                c.c.status == "ok",
                sa.or_(
                    tr.c.call_id.is_(None),
                    tr.c.config_key != key,
                    sa.func.coalesce(tr.c.machine_sha256, "") != sa.func.coalesce(c.c.source_sha256, ""),
                ),
            )
            .limit(1)
        ).first()
        if stale is None:
            return
        rows = conn.execute(
            sa.select(
                c.c.call_id,
                c.c.agent_id,
                c.c.call_date,
                c.c.fatal,
                c.c.needs_review,
                c.c.score_total,
                c.c.score_max,
                c.c.layout,
                c.c.source_sha256,
            ).where(c.c.call_date == call_date, c.c.status == "ok")
        ).all()
        k = S.checks
        low: set[str] = set()
        for r in conn.execute(
            sa.select(k.c.call_id, k.c.status, k.c.detail_json)
            .select_from(k.join(c, c.c.call_id == k.c.call_id))
            .where(c.c.call_date == call_date, k.c.status == "fail", k.c.detail_json.like('%"method"%'))
        ).all():
            if r.call_id not in low and low_confidence_hit(r.status, json.loads(r.detail_json or "{}"), config):
                low.add(r.call_id)
        weak_hit: set[str] = set()
        if weak:
            weak_hit = set(
                conn.execute(
                    sa.select(k.c.call_id)
                    .distinct()
                    .select_from(k.join(c, c.c.call_id == k.c.call_id))
                    .where(c.c.call_date == call_date, k.c.status == "fail", k.c.check.in_(sorted(weak)))
                ).scalars()
            )
        u = S.utterances
        unknown = set(
            conn.execute(
                sa.select(u.c.call_id)
                .distinct()
                .select_from(u.join(c, c.c.call_id == u.c.call_id))
                .where(c.c.call_date == call_date, c.c.layout == "mono", u.c.speaker == "unknown")
            ).scalars()
        )
    inputs = [
        TriageInput(
            r.call_id,
            r.agent_id,
            r.call_date,
            bool(r.fatal),
            bool(r.needs_review),
            r.call_id in low,
            r.call_id in unknown,
            None if not r.score_max else 100.0 * float(r.score_total or 0.0) / float(r.score_max),
            r.call_id in weak_hit,
        )
        for r in rows
    ]
    sha = {r.call_id: r.source_sha256 for r in rows}
    results = triage(inputs, config)
    with store.engine.begin() as conn:
        ids = [r.call_id for r in rows]
        for i in range(0, len(ids), 500):
            conn.execute(tr.delete().where(tr.c.call_id.in_(ids[i : i + 500])))
        conn.execute(tr.delete().where(tr.c.call_date == call_date))
        if results:
            conn.execute(
                tr.insert(),
                [
                    dict(
                        call_id=x.call_id,
                        call_date=call_date,
                        bucket=x.bucket,
                        reasons=",".join(x.reasons),
                        machine_sha256=sha[x.call_id],
                        config_key=key,
                    )
                    for x in results
                ],
            )


@dataclass(frozen=True)
class QueueFilter:
    date_from: str
    date_to: str
    team: str | None = None
    agent: str | None = None
    bucket: str | None = None  # must | sample | skip
    state: str | None = None  # pending | reviewed
    assignee_id: int | None = None  # only calls assigned to this user
    agent_id: str | None = None  # restrict to one agent's calls (agent role)
    page: int = 1
    per_page: int = 50


MAX_QUEUE_DAYS = 31


def queue_dates(store: Store, f: QueueFilter) -> list[str]:
    c = S.calls
    with store.read() as conn:
        return list(
            conn.execute(
                sa.select(c.c.call_date).distinct().where(c.c.call_date >= f.date_from, c.c.call_date <= f.date_to)
            ).scalars()
        )


def queue(
    store: Store, f: QueueFilter, config: TriageConfig, fresh_within_s: float = 0.0
) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
    """(rows of this page, total matching, counts per bucket over the filter without the bucket)."""
    for d in queue_dates(store, f)[:MAX_QUEUE_DAYS]:
        ensure_triage(store, d, config, fresh_within_s)
    c, tr, rv, a, us = S.calls, T.triage, T.reviews, T.assignments, T.users
    rv_ = rv.alias("rv")
    # Two steps: the page's call ids with only the joins the filters need (the triage table carries the date and
    # bucket, so a plain day or week is counted from its index alone), then the display columns for those ids.
    need_calls = bool(f.team or f.agent or f.agent_id)
    need_review = f.state in ("reviewed", "pending")
    need_assign = f.assignee_id is not None
    base: Any = tr
    conds: list[Any] = [tr.c.call_date >= f.date_from, tr.c.call_date <= f.date_to]
    if need_calls:  # drive from calls' (team|agent, date) indexes
        base = c.join(tr, tr.c.call_id == c.c.call_id)
        conds = [c.c.call_date >= f.date_from, c.c.call_date <= f.date_to]
        if f.team:
            conds.append(c.c.team == f.team)
        if f.agent:
            conds.append(sa.or_(c.c.agent_id == f.agent, c.c.agent_name == f.agent))
        if f.agent_id:
            conds.append(c.c.agent_id == f.agent_id)
    if need_review:
        base = base.outerjoin(rv_, sa.and_(rv_.c.call_id == tr.c.call_id, rv_.c.purpose == "review"))
        if f.state == "reviewed":
            conds.append(rv_.c.state == "submitted")
        else:
            conds.append(sa.or_(rv_.c.state.is_(None), rv_.c.state != "submitted"))
    if need_assign:
        base = base.join(a, sa.and_(a.c.call_id == tr.c.call_id, a.c.purpose == "review"))
        conds.append(a.c.reviewer_id == f.assignee_id)
    with store.read() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                sa.select(tr.c.bucket, sa.func.count()).select_from(base).where(*conds).group_by(tr.c.bucket)
            ).all()
        )
        if f.bucket:
            conds.append(tr.c.bucket == f.bucket)
        total = counts.get(f.bucket, 0) if f.bucket else sum(counts.values())
        order = sa.case({"must": 0, "sample": 1}, value=tr.c.bucket, else_=2)
        page_base = base if need_calls else base.join(c, c.c.call_id == tr.c.call_id)
        ids = list(
            conn.execute(
                sa.select(c.c.call_id)
                .select_from(page_base)
                .where(*conds)
                .order_by(order, c.c.call_date.desc(), c.c.started_at, c.c.call_id)
                .limit(f.per_page)
                .offset(max(f.page - 1, 0) * f.per_page)
            ).scalars()
        )
        rows = (
            conn.execute(
                sa.select(
                    c.c.call_id,
                    c.c.agent_id,
                    c.c.agent_name,
                    c.c.team,
                    c.c.started_at,
                    c.c.duration_s,
                    c.c.score_total,
                    c.c.score_max,
                    c.c.fatal,
                    tr.c.bucket,
                    tr.c.reasons,
                    rv_.c.state,
                    rv_.c.final_total,
                    rv_.c.verdict,
                    us.c.username.label("assignee"),
                )
                .select_from(
                    c.join(tr, tr.c.call_id == c.c.call_id)
                    .outerjoin(rv_, sa.and_(rv_.c.call_id == c.c.call_id, rv_.c.purpose == "review"))
                    .outerjoin(a, sa.and_(a.c.call_id == c.c.call_id, a.c.purpose == "review"))
                    .outerjoin(us, us.c.user_id == a.c.reviewer_id)
                )
                .where(c.c.call_id.in_(ids))
            ).all()
            if ids
            else []
        )
    pos = {cid: i for i, cid in enumerate(ids)}
    return sorted((dict(r._mapping) for r in rows), key=lambda r: pos[r["call_id"]]), total, counts


def agent_calls(store: Store, agent_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """An agent's own calls, newest first, with their review state and final score."""
    c, rv = S.calls, T.reviews
    with store.read() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(
                    c.c.call_id,
                    c.c.started_at,
                    c.c.duration_s,
                    c.c.score_total,
                    c.c.score_max,
                    c.c.fatal,
                    rv.c.state,
                    rv.c.final_total,
                    rv.c.verdict,
                    rv.c.comment,
                )
                .select_from(c.outerjoin(rv, sa.and_(rv.c.call_id == c.c.call_id, rv.c.purpose == "review")))
                .where(c.c.agent_id == agent_id, c.c.status == "ok")
                .order_by(c.c.started_at.desc())
                .limit(limit)
            ).all()
        ]


def latest_date(store: Store) -> str | None:
    with store.read() as conn:
        return conn.execute(sa.select(sa.func.max(S.calls.c.call_date))).scalar()


def teams(store: Store) -> list[str]:
    with store.read() as conn:
        names = conn.execute(sa.select(S.agents.c.team).distinct().order_by(S.agents.c.team)).scalars()
        return [team for team in names if team]
