"""校准 (calibration): a supervisor picks calls and assigns them blind to two or more reviewers; each judges the
calls on their own (confirm/reject each machine finding, score the manual items); once the session is closed the
supervisor sees how alike they judged — per check and per rubric item: percent agreement and kappa (Cohen's for
two raters, Fleiss' for more: ``agreement``), the spread of the final scores, and the most disputed items.

Blind for real: a calibration judgement is a review of its own (``reviews.purpose = 'calibration'``,
``session_id``, one per reviewer and call) that nothing else reads — not the official review, the queue, machine
accuracy — and ``results`` refuses while the session is open; a reviewer's page only ever loads their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from ..i18n import t
from ..store import schema as S
from ..store.db import Store
from . import loop_tables as L
from . import service as R
from . import tables as T
from .access import User, allowed
from .agreement import kappa, percent_agreement
from .final import DEFAULT_PASS_MARK, Decision, ManualEntry, attach, final_score

PURPOSE = "calibration"


class CalibrationError(ValueError):
    """A calibration action that cannot be done; the message (from the catalog) says why."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def create_session(store: Store, user: User, title: str, call_ids: Sequence[str], reviewer_ids: Sequence[int]) -> int:
    if not allowed(user, "calibrate"):
        raise CalibrationError(t("loop.cal.error.cannot"))
    title = (title or "").strip() or t("loop.cal.untitled")
    reviewers = sorted(set(reviewer_ids))
    ids = list(dict.fromkeys(c.strip() for c in call_ids if c and c.strip()))
    with store.engine.begin() as conn:
        rows = conn.execute(sa.select(T.users).where(T.users.c.user_id.in_(reviewers))).all()
        if len(rows) != len(reviewers) or any(r.role not in ("reviewer", "supervisor", "admin") for r in rows):
            raise CalibrationError(t("loop.cal.error.reviewer_role"))
        if len(reviewers) < 2:
            raise CalibrationError(t("loop.cal.error.two_reviewers"))
        known = set(conn.execute(sa.select(S.calls.c.call_id).where(S.calls.c.call_id.in_(ids))).scalars())
        missing = [c for c in ids if c not in known]
        if missing:
            raise CalibrationError(t("loop.cal.error.unknown_calls", calls="、".join(missing[:5])))
        if not ids:
            raise CalibrationError(t("loop.cal.error.no_calls"))
        sid = T.inserted_id(
            conn.execute(
                L.calibration_sessions.insert().values(
                    title=title[:200], state="open", created_by=user.user_id, created_at=_now()
                )
            )
        )
        conn.execute(L.calibration_calls.insert(), [{"session_id": sid, "call_id": c} for c in ids])
        now = _now()
        conn.execute(
            T.assignments.insert(),
            [
                dict(
                    call_id=c, purpose=PURPOSE, session_id=sid, reviewer_id=r, assigned_by=user.user_id, assigned_at=now
                )
                for c in ids
                for r in reviewers
            ],
        )
        R.audit(
            conn,
            user,
            "calibration_create",
            object_type="calibration",
            object_id=str(sid),
            after={"title": title, "calls": ids, "reviewers": [r.username for r in rows]},
        )
    return int(sid)


def get_session(store: Store, sid: int) -> dict[str, Any] | None:
    cs, a, u = L.calibration_sessions, T.assignments, T.users
    with store.read() as conn:
        row = conn.execute(sa.select(cs).where(cs.c.session_id == sid)).first()
        if row is None:
            return None
        s = dict(row._mapping)
        s["calls"] = list(
            conn.execute(
                sa.select(L.calibration_calls.c.call_id)
                .where(L.calibration_calls.c.session_id == sid)
                .order_by(L.calibration_calls.c.call_id)
            ).scalars()
        )
        s["reviewers"] = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(u.c.user_id, u.c.username)
                .distinct()
                .select_from(a.join(u, u.c.user_id == a.c.reviewer_id))
                .where(a.c.purpose == PURPOSE, a.c.session_id == sid)
                .order_by(u.c.user_id)
            ).all()
        ]
        rv = T.reviews
        # progress only (who has judged which call), never what they decided
        s["done"] = {
            (r.reviewer_id, r.call_id)
            for r in conn.execute(
                sa.select(rv.c.reviewer_id, rv.c.call_id).where(
                    rv.c.purpose == PURPOSE, rv.c.session_id == sid, rv.c.state == "submitted"
                )
            ).all()
        }
    return s


