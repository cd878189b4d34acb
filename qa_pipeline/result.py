"""CallResult: everything known about one scored call, and its JSON file (schema_version 1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .types import AudioSource, CallMetadata, DiarizationInfo, Event, Finding, Score, Transcript

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).parent / "schemas" / "call_result.schema.json"


@dataclass(frozen=True)
class EngineInfo:
    asr: str
    model: str
    compute_type: str
    rubric: str
    rubric_version: str
    package_version: str
    vad: str = "silero"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallResult:
    call_id: str
    status: str  # "ok" | "failed"
    metadata: CallMetadata
    error: str | None = None
    audio: AudioSource | None = None
    engine: EngineInfo | None = None
    transcript: Transcript | None = None
    events: tuple[Event, ...] = ()
    checks: tuple[Finding, ...] = ()
    score: Score | None = None
    timings: dict[str, float] = field(default_factory=dict)
    diarization: DiarizationInfo | None = None
    """Mono calls: speakers found, roles, role confidence, suspected overlaps (None for stereo)."""
    timeline: dict[str, Any] | None = None
    """The stored timeline (judging.stored_timeline): what rescoring judges from, with the transcript."""
    tags: tuple[Any, ...] = ()
    """judging.Tag: labels rules put on the call (topics, escalation risk …)."""

    def to_json(self) -> dict[str, Any]:
        md = asdict(self.metadata)
        extra = md.pop("extra")
        md.pop("call_id")
        utterances = []
        if self.transcript:
            for u in self.transcript.utterances:
                d: dict[str, Any] = {"speaker": u.speaker, "start": _r(u.start), "end": _r(u.end), "text": u.text}
                if u.words:
                    d["words"] = [
                        {"text": w.text, "start": _r(w.start), "end": _r(w.end), "probability": w.probability}
                        for w in u.words
                    ]
                utterances.append(d)
        return {
            "schema_version": SCHEMA_VERSION,
            "call_id": self.call_id,
            "status": self.status,
            "error": self.error,
            "agent_id": self.metadata.agent_id,
            "metadata": {**{k: v for k, v in md.items() if v is not None}, **extra},
            "audio": asdict(self.audio) if self.audio else None,
            "engine": asdict(self.engine) if self.engine else None,
            "utterances": utterances,
            "events": [
                {"type": e.type, "start": _r(e.start), "end": _r(e.end), "speaker": e.speaker} for e in self.events
            ],
            "checks": [
                {
                    "check": f.check,
                    "status": f.status,
                    "start": _r(f.start),
                    "end": _r(f.end),
                    "speaker": f.speaker,
                    "evidence": f.evidence,
                    "detail": f.detail,
                }
                for f in self.checks
            ],
            "score": _score_json(self.score) if self.score else None,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "diarization": self.diarization.to_json() if self.diarization else None,
            "timeline": self.timeline,
            "tags": [tag_json(t) for t in self.tags],
        }


def tag_json(t: Any) -> dict[str, Any]:
    return {
        "tag": t.tag,
        "rule": t.rule,
        "topic": t.topic,
        "start": _r(t.start),
        "speaker": t.speaker,
        "evidence": t.evidence,
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


def _score_json(score: Score) -> dict[str, Any]:
    return {
        "total": score.total,
        "max": score.max,
        "fatal": score.fatal,
        "needs_review": score.needs_review,
        "verdict": score.verdict,
        "severity": score.severity,
        "items": [
            {
                "id": i.id,
                "title": i.title,
                "points": i.points,
                "deduction": i.deduction,
                "status": i.status,
                "fatal": i.fatal,
                "severity": i.severity,
                "partially_judged": bool(i.unjudged),
                "unjudged": list(i.unjudged),
                "reasons": list(i.reasons),
            }
            for i in score.items
        ],
    }
