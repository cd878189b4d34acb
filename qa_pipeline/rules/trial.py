"""`callqa rules test`: run rules over stored calls (no audio, no ASR) — hits, hit rate per agent and team,
and examples — so a QA lead sees on last week's calls what a rule would flag before enabling it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..archive import CallFilter, load_calls, select_call_ids
from ..store.db import Store
from .engine import judge_rule
from .model import Rule
from .operators import CallView


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
    by_agent: dict[str, Tally] = field(default_factory=dict)
    by_team: dict[str, Tally] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)


@dataclass
class TrialReport:
    rules: list[RuleTrial]
    calls: int = 0
    no_timeline: int = 0
    seconds: float = 0.0


def run_trial(
    store: Store,
    rules: Sequence[Rule],
    filt: CallFilter = CallFilter(),  # noqa: B008 - frozen dataclass: a shared default is safe
    *,
    max_examples: int = 10,
    batch_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> TrialReport:
    import time

    t0 = time.perf_counter()
    trials = [RuleTrial(r) for r in rules]
    report = TrialReport(trials)
    with store.read() as conn:
        ids = select_call_ids(conn, filt)
        for i in range(0, len(ids), batch_size):
            for call in load_calls(conn, ids[i : i + batch_size]):
                if call.inputs is None:
                    report.no_timeline += 1
                    continue
                report.calls += 1
                view = CallView(call.inputs.timeline, call.inputs.transcript, call.inputs.metadata)
                agent, team = call.agent_id or "?", call.team or "?"
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
            if progress:
                progress(min(i + batch_size, len(ids)), len(ids))
    report.seconds = time.perf_counter() - t0
    return report
