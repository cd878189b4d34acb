"""Detect: run the rubric's checks over a timeline + transcript → findings and timeline events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from .checks.registry import CheckContext, run_check
from .holds import transfer_moment, waits
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


def qualify_mono_findings(
    findings: Sequence[Finding], overlap_suspects: Sequence[tuple[float, float]]
) -> list[Finding]:
    """Interruptions cannot be judged from one diarized mono channel the way they are in stereo: overlap is
    invisible to VAD and only *suspected* from embeddings. A pass/fail interruption finding becomes
    needs_review when overlap is suspected, else keeps its status with the confidence attached."""
    out: list[Finding] = []
    for f in findings:
        if f.check == "interruption" and f.status in ("pass", "fail"):
            detail = {**f.detail, "mono": True, "overlap_suspects": [list(x) for x in overlap_suspects[:20]]}
            if overlap_suspects:
                detail["reason"] = "mono_overlap"
                f = replace(f, status="needs_review", detail=detail)
            else:
                detail["confidence"] = "low (mono: overlap inferred from speaker embeddings, none found)"
                f = replace(f, detail=detail)
        out.append(f)
    return out
