"""What Whisper says that is not speech: silence hallucinations, stutter loops, silent-looking segments.
Also Simplified output (Whisper base often emits Traditional for Mandarin)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from qa_pipeline.asr.options import AsrOptions
from qa_pipeline.text import normalize


@lru_cache(maxsize=1)
def _hallucination_re() -> re.Pattern[str]:
    from qa_pipeline.asr.hallucinations import PATTERNS

    return re.compile("|".join(f"(?:{p})" for p in PATTERNS))


def is_hallucination(text: str) -> bool:
    """True when the text is a known Whisper silence/outro hallucination (subtitle credits, 'like & subscribe')."""
    norm = normalize(text)
    return bool(norm) and _hallucination_re().search(norm) is not None


@dataclass
class RawWord:
    text: str
    start: float
    end: float
    probability: float | None = None


@dataclass
class RawSegment:
    """One Whisper segment in window time, engine-neutral."""

    start: float
    end: float
    text: str
    words: list[RawWord] = field(default_factory=list)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0


def keep_segment(seg: RawSegment, opts: AsrOptions) -> bool:
    """Drop empty, silent-looking, looping, or known-hallucination segments."""
    if not normalize(seg.text):
        return False
    if seg.no_speech_prob > opts.no_speech_threshold and seg.avg_logprob < opts.log_prob_threshold:
        return False  # Whisper's own "this was silence" rule, applied even when the engine kept it
    if seg.compression_ratio > opts.compression_ratio_threshold:
        return False  # repetition loop ("好的好的好的…")
    return not is_hallucination(seg.text) and not is_stutter_loop(seg.text)


_LOOP_RE = re.compile(r"(.{1,3}?)\1{3,}")
_REAL_REPEATS = set("嗯对好哦啊是哈喂")  # "对对对对", "好好好好": people really say these


def is_stutter_loop(text: str) -> bool:
    """A short unit repeated 4+ times that makes up most of the text ("你认认认认认"): Whisper decoding a
    noise or music onset. Too short for the compression-ratio guard to see."""
    norm = normalize(text)
    m = _LOOP_RE.search(norm)
    if m is None:
        return False
    return not set(m.group(1)) <= _REAL_REPEATS and len(m.group(0)) * 2 >= len(norm)
