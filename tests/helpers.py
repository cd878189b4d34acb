"""Test helpers: constructed timelines/transcripts and calls built from real speech clips."""

from __future__ import annotations

import builtins
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import soxr

from qa_pipeline.timeline import timeline_from_segments
from qa_pipeline.types import SpeechSegment, Timeline, Transcript, Utterance

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
# beside the checkout (a clone next to shared/); CALLQA_REAL_AUDIO points elsewhere (e.g. from a git worktree)
REAL_AUDIO = Path(os.environ.get("CALLQA_REAL_AUDIO") or REPO.parent / "shared" / "real-audio")


def real_clip(name: str, rate: int = 8000) -> np.ndarray:
    """A real Mandarin clip from shared/real-audio (never copied into the repo), resampled."""
    path = REAL_AUDIO / "audio" / name
    if not path.exists():
        pytest.skip(f"real-audio fixture missing: {path}")
    x, sr = sf.read(str(path), dtype="float32")
    return soxr.resample(x, sr, rate).astype(np.float32)


def timeline(*segs: tuple[str, float, float], duration: float | None = None, loudness: float = -20.0) -> Timeline:
    """Timeline from (speaker, start, end) tuples."""
    speech = [SpeechSegment(s, a, b, loudness) for s, a, b in segs]  # type: ignore[arg-type]
    return timeline_from_segments(speech, duration or max(b for _, _, b in segs) + 1.0)


def transcript(*utts: tuple[str, float, float, str]) -> Transcript:
    return Transcript(tuple(Utterance(s, a, b, t) for s, a, b, t in utts), engine="test")  # type: ignore[arg-type]


def render_stereo(
    path: Path,
    turns: list[tuple[str, float, np.ndarray]],
    duration: float,
    rate: int = 8000,
    noise: float = 0.002,
    subtype: str = "PCM_16",
) -> Path:
    """Write a stereo call: each turn is (speaker, start_s, samples); agent on channel 0."""
    out = np.zeros((int(duration * rate), 2), np.float32)
    for speaker, start, x in turns:
        ch = 0 if speaker == "agent" else 1
        i = int(start * rate)
        out[i : i + len(x), ch] += x[: max(0, len(out) - i)]
    rng = np.random.default_rng(0)
    out += rng.normal(0, noise, out.shape).astype(np.float32)
    sf.write(str(path), np.clip(out, -1, 1), rate, subtype=subtype)
    return path


def spy_file_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every file opened (open, io.open, Path.read_text) until `monkeypatch` is undone: the guard tests
    that training never reads held-out, development or tuning data."""
    opened: list[str] = []
    real_open, real_read = builtins.open, Path.read_text

    def spy_open(file: Any, *a: Any, **k: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *a, **k)

    def spy_read(self: Path, *a: Any, **k: Any) -> str:
        opened.append(str(self))
        return real_read(self, *a, **k)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(Path, "read_text", spy_read)
    return opened


EXTRA_SHIRKING: dict[str, list[str]] = {"shirking": ["您去找物业问问吧", "您跟街道反映一下", "你找居委会去"]}
"""A centre's own 推诿 examples: the tests that extend the phrase model with `extra` phrases all use this one set,
so the extended model (a full retraining) is trained once per test session, not once per test."""
