"""Helpers to build CallAudio/Timeline directly (ASR tests, benchmarks/bench_asr.py) without the ingest/timeline
stages. Test-only: not part of the installed package."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa_pipeline.types import SAMPLE_RATE, AudioSource, CallAudio, CallMetadata, Speaker, SpeechSegment, Timeline


def read_16k(path: str | Path) -> np.ndarray:
    """Mono float32 16 kHz samples of an audio file (soundfile + soxr)."""
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if sr != SAMPLE_RATE:
        import soxr

        mono = soxr.resample(mono, sr, SAMPLE_RATE).astype(np.float32)
    return np.ascontiguousarray(mono, dtype=np.float32)


def telephone(samples: np.ndarray) -> np.ndarray:
    """16 kHz → 8 kHz → 16 kHz round trip: the band limit of a telephone channel."""
    import soxr

    return soxr.resample(soxr.resample(samples, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE).astype(np.float32)


def silero_segments(samples: np.ndarray, speaker: Speaker, min_silence_ms: int = 300) -> list[SpeechSegment]:
    """Speech segments from the bundled Silero VAD (no download)."""
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    ts = get_speech_timestamps(
        torch.from_numpy(samples),
        load_silero_vad(),
        sampling_rate=SAMPLE_RATE,
        min_silence_duration_ms=min_silence_ms,
        return_seconds=True,
    )
    return [SpeechSegment(speaker, float(t["start"]), float(t["end"])) for t in ts]


def make_call(
    parties: dict[Speaker, np.ndarray], speech: list[SpeechSegment], path: str = "call.wav", call_id: str = "test"
) -> tuple[CallAudio, Timeline]:
    """CallAudio + a minimal Timeline (speech only) from arrays and segments."""
    n = max(len(a) for a in parties.values())
    dur = n / SAMPLE_RATE
    layout = "mono" if list(parties) == ["unknown"] else "stereo"
    audio = CallAudio(CallMetadata(call_id), AudioSource(path, "", dur, SAMPLE_RATE, len(parties), layout), parties)
    tl = Timeline(dur, layout, tuple(sorted(speech, key=lambda s: s.start)), (), (), ())
    return audio, tl


def references(tsv: str | Path) -> dict[str, str]:
    """file name → reference text from the shared real-audio transcripts.tsv."""
    out: dict[str, str] = {}
    for line in Path(tsv).read_text(encoding="utf-8").splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) >= 2 and cols[1]:
            out[Path(cols[0]).name] = cols[1]
    return out
