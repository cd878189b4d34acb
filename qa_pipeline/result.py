"""CallResult: everything known about one scored call, and its JSON file (schema_version 1)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .types import AudioSource, CallMetadata, Event, Finding, Score, Transcript

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
    diarization: dict[str, Any] | None = None
    """Mono calls: speakers found, roles, role confidence, suspected overlaps (None for stereo)."""

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
            "diarization": self.diarization,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


def _score_json(score: Score) -> dict[str, Any]:
    return {
        "total": score.total,
        "max": score.max,
        "fatal": score.fatal,
        "needs_review": score.needs_review,
        "items": [
            {
                "id": i.id,
                "title": i.title,
                "points": i.points,
                "deduction": i.deduction,
                "status": i.status,
                "fatal": i.fatal,
                "reasons": list(i.reasons),
            }
            for i in score.items
        ],
    }


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see either the old file or the complete new one, never a part."""
    try:
        text = json.dumps(data, ensure_ascii=False, indent=1)
        payload = text.encode("utf-8")
    except UnicodeEncodeError:  # a stray lone surrogate (undecodable file name): \u-escape instead of failing
        payload = json.dumps(data, ensure_ascii=True, indent=1).encode("ascii")
    write_bytes_atomic(path, payload)


def write_bytes_atomic(path: Path, payload: bytes) -> None:
    """Atomic replace through a unique temp file in the same folder (`.<name>.<pid>.<random>.tmp`, so that a
    crashed writer's leftovers can be recognised and removed); the file gets the usual 0644-style mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.name if len(path.name.encode("utf-8", "surrogatepass")) <= 150 else path.name[:40]
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_orphan_temps(folder: Path) -> int:
    """Delete `.*.<pid>.*.tmp` files left by writers that no longer run (kill -9); returns how many."""
    from .safe import pid_alive

    removed = 0
    if not folder.is_dir():
        return 0
    for f in folder.glob(".*.tmp"):
        parts = f.name.rsplit(".", 3)
        pid = int(parts[-3]) if len(parts) == 4 and parts[-3].isdigit() else None
        if pid is not None and (pid == os.getpid() or pid_alive(pid)):
            continue  # a live writer's file
        f.unlink(missing_ok=True)
        removed += 1
    return removed


def read_result(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
