"""Detect: run the rubric's checks over a timeline + transcript → findings and timeline events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .checks.registry import CheckContext, run_check
from .checks.waits import transfer_moment, waits
from .types import CallMetadata, Event, Finding, Timeline, Transcript


def run_checks(
    check_names: Iterable[str],
    timeline: Timeline,
    transcript: Transcript,
    metadata: CallMetadata,
    params: Mapping[str, Mapping[str, Any]],
) -> list[Finding]:
    """Every named check's findings, in the order the checks are named."""
    findings: list[Finding] = []
    for name in check_names:
        ctx = CheckContext(timeline, transcript, params.get(name, {}), metadata)
        findings.extend(run_check(name, ctx))
    return findings


def timeline_events(timeline: Timeline, transcript: Transcript, metadata: CallMetadata) -> list[Event]:
    """Speech, silence, overlap, hold and transfer spans for the result file."""
    events = [Event("speech", s.start, s.end, s.speaker) for s in timeline.speech]
    events += [Event("silence", g.start, g.end) for g in timeline.silences]
    events += [Event("overlap", o.start, o.end, o.speaker) for o in timeline.overlaps]
    if timeline.has_roles:
        events += [Event("hold", w.start, w.end, "agent") for w in waits(timeline, transcript)]
        moment = transfer_moment(timeline, transcript, metadata)
        if moment is not None:
            events.append(Event("transfer", moment, moment, "agent"))
    return sorted(events, key=lambda e: (e.start, e.end, e.type))