def list_sessions(store: Store, user: User) -> list[dict[str, Any]]:
    """Supervisors: every session; reviewers: the sessions they are assigned to."""
    cs, a = L.calibration_sessions, T.assignments
    q = sa.select(cs).order_by(cs.c.session_id.desc())
    if not allowed(user, "calibrate"):
        if not allowed(user, "calibration_review"):
            return []
        mine = sa.select(a.c.session_id).where(a.c.purpose == PURPOSE, a.c.reviewer_id == user.user_id)
        q = q.where(cs.c.session_id.in_(mine))
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q.limit(200)).all()]


def is_assigned(store: Store, sid: int, user: User, call_id: str | None = None) -> bool:
    a = T.assignments
    conds = [a.c.purpose == PURPOSE, a.c.session_id == sid, a.c.reviewer_id == user.user_id]
    if call_id is not None:
        conds.append(a.c.call_id == call_id)
    with store.read() as conn:
        return conn.execute(sa.select(a.c.assignment_id).where(*conds).limit(1)).first() is not None


def _own_review(conn: sa.Connection, sid: int, call_id: str, user_id: int) -> sa.Row | None:
    rv = T.reviews
    return conn.execute(
        sa.select(rv).where(
            rv.c.purpose == PURPOSE, rv.c.session_id == sid, rv.c.call_id == call_id, rv.c.reviewer_id == user_id
        )
    ).first()


@dataclass(frozen=True)
class Judgement:
    decisions: tuple[Decision, ...]
    manual: tuple[ManualEntry, ...]
    submitted: bool
    comment: str = ""


def own_judgement(store: Store, sid: int, call_id: str, user: User) -> Judgement:
    """This reviewer's judgement of one call (and nobody else's: blind)."""
    with store.read() as conn:
        row = _own_review(conn, sid, call_id, user.user_id)
        return _judgement(conn, row)


def _judgement(conn: sa.Connection, row: sa.Row | None) -> Judgement:
    if row is None:
        return Judgement((), (), False)
    m = T.manual_scores
    manual = tuple(
        ManualEntry(r.item_id, r.deduction, r.comment or "")
        for r in conn.execute(sa.select(m).where(m.c.review_id == row.review_id)).all()
    )
    return Judgement(
        tuple(R.load_call_decisions(conn, row.review_id)), manual, row.state == "submitted", row.comment or ""
    )


