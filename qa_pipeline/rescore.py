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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .archive import CallFilter, StoredCall, load_calls, select_call_ids
from .baseline import Baselines
from .checks.registry import all_checks
from .judge_pool import PoolStats
from .judging import Judgement, check_fingerprints, inputs_from_result, judge
from .result import CallResult, tag_json
from .rubric import Rubric
from .rules.engine import prime
from .rules.operators import CallView
from .store import schema as S
from .store.bulk import insert_rows
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
    pool: PoolStats = field(default_factory=PoolStats)
    """Workers used and the CPU time the batches took in them."""


def _judged_json(cid: str, j: Judgement) -> tuple[list[dict], dict, list[dict]]:
    as_json = CallResult(cid, "ok", CallMetadata(call_id=cid), checks=j.findings, score=j.score).to_json()
    return as_json["checks"], as_json["score"], [tag_json(t) for t in j.tags]


_ROWS = {  # the judgement tables a rescore rewrites, and the columns that make up a row
    "checks": (S.checks, ("idx", "check", "status", "start", "end", "speaker", "evidence", "detail_json")),
    "items": (
        S.item_scores,
        ("idx", "item_id", "title", "points", "deduction", "status", "fatal", "reasons_json"),
    ),
    "tags": (S.call_tags, ("idx", "tag", "rule", "start", "speaker", "evidence")),
}
_SCORE = ("score_total", "score_max", "fatal", "needs_review")


@dataclass
class _Judged:
    """One batch judged (in a worker or in the parent): what the parent writes. Only what differs from the
    stored rows is rewritten: a changed rule touches the calls it changes, and an unchanged finding keeps
    its row (and the row id a review decision may point at)."""

    ids: list[str] = field(default_factory=list)
    replace: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in _ROWS})
    """Per table: the calls whose rows are replaced."""
    rows: dict[str, list[dict]] = field(default_factory=lambda: {k: [] for k in _ROWS})
    updates: list[dict] = field(default_factory=list)
    """Score columns of the calls whose score changed."""
    changed: int = 0
    """Calls whose total changed."""
    history: list[dict] = field(default_factory=list)
    """score_history rows, one per call judged, without `scored_at` (the parent stamps when it writes)."""
    timelines: list[dict] = field(default_factory=list)
    no_timeline: list[str] = field(default_factory=list)
    reused_checks: int = 0


@dataclass(frozen=True)
class _RescoreJob:
    url: str
    rubric: Rubric
    sha: str
    baseline: Baselines | None
    full: bool

    def open(self) -> Callable[[Sequence[str]], _Judged]:
        from .judge_pool import Reader

        reader = Reader(self.url)
        fingerprints = check_fingerprints(self.rubric)
        own = frozenset(all_checks())

        def run(ids: Sequence[str]) -> _Judged:
            with reader.read() as conn:
                calls = list(load_calls(conn, ids, with_findings=True))
                stored = _stored_rows(conn, ids)
            out = _Judged()
            prime(
                self.rubric.rules,
                [CallView(c.inputs.timeline, c.inputs.transcript, c.inputs.metadata) for c in calls if c.inputs],
            )
            for call in calls:
                _judge_one(call, self, fingerprints, own, stored, out)
            return out

        return run


def _stored_rows(conn: sa.Connection, ids: Sequence[str]) -> dict[str, dict[str, list[tuple]]]:
    """The calls' stored judgement rows as tuples (per table, per call, in order) and score columns."""
    out: dict[str, dict[str, list[tuple]]] = {}
    for name, (table, cols) in _ROWS.items():
        per: dict[str, list[tuple]] = {}
        q = sa.select(table.c.call_id, *(table.c[c] for c in cols)).where(table.c.call_id.in_(ids))
        for r in conn.execute(q.order_by(table.c.call_id, table.c.idx)):
            per.setdefault(r[0], []).append(tuple(r[1:]))
        out[name] = per
    c = S.calls
    q = sa.select(c.c.call_id, *(c.c[k] for k in _SCORE)).where(c.c.call_id.in_(ids))
    out["score"] = {r[0]: [tuple(r[1:])] for r in conn.execute(q)}
    return out


