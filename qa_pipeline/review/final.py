"""The final score: machine findings ⊕ human decisions, against the rubric. Pure functions, no I/O.

One scale everywhere (``ScoreScale``): a 100-point rubric score (the 10086 rubric sums to 100) made of

- the **automatic part**: items the machine judged, shown as points and as a percentage of judged points;
- the **manual part**: items only a person can judge (``manual: true``), 待人工评分 until a reviewer enters them;
- the **verdict**: 红线 (a failed fatal item: the total is 0 under ``fatal_policy: zero_total``), 合格 / 不合格
  against the pass mark once every item is judged, else 待人工评分.

Human decisions are kept apart from machine findings and re-attached to them by check and time every time the
final score is computed (``attach``); so re-scoring a call never loses a decision, and a decision whose finding
moved, changed status or disappeared is reported as a conflict instead of silently applied or dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

from ..i18n import t
from ..rubric import Rubric, score_findings
from ..types import Finding, Status

DecisionKind = Literal["confirm", "reject"]
Verdict = Literal["pass", "fail", "fatal", "pending"]
ConflictKind = Literal["orphan", "moved", "status_changed"]
ItemSource = Literal["machine", "human", "pending"]

DEFAULT_PASS_MARK = 80.0
"""合格 at or above this percentage of the rubric's points when neither the call's rubric (`verdict.pass_ratio`)
nor the workstation's settings (`pass_mark`) say otherwise."""

ATTACH_TOLERANCE_S = 2.0
"""A decision re-attaches to a finding of the same check whose start is within this many seconds."""


@dataclass(frozen=True)
class Decision:
    """A reviewer's 确认 (confirm) or 误报 (reject) on one machine finding, identified by check and time."""

    check: str
    start: float | None
    end: float | None
    decision: DecisionKind
    finding_status: Status | None = None  # the machine's status when decided
    comment: str = ""
    decision_id: int | None = None


@dataclass(frozen=True)
class AddedFinding:
    """漏检: a violation the machine missed, charged to a rubric item."""

    item_id: str
    deduction: float
    start: float | None = None
    end: float | None = None
    comment: str = ""
    check: str | None = None
    added_id: int | None = None


@dataclass(frozen=True)
class ManualEntry:
    """A person's score for a manual item: deduction 0 = passed."""

    item_id: str
    deduction: float
    comment: str = ""


@dataclass(frozen=True)
class Attachment:
    decision: Decision
    finding_index: int | None  # index into the findings given to `attach`; None = orphan
    conflict: ConflictKind | None = None


@dataclass(frozen=True)
class FinalItem:
    id: str
    title: str
    points: float
    manual: bool
    fatal: bool
    machine_status: Status
    machine_deduction: float
    status: Status  # after human decisions; needs_review = still pending
    deduction: float
    source: ItemSource
    comment: str = ""

    @property
    def pending(self) -> bool:
        return self.status == "needs_review"


@dataclass(frozen=True)
class ScoreScale:
    """The one score scale (see module doc). `total` is None while anything is pending (and no fatal item failed)."""

    max_points: float  # the rubric's points (100 for 10086)
    auto_points: float  # points of the automatic items judged
    auto_score: float
    manual_points: float  # points of the manual items
    manual_score: float | None  # None until every manual item is entered
    total: float | None
    fatal: bool
    verdict: Verdict
    pending_items: int

    @property
    def auto_pct(self) -> float | None:
        return None if self.auto_points <= 0 else round(100.0 * self.auto_score / self.auto_points, 1)


@dataclass(frozen=True)
class FinalScore:
    scale: ScoreScale
    items: tuple[FinalItem, ...]
    attachments: tuple[Attachment, ...]
    machine: ScoreScale  # the machine-only score on the same scale, kept beside the final one

    @property
    def conflicts(self) -> tuple[Attachment, ...]:
        return tuple(a for a in self.attachments if a.conflict is not None)


def _reviewable(f: Finding) -> bool:
    return f.status in ("fail", "needs_review")


