"""Checks judged from the timeline: interruptions, silences, latency, long speech, speech rate, volume."""

from __future__ import annotations

import bisect
import statistics
from itertools import pairwise

from ..holds import announced_wait_before, waits
from ..rules.engine import builtin_rule, evaluate_rule
from ..rules.operators import CallView
from ..text import char_count
from ..types import Finding, Speaker, SpeechSegment, Status, Utterance
from .registry import CheckContext, register


def utterance_at(utterances: tuple[Utterance, ...], speaker: Speaker, start: float, end: float) -> str:
    """Text that `speaker` said between `start` and `end` (evidence for a timing finding)."""
    return " ".join(u.text for u in utterances if u.speaker == speaker and u.end > start and u.start < end)


def single_pass(check: str, **detail: object) -> list[Finding]:
    return [Finding(check, "pass", detail=dict(detail))]


def party_turns(segments: tuple[SpeechSegment, ...], max_pause_s: float) -> list[tuple[float, float]]:
    """One party's turns: its speech segments merged across pauses shorter than `max_pause_s`."""
    turns: list[list[float]] = []
    for seg in segments:
        if turns and seg.start - turns[-1][1] < max_pause_s:
            turns[-1][1] = max(turns[-1][1], seg.end)
        else:
            turns.append([seg.start, seg.end])
    return [(a, b) for a, b in turns]


@register("interruption", defaults={"min_overlap_s": 1.0, "min_segment_s": 1.5, "turn_pause_s": 0.8})
def interruption(ctx: CheckContext) -> list[Finding]:
    """The agent starts talking inside the customer's turn (backchannels excluded). A turn spans pauses
    shorter than `turn_pause_s`, so an agent who cuts in at a breath in mid-sentence still interrupts."""
    p = ctx.params
    customer_turns = party_turns(ctx.timeline.segments("customer"), p["turn_pause_s"])
    # turns are sorted and disjoint: the one that can hold an agent start is the last one starting before it
    # (a scan of every turn per agent segment was quadratic in a long call)
    turn_starts = [a for a, _ in customer_turns]
    findings: list[Finding] = []
    for seg in ctx.timeline.segments("agent"):
        if seg.duration < p["min_segment_s"]:
            continue
        k = bisect.bisect_left(turn_starts, seg.start) - 1
        turn = customer_turns[k] if k >= 0 and seg.start < customer_turns[k][1] else None
        if turn is None:
            continue
        overlap_end = min(seg.end, turn[1])
        if overlap_end - seg.start >= p["min_overlap_s"]:
            findings.append(
                Finding(
                    "interruption",
                    "fail",
                    seg.start,
                    overlap_end,
                    "agent",
                    utterance_at(ctx.transcript.utterances, "agent", seg.start, overlap_end),
                    {"overlap_s": round(overlap_end - seg.start, 2), "agent_segment_s": round(seg.duration, 2)},
                )
            )
    return findings or single_pass("interruption")


def _silence_check(name: str, ctx: CheckContext) -> list[Finding]:
    # what a silence is lives in the rule engine (rules/builtin/checks.yaml: silence_gap)
    rule = builtin_rule("silence_gap", gap={"min_s": ctx.params["min_gap_s"]})
    _, _, hits = evaluate_rule(rule, CallView(ctx.timeline, ctx.transcript, ctx.metadata))
    announced = {(w.start, w.end): w.announced for w in waits(ctx.timeline, ctx.transcript)}
    findings = [
        Finding(
            name,
            "fail",
            h.start,
            h.end,
            None,
            utterance_at(ctx.transcript.utterances, "agent", h.start - 15, h.start),
            {"duration_s": round(h.end - h.start, 2), "announced": announced.get((h.start, h.end), False)},
        )
        for h in hits["gap"]
        if h.start is not None and h.end is not None  # a gap hit always has its span
    ]
    return findings or single_pass(name)


