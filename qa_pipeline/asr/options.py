"""ASR options and errors (what to transcribe with, and how it can fail)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Chunking = Literal["packed", "packed-tails", "dialogue", "turn", "segment"]


class ModelNotInstalledError(RuntimeError):
    """A model/engine is not available offline; the message names the exact install command."""


class TranscriptError(ValueError):
    """An existing transcript file is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class AsrOptions:
    """How to transcribe. Engines: "faster-whisper" (default, CPU), "openai-whisper" (PyTorch, GPU-ready),
    "transcript" (read an existing transcript next to the recording or in `transcripts_dir`)."""

    engine: str = "faster-whisper"
    model: str = "base"  # a known offline model name, or a CTranslate2 model directory (faster-whisper)
    compute_type: str = "int8"  # faster-whisper: int8 | int8_float32 | float32 | float16 (cuda)
    device: str = "cpu"  # "cpu" | "cuda" | "auto" (cuda when available)
    beam_size: int = 5  # 1 = greedy
    cpu_threads: int = 2
    word_timestamps: bool = True
    transcripts_dir: Path | None = None
    temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # Whisper's fallback schedule
    chunking: Chunking = "packed"  # packed: several turns of one party per window (fastest); packed-tails: and
    # the parties' last windows shared when they fit; dialogue: both parties' turns in time order per window
    # (Whisper hears the whole exchange); turn; segment
    max_window_s: float = 28.0  # speech per Whisper window (< 30 s so nothing is cut by the encoder)
    pad_s: float = 0.35  # audio kept around each VAD segment: Silero triggers late on turn onsets (docs/accuracy.md)
    speaker_separator_s: float = 0.6  # dialogue: digital silence between pieces of different parties
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    max_tokens_per_s: float = 20.0  # faster-whisper: a window's text is capped at this many tokens per second of
    # its audio (+ 32); fast Mandarin is ≈ 8. A VAD false positive on line noise otherwise loops to Whisper's 448
    # tokens at every temperature of the fallback schedule (5 s of noise: ≈ 17 s of CPU). 0: Whisper's own cap.
    batch_windows: int = 0  # faster-whisper: windows decoded together in one beam search; 1: one at a time;
    # 0: auto (CPU 4, CUDA from free GPU memory). On CPU the decoder's weights are read once per step for the
    # whole batch (docs/benchmarks.md); each window costs ~40 MB of cross-attention cache per beam, hence the cap.


@dataclass(frozen=True)
class AsrDescription:
    """What an engine will do with some options, known before it is loaded: what a result records about its
    ASR (and the resume key compares), and whether the engine transcribes the timeline's speech segments."""

    engine: str
    model: str
    compute_type: str
    options: dict[str, Any] = field(default_factory=dict)
    """Decoding settings that change the text (beam size, windowing, padding)."""
    transcribes_segments: bool = True
    """True: the engine transcribes each speaker's VAD segments, so a diarized timeline gets text per
    provisional speaker. False: it reads an existing transcript (speakers already named)."""


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"
