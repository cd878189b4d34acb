"""`callqa rescore`: re-judge stored calls with a (changed) rubric from their stored transcripts and timelines.

Per batch of calls, one transaction replaces the calls' findings, item scores and tags, updates their score
columns (scorecards read those: the latest score), and appends a `score_history` row naming the rubric, its
version and the SHA-256 of its files — so which rubric version produced which score is kept. Nothing else is
touched: utterances, the search index and human review decisions stay as they are.

Resumable: a call whose latest history row already carries this rubric's SHA-256 is skipped, so an
interrupted rescore run again picks up where it stopped (`--force` re-judges everything).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from .archive import CallFilter, load_calls, select_call_ids
from .baseline import Baselines
from .judging import JudgeInputs, Judgement, check_fingerprints, judge
from .result import CallResult, tag_json
from .rubric import Rubric
from .store import schema as S
from .store.db import Store, check_rows, item_rows, tag_rows
from .types import CallMetadata, Finding


def rubric_sha256(rubric: Rubric) -> str:
    """Fingerprint of the rubric file and every rule file it loads (a changed rule → a new rubric version)."""
    h = hashlib.sha256()
    files = [rubric.path, *sorted({r.origin.rsplit(":line", 1)[0] for r in rubric.rules})]
    for f in files:
        p = Path(f)
        h.update(p.read_bytes() if p.is_file() else f.encode())
        h.update(b"\0")
    return h.hexdigest()


@dataclass
class RescoreReport:
    selected: int = 0
    rescored: int = 0
    already_done: int = 0
    changed: int = 0
    """Calls whose total score changed."""
    no_timeline: list[str] = field(default_factory=list)
    """Calls stored without a timeline (scored before timelines were kept): run `callqa score` on them again."""
    seconds: float = 0.0
    reused_checks: int = 0
    """Check runs skipped because the stored findings came from the same check code and parameters."""


def _judged_json(cid: str, j: Judgement) -> tuple[list[dict], dict, list[dict]]:
    as_json = CallResult(cid, "ok", CallMetadata(call_id=cid), checks=j.findings, score=j.score).to_json()
    return as_json["checks"], as_json["score"], [tag_json(t) for t in j.tags]


def rescore(
    store: Store,
    rubric: Rubric,
    filt: CallFilter = CallFilter(),  # noqa: B008 - frozen dataclass: a shared default is safe
    *,
    batch_size: int = 500,
    force: bool = False,
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RescoreReport:
    import time

    t0 = time.perf_counter()
    sha = rubric_sha256(rubric)
    fingerprints = check_fingerprints(rubric)
    report = RescoreReport()
    with store.read() as conn:
        ids = select_call_ids(conn, filt)
        report.selected = len(ids)
        if not force:
            done = _done_with(conn, sha)
            todo = [c for c in ids if c not in done]
            report.already_done = len(ids) - len(todo)
            ids = todo
        ht = rubric.check_params.get("handling_time") or {}
        baseline = None
        if ht.get("baseline") and "handling_time" in rubric.check_names:
            baseline = Baselines.from_store(conn, ht["baseline"].get("by", "queue"))
    if progress:
        progress(0, len(ids))
    for i in range(0, len(ids), batch_size):
        chunk = ids[i : i + batch_size]
        with store.read() as conn:
            calls = list(load_calls(conn, chunk, with_findings=True))
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        checks, items, tags, updates, history, replaced, timelines = [], [], [], [], [], [], []
        for call in calls:
            if call.inputs is None:
                report.no_timeline.append(call.call_id)
                continue
            inputs = call.inputs if baseline is None else _with_baseline(call.inputs, baseline)
            reuse = None
            if not full and call.timeline is not None:
                # a check whose code and parameters are those that produced the stored findings: keep them
                before = call.timeline.get("judged_with") or {}
                stored = call.findings or {}
                reuse = {c: stored[c] for c, fp in fingerprints.items() if before.get(c) == fp and c in stored}
                report.reused_checks += len(reuse)
            j = judge(inputs, rubric, reuse=reuse, with_events=False)
            # findings no check or rule produces (privacy's pii_masked spans, which audio export masks) stay
            kept = [f for fs in (call.findings or {}).values() for f in fs if _foreign(f)]
            if kept:
                j = replace(j, findings=(*j.findings, *kept))
            if call.timeline is not None and call.timeline.get("judged_with") != fingerprints:
                timelines.append(
                    {
                        "cid": call.call_id,
                        "timeline_json": json.dumps(
                            {**call.timeline, "judged_with": fingerprints}, ensure_ascii=False, sort_keys=True
                        ),
                    }
                )
            cj, sj, tj = _judged_json(call.call_id, j)
            checks += check_rows(call.call_id, cj)
            items += item_rows(call.call_id, sj["items"])
            tags += tag_rows(call.call_id, tj)
            updates.append(
                {
                    "cid": call.call_id,
                    "score_total": sj["total"],
                    "score_max": sj["max"],
                    "fatal": sj["fatal"],
                    "needs_review": sj["needs_review"],
                }
            )
            history.append(
                {
                    "call_id": call.call_id,
                    "rubric": rubric.id,
                    "rubric_version": rubric.version,
                    "rubric_sha256": sha,
                    "score_total": sj["total"],
                    "score_max": sj["max"],
                    "fatal": sj["fatal"],
                    "needs_review": sj["needs_review"],
                    "source": "rescore",
                    "scored_at": now,
                }
            )
            replaced.append(call.call_id)
        report.changed += _write(store, replaced, checks, items, tags, updates, history, timelines)
        report.rescored += len(replaced)
        if progress:
            progress(min(i + batch_size, len(ids)), len(ids))
    report.seconds = time.perf_counter() - t0
    return report


def _write(
    store: Store,
    ids: list[str],
    checks: list[dict],
    items: list[dict],
    tags: list[dict],
    updates: list[dict],
    history: list[dict],
    timelines: list[dict],
) -> int:
    """Replace the calls' judgement in one transaction; returns how many totals changed."""
    if not ids:
        return 0
    c = S.calls
    with store.engine.begin() as conn:
        before = dict(conn.execute(sa.select(c.c.call_id, c.c.score_total).where(c.c.call_id.in_(ids))).all())
        changed = sum(1 for u in updates if before.get(u["cid"]) != u["score_total"])
        for t in (S.checks, S.item_scores, S.call_tags):
            conn.execute(t.delete().where(t.c.call_id.in_(ids)))
        for table, rows in ((S.checks, checks), (S.item_scores, items), (S.call_tags, tags)):
            if rows:
                conn.execute(table.insert(), rows)
        conn.execute(
            c.update()
            .where(c.c.call_id == sa.bindparam("cid"))
            .values(
                score_total=sa.bindparam("score_total"),
                score_max=sa.bindparam("score_max"),
                fatal=sa.bindparam("fatal"),
                needs_review=sa.bindparam("needs_review"),
            ),
            updates,
        )
        conn.execute(S.score_history.insert(), history)
        if timelines:
            t = S.call_timelines
            conn.execute(
                t.update()
                .where(t.c.call_id == sa.bindparam("cid"))
                .values(timeline_json=sa.bindparam("timeline_json")),
                timelines,
            )
    return changed


def _foreign(f: Finding) -> bool:
    """A stored finding that judging does not produce: neither a built-in check's nor a rule's."""
    from .checks.registry import all_checks

    return f.check not in all_checks() and not f.detail.get("rule")


def _done_with(conn: sa.Connection, sha: str) -> set[str]:
    """Calls whose latest score came from the rubric with this SHA-256."""
    h = S.score_history
    latest = sa.select(h.c.call_id, sa.func.max(h.c.history_id).label("hid")).group_by(h.c.call_id).subquery()
    q = sa.select(h.c.call_id).join(latest, latest.c.hid == h.c.history_id).where(h.c.rubric_sha256 == sha)
    return set(conn.execute(q).scalars())


def _with_baseline(inputs: JudgeInputs, baseline: Baselines) -> JudgeInputs:
    return replace(inputs, baseline=baseline)
