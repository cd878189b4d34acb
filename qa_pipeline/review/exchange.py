"""Review decisions as CSV, for centres that review in a spreadsheet (`callqa review export / import`).

One row per thing a reviewer decides: every reviewable machine finding (kind ``finding``: decision 确认/误报 or
confirm/reject, blank = undecided), every manual item (kind ``manual``: deduction, blank = not scored) and every
missed finding already added (kind ``missed``). On import a finding row is matched to the call's current findings
by check and time (as after re-scoring); a ``missed`` row without an id adds a finding. Bad rows are reported with
their line number and skipped; the others are imported.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..config_errors import show_list
from ..i18n import t
from ..store import schema as S
from ..store.db import Store
from .access import User
from .describe import describe_finding
from .final import attach
from .service import ReviewError, add_finding, decide, load_call, set_manual

COLUMNS = [
    "call_id",
    "kind",
    "item_id",
    "item",
    "check",
    "start",
    "end",
    "finding",
    "machine_status",
    "decision",
    "deduction",
    "comment",
    "id",
]
DECISION_WORDS = {"confirm": "confirm", "reject": "reject", "确认": "confirm", "误报": "reject"}


def _f(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"


def export_rows(store: Store, call_ids: Iterable[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for cid in call_ids:
        data = load_call(store, cid, transcript=False)
        if data is None:
            continue
        findings = [f.finding for f in data.findings]
        att = {a.finding_index: a.decision for a in attach(data.decisions, findings) if a.finding_index is not None}
        for item in data.rubric.items:
            if item.manual:
                m = next((x for x in data.manual if x.item_id == item.id), None)
                rows.append(
                    {
                        "call_id": cid,
                        "kind": "manual",
                        "item_id": item.id,
                        "item": item.title,
                        "deduction": "" if m is None else f"{m.deduction:g}",
                        "comment": "" if m is None else m.comment,
                    }
                )
                continue
            for i, f in enumerate(findings):
                if f.status not in ("fail", "needs_review") or not any(b.selects(f) for b in item.bindings):
                    continue
                d = att.get(i)
                rows.append(
                    {
                        "call_id": cid,
                        "kind": "finding",
                        "item_id": item.id,
                        "item": item.title,
                        "check": f.check,
                        "start": _f(f.start),
                        "end": _f(f.end),
                        "finding": describe_finding(f.check, f.start, f.end, f.evidence, f.detail),
                        "machine_status": f.status,
                        "decision": "" if d is None else d.decision,
                        "comment": "" if d is None else d.comment,
                    }
                )
            for a in data.added:
                if a.item_id == item.id:
                    rows.append(
                        {
                            "call_id": cid,
                            "kind": "missed",
                            "item_id": item.id,
                            "item": item.title,
                            "check": a.check or "",
                            "start": _f(a.start),
                            "end": _f(a.end),
                            "deduction": f"{a.deduction:g}",
                            "comment": a.comment,
                            "id": a.added_id,
                        }
                    )
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """UTF-8 with BOM so that Excel opens the Chinese text correctly; written atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in COLUMNS})
    tmp.replace(path)


def calls_between(store: Store, date_from: str | None, date_to: str | None, call_ids: list[str]) -> list[str]:
    c = S.calls
    stmt = sa.select(c.c.call_id).where(c.c.status == "ok").order_by(c.c.call_date, c.c.started_at, c.c.call_id)
    if call_ids:
        stmt = stmt.where(c.c.call_id.in_(call_ids))
    if date_from:
        stmt = stmt.where(c.c.call_date >= date_from)
    if date_to:
        stmt = stmt.where(c.c.call_date <= date_to)
    with store.read() as conn:
        return list(conn.execute(stmt).scalars())


@dataclass
class ImportReport:
    decisions: int = 0
    manual: int = 0
    missed: int = 0
    unchanged: int = 0
    errors: list[str] | None = None


def _num(s: str, what: str) -> float | None:
    s = (s or "").strip()
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        raise ReviewError(t("review.import.not_number", what=what, value=s)) from None


def import_csv(store: Store, user: User, path: Path) -> ImportReport:
    rep = ImportReport(errors=[])
    try:
        fh = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ReviewError(t("review.import.unreadable", path=path, reason=exc.strerror)) from None
    with fh:
        reader = csv.DictReader(fh)
        missing = {"call_id", "kind"} - set(reader.fieldnames or [])
        if missing:
            raise ReviewError(t("review.import.missing_columns", path=path, columns=show_list(sorted(missing))))
        for line, row in enumerate(reader, start=2):
            try:
                _import_row(store, user, row, rep)
            except ReviewError as exc:
                rep.errors.append(f"{path}:{line}: {exc}")  # type: ignore[union-attr]
    return rep


def _import_row(store: Store, user: User, row: dict[str, str], rep: ImportReport) -> None:
    cid = (row.get("call_id") or "").strip()
    kind = (row.get("kind") or "").strip()
    comment = (row.get("comment") or "").strip()
    data = load_call(store, cid, transcript=False)
    if data is None:
        raise ReviewError(t("review.import.no_call", call=cid))
    if kind == "finding":
        word = (row.get("decision") or "").strip()
        if not word:
            rep.unchanged += 1
            return
        decision = DECISION_WORDS.get(word.lower()) or DECISION_WORDS.get(word)
        if decision is None:
            raise ReviewError(t("review.import.bad_decision", word=word))
        start = _num(row.get("start", ""), "start")
        check = (row.get("check") or "").strip()
        best = None
        for f in data.findings:
            if f.finding.check != check or f.finding.status not in ("fail", "needs_review"):
                continue
            fs = f.finding.start
            dist = (
                0.0
                if (fs is None and start is None)
                else (abs(fs - start) if fs is not None and start is not None else None)
            )
            if dist is not None and dist <= 2.0 and (best is None or dist < best[0]):
                best = (dist, f)
        if best is None:
            raise ReviewError(t("review.import.no_finding", call=cid, check=check, start=row.get("start", "")))
        cur = attach(data.decisions, [best[1].finding])
        if cur and any(
            a.finding_index == 0 and a.decision.decision == decision and a.decision.comment == comment for a in cur
        ):
            rep.unchanged += 1
            return
        decide(store, user, cid, best[1].row_id, decision, comment)
        rep.decisions += 1
    elif kind == "manual":
        ded = _num(row.get("deduction", ""), "deduction")
        if ded is None:
            rep.unchanged += 1
            return
        item_id = (row.get("item_id") or "").strip()
        entry = next((e for e in data.manual if e.item_id == item_id), None)
        if entry is not None and entry.deduction == ded and entry.comment == comment:
            rep.unchanged += 1
            return
        set_manual(store, user, cid, item_id, ded, comment)
        rep.manual += 1
    elif kind == "missed":
        if (row.get("id") or "").strip():
            rep.unchanged += 1  # already in the database
            return
        add_finding(
            store,
            user,
            cid,
            (row.get("item_id") or "").strip(),
            start=_num(row.get("start", ""), "start"),
            end=_num(row.get("end", ""), "end"),
            deduction=_num(row.get("deduction", ""), "deduction"),
            comment=comment,
        )
        rep.missed += 1
    else:
        raise ReviewError(t("review.import.bad_kind", kind=kind or t("review.import.empty")))