def judge(
    store: Store,
    user: User,
    sid: int,
    call_id: str,
    decisions: Mapping[int, str],
    manual: Mapping[str, float],
    comment: str = "",
) -> None:
    """Record (or replace) this reviewer's whole judgement of one call in the session."""
    s = get_session(store, sid)
    if s is None or not allowed(user, "calibration_review") or not is_assigned(store, sid, user, call_id):
        raise CalibrationError(t("loop.cal.error.not_assigned"))
    if s["state"] != "open":
        raise CalibrationError(t("loop.cal.error.closed"))
    data = R.load_call(store, call_id, transcript=False)
    if data is None:
        raise CalibrationError(t("loop.cal.error.unknown_calls", calls=call_id))
    by_row = {sf.row_id: sf.finding for sf in data.findings if sf.finding.status in ("fail", "needs_review")}
    for row_id, d in decisions.items():
        if row_id not in by_row or d not in ("confirm", "reject"):
            raise CalibrationError(t("loop.cal.error.bad_decision"))
    items = {i.id: i for i in data.rubric.items if i.manual}
    for item_id, ded in manual.items():
        if item_id not in items or not (0 <= ded <= items[item_id].points):
            raise CalibrationError(t("loop.cal.error.bad_manual", item=item_id))
    fs = final_score(
        data.rubric,
        [sf.finding for sf in data.findings],
        [Decision(by_row[r].check, by_row[r].start, by_row[r].end, d, by_row[r].status) for r, d in decisions.items()],  # type: ignore[arg-type]
        (),
        [ManualEntry(k, v) for k, v in manual.items()],
    )
    now = _now()
    rv, d_, m = T.reviews, T.decisions, T.manual_scores
    with store.engine.begin() as conn:
        row = _own_review(conn, sid, call_id, user.user_id)
        if row is None:
            rid = T.inserted_id(
                conn.execute(
                    rv.insert().values(
                        call_id=call_id,
                        call_date=data.call.get("call_date"),
                        purpose=PURPOSE,
                        session_id=sid,
                        reviewer_id=user.user_id,
                        state="draft",
                        machine_sha256=data.call.get("source_sha256"),
                        machine_total=data.call.get("score_total"),
                        machine_max=data.call.get("score_max"),
                        created_at=now,
                        updated_at=now,
                    )
                )
            )
        else:
            rid = row.review_id
        conn.execute(d_.delete().where(d_.c.review_id == rid))
        conn.execute(m.delete().where(m.c.review_id == rid))
        if decisions:
            conn.execute(
                d_.insert(),
                [
                    dict(
                        review_id=rid,
                        check=by_row[r].check,
                        finding_start=by_row[r].start,
                        finding_end=by_row[r].end,
                        finding_status=by_row[r].status,
                        evidence=by_row[r].evidence,
                        decision=dec,
                        decided_by=user.user_id,
                        decided_at=now,
                    )
                    for r, dec in decisions.items()
                ],
            )
        if manual:
            conn.execute(
                m.insert(),
                [
                    dict(review_id=rid, item_id=k, deduction=float(v), entered_by=user.user_id, entered_at=now)
                    for k, v in manual.items()
                ],
            )
        sc = fs.scale
        conn.execute(
            rv.update()
            .where(rv.c.review_id == rid)
            .values(
                state="submitted",
                comment=(comment or "").strip()[:4000] or None,
                final_total=sc.total,
                final_auto=sc.auto_score,
                final_auto_max=sc.auto_points,
                final_fatal=sc.fatal,
                verdict=sc.verdict,
                updated_at=now,
                submitted_at=now,
            )
        )
        R.audit(
            conn,
            user,
            "calibration_judge",
            call_id=call_id,
            object_type="calibration",
            object_id=str(sid),
            after={"decisions": len(decisions), "manual": len(manual), "final_total": sc.total},
        )


def close_session(store: Store, user: User, sid: int) -> None:
    if not allowed(user, "calibrate"):
        raise CalibrationError(t("loop.cal.error.cannot"))
    cs = L.calibration_sessions
    with store.engine.begin() as conn:
        n = conn.execute(
            cs.update().where(cs.c.session_id == sid, cs.c.state == "open").values(state="closed", closed_at=_now())
        ).rowcount
        if n != 1:
            raise CalibrationError(t("loop.cal.error.closed"))
        R.audit(
            conn, user, "calibration_close", object_type="calibration", object_id=str(sid), after={"state": "closed"}
        )


# ------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Agreement:
    key: str  # check name or rubric item id
    title: str
    units: int  # units every rater judged
    agreement: float | None  # percent agreement (0–1)
    kappa: float | None  # Cohen (2 raters) / Fleiss (more); None when undefined
    disagreements: int  # units where not every rater gave the same label


@dataclass(frozen=True)
class CallSpread:
    call_id: str
    totals: tuple[float | None, ...]  # per rater (order of CalibrationResult.raters)
    spread: float | None  # max − min of the known totals


