"""Waits, holds and transfers: checks that join the timeline's silences with what the agent said.

A *wait* is an agent-side silence (10086 二(一)3 熟练度): a gap of at least `min_wait_s` that the agent
announced (请您稍等…), or that the agent ends (the customer was left waiting for the agent), or any gap of
`WAIT_UNANNOUNCED_S` or more. Announced or not, every such wait counts toward fluency; announcing it is judged
separately (`hold_notice`, every wait over its `min_wait_s`, default 10 s in the 10086 rubric).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..phrasing import find as find_phrase
from ..phrasing import thresholds
from ..types import CallMetadata, Finding, SpeechSegment, Status, Timeline, Transcript, Utterance
from .registry import CheckContext, register

WAIT_MIN_S = 5.0
"""A pause shorter than this is ordinary conversation, not a wait (rubric-overridable per check)."""
WAIT_UNANNOUNCED_S = 30.0
"""Any gap this long is a wait whoever ends it."""
NOTICE_LOOKBACK_S = 20.0
BLIP_S = 1.0
"""Agent VAD segments shorter than this with no transcribed words are ignored when looking for a wait notice."""


@dataclass(frozen=True)
class Wait:
    start: float
    end: float
    announced: bool
    notice: Utterance | None

    @property
    def duration(self) -> float:
        return self.end - self.start


@lru_cache(maxsize=4096)
def _said(category: str, text: str) -> str:
    """ "yes" / "maybe" (borderline classifier hit only) / "no": does `text` contain the phrase category?"""
    hits = find_phrase(category, text)
    if any(m.method != "model" or m.score >= thresholds().hit for m in hits):
        return "yes"
    return "maybe" if hits else "no"


def _matches(category: str, text: str) -> bool:
    return _said(category, text) == "yes"


def _agent_notice_before(
    timeline: Timeline, transcript: Transcript, t: float, lookback_s: float, accept: tuple[str, ...] = ("yes",)
) -> Utterance | None:
    """What the agent said in their last speech before `t`, if it asked the customer to wait."""
    agent_utts = transcript.by("agent")

    def words_in(s: SpeechSegment) -> list[Utterance]:
        return [u for u in agent_utts if u.start < s.end + 0.25 and u.end > s.start - 0.25]

    # a short VAD blip without words (hold music starting, a click) must not hide the 请您稍等 said before it
    before = [
        s
        for s in timeline.segments("agent")
        if t - lookback_s <= s.end <= t + 0.5 and (s.duration >= BLIP_S or words_in(s))
    ]
    if not before:
        return None
    said = words_in(max(before, key=lambda s: s.end))
    return next((u for u in reversed(said) if _said("hold_notice", u.text) in accept), None)


def announced_wait_before(
    timeline: Timeline, transcript: Transcript, t: float, lookback_s: float = NOTICE_LOOKBACK_S
) -> bool:
    return _agent_notice_before(timeline, transcript, t, lookback_s) is not None


def _next_speaker(timeline: Timeline, t: float) -> str | None:
    """Who speaks first from `t` on (None at the end of the call)."""
    starts = [(s.start, s.speaker) for sp in ("agent", "customer") for s in timeline.segments(sp) if s.end > t + 0.05]
    return min(starts)[1] if starts else None


def waits(timeline: Timeline, transcript: Transcript, min_wait_s: float = WAIT_MIN_S) -> list[Wait]:
    """Agent-side waits: gaps ≥ `min_wait_s` the agent announced or ended, and any gap ≥ 30 s."""
    out = []
    for gap in timeline.silences:
        if gap.duration < min_wait_s:
            continue
        notice = _agent_notice_before(timeline, transcript, gap.start, NOTICE_LOOKBACK_S)
        agent_side = notice is not None or _next_speaker(timeline, gap.end - 0.3) == "agent"
        if agent_side or gap.duration >= WAIT_UNANNOUNCED_S:
            out.append(Wait(gap.start, gap.end, notice is not None, notice))
    return out


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
            notice = _agent_notice_before(ctx.timeline, ctx.transcript, w.start, NOTICE_LOOKBACK_S, ("maybe",))
            status = "needs_review" if notice else "fail"
            if notice:
                detail["reason"] = "borderline paraphrase of a wait notice"
        findings.append(Finding("hold_notice", status, w.start, w.end, "agent", notice.text if notice else "", detail))
    return findings or [
        Finding("hold_notice", "not_applicable", detail={"reason": f"no wait over {ctx.params['min_wait_s']:g} s"})
    ]


@register("hold_apology", defaults={"min_wait_s": 30.0, "lookahead_utterances": 2})
def hold_apology(ctx: CheckContext) -> list[Finding]:
    """After every wait over 30 s the agent apologised (对不起，让您久等了)."""
    findings = []
    agent = ctx.transcript.by("agent")
    for w in _long_waits(ctx):
        after = [u for u in agent if u.start >= w.end - 0.5][: ctx.params["lookahead_utterances"]]
        apology = next((u for u in after if _matches("hold_apology", u.text)), None)
        maybe = None if apology else next((u for u in after if _said("hold_apology", u.text) == "maybe"), None)
        status: Status = "pass" if apology else "needs_review" if maybe else "fail"
        detail: dict[str, object] = {"wait_s": round(w.duration, 2)}
        if maybe:
            detail["reason"] = "borderline paraphrase of an apology"
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
        Finding("hold_apology", "not_applicable", detail={"reason": f"no wait over {ctx.params['min_wait_s']:g} s"})
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


def transfer_utterance(transcript: Transcript) -> Utterance | None:
    """The agent's last utterance that uses transfer phrasing (lexicon, or a confident paraphrase), if any."""
    hits = [u for u in transcript.by("agent") if _matches("transfer", u.text)]
    return hits[-1] if hits else None


def transfer_moment(timeline: Timeline, transcript: Transcript, metadata: CallMetadata) -> float | None:
    """When the call was transferred: the manifest's `transferred_at`, else the point where the agent
    leg ends for good after a transfer phrase (the end of the recording when the agent never speaks again)."""
    if metadata.transferred_at is not None:
        return float(metadata.transferred_at)
    utt = transfer_utterance(transcript)
    if utt is None:
        return None
    agent_after = [s for s in timeline.segments("agent") if s.start > utt.end + 0.1]
    if agent_after:
        return None  # the agent kept talking: the phrase was not followed by a transfer
    return timeline.duration


@register("transfer_pause", defaults={"min_pause_s": 2.0})
def transfer_pause(ctx: CheckContext) -> list[Finding]:
    """A pause of ≥ 2 s between the transfer phrase and the transfer itself."""
    moment = transfer_moment(ctx.timeline, ctx.transcript, ctx.metadata)
    if moment is None:
        return [Finding("transfer_pause", "not_applicable", detail={"reason": "no transfer"})]
    utt = transfer_utterance(ctx.transcript)
    if utt is None or utt.end > moment + 0.5:
        before = [u for u in ctx.transcript.by("agent") if u.end <= moment + 0.5]
        if not before:
            return [Finding("transfer_pause", "needs_review", detail={"reason": "no agent speech before transfer"})]
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
