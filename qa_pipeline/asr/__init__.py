"""Speech recognition: one API over several engines.

    from qa_pipeline.asr import AsrOptions, load_engine
    engine = load_engine(AsrOptions())            # faster-whisper base int8 on CPU
    transcript = engine.transcribe(call_audio, timeline)

Whisper engines transcribe only the timeline's speech segments of each party (never silence), force
Mandarin, output Simplified Chinese, and drop known silence hallucinations. Weights are local only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol, runtime_checkable

from qa_pipeline.asr.filters import to_simplified
from qa_pipeline.asr.options import AsrOptions, ModelNotInstalledError, TranscriptError
from qa_pipeline.types import CallAudio, Timeline, Transcript

ENGINES: tuple[str, ...] = ("faster-whisper", "openai-whisper", "transcript")

__all__ = [
    "ENGINES",
    "AsrEngine",
    "AsrOptions",
    "ModelNotInstalledError",
    "TranscriptError",
    "load_engine",
    "to_simplified",
]


@runtime_checkable
class AsrEngine(Protocol):
    name: str
    model: str
    compute_type: str

    def transcribe(self, audio: CallAudio, timeline: Timeline) -> Transcript: ...


@lru_cache(maxsize=4)
def load_engine(options: AsrOptions) -> AsrEngine:
    """The engine for `options`, loaded once per process (same options → same instance)."""
    if options.engine == "faster-whisper":
        from qa_pipeline.asr.faster_whisper import FasterWhisperEngine

        return FasterWhisperEngine(options)
    if options.engine == "openai-whisper":
        from qa_pipeline.asr.openai_whisper import OpenAIWhisperEngine

        return OpenAIWhisperEngine(options)
    if options.engine == "transcript":
        from qa_pipeline.asr.transcript import TranscriptEngine

        return TranscriptEngine(options)
    raise ValueError(f"unknown ASR engine {options.engine!r}; choose one of {', '.join(ENGINES)}")
