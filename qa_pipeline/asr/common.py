"""Shared ASR machinery: options, errors, speech-only windowing, hallucination guard, Simplified output.

Whisper engines never see silence: each party's VAD speech segments are cut out (with a little padding),
packed into windows of at most ~28 s of speech, transcribed, and every word time is mapped back to the
recording. Words are then grouped into utterances that never cross a turn of the other party.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Literal

import numpy as np

from qa_pipeline.types import SAMPLE_RATE, CallAudio, Speaker, SpeechSegment, Timeline, Transcript, Utterance, Word

Chunking = Literal["packed", "turn", "segment"]


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
    chunking: Chunking = "packed"  # packed: several turns per window (fastest); turn; segment
    max_window_s: float = 28.0  # speech per Whisper window (< 30 s so nothing is cut by the encoder)
    pad_s: float = 0.35  # audio kept around each VAD segment: Silero triggers late on turn onsets (docs/accuracy.md)
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4


# --- Simplified Chinese --------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified (Whisper base often emits Traditional for Mandarin)."""
    return _t2s().convert(text) if text else text


# --- hallucination guard -----------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Simplified, half-width, no punctuation/whitespace, lower case (one normaliser for the project)."""
    from qa_pipeline.text import normalize as _normalize

    return _normalize(text)


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
    return bool(m) and not set(m.group(1)) <= _REAL_REPEATS and len(m.group(0)) * 2 >= len(norm)


# --- speech-only windows -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Piece:
    """A span of the party's audio placed at `win_start` inside a window."""

    orig_start: float
    orig_end: float
    win_start: float
    turn: int

    @property
    def duration(self) -> float:
        return self.orig_end - self.orig_start

    @property
    def win_end(self) -> float:
        return self.win_start + self.duration


@dataclass(frozen=True)
class Window:
    speaker: Speaker
    pieces: tuple[Piece, ...]
    audio: np.ndarray

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    def locate(self, t: float) -> Piece:
        """Piece containing window time `t` (nearest piece when `t` falls in a separator)."""
        return min(self.pieces, key=lambda p: 0.0 if p.win_start <= t <= p.win_end
                   else min(abs(t - p.win_start), abs(t - p.win_end)))

    def to_orig(self, t: float, piece: Piece | None = None) -> float:
        p = piece or self.locate(t)
        return p.orig_start + min(max(t - p.win_start, 0.0), p.duration)


SEPARATOR_S = 0.3  # digital silence between pieces: enough for Whisper to end a sentence, too short to hallucinate
TURN_SEPARATOR_S = 0.6


def turns_of(speaker: Speaker, timeline: Timeline) -> list[list[SpeechSegment]]:
    """Group a party's segments into turns: consecutive segments with no other-party speech in between."""
    own = sorted(timeline.segments(speaker), key=lambda s: s.start)
    others = [s for s in timeline.speech if s.speaker != speaker]
    turns: list[list[SpeechSegment]] = []
    for seg in own:
        if turns:
            prev = turns[-1][-1]
            # A turn change: the other party spoke (at least partly) in the pause between these two segments.
            interrupted = any(o.start < seg.start and o.end > prev.end for o in others)
            if not interrupted:
                turns[-1].append(seg)
                continue
        turns.append([seg])
    return turns


def plan_windows(speaker: Speaker, samples: np.ndarray, timeline: Timeline, opts: AsrOptions) -> list[Window]:
    """Cut the party's speech (padded VAD segments) out of `samples` and pack it into Whisper windows."""
    total = len(samples) / SAMPLE_RATE
    spans: list[tuple[float, float, int]] = []  # (start, end, turn) in recording time
    for ti, turn in enumerate(turns_of(speaker, timeline)):
        for seg in turn:
            a, b = max(0.0, seg.start - opts.pad_s), min(total, seg.end + opts.pad_s)
            if b - a < 0.05:
                continue
            if spans and spans[-1][2] == ti and a <= spans[-1][1]:
                a = spans[-1][0]
                spans.pop()
            elif spans and a < spans[-1][1]:
                a = spans[-1][1]  # never feed the same audio twice (padding of adjacent turns)
            # Over-long VAD segments are split evenly (rare: VAD usually breaks speech at pauses).
            n = max(1, int(np.ceil((b - a) / opts.max_window_s)))
            step = (b - a) / n
            spans.extend((a + k * step, a + (k + 1) * step, ti) for k in range(n))

    windows: list[Window] = []
    cur: list[tuple[float, float, int]] = []

    def flush() -> None:
        if not cur:
            return
        parts: list[np.ndarray] = []
        pieces: list[Piece] = []
        t = 0.0
        for i, (a, b, ti) in enumerate(cur):
            if i:
                gap = TURN_SEPARATOR_S if ti != cur[i - 1][2] else SEPARATOR_S
                parts.append(np.zeros(int(round(gap * SAMPLE_RATE)), dtype=np.float32))
                t += gap
            chunk = samples[int(round(a * SAMPLE_RATE)) : int(round(b * SAMPLE_RATE))].astype(np.float32, copy=False)
            pieces.append(Piece(a, a + len(chunk) / SAMPLE_RATE, t, ti))
            parts.append(chunk)
            t += len(chunk) / SAMPLE_RATE
        windows.append(Window(speaker, tuple(pieces), np.concatenate(parts)))
        cur.clear()

    used = 0.0
    for span in spans:
        dur = span[1] - span[0]
        new_turn = bool(cur) and span[2] != cur[-1][2]
        sep = (TURN_SEPARATOR_S if new_turn else SEPARATOR_S) if cur else 0.0
        if cur and (
            opts.chunking == "segment"
            or (opts.chunking == "turn" and new_turn)
            or used + sep + dur > opts.max_window_s
        ):
            flush()
            used, sep = 0.0, 0.0
        cur.append(span)
        used += sep + dur
    flush()
    return windows


