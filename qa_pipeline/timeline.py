"""Timeline: voice activity per party (Silero VAD) → speech, silences, overlaps, turn changes, loudness.

Built from the audio, never from ASR gaps: Whisper invents text in silence and hold music.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .i18n import t
from .intervals import gaps_between
from .types import SAMPLE_RATE, CallAudio, Interval, Overlap, Response, Speaker, SpeechSegment, Timeline


@dataclass(frozen=True)
class VadOptions:
    threshold: float = 0.5
    min_speech_s: float = 0.25
    min_silence_s: float = 0.3
    """Pauses shorter than this stay inside one segment (breaths between words)."""
    speech_pad_s: float = 0.05


class NoSpeechError(ValueError):
    """The voice activity detector found no speech in any channel."""


@lru_cache(maxsize=1)
def _silero() -> Any:
    # The "sequence" ONNX model runs whole blocks of frames per call: bit-exact with the
    # streaming model, torch-free, and ~10× faster than its per-frame Python loop.
    from silero_vad import load_silero_vad

    return load_silero_vad(sequence=True)


def detect_speech(samples: np.ndarray, speaker: Speaker, options: VadOptions = VadOptions()) -> list[SpeechSegment]:
    """Speech segments of one party's 16 kHz samples, with their loudness (RMS dBFS)."""
    from silero_vad.sequence_vad import get_speech_timestamps_sequence

    if samples.size == 0:
        return []
    stamps = get_speech_timestamps_sequence(
        samples,
        _silero(),
        threshold=options.threshold,
        sampling_rate=SAMPLE_RATE,
        min_speech_duration_ms=int(options.min_speech_s * 1000),
        min_silence_duration_ms=int(options.min_silence_s * 1000),
        speech_pad_ms=int(options.speech_pad_s * 1000),
    )
    segments = []
    for s in stamps:
        a, b = int(s["start"]), int(s["end"])
        segments.append(
            SpeechSegment(speaker, round(a / SAMPLE_RATE, 3), round(b / SAMPLE_RATE, 3), _rms_dbfs(samples[a:b]))
        )
    return segments


def _rms_dbfs(x: np.ndarray) -> float | None:
    if x.size == 0:
        return None
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return round(float(20 * np.log10(rms)), 2) if rms > 0 else None


def build_timeline(audio: CallAudio, options: VadOptions = VadOptions()) -> Timeline:
    """Run VAD on every party and derive silences, overlaps and turn changes."""
    # one thread per party: the ONNX kernels release the GIL, so two channels take the time of one
    with ThreadPoolExecutor(max_workers=len(audio.parties)) as pool:
        per_party = pool.map(lambda item: detect_speech(item[1], item[0], options), audio.parties.items())
        speech = [seg for segs in per_party for seg in segs]
    if not speech:
        raise NoSpeechError(t("audio.error.no_speech", file=audio.source.path))
    return timeline_from_segments(speech, audio.duration, audio.source.layout)


def timeline_from_segments(speech: list[SpeechSegment], duration: float, layout: str = "stereo") -> Timeline:
    """Derive silences, overlaps and responses from speech segments (used by tests and diarization too)."""
    speech = sorted(speech, key=lambda s: (s.start, s.end))
    return Timeline(
        duration=duration,
        layout=layout,  # type: ignore[arg-type]
        speech=tuple(speech),
        silences=tuple(_silences(speech)),
        overlaps=tuple(_overlaps(speech)),
        responses=tuple(_responses(speech)),
    )


def _silences(speech: list[SpeechSegment]) -> list[Interval]:
    """Gaps between speech where nobody talks (leading/trailing silence is not a gap in the conversation)."""
    return [Interval(round(a, 3), b) for a, b in gaps_between((s.start, s.end) for s in speech)]


def _overlaps(speech: list[SpeechSegment]) -> list[Overlap]:
    overlaps: list[Overlap] = []
    # earlier segments that still reach the current start, in order: speech is sorted by start, so one that
    # ends before a start ends before every later start too (a scan of all earlier ones was quadratic: a 3 h
    # call has thousands of segments)
    active: list[SpeechSegment] = []
    for later in speech:
        active = [e for e in active if e.end > later.start]
        for earlier in active:
            if earlier.speaker == later.speaker:
                continue
            end = min(earlier.end, later.end)
            if end > later.start:
                overlaps.append(Overlap(later.start, end, later.speaker, earlier.speaker, later))
        active.append(later)
    return overlaps


def _responses(speech: list[SpeechSegment]) -> list[Response]:
    """A response is a segment whose speaker differs from whoever last held the floor."""
    responses: list[Response] = []
    floor: SpeechSegment | None = None
    for seg in speech:
        if floor is not None and floor.speaker != seg.speaker:
            responses.append(Response(seg.speaker, floor.speaker, floor.end, seg.start))
        if floor is None or seg.end >= floor.end:
            floor = seg
    return responses
