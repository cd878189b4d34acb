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

from qa_pipeline.asr.options import AsrDescription, AsrOptions, ModelNotInstalledError, TranscriptError
from qa_pipeline.text import to_simplified
from qa_pipeline.types import CallAudio, Timeline, Transcript

ENGINES: tuple[str, ...] = ("faster-whisper", "openai-whisper", "transcript")

__all__ = [
    "ENGINES",
    "AsrDescription",
    "AsrEngine",
    "AsrOptions",
    "ModelNotInstalledError",
    "TranscriptError",
    "describe_engine",
    "engine_class",
    "load_engine",
    "to_simplified",
]


@runtime_checkable
class AsrEngine(Protocol):
    name: str
    model: str
    compute_type: str

    def __init__(self, options: AsrOptions) -> None: ...

    @classmethod
    def describe(cls, options: AsrOptions) -> AsrDescription: ...

    def transcribe(self, audio: CallAudio, timeline: Timeline) -> Transcript: ...


def engine_class(name: str) -> type[AsrEngine]:
    """The engine implementation called `name` (imported on demand: the libraries load with the engine)."""
    if name == "faster-whisper":
        from qa_pipeline.asr.faster_whisper import FasterWhisperEngine

        return FasterWhisperEngine
    if name == "openai-whisper":
        from qa_pipeline.asr.openai_whisper import OpenAIWhisperEngine

        return OpenAIWhisperEngine
    if name == "transcript":
        from qa_pipeline.asr.transcript import TranscriptEngine

        return TranscriptEngine
    raise ValueError(f"unknown ASR engine {name!r}; choose one of {', '.join(ENGINES)}")


def describe_engine(options: AsrOptions) -> AsrDescription:
    """What the engine for `options` records about itself, without loading it (resume checks, result files)."""
    return engine_class(options.engine).describe(options)


@lru_cache(maxsize=4)
def load_engine(options: AsrOptions) -> AsrEngine:
    """The engine for `options`, loaded once per process (same options → same instance)."""
    return engine_class(options.engine)(options)