def attach(
    decisions: Sequence[Decision], findings: Sequence[Finding], tol: float = ATTACH_TOLERANCE_S
) -> list[Attachment]:
    """Re-attach each decision to a machine finding of the same check (nearest start within `tol`; a finding
    without times matches a decision without times). Each finding takes at most one decision (the latest
    given wins the nearest finding). Conflicts: ``orphan`` (no finding left), ``moved`` (attached, times differ by
    more than 0.05 s), ``status_changed`` (the machine now says something else than when it was decided)."""
    taken: set[int] = set()
    out: list[Attachment] = []
    order = sorted(range(len(decisions)), key=lambda k: -(decisions[k].decision_id or k))
    results: dict[int, Attachment] = {}
    for k in order:
        d = decisions[k]
        best: tuple[float, int] | None = None
        for i, f in enumerate(findings):
            if i in taken or f.check != d.check or not _reviewable(f):
                continue
            if d.start is None or f.start is None:
                if d.start is None and f.start is None:
                    dist = 0.0
                else:
                    continue
            else:
                dist = abs(f.start - d.start)
                if dist > tol:
                    continue
            if best is None or dist < best[0]:
                best = (dist, i)
        if best is None:
            results[k] = Attachment(d, None, "orphan")
            continue
        i = best[1]
        taken.add(i)
        f = findings[i]
        conflict: ConflictKind | None = None
        if d.finding_status is not None and d.finding_status != f.status:
            conflict = "status_changed"
        elif best[0] > 0.05 or (d.end is not None and f.end is not None and abs(d.end - f.end) > 0.05):
            conflict = "moved"
        results[k] = Attachment(d, i, conflict)
    out = [results[k] for k in range(len(decisions))]
    return out


def _apply(findings: Sequence[Finding], attachments: Sequence[Attachment]) -> list[Finding]:
    """Findings as the reviewer judged them: 误报 → pass (the check ran, no violation); 确认 of a
    needs_review finding → fail. Decisions with a status conflict are not applied (the reviewer must look again)."""
    out = list(findings)
    for a in attachments:
        if a.finding_index is None or a.conflict == "status_changed":
            continue
        f = out[a.finding_index]
        out[a.finding_index] = replace(f, status="pass" if a.decision.decision == "reject" else "fail")
    return out


def _scale(rubric: Rubric, items: Sequence[FinalItem], pass_mark: float | None) -> ScoreScale:
    """Totals and the verdict by the rubric's rule (rubric.py): a failed 红线 item → 0 (zero_total); a failed
    严重 item caps the total at `severe_cap_ratio` × max and the call is 不合格; else 合格 at ≥ the pass mark."""
    auto = [i for i in items if not i.manual and not i.pending]
    manual = [i for i in items if i.manual]
    auto_points = sum(i.points for i in auto)
    auto_score = auto_points - sum(i.deduction for i in auto)
    manual_done = all(not i.pending for i in manual)
    manual_score = sum(i.points - i.deduction for i in manual) if manual_done else None
    pending = sum(1 for i in items if i.pending)
    severity = {it.id: getattr(it, "severity", "minor") for it in rubric.items}
    failed = {severity.get(i.id, "minor") for i in items if i.status == "fail"}
    fatal = any(i.fatal and i.status == "fail" for i in items) or "red_line" in failed
    severe = "severe" in failed
    mark = (getattr(rubric, "pass_ratio", DEFAULT_PASS_MARK / 100.0) * 100.0) if pass_mark is None else pass_mark
    total: float | None
    if fatal and rubric.fatal_policy == "zero_total":
        total, verdict = 0.0, "fatal"
    elif pending:
        total, verdict = None, ("fail" if severe else "pending")
    else:
        total = sum(i.points - i.deduction for i in items)
        if severe:
            total = min(total, getattr(rubric, "severe_cap_ratio", 1.0) * rubric.max_points)
        if fatal:
            verdict = "fatal"
        else:
            verdict = "fail" if severe or total < mark * rubric.max_points / 100.0 - 1e-9 else "pass"
    return ScoreScale(
        max_points=round(rubric.max_points, 2),
        auto_points=round(auto_points, 2),
        auto_score=round(auto_score, 2),
        manual_points=round(sum(i.points for i in manual), 2),
        manual_score=None if manual_score is None else round(manual_score, 2),
        total=None if total is None else round(total, 2),
        fatal=fatal,
        verdict=verdict,  # type: ignore[arg-type]
        pending_items=pending,
    )