def _judge_one(
    call: StoredCall,
    job: _RescoreJob,
    fingerprints: dict[str, str],
    own: frozenset[str],
    stored_rows: dict[str, dict[str, list[tuple]]],
    out: _Judged,
) -> None:
    cid = call.call_id
    if call.inputs is None:
        out.no_timeline.append(cid)
        return
    inputs = call.inputs if job.baseline is None else replace(call.inputs, baseline=job.baseline)
    reuse = None
    if not job.full and call.timeline is not None:
        # a check whose code and parameters are those that produced the stored findings: keep them
        before = call.timeline.get("judged_with") or {}
        stored = call.findings or {}
        reuse = {c: stored[c] for c, fp in fingerprints.items() if before.get(c) == fp and c in stored}
        out.reused_checks += len(reuse)
    j = judge(inputs, job.rubric, reuse=reuse, with_events=False)
    # findings no check or rule produces (privacy's pii_masked spans, which audio export masks) stay
    kept = [f for fs in (call.findings or {}).values() for f in fs if f.check not in own and not f.detail.get("rule")]
    if kept:
        j = replace(j, findings=(*j.findings, *kept))
    if call.timeline is not None and call.timeline.get("judged_with") != fingerprints:
        out.timelines.append(
            {
                "cid": cid,
                "timeline_json": json.dumps(
                    {**call.timeline, "judged_with": fingerprints}, ensure_ascii=False, sort_keys=True
                ),
            }
        )
    cj, sj, tj = _judged_json(cid, j)
    for name, rows in (
        ("checks", check_rows(cid, cj)),
        ("items", item_rows(cid, sj["items"])),
        ("tags", tag_rows(cid, tj)),
    ):
        cols = _ROWS[name][1]
        if [tuple(r[c] for c in cols) for r in rows] != stored_rows[name].get(cid, []):
            out.replace[name].append(cid)
            out.rows[name] += rows
    score = {k: sj[k.removeprefix("score_")] for k in _SCORE}
    old = stored_rows["score"].get(cid, [None])[0]
    if old != tuple(score[k] for k in _SCORE):
        out.updates.append({"cid": cid, **score})
        out.changed += old is None or old[0] != score["score_total"]
    out.history.append(
        {
            "call_id": cid,
            "rubric": job.rubric.id,
            "rubric_version": job.rubric.version,
            "rubric_sha256": job.sha,
            **score,
            "source": "rescore",
        }
    )
    out.ids.append(cid)