@register("silence_over_30s", defaults={"min_gap_s": 30.0}, needs_roles=False)
def silence_over_30s(ctx: CheckContext) -> list[Finding]:
    """Every gap where both parties are silent for at least 30 s (detail.announced: agent asked to wait)."""
    return _silence_check("silence_over_30s", ctx)


@register("silence_over_60s", defaults={"min_gap_s": 60.0}, needs_roles=False)
def silence_over_60s(ctx: CheckContext) -> list[Finding]:
    """Every gap where both parties are silent for at least 60 s."""
    return _silence_check("silence_over_60s", ctx)


@register("response_latency", defaults={"max_latency_s": 3.0, "notice_lookback_s": 20.0})
def response_latency(ctx: CheckContext) -> list[Finding]:
    """The agent answers more than 3 s after the customer stops, unless the agent had announced a wait."""
    p = ctx.params
    findings = []
    for r in ctx.timeline.responses:
        if r.speaker != "agent" or r.after != "customer" or r.latency <= p["max_latency_s"]:
            continue
        if announced_wait_before(ctx.timeline, ctx.transcript, r.prev_end, p["notice_lookback_s"]):
            continue
        findings.append(
            Finding(
                "response_latency",
                "fail",
                r.prev_end,
                r.start,
                "agent",
                utterance_at(ctx.transcript.utterances, "customer", r.prev_end - 10, r.prev_end),
                {"latency_s": round(r.latency, 2)},
            )
        )
    return findings or single_pass("response_latency")


@register("no_response_to_long_speech", defaults={"max_customer_speech_s": 30.0, "max_pause_s": 3.0})
def no_response_to_long_speech(ctx: CheckContext) -> list[Finding]:
    """The customer talks for more than 30 s without any agent response (not even a backchannel)."""
    p = ctx.params
    # VAD drops very short backchannels (嗯 0.25 s); the transcript's agent utterances count as responses too
    agent_starts = sorted(
        {s.start for s in ctx.timeline.segments("agent")} | {u.start for u in ctx.transcript.by("agent")}
    )
    stretches = party_turns(ctx.timeline.segments("customer"), p["max_pause_s"])
    findings = []
    for start, end in stretches:
        # any agent speech starting inside the stretch (even a backchannel "嗯") is a response
        cuts = [start, *(t for t in agent_starts if start < t < end), end]
        longest = max(pairwise(cuts), key=lambda ab: ab[1] - ab[0])
        if longest[1] - longest[0] > p["max_customer_speech_s"]:
            a, b = longest
            findings.append(
                Finding(
                    "no_response_to_long_speech",
                    "fail",
                    a,
                    b,
                    "customer",
                    utterance_at(ctx.transcript.utterances, "customer", a, b)[:120],
                    {"customer_speech_s": round(b - a, 2)},
                )
            )
    if findings:
        return findings
    if any(end - start > p["max_customer_speech_s"] for start, end in stretches):
        return single_pass("no_response_to_long_speech")
    return [
        Finding(
            "no_response_to_long_speech",
            "not_applicable",
            detail={"reason": "no_long_customer_speech", "max_customer_speech_s": p["max_customer_speech_s"]},
        )
    ]


@register("speech_rate", defaults={"min_chars_per_minute": 150.0, "max_chars_per_minute": 330.0, "min_speech_s": 10.0})
def speech_rate(ctx: CheckContext) -> list[Finding]:
    """Agent characters per minute over the agent's speech time (VAD), punctuation not counted."""
    p = ctx.params
    speech_s = sum(s.duration for s in ctx.timeline.segments("agent"))
    chars = sum(char_count(u.text) for u in ctx.transcript.by("agent"))
    if speech_s < p["min_speech_s"] or chars == 0:
        return [
            Finding(
                "speech_rate",
                "not_applicable",
                speaker="agent",
                detail={"reason": "too_little_speech", "speech_s": round(speech_s, 2)},
            )
        ]
    cpm = chars / speech_s * 60.0
    ok = p["min_chars_per_minute"] <= cpm <= p["max_chars_per_minute"]
    verdict = "within band" if ok else ("too fast" if cpm > p["max_chars_per_minute"] else "too slow")
    return [
        Finding(
            "speech_rate",
            "pass" if ok else "fail",
            speaker="agent",
            evidence=f"{cpm:.0f} chars/min ({verdict})",
            detail={
                "chars_per_minute": round(cpm, 1),
                "chars": chars,
                "speech_s": round(speech_s, 2),
                "band": [p["min_chars_per_minute"], p["max_chars_per_minute"]],
            },
        )
    ]