@dataclass(frozen=True)
class CalibrationResult:
    raters: tuple[str, ...]
    findings: Agreement  # all machine findings
    items: Agreement  # all rubric items of all calls
    by_check: tuple[Agreement, ...]
    by_item: tuple[Agreement, ...]
    calls: tuple[CallSpread, ...]
    incomplete: int  # (call, rater) pairs not judged

    @property
    def most_disputed(self) -> tuple[Agreement, ...]:
        worst = [a for a in self.by_item if a.disagreements]
        return tuple(sorted(worst, key=lambda a: (a.agreement or 0.0, -a.disagreements, a.key))[:5])

    @property
    def max_spread(self) -> float | None:
        vals = [c.spread for c in self.calls if c.spread is not None]
        return max(vals) if vals else None


def _agreement(key: str, title: str, units: list[list[str]]) -> Agreement:
    return Agreement(
        key,
        title,
        len(units),
        percent_agreement(units),
        kappa(units),
        sum(1 for u in units if len(set(u)) > 1),
    )


def _label(x: float) -> str:
    return f"{x:g}"


def results(
    store: Store, sid: int, *, pass_mark: float = DEFAULT_PASS_MARK, check_label: Any = None
) -> CalibrationResult:
    """Agreement of a closed session (an open one is still blind: refused)."""
    s = get_session(store, sid)
    if s is None:
        raise CalibrationError(t("loop.cal.error.not_found"))
    if s["state"] != "closed":
        raise CalibrationError(t("loop.cal.error.still_blind"))
    label = check_label or (lambda x: x)
    raters = s["reviewers"]
    finding_units: dict[str, list[list[str]]] = {}
    item_units: dict[str, list[list[str]]] = {}
    titles: dict[str, str] = {}
    spreads: list[CallSpread] = []
    incomplete = 0
    for call_id in s["calls"]:
        data = R.load_call(store, call_id, transcript=False)
        if data is None:
            continue
        findings = [sf.finding for sf in data.findings]
        with store.read() as conn:
            judgements = [_judgement(conn, _own_review(conn, sid, call_id, r["user_id"])) for r in raters]
        incomplete += sum(1 for j in judgements if not j.submitted)
        totals: list[float | None] = []
        per_rater_findings: list[dict[int, str]] = []
        per_rater_items: list[dict[str, str]] = []
        for j in judgements:
            if not j.submitted:
                totals.append(None)
                per_rater_findings.append({})
                per_rater_items.append({})
                continue
            fs = final_score(data.rubric, findings, j.decisions, (), j.manual, pass_mark=pass_mark)
            totals.append(fs.scale.total)
            per_rater_findings.append(
                {
                    a.finding_index: a.decision.decision
                    for a in attach(j.decisions, findings)
                    if a.finding_index is not None
                }
            )
            per_rater_items.append({fi.id: _label(fi.deduction) for fi in fs.items if not fi.pending})
        for i, f in enumerate(findings):
            if f.status not in ("fail", "needs_review"):
                continue
            labels = [p.get(i) for p in per_rater_findings]
            if all(x is not None for x in labels):
                finding_units.setdefault(f.check, []).append(labels)  # type: ignore[arg-type]
        for item in data.rubric.items:
            titles[item.id] = item.title
            labels = [p.get(item.id) for p in per_rater_items]
            if all(x is not None for x in labels):
                item_units.setdefault(item.id, []).append(labels)  # type: ignore[arg-type]
        known = [x for x in totals if x is not None]
        spreads.append(CallSpread(call_id, tuple(totals), (max(known) - min(known)) if len(known) >= 2 else None))
    all_f = [u for us in finding_units.values() for u in us]
    all_i = [u for us in item_units.values() for u in us]
    by_check = tuple(sorted((_agreement(k, label(k), v) for k, v in finding_units.items()), key=lambda a: a.key))
    order = {k: n for n, k in enumerate(titles)}
    by_item = tuple(sorted((_agreement(k, titles[k], v) for k, v in item_units.items()), key=lambda a: order[a.key]))
    return CalibrationResult(
        tuple(r["username"] for r in raters),
        _agreement("findings", t("loop.cal.all_findings"), all_f),
        _agreement("items", t("loop.cal.all_items"), all_i),
        by_check,
        by_item,
        tuple(spreads),
        incomplete,
    )
