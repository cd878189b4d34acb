"""申诉 (appeals): an agent disputes a reviewed deduction on their own call; a supervisor rules 维持 (uphold) or
改判 (overturn), once and finally. An overturn becomes a human decision on the official review (a 误报 on the
machine finding, the reviewer's 漏检 withdrawn, or the manual item's new deduction), so the final score follows
through the one final-score function (``final.final_score``) and the stored final score is recomputed.

What may be appealed (``targets``): after the official review was submitted, every deduction that counts in the
final score — a machine finding still charged (confirmed, or not decided), a reviewer-added finding, a manual item
with a deduction — each at most once (``appeals.target_key`` is unique per call), within ``window_days`` of the
review's submission. Every change is written with its audit-log row (``service.audit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import sqlalchemy as sa

from ..i18n import t
from ..store import schema as S
from ..store.db import Store
from . import loop_tables as L
from . import service as R
from . import tables as T
from .access import User, allowed
from .describe import check_label, describe_finding
from .final import Decision, attach

TargetKind = Literal["finding", "added", "item"]
Outcome = Literal["uphold", "overturn"]
DEFAULT_WINDOW_DAYS = 7


class AppealError(ValueError):
    """An appeal or ruling that cannot be made; the message (from the catalog) says why."""


@dataclass(frozen=True)
class Target:
    """One deduction on a reviewed call that can be appealed."""

    key: str
    kind: TargetKind
    item_id: str
    item_title: str
    deduction: float
    sentence: str
    check: str | None = None
    start: float | None = None
    end: float | None = None
    added_id: int | None = None


def finding_key(check: str, start: float | None) -> str:
    return f"finding:{check}@{'' if start is None else f'{start:.2f}'}"


def targets(data: R.CallData, pass_mark: float | None = None) -> list[Target]:
    """The deductions of the reviewed call that count in its final score (nothing before the review is submitted)."""
    if data.review is None or data.review.get("state") != "submitted":
        return []
    fs = data.final(pass_mark)
    decided = {a.finding_index: a.decision.decision for a in fs.attachments if a.finding_index is not None}
    out: list[Target] = []
    for item, fi in zip(data.rubric.items, fs.items, strict=True):
        if item.manual:
            if fi.source == "human" and fi.deduction > 0:
                out.append(
                    Target(f"item:{item.id}", "item", item.id, item.title, fi.deduction, fi.comment or item.title)
                )
            continue
        if fi.deduction <= 0:
            continue
        for i, sf in enumerate(data.findings):
            f = sf.finding
            if f.status != "fail" or decided.get(i) == "reject":
                continue
            if not any(b.selects(f) for b in item.bindings):
                continue
            out.append(
                Target(
                    finding_key(f.check, f.start),
                    "finding",
                    item.id,
                    item.title,
                    fi.deduction,
                    describe_finding(f.check, f.start, f.end, f.evidence, f.detail),
                    f.check,
                    f.start,
                    f.end,
                )
            )
        for a in data.added:
            if a.item_id == item.id:
                out.append(
                    Target(
                        f"added:{a.added_id}",
                        "added",
                        item.id,
                        item.title,
                        a.deduction,
                        a.comment or t("loop.appeal.added_sentence", item=item.title),
                        a.check,
                        a.start,
                        a.end,
                        a.added_id,
                    )
                )
    # a finding bound to two items (30 s and 60 s silence) is one event: appealed once
    seen: set[str] = set()
    return [x for x in out if not (x.key in seen or seen.add(x.key))]  # type: ignore[func-returns-value]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    d = datetime.fromisoformat(ts)
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def deadline(data: R.CallData, window_days: int) -> datetime | None:
    submitted = _parse((data.review or {}).get("submitted_at"))
    return None if submitted is None else submitted + timedelta(days=window_days)


def window_open(data: R.CallData, window_days: int, now: datetime | None = None) -> bool:
    due = deadline(data, window_days)
    return due is not None and (now or _now()) <= due


def taken_keys(store: Store, call_id: str) -> set[str]:
    """Targets already appealed on this call (by anyone: one appeal per finding)."""
    with store.read() as conn:
        return set(conn.execute(sa.select(L.appeals.c.target_key).where(L.appeals.c.call_id == call_id)).scalars())


def open_appeal(
    store: Store,
    user: User,
    call_id: str,
    target_key: str,
    reason: str,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    now: datetime | None = None,
) -> int:
    """An agent appeals one deduction of their own reviewed call. Returns the appeal id."""
    exists, agent_id = R.call_agent(store, call_id)
    if not exists or not allowed(user, "appeal", agent_id, on_call=True):
        raise AppealError(t("loop.appeal.error.not_yours"))
    reason = (reason or "").strip()
    if not reason:
        raise AppealError(t("loop.appeal.error.no_reason"))
    data = R.load_call(store, call_id, transcript=False)
    if data is None or data.review is None or data.review.get("state") != "submitted":
        raise AppealError(t("loop.appeal.error.not_reviewed"))
    if not window_open(data, window_days, now):
        raise AppealError(t("loop.appeal.error.window", days=window_days))
    target = next((x for x in targets(data) if x.key == target_key), None)
    if target is None:
        raise AppealError(t("loop.appeal.error.no_target"))
    a = L.appeals
    with store.engine.begin() as conn:
        if conn.execute(sa.select(a.c.appeal_id).where(a.c.call_id == call_id, a.c.target_key == target_key)).first():
            raise AppealError(t("loop.appeal.error.duplicate"))
        appeal_id = T.inserted_id(
            conn.execute(
                a.insert().values(
                    call_id=call_id,
                    review_id=data.review["review_id"],
                    target_kind=target.kind,
                    target_key=target.key,
                    check=target.check,
                    finding_start=target.start,
                    finding_end=target.end,
                    added_id=target.added_id,
                    item_id=target.item_id,
                    deduction=target.deduction,
                    reason=reason[:4000],
                    opened_by=user.user_id,
                    opened_at=_now().isoformat(timespec="seconds"),
                    state="open",
                )
            )
        )
        R.audit(
            conn,
            user,
            "appeal_open",
            call_id=call_id,
            object_type="appeal",
            object_id=str(appeal_id),
            after={"target": target.key, "item": target.item_id, "deduction": target.deduction},
            comment=reason,
        )
    return int(appeal_id)


def get_appeal(store: Store, appeal_id: int) -> dict[str, Any] | None:
    rows = _select(store, L.appeals.c.appeal_id == appeal_id)
    return rows[0] if rows else None


def _select(store: Store, *conds: Any, limit: int = 500) -> list[dict[str, Any]]:
    a, c, u = L.appeals, S.calls, T.users
    opener, ruler = u.alias("opener"), u.alias("ruler")
    q = (
        sa.select(
            a,
            c.c.agent_id,
            c.c.agent_name,
            c.c.team,
            c.c.started_at,
            opener.c.username.label("opened_by_name"),
            ruler.c.username.label("ruled_by_name"),
        )
        .select_from(
            a.outerjoin(c, c.c.call_id == a.c.call_id)
            .outerjoin(opener, opener.c.user_id == a.c.opened_by)
            .outerjoin(ruler, ruler.c.user_id == a.c.ruled_by)
        )
        .where(*conds)
        .order_by(sa.case({"open": 0}, value=a.c.state, else_=1), a.c.opened_at.desc(), a.c.appeal_id.desc())
        .limit(limit)
    )
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q).all()]
    for r in rows:
        r["target_label"] = (
            check_label(r["check"]) if r["target_kind"] == "finding" and r["check"] else (r["item_id"] or "")
        )
    return rows


def list_appeals(
    store: Store, user: User, *, state: str | None = None, call_id: str | None = None
) -> list[dict[str, Any]]:
    """Appeals this user may see: an agent only the ones they opened on their own calls."""
    if not allowed(user, "view_appeals"):
        return []
    a = L.appeals
    conds: list[Any] = []
    if state in ("open", "upheld", "overturned"):
        conds.append(a.c.state == state)
    elif state == "ruled":
        conds.append(a.c.state != "open")
    if call_id is not None:
        conds.append(a.c.call_id == call_id)
    if user.role == "agent":
        conds += [a.c.opened_by == user.user_id, S.calls.c.agent_id == (user.agent_id or "\x00")]
    return _select(store, *conds)


def rule(
    store: Store,
    user: User,
    appeal_id: int,
    outcome: Outcome,
    comment: str,
    *,
    new_deduction: float | None = None,
    pass_mark: float | None = None,
) -> None:
    """维持 / 改判, final: an appeal is ruled once. 改判 changes the official review, then the final score."""
    if not allowed(user, "rule_appeal"):
        raise AppealError(t("loop.appeal.error.cannot_rule"))
    if outcome not in ("uphold", "overturn"):
        raise AppealError(t("loop.appeal.error.outcome"))
    comment = (comment or "").strip()
    if not comment:
        raise AppealError(t("loop.appeal.error.no_comment"))
    ap = get_appeal(store, appeal_id)
    if ap is None:
        raise AppealError(t("loop.appeal.error.not_found"))
    if ap["state"] != "open":
        raise AppealError(t("loop.appeal.error.already_ruled"))
    call_id = ap["call_id"]
    if outcome == "overturn":
        _overturn(store, user, ap, comment, new_deduction)
    a = L.appeals
    state = "overturned" if outcome == "overturn" else "upheld"
    with store.engine.begin() as conn:
        n = conn.execute(
            a.update()
            .where(a.c.appeal_id == appeal_id, a.c.state == "open")
            .values(
                state=state,
                ruled_by=user.user_id,
                ruled_at=_now().isoformat(timespec="seconds"),
                ruling_comment=comment[:4000],
                new_deduction=new_deduction if ap["target_kind"] == "item" and outcome == "overturn" else None,
            )
        ).rowcount
        if n != 1:  # ruled meanwhile by someone else
            raise AppealError(t("loop.appeal.error.already_ruled"))
        R.audit(
            conn,
            user,
            "appeal_rule",
            call_id=call_id,
            object_type="appeal",
            object_id=str(appeal_id),
            before={"state": "open"},
            after={"state": state, "new_deduction": new_deduction},
            comment=comment,
        )
    if outcome == "overturn":
        R.submit(store, user, call_id, "", pass_mark)  # the stored final score follows the ruling


def _overturn(store: Store, user: User, ap: dict[str, Any], comment: str, new_deduction: float | None) -> None:
    call_id = ap["call_id"]
    note = t("loop.appeal.overturn_note", id=ap["appeal_id"], comment=comment)
    try:
        if ap["target_kind"] == "finding":
            data = R.load_call(store, call_id, transcript=False)
            findings = [] if data is None else [sf.finding for sf in data.findings]
            att = attach([Decision(ap["check"], ap["finding_start"], ap["finding_end"], "reject")], findings)
            if not att or att[0].finding_index is None or data is None:
                raise AppealError(t("loop.appeal.error.finding_gone"))
            R.decide(store, user, call_id, data.findings[att[0].finding_index].row_id, "reject", note)
        elif ap["target_kind"] == "added":
            R.remove_added(store, user, call_id, int(ap["added_id"]))
        else:
            R.set_manual(store, user, call_id, ap["item_id"], float(new_deduction or 0.0), note)
    except R.ReviewError as exc:
        raise AppealError(str(exc)) from None
