"""Wait and transfer checks: hold_notice, hold_apology, wait_fluency, transfer_pause.

What a wait, a hold notice and the transfer moment are lives in `qa_pipeline.holds` (a timeline-level feature
that detect and rescoring use too); these checks judge them against the rubric's thresholds (`hold_notice`:
every wait over its `min_wait_s`, default 10 s in the 10086 rubric).
"""

from __future__ import annotations

from ..holds import (
    NOTICE_LOOKBACK_S,
    WAIT_MIN_S,
    Wait,
    agent_notice_before,
    said,
    transfer_moment,
    transfer_utterance,
    waits,
)
from ..types import Finding, Status
from .registry import CheckContext, register


def _long_waits(ctx: CheckContext) -> list[Wait]:
    return [w for w in waits(ctx.timeline, ctx.transcript) if w.duration > ctx.params["min_wait_s"]]


@register("hold_notice", defaults={"min_wait_s": 10.0})
def hold_notice(ctx: CheckContext) -> list[Finding]:
    """Before every agent-side lookup pause over `min_wait_s` the agent asked the customer to wait
    (请您稍等，我帮您查询, 10086 一(一)1(3): whenever a lookup is needed, not only before long ones)."""
    findings = []
    for w in _long_waits(ctx):
        status: Status = "pass"
        notice = w.notice
        detail: dict[str, object] = {"wait_s": round(w.duration, 2)}
        if not w.announced:
            # a borderline paraphrase (稍等啊，我看一下) goes to a person rather than failing or passing silently
            notice = agent_notice_before(ctx.timeline, ctx.transcript, w.start, NOTICE_LOOKBACK_S, ("maybe",))
            status = "needs_review" if notice else "fail"
            if notice:
                detail["reason"] = "borderline_notice"
        findings.append(Finding("hold_notice", status, w.start, w.end, "agent", notice.text if notice else "", detail))
    return findings or [
        Finding("hold_notice", "not_applicable", detail={"reason": "no_wait", "min_wait_s": ctx.params["min_wait_s"]})
    ]


@register("hold_apology", defaults={"min_wait_s": 30.0, "lookahead_utterances": 2})
def hold_apology(ctx: CheckContext) -> list[Finding]:
    """After every wait over 30 s the agent apologised (对不起，让您久等了)."""
    findings = []
    agent = ctx.transcript.by("agent")
    for w in _long_waits(ctx):
        after = [u for u in agent if u.start >= w.end - 0.5][: ctx.params["lookahead_utterances"]]
        apology = next((u for u in after if said("hold_apology", u.text) == "yes"), None)
        maybe = None if apology else next((u for u in after if said("hold_apology", u.text) == "maybe"), None)
        status: Status = "pass" if apology else "needs_review" if maybe else "fail"
        detail: dict[str, object] = {"wait_s": round(w.duration, 2)}
        if maybe:
            detail["reason"] = "borderline_apology"
        findings.append(
            Finding(
                "hold_apology",
                status,
                w.start,
                w.end,
                "agent",
                (apology or maybe or after[0]).text if after else "",
                detail,
            )
        )
    return findings or [
        Finding("hold_apology", "not_applicable", detail={"reason": "no_wait", "min_wait_s": ctx.params["min_wait_s"]})
    ]


@register(
    "wait_fluency",
    defaults={
        "min_wait_s": WAIT_MIN_S,
        "tiers": [
            # 很不熟练: one > 60 s, two > 30 s, or 查询次数在三次及以上 (three lookups: waits over 10 s)
            {
                "deduction": 8,
                "any_of": [{"count": 1, "over_s": 60}, {"count": 2, "over_s": 30}, {"count": 3, "over_s": 10}],
            },
            {"deduction": 5, "any_of": [{"count": 1, "over_s": 30}, {"count": 2, "over_s": 15}]},
            {"deduction": 2, "any_of": [{"count": 1, "over_s": 15}]},
        ],
    },
)
def wait_fluency(ctx: CheckContext) -> list[Finding]:
    """Answer fluency from every agent-side wait, announced or not: the seed's tiers (one > 60 s, two > 30 s or
    three lookups → −8; one > 30 s or two > 15 s → −5; one > 15 s → −2)."""
    ws = waits(ctx.timeline, ctx.transcript, ctx.params["min_wait_s"])
    durations = [round(w.duration, 2) for w in ws]
    for tier in sorted(ctx.params["tiers"], key=lambda t: -t["deduction"]):
        for rule in tier["any_of"]:
            hits = [w for w in ws if w.duration > rule["over_s"]]
            if len(hits) >= rule["count"]:
                return [
                    Finding(
                        "wait_fluency",
                        "fail",
                        hits[0].start,
                        hits[-1].end,
                        "agent",
                        f"{len(hits)} wait(s) over {rule['over_s']} s",
                        {"deduction": tier["deduction"], "rule": rule, "waits_s": durations},
                    )
                ]
    return [Finding("wait_fluency", "pass", detail={"waits_s": durations})]


@register("transfer_pause", defaults={"min_pause_s": 2.0})
def transfer_pause(ctx: CheckContext) -> list[Finding]:
    """A pause of ≥ 2 s between the transfer phrase and the transfer itself."""
    moment = transfer_moment(ctx.timeline, ctx.transcript, ctx.metadata)
    if moment is None:
        return [Finding("transfer_pause", "not_applicable", detail={"reason": "no_transfer"})]
    utt = transfer_utterance(ctx.transcript)
    if utt is None or utt.end > moment + 0.5:
        before = [u for u in ctx.transcript.by("agent") if u.end <= moment + 0.5]
        if not before:
            return [Finding("transfer_pause", "needs_review", detail={"reason": "no_speech_before_transfer"})]
        utt = before[-1]
    pause = moment - utt.end
    return [
        Finding(
            "transfer_pause",
            "pass" if pause >= ctx.params["min_pause_s"] else "fail",
            utt.end,
            moment,
            "agent",
            utt.text,
            {"pause_s": round(pause, 2), "transfer_at": round(moment, 2)},
        )
    ]