@register(
    "volume",
    defaults={"min_dbfs": -40.0, "max_dbfs": -6.0, "max_turn_deviation_db": 12.0, "max_bad_turn_share": 0.25},
)
def volume(ctx: CheckContext) -> list[Finding]:
    """Agent loudness per turn: not too quiet, not clipping-loud, and steady across the call."""
    p = ctx.params
    levels = [(s, s.loudness_dbfs) for s in ctx.timeline.segments("agent") if s.loudness_dbfs is not None]
    if not levels:
        return [Finding("volume", "not_applicable", speaker="agent", detail={"reason": "no_agent_speech"})]
    median = statistics.median(v for _, v in levels)
    bad = [
        (s, v)
        for s, v in levels
        if v < p["min_dbfs"] or v > p["max_dbfs"] or abs(v - median) > p["max_turn_deviation_db"]
    ]
    share = len(bad) / len(levels)
    status: Status = (
        "fail" if (median < p["min_dbfs"] or median > p["max_dbfs"] or share > p["max_bad_turn_share"]) else "pass"
    )
    first_bad = bad[0][0] if bad else None
    return [
        Finding(
            "volume",
            status,
            first_bad.start if (status == "fail" and first_bad) else None,
            first_bad.end if (status == "fail" and first_bad) else None,
            "agent",
            f"median {median:.1f} dBFS, {len(bad)}/{len(levels)} turns out of range",
            {
                "median_dbfs": round(median, 1),
                "bad_turns": [[round(s.start, 2), round(s.end, 2), v] for s, v in bad[:20]],
                "band_dbfs": [p["min_dbfs"], p["max_dbfs"]],
            },
        )
    ]


@register(
    "handling_time",
    defaults={"average_s": None, "average_s_by_queue": {}, "tiers": [], "baseline": None, "stored_average": None},
    needs_roles=False,
)
def handling_time(ctx: CheckContext) -> list[Finding]:
    """Call length against the average handling time of its queue (rubric tiers: +25 %, +50 %, +70 %).

    With `baseline: {by: queue|topic, window_days: 30, min_calls: 20}` the average comes from the stored calls
    (judging.judge fills `stored_average` from the database; without enough calls → needs_review)."""
    p = ctx.params
    stored = p.get("stored_average")
    if p.get("baseline"):
        if not stored or stored.get("average_s") is None:
            reason = (stored or {}).get("reason") or "no_stored_average"
            return [Finding("handling_time", "needs_review", detail={"reason": reason, **(stored or {})})]
        average = stored["average_s"]
    else:
        average = (p["average_s_by_queue"] or {}).get(ctx.metadata.queue or "", p["average_s"])
    if not average:
        return [Finding("handling_time", "needs_review", detail={"reason": "no_average_configured"})]
    excess = ctx.timeline.duration / float(average) - 1.0
    hit = max((t for t in p["tiers"] if excess > t["over_ratio"]), key=lambda t: t["over_ratio"], default=None)
    detail = {"duration_s": round(ctx.timeline.duration, 1), "average_s": average, "excess_ratio": round(excess, 3)}
    if stored:
        detail.update({k: v for k, v in stored.items() if k != "average_s"})
    if hit is None:
        return [Finding("handling_time", "pass", detail=detail)]
    return [
        Finding(
            "handling_time",
            "fail",
            0.0,
            ctx.timeline.duration,
            evidence=f"{excess:.0%} over the average handling time",
            detail={**detail, "deduction": hit["deduction"]},
        )
    ]
