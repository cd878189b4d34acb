"""The dataclasses that flow between pipeline stages.

ingest → CallAudio → timeline → Timeline → (mono: diarize → DiarizationInfo) → transcribe → Transcript → detect
→ [Finding] → score → Score.
All times are seconds from the start of the recording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Speaker = Literal["agent", "customer", "unknown"]
Status = Literal["pass", "fail", "not_applicable", "needs_review"]
Layout = Literal["stereo", "mono"]

SAMPLE_RATE = 16_000
"""Every party's samples are resampled to this rate (what Whisper and Silero VAD expect)."""


@dataclass(frozen=True)
class CallMetadata:
    call_id: str
    agent_id: str | None = None
    agent_name: str | None = None
    team: str | None = None
    started_at: str | None = None
    queue: str | None = None
    transferred_at: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AudioSource:
    path: str
    sha256: str
    duration_s: float
    sample_rate: int
    channels: int
    layout: Layout
    codec: str = ""


@dataclass(frozen=True, eq=False)
class CallAudio:
    """Decoded call: one float32 16 kHz array per party ('unknown' for mono)."""

    metadata: CallMetadata
    source: AudioSource
    parties: dict[Speaker, np.ndarray]

    @property
    def call_id(self) -> str:
        return self.metadata.call_id

    @property
    def duration(self) -> float:
        return self.source.duration_s


@dataclass(frozen=True)
class Interval:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class SpeechSegment:
    speaker: Speaker
    start: float
    end: float
    loudness_dbfs: float | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Overlap:
    """Both parties speak; `speaker` is the one who started talking second (the interrupter)."""

    start: float
    end: float
    speaker: Speaker
    interrupted: Speaker
    interrupter_segment: SpeechSegment

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Response:
    """A turn change from `after` (who stopped) to `speaker` (who answered); latency may be negative."""

    speaker: Speaker
    after: Speaker
    prev_end: float
    start: float

    @property
    def latency(self) -> float:
        return self.start - self.prev_end


@dataclass(frozen=True)
class Timeline:
    duration: float
    layout: Layout
    speech: tuple[SpeechSegment, ...]
    silences: tuple[Interval, ...]
    overlaps: tuple[Overlap, ...]
    responses: tuple[Response, ...]
    vad: str = "silero"

    def segments(self, speaker: Speaker) -> tuple[SpeechSegment, ...]:
        return tuple(s for s in self.speech if s.speaker == speaker)

    @property
    def has_roles(self) -> bool:
        """True when speech is attributed to agent/customer (stereo, or mono after diarization)."""
        return any(s.speaker != "unknown" for s in self.speech)


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    probability: float | None = None


@dataclass(frozen=True)
class Utterance:
    speaker: Speaker
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    def time_at(self, char_index: int) -> float:
        """Approximate time of the character at `char_index` of `text` (word times if present, else linear)."""
        if self.words:
            pos = 0
            for w in self.words:
                pos += len(w.text)
                if pos > char_index:
                    return w.start
            return self.words[-1].end
        n = max(len(self.text), 1)
        return self.start + (self.end - self.start) * min(char_index, n) / n


@dataclass(frozen=True)
class Transcript:
    utterances: tuple[Utterance, ...]
    engine: str
    model: str = ""
    compute_type: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def by(self, speaker: Speaker) -> tuple[Utterance, ...]:
        return tuple(u for u in self.utterances if u.speaker == speaker)


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    start: float | None = None
    end: float | None = None
    speaker: Speaker | None = None
    evidence: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """A span on the call's timeline for the output file: speech, silence, overlap, hold, transfer."""

    type: str
    start: float
    end: float
    speaker: Speaker | None = None


@dataclass(frozen=True)
class ItemScore:
    id: str
    title: str
    points: float
    deduction: float
    status: Status
    reasons: tuple[str, ...] = ()
    fatal: bool = False
    severity: str = "minor"
    """red_line (红线) / severe (严重) / minor (一般), from the rubric item."""
    unjudged: tuple[str, ...] = ()
    """Sub-clauses of the item no check covers: a person still checks them (the item is partially judged)."""


@dataclass(frozen=True)
class Score:
    total: float
    max: float
    fatal: bool
    needs_review: bool
    items: tuple[ItemScore, ...]
    verdict: str = ""
    """"pass" (合格) / "fail" (不合格) by the rubric's verdict rule; "" when nothing was judged."""
    severity: str = ""
    """The worst severity among failed items ("" when none failed)."""


@dataclass(frozen=True)
class DiarizationInfo:
    """How a mono call's speakers were found and named (diarize → roles); stored once, in the result."""

    method: str
    n_speakers: int
    speaker_seconds: dict[str, float]
    centroid_similarity: float | None
    """Highest cosine similarity between two speaker centroids (lower = better separated)."""
    roles: dict[str, str]
    """provisional speaker (spk0, …) → "agent" | "customer" | "unknown"."""
    role_confidence: float
    role_reason: str
    role_evidence: dict[str, dict[str, Any]]
    overlap_suspects: tuple[tuple[float, float], ...]
    """Stretches where two voices may overlap (a mono mix cannot separate them)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent diarizing and transcribing the provisional speakers."""

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n_speakers": self.n_speakers,
            "speaker_seconds": self.speaker_seconds,
            "centroid_similarity": self.centroid_similarity,
            "roles": self.roles,
            "role_confidence": self.role_confidence,
            "role_reason": self.role_reason,
            "role_evidence": self.role_evidence,
            "overlap_suspects": [list(x) for x in self.overlap_suspects],
            "timings": self.timings,
        }
