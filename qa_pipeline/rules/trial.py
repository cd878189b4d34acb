"""`callqa rules test`: run rules over stored calls (no audio, no ASR) — hits, hit rate per agent and team,
and examples — so a QA lead sees on last week's calls what a rule would flag before enabling it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import sqlalchemy as sa

from ..archive import CallFilter, load_calls, select_call_ids
from ..judge_pool import PoolStats
from ..store.db import Store
from .engine import judge_rule, prime
from .model import Rule
from .operators import CallView


class _Readable(Protocol):
    def read(self) -> sa.Connection: ...


@dataclass(frozen=True)
class Example:
    call_id: str
    agent_id: str | None
    start: float | None
    speaker: str | None
    evidence: str


@dataclass
class Tally:
    calls: int = 0
    hits: int = 0
    """Calls the rule fired on (violation failed, requirement unmet, tag given)."""

    @property
    def rate(self) -> float:
        return self.hits / self.calls if self.calls else 0.0


@dataclass
class RuleTrial:
    rule: Rule
    total: Tally = field(default_factory=Tally)
    occurrences: int = 0
    needs_review: int = 0
    by_agent: dict[str, Tally] = field(default_factory=dict)  # "" = calls with no agent recorded
    by_team: dict[str, Tally] = field(default_factory=dict)  # "" = calls with no team recorded
    examples: list[Example] = field(default_factory=list)


@dataclass
class TrialReport:
    rules: list[RuleTrial]
    calls: int = 0
    no_timeline: int = 0
    seconds: float = 0.0
    pool: PoolStats = field(default_factory=PoolStats)
    """Workers used and the CPU time the batches took in them."""


@dataclass(frozen=True)
class _TrialJob:
    """Judges one batch of stored calls with the rules (in a worker process or in the parent)."""

    url: str
    rules: tuple[Rule, ...]
    max_examples: int

    def open(self) -> Callable[[Sequence[str]], TrialReport]:
        from ..judge_pool import Reader

        reader = Reader(self.url)
        return lambda ids: _trial_batch(reader, self.rules, ids, self.max_examples)


def _trial_batch(reader: _Readable, rules: Sequence[Rule], ids: Sequence[str], max_examples: int) -> TrialReport:
    trials = [RuleTrial(r) for r in rules]
    report = TrialReport(trials)
    with reader.read() as conn:
        calls = list(load_calls(conn, ids))
    views = {
        c.call_id: CallView(c.inputs.timeline, c.inputs.transcript, c.inputs.metadata)
        for c in calls
        if c.inputs is not None
    }
    prime(rules, list(views.values()))
    for call in calls:
        if call.inputs is None:
            report.no_timeline += 1
            continue
        report.calls += 1
        view = views[call.call_id]
        agent, team = call.agent_id or "", call.team or ""  # "": not recorded on the call (the CLI says so)
        for tr in trials:
            findings, tags = judge_rule(tr.rule, view)
            fired = [f for f in findings if f.status == "fail"]
            hit = bool(fired or tags)
            if any(f.status == "needs_review" for f in findings):
                tr.needs_review += 1
            for tally in (
                tr.total,
                tr.by_agent.setdefault(agent, Tally()),
                tr.by_team.setdefault(team, Tally()),
            ):
                tally.calls += 1
                tally.hits += hit
            if not hit:
                continue
            tr.occurrences += len(fired) or len(tags)
            if len(tr.examples) < max_examples:
                f0 = fired[0] if fired else None
                t = tags[0] if tags else None
                tr.examples.append(
                    Example(
                        call.call_id,
                        call.agent_id,
                        f0.start if f0 else (t.start if t else None),
                        f0.speaker if f0 else (t.speaker if t else None),
                        (f0.evidence if f0 else (t.evidence if t else "")) or "",
                    )
                )
    return report


def _merge(into: TrialReport, part: TrialReport, max_examples: int) -> None:
    """Add a batch's report (batches merged in call-id order give what one pass over all calls gives)."""
    into.calls += part.calls
    into.no_timeline += part.no_timeline
    for tr, p in zip(into.rules, part.rules, strict=True):
        tr.total.calls += p.total.calls
        tr.total.hits += p.total.hits
        tr.occurrences += p.occurrences
        tr.needs_review += p.needs_review
        for mine, theirs in ((tr.by_agent, p.by_agent), (tr.by_team, p.by_team)):
            for key, tally in theirs.items():
                m = mine.setdefault(key, Tally())
                m.calls += tally.calls
                m.hits += tally.hits
        tr.examples.extend(p.examples[: max(0, max_examples - len(tr.examples))])


def run_trial(
    store: Store,
    rules: Sequence[Rule],
    filt: CallFilter = CallFilter(),  # noqa: B008 - frozen dataclass: a shared default is safe
    *,
    max_examples: int = 10,
    batch_size: int = 1000,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> TrialReport:
    """Run `rules` over the stored calls that match `filt`; `workers` > 1 judges batches in that many
    processes (same report)."""
    import time

    from ..judge_pool import plan, run_batches, store_url

    t0 = time.perf_counter()
    report = TrialReport([RuleTrial(r) for r in rules])
    with store.read() as conn:
        ids = select_call_ids(conn, filt)
    chunks, workers = plan(ids, batch_size, workers)
    done = 0
    if progress:
        progress(0, len(ids))
    job = _TrialJob(store_url(store.engine), tuple(rules), max_examples)
    for chunk, part in zip(chunks, run_batches(job, chunks, workers, report.pool), strict=True):
        _merge(report, part, max_examples)
        done += len(chunk)
        if progress:
            progress(done, len(ids))
    report.seconds = time.perf_counter() - t0
    return report