def final_score(
    rubric: Rubric,
    findings: Sequence[Finding],
    decisions: Sequence[Decision] = (),
    added: Sequence[AddedFinding] = (),
    manual: Sequence[ManualEntry] = (),
    *,
    pass_mark: float | None = None,
) -> FinalScore:
    """The final score of one call. `findings` are the machine's current findings (all statuses, as stored)."""
    attachments = attach(decisions, findings)
    machine = score_findings(findings, rubric)
    human = score_findings(_apply(findings, attachments), rubric)
    manual_by_item = {m.item_id: m for m in manual}
    added_by_item: dict[str, list[AddedFinding]] = {}
    for a in added:
        added_by_item.setdefault(a.item_id, []).append(a)
    known = {i.id for i in rubric.items}
    unknown = (set(manual_by_item) | set(added_by_item)) - known
    if unknown:
        raise ValueError(f"not items of rubric {rubric.id}: {', '.join(sorted(unknown))}")

    items: list[FinalItem] = []
    machine_items: list[FinalItem] = []
    for item, m, h in zip(rubric.items, machine.items, human.items, strict=True):
        source: ItemSource
        machine_items.append(
            FinalItem(
                item.id,
                item.title,
                item.points,
                item.manual,
                item.fatal,
                m.status,
                m.deduction,
                m.status,
                m.deduction,
                "pending" if m.status == "needs_review" else "machine",
            )
        )
        if item.manual:
            entry = manual_by_item.get(item.id)
            if entry is None:
                status: Status = "needs_review"
                deduction, source, comment = 0.0, "pending", ""
            else:
                deduction = min(max(float(entry.deduction), 0.0), item.points)
                status = "fail" if deduction > 0 else "pass"
                source, comment = "human", entry.comment
            items.append(
                FinalItem(
                    item.id,
                    item.title,
                    item.points,
                    True,
                    item.fatal,
                    m.status,
                    m.deduction,
                    status,
                    deduction,
                    source,
                    comment,
                )
            )
            continue
        extra = added_by_item.get(item.id, [])
        status = h.status
        deduction = h.deduction
        changed = (h.status, h.deduction) != (m.status, m.deduction)
        if extra:
            deduction = min(deduction + sum(max(a.deduction, 0.0) for a in extra), item.points)
            status = "fail"
            changed = True
        source = "pending" if status == "needs_review" else ("human" if changed else "machine")
        items.append(
            FinalItem(
                item.id,
                item.title,
                item.points,
                False,
                item.fatal,
                m.status,
                m.deduction,
                status,
                round(deduction, 2),
                source,
            )
        )
    return FinalScore(
        scale=_scale(rubric, items, pass_mark),
        items=tuple(items),
        attachments=tuple(attachments),
        machine=_scale(rubric, machine_items, pass_mark),
    )


def machine_scale(
    rubric_max: float,
    total: float | None,
    judged_max: float | None,
    fatal: bool | None,
    manual_points: float,
    pass_mark: float = DEFAULT_PASS_MARK,
) -> ScoreScale:
    """The one scale from a stored machine score (calls.score_total / score_max), without loading findings:
    for lists, reports and exports. The manual part is pending; the total is known only for a fatal call (0)."""
    auto_points = float(judged_max or 0.0)
    auto_score = float(total or 0.0)
    fatal = bool(fatal)
    verdict: Verdict = "fatal" if fatal else "pending"
    if not fatal and manual_points <= 0:
        verdict = "pass" if auto_score >= pass_mark * rubric_max / 100.0 - 1e-9 else "fail"
    return ScoreScale(
        max_points=rubric_max,
        auto_points=auto_points,
        auto_score=auto_score,
        manual_points=manual_points,
        manual_score=None if manual_points > 0 else 0.0,
        total=0.0 if fatal else (None if manual_points > 0 else auto_score),
        fatal=fatal,
        verdict=verdict,
        pending_items=0,
    )


def scale_from_score(score: Mapping[str, object], pass_mark: float = DEFAULT_PASS_MARK) -> ScoreScale:
    """The one scale from a result's ``score`` (JSON): the rubric's points are the sum of its items' points; what
    the machine did not judge (manual items, needs_review items) is the pending part."""
    items = cast("list[Mapping[str, Any]]", score.get("items") or [])
    judged = float(cast(float, score.get("max") or 0.0))
    rubric_max = sum(float(i.get("points") or 0.0) for i in items) or judged
    return machine_scale(
        rubric_max,
        float(score.get("total") or 0.0),  # type: ignore[arg-type]
        judged,
        bool(score.get("fatal")),
        max(rubric_max - judged, 0.0),
        pass_mark,
    )


def _num(x: float | None) -> str:
    if x is None:
        return "—"
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}".rstrip("0").rstrip(".")


def scale_text(s: ScoreScale) -> dict[str, str]:
    """The one scale as display strings (web pages, `callqa check`, summaries): total, auto, pct, manual, verdict."""
    pending = t("web.score.pending")
    return {
        "total": pending if s.total is None else f"{_num(s.total)} / {_num(s.max_points)}",
        "auto": f"{_num(s.auto_score)} / {_num(s.auto_points)}",
        "pct": "" if s.auto_pct is None else f"{s.auto_pct:.1f}%",
        "manual": pending if s.manual_score is None else f"{_num(s.manual_score)} / {_num(s.manual_points)}",
        "verdict": t(f"web.verdict.{s.verdict}"),
        "verdict_code": s.verdict,
    }
