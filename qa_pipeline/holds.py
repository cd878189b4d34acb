"""Holds, waits and the transfer moment: timeline-level features derived from the silences and what the agent
said around them. Detect (timeline events), the checks (hold_notice, hold_apology, wait_fluency, response
latency, silences, transfer_pause) and rescoring all read them from here.

A *wait* is an agent-side silence (10086 二(一)3 熟练度): a gap of at least `min_wait_s` that the agent
announced (请您稍等…), or that the agent ends (the customer was left waiting for the agent), or any gap of
`WAIT_UNANNOUNCED_S` or more. Announced or not, every such wait counts toward fluency; announcing it is judged
separately (`hold_notice`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .phrasing import find as find_phrase
from .phrasing import is_sure
from .types import CallMetadata, SpeechSegment, Timeline, Transcript, Utterance

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
def said(category: str, text: str) -> str:
    """ "yes" / "maybe" (borderline classifier hit only) / "no": does `text` contain the phrase category?"""
    hits = find_phrase(category, text)
    if any(is_sure(category, m) for m in hits):
        return "yes"
    return "maybe" if hits else "no"


def _matches(category: str, text: str) -> bool:
    return said(category, text) == "yes"


def agent_notice_before(
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
    spoken = words_in(max(before, key=lambda s: s.end))
    return next((u for u in reversed(spoken) if said("hold_notice", u.text) in accept), None)


def announced_wait_before(
    timeline: Timeline, transcript: Transcript, t: float, lookback_s: float = NOTICE_LOOKBACK_S
) -> bool:
    return agent_notice_before(timeline, transcript, t, lookback_s) is not None


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
        notice = agent_notice_before(timeline, transcript, gap.start, NOTICE_LOOKBACK_S)
        agent_side = notice is not None or _next_speaker(timeline, gap.end - 0.3) == "agent"
        if agent_side or gap.duration >= WAIT_UNANNOUNCED_S:
            out.append(Wait(gap.start, gap.end, notice is not None, notice))
    return out


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