def utterances_from(window: Window, segments: Iterable[RawSegment], opts: AsrOptions) -> list[Utterance]:
    """Map a window's kept segments back to recording time, splitting them at turn boundaries."""
    out: list[Utterance] = []
    for seg in segments:
        if not keep_segment(seg, opts):
            continue
        if not seg.words:  # no word timings: place the whole segment in the turn at its midpoint
            p = window.locate((seg.start + seg.end) / 2)
            text = to_simplified(seg.text.strip())
            out.append(Utterance(window.speaker, round(float(window.to_orig(seg.start, p)), 3),
                                 round(float(window.to_orig(seg.end, p)), 3), text))
            continue
        groups: list[tuple[int, list[Word]]] = []
        for w in seg.words:
            p = window.locate((w.start + w.end) / 2)
            word = Word(to_simplified(w.text), round(float(window.to_orig(w.start, p)), 3),
                        round(float(window.to_orig(w.end, p)), 3),
                        None if w.probability is None else round(float(w.probability), 4))
            if groups and groups[-1][0] == p.turn:
                groups[-1][1].append(word)
            else:
                groups.append((p.turn, [word]))
        for _, words in groups:
            text = "".join(w.text for w in words).strip()
            if not normalize(text):
                continue  # e.g. a lone punctuation mark that fell into another turn
            # Leading space of the first word (Whisper's word separator) is dropped from the word too, so
            # that Utterance.time_at's character counting matches `text`.
            first = words[0]
            words[0] = Word(first.text.lstrip(), first.start, first.end, first.probability)
            out.append(Utterance(window.speaker, words[0].start, max(w.end for w in words), text, tuple(words)))
    return out


def uncovered(window: Window, segments: list[RawSegment], opts: AsrOptions, min_s: float = 0.5) -> list[Piece]:
    """Pieces of a multi-piece window that no kept segment (or word) falls into."""
    if len(window.pieces) < 2:
        return []
    hit: set[Piece] = set()
    for seg in segments:
        if not keep_segment(seg, opts):
            continue
        spans = [(w.start, w.end) for w in seg.words] or [(seg.start, seg.end)]
        for a, b in spans:
            hit.update(p for p in window.pieces if a < p.win_end and b > p.win_start)
    return [p for p in window.pieces if p not in hit and p.duration >= min_s]


def subwindow(window: Window, piece: Piece) -> Window:
    """A window holding just one piece of `window` (its own audio, same recording times)."""
    i0 = int(round(piece.win_start * SAMPLE_RATE))
    audio = window.audio[i0 : i0 + int(round(piece.duration * SAMPLE_RATE))]
    return Window(window.speaker, (Piece(piece.orig_start, piece.orig_end, 0.0, piece.turn),), audio)


def party_samples(audio: CallAudio, speaker: Speaker) -> np.ndarray:
    """The array a speaker's segments index into: its own channel, or the mono mix after diarization."""
    if speaker in audio.parties:
        return audio.parties[speaker]
    if len(audio.parties) == 1:
        return next(iter(audio.parties.values()))
    raise ValueError(f"timeline has {speaker!r} speech but the audio has parties {sorted(audio.parties)}")


def timeline_speakers(timeline: Timeline) -> list[Speaker]:
    order: list[Speaker] = []
    for s in timeline.speech:
        if s.speaker not in order:
            order.append(s.speaker)
    return order


def sort_utterances(utts: Iterable[Utterance]) -> tuple[Utterance, ...]:
    return tuple(sorted(utts, key=lambda u: (u.start, u.end, u.speaker)))


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


class WindowedWhisperEngine:
    """Template for Whisper engines: plan speech-only windows per party, run them, map back."""

    name: str = ""
    model: str = ""
    compute_type: str = ""

    def __init__(self, options: AsrOptions) -> None:
        self.options = options

    def _run(self, samples: np.ndarray) -> list[RawSegment]:  # pragma: no cover - abstract
        raise NotImplementedError

    def transcribe(self, audio: CallAudio, timeline: Timeline) -> Transcript:

        utts: list[Utterance] = []
        n_windows = 0
        for speaker in timeline_speakers(timeline):
            samples = party_samples(audio, speaker)
            for win in plan_windows(speaker, samples, timeline, self.options):
                n_windows += 1
                segs = self._run(win.audio)
                utts.extend(utterances_from(win, segs, self.options))
                # Whisper sometimes ends a window early (end-of-text after the first sentence followed by
                # silence, seen with greedy decoding on packed windows), silently skipping the rest: any
                # piece that got no text is transcribed again on its own.
                for piece in uncovered(win, segs, self.options):
                    n_windows += 1
                    sub = subwindow(win, piece)
                    utts.extend(utterances_from(sub, self._run(sub.audio), self.options))
        o = self.options
        return Transcript(
            utterances=sort_utterances(utts),
            engine=self.name,
            model=self.model,
            compute_type=self.compute_type,
            options={"language": "zh", "beam_size": o.beam_size, "chunking": o.chunking,
                     "word_timestamps": o.word_timestamps, "windows": n_windows,
                     "temperature": list(o.temperature)},
        )