def rescore(
    store: Store,
    rubric: Rubric,
    filt: CallFilter = CallFilter(),  # noqa: B008 - frozen dataclass: a shared default is safe
    *,
    batch_size: int = 500,
    force: bool = False,
    full: bool = False,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> RescoreReport:
    """Re-judge the stored calls that match `filt`; `workers` > 1 judges batches in that many processes
    while this process writes each batch in order (same stored result as one process)."""
    import time

    from .judge_pool import plan, run_batches, store_url

    t0 = time.perf_counter()
    sha = rubric_sha256(rubric)
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
    chunks, workers = plan(ids, batch_size, workers)
    job = _RescoreJob(store_url(store.engine), rubric, sha, baseline, full)
    done_n = 0
    for chunk, b in zip(chunks, run_batches(job, chunks, workers, report.pool), strict=True):
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        _write(store, b, now)
        report.changed += b.changed
        report.rescored += len(b.ids)
        report.no_timeline += b.no_timeline
        report.reused_checks += b.reused_checks
        done_n += len(chunk)
        if progress:
            progress(done_n, len(ids))
    report.seconds = time.perf_counter() - t0
    return report


def _write(store: Store, b: _Judged, now: str) -> None:
    """Write one batch's judgement in one transaction: the rows that changed, the scores that changed, and a
    history row for every call judged."""
    if not b.ids:
        return
    c = S.calls
    with store.engine.begin() as conn:
        for name, (table, _) in _ROWS.items():
            if b.replace[name]:
                conn.execute(table.delete().where(table.c.call_id.in_(b.replace[name])))
            insert_rows(conn, table, b.rows[name])
        if b.updates:
            conn.execute(
                c.update().where(c.c.call_id == sa.bindparam("cid")).values(**{k: sa.bindparam(k) for k in _SCORE}),
                b.updates,
            )
        insert_rows(conn, S.score_history, [{**h, "scored_at": now} for h in b.history])
        if b.timelines:
            t = S.call_timelines
            conn.execute(
                t.update()
                .where(t.c.call_id == sa.bindparam("cid"))
                .values(timeline_json=sa.bindparam("timeline_json")),
                b.timelines,
            )


def _done_with(conn: sa.Connection, sha: str) -> set[str]:
    """Calls whose latest score came from the rubric with this SHA-256."""
    h = S.score_history
    latest = sa.select(h.c.call_id, sa.func.max(h.c.history_id).label("hid")).group_by(h.c.call_id).subquery()
    q = sa.select(h.c.call_id).join(latest, latest.c.hid == h.c.history_id).where(h.c.rubric_sha256 == sha)
    return set(conn.execute(q).scalars())


# ----------------------------------------------------------------------- `callqa score --db`: the archive


def finding_from_json(c: Mapping[str, Any]) -> Finding:
    """A finding as a result JSON's `checks` holds it (the inverse of CallResult.to_json)."""
    return Finding(
        c["check"],
        c["status"],
        c.get("start"),
        c.get("end"),
        c.get("speaker"),
        c.get("evidence") or "",
        c.get("detail") or {},
    )


class ArchiveJudge:
    """What scoring a call can only do with the database at hand: 四(二) 办理时长 against the average of the stored
    calls of its queue or topic (`checks.handling_time.baseline`). The pipeline judges each call on its own (in
    worker processes or on Ray, without the database); `callqa score --db` passes each result through this at
    the moment the batch writes it, like a rescore would judge it: every other check keeps its findings, the
    handling-time check is judged again with the stored average, rules and the score follow.

    The averages are those of the calls stored when the batch started (as in a rescore), so a batch's own calls
    do not move each other's yardstick; `callqa rescore` later judges them against the whole archive."""

    def __init__(self, rubric: Rubric, baseline: Baselines):
        self.rubric = rubric
        self.baseline = baseline
        self._own = frozenset(all_checks())

    @classmethod
    def for_store(cls, store: Store, rubric: Rubric) -> ArchiveJudge | None:
        """None when the rubric judges nothing against the archive."""
        ht = rubric.check_params.get("handling_time") or {}
        if not (ht.get("baseline") and "handling_time" in rubric.check_names):
            return None
        with store.read() as conn:
            return cls(rubric, Baselines.from_store(conn, ht["baseline"].get("by", "queue")))

    def __call__(self, result: dict[str, Any]) -> dict[str, Any]:
        """The result with its handling-time finding, rules, tags and score judged against the archive
        (unchanged when it is not an "ok" result with a stored timeline)."""
        if result.get("status") != "ok" or not result.get("timeline"):
            return result
        inputs = replace(inputs_from_result(result), baseline=self.baseline)
        findings = [finding_from_json(c) for c in result.get("checks") or []]
        reuse: dict[str, list[Finding]] = {n: [] for n in self.rubric.check_names if n != "handling_time"}
        for f in findings:
            if f.check in reuse:
                reuse[f.check].append(f)
        j = judge(inputs, self.rubric, reuse=reuse, with_events=False)
        kept = [f for f in findings if f.check not in self._own and not f.detail.get("rule")]
        if kept:
            j = replace(j, findings=(*j.findings, *kept))
        cj, sj, tj = _judged_json(str(result["call_id"]), j)
        return {**result, "checks": cj, "score": sj, "tags": tj}
