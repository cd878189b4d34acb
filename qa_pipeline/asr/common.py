"""Shared ASR machinery: options, errors, speech-only windowing, hallucination guard, Simplified output.

Whisper engines never see silence: each party's VAD speech segments are cut out (with a little padding),
packed into windows of at most ~28 s of speech, transcribed, and every word time is mapped back to the
recording. Words are then grouped into utterances that never cross a turn of the other party.

Chunking: "packed" fills each window with one party's speech; "dialogue" fills it with both parties' pieces in
time order (each piece cut from its own channel, so overlapping speech is placed one piece after the other,
never mixed), which lets Whisper hear the question with the answer; every word goes back to the piece — hence
the speaker and turn — it falls in. "turn" and "segment" use one window per turn / per VAD segment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from qa_pipeline.types import SAMPLE_RATE, CallAudio, Speaker, SpeechSegment, Timeline, Transcript, Utterance, Word

Chunking = Literal["packed", "dialogue", "turn", "segment"]


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
    chunking: Chunking = "packed"  # packed: several turns of one party per window (fastest); dialogue: both
    # parties' turns in time order per window (Whisper hears the whole exchange); turn; segment
    max_window_s: float = 28.0  # speech per Whisper window (< 30 s so nothing is cut by the encoder)
    pad_s: float = 0.35  # audio kept around each VAD segment: Silero triggers late on turn onsets (docs/accuracy.md)
    speaker_separator_s: float = 0.6  # dialogue: digital silence between pieces of different parties
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
    speaker: Speaker | None = None  # dialogue windows: whose channel the piece was cut from (else the window's)

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
        return min(
            self.pieces,
            key=lambda p: 0.0 if p.win_start <= t <= p.win_end else min(abs(t - p.win_start), abs(t - p.win_end)),
        )

    def to_orig(self, t: float, piece: Piece | None = None) -> float:
        p = piece or self.locate(t)
        return p.orig_start + min(max(t - p.win_start, 0.0), p.duration)

    def speaker_of(self, piece: Piece) -> Speaker:
        return piece.speaker or self.speaker


SEPARATOR_S = 0.3  # digital silence between pieces: enough for Whisper to end a sentence, too short to hallucinate
TURN_SEPARATOR_S = 0.6
MAX_PAUSE_IN_TURN_S = 2.0


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
            # A long pause (a hold) also ends the turn, so words never drift across it into another time
            if not interrupted and seg.start - prev.end <= MAX_PAUSE_IN_TURN_S:
                turns[-1].append(seg)
                continue
        turns.append([seg])
    return turns


Span = tuple[Speaker, float, float, int]  # (speaker, start, end, turn) in recording time


def party_spans(speaker: Speaker, total_s: float, timeline: Timeline, opts: AsrOptions) -> list[Span]:
    """The party's padded VAD segments, merged within a turn, never overlapping, split to fit a window."""
    spans: list[Span] = []
    for ti, turn in enumerate(turns_of(speaker, timeline)):
        for seg in turn:
            a, b = max(0.0, seg.start - opts.pad_s), min(total_s, seg.end + opts.pad_s)
            if b - a < 0.05:
                continue
            if spans and spans[-1][3] == ti and a <= spans[-1][2]:
                a = spans[-1][1]
                spans.pop()
            elif spans and a < spans[-1][2]:
                a = spans[-1][2]  # never feed the same audio twice (padding of adjacent turns)
            # Over-long VAD segments are split evenly (rare: VAD usually breaks speech at pauses).
            n = max(1, int(np.ceil((b - a) / opts.max_window_s)))
            step = (b - a) / n
            spans.extend((speaker, a + k * step, a + (k + 1) * step, ti) for k in range(n))
    return spans


def _gap(prev: Span, nxt: Span, opts: AsrOptions) -> float:
    if prev[0] != nxt[0]:
        return opts.speaker_separator_s
    return TURN_SEPARATOR_S if prev[3] != nxt[3] else SEPARATOR_S


def _pack(spans: list[Span], samples: dict[Speaker, np.ndarray], opts: AsrOptions) -> list[Window]:
    """Lay spans (in the given order) into windows of at most `max_window_s`, digital silence in between."""
    windows: list[Window] = []
    cur: list[Span] = []
    mixed = len({s[0] for s in spans}) > 1

    def flush() -> None:
        if not cur:
            return
        parts: list[np.ndarray] = []
        pieces: list[Piece] = []
        t = 0.0
        for i, span in enumerate(cur):
            spk, a, b, ti = span
            if i:
                gap = _gap(cur[i - 1], span, opts)
                parts.append(np.zeros(int(round(gap * SAMPLE_RATE)), dtype=np.float32))
                t += gap
            x = samples[spk]
            chunk = x[int(round(a * SAMPLE_RATE)) : int(round(b * SAMPLE_RATE))].astype(np.float32, copy=False)
            pieces.append(Piece(a, a + len(chunk) / SAMPLE_RATE, t, ti, spk if mixed else None))
            parts.append(chunk)
            t += len(chunk) / SAMPLE_RATE
        windows.append(Window(cur[0][0], tuple(pieces), np.concatenate(parts)))
        cur.clear()

    used = 0.0
    for span in spans:
        dur = span[2] - span[1]
        new_turn = bool(cur) and (span[3] != cur[-1][3] or span[0] != cur[-1][0])
        sep = _gap(cur[-1], span, opts) if cur else 0.0
        if cur and (
            opts.chunking == "segment" or (opts.chunking == "turn" and new_turn) or used + sep + dur > opts.max_window_s
        ):
            flush()
            used, sep = 0.0, 0.0
        cur.append(span)
        used += sep + dur
    flush()
    return windows


def plan_windows(speaker: Speaker, samples: np.ndarray, timeline: Timeline, opts: AsrOptions) -> list[Window]:
    """Cut the party's speech (padded VAD segments) out of `samples` and pack it into Whisper windows."""
    return _pack(party_spans(speaker, len(samples) / SAMPLE_RATE, timeline, opts), {speaker: samples}, opts)


def plan_dialogue_windows(parties: dict[Speaker, np.ndarray], timeline: Timeline, opts: AsrOptions) -> list[Window]:
    """Both parties' speech pieces in time order (by start; overlapping pieces one after the other, each cut
    from its own channel) packed into shared windows; each Piece names its speaker."""
    spans = [sp for spk, x in parties.items() for sp in party_spans(spk, len(x) / SAMPLE_RATE, timeline, opts)]
    order = {spk: i for i, spk in enumerate(parties)}
    spans.sort(key=lambda sp: (sp[1], order[sp[0]]))
    return _pack(spans, parties, opts)


def utterances_from(window: Window, segments: Iterable[RawSegment], opts: AsrOptions) -> list[Utterance]:
    """Map a window's kept segments back to recording time, splitting them at turn boundaries."""
    out: list[Utterance] = []
    for seg in segments:
        if not keep_segment(seg, opts):
            continue
        if not seg.words:  # no word timings: place the whole segment in the turn at its midpoint
            p = window.locate((seg.start + seg.end) / 2)
            text = to_simplified(seg.text.strip())
            out.append(
                Utterance(
                    window.speaker_of(p),
                    round(float(window.to_orig(seg.start, p)), 3),
                    round(float(window.to_orig(seg.end, p)), 3),
                    text,
                )
            )
            continue
        groups: list[tuple[Piece, list[Word]]] = []
        for w in seg.words:
            p = window.locate((w.start + w.end) / 2)
            word = Word(
                to_simplified(w.text),
                round(float(window.to_orig(w.start, p)), 3),
                round(float(window.to_orig(w.end, p)), 3),
                None if w.probability is None else round(float(w.probability), 4),
            )
            last = groups[-1][0] if groups else None
            if last is not None and last.turn == p.turn and window.speaker_of(last) == window.speaker_of(p):
                groups[-1][1].append(word)
            else:
                groups.append((p, [word]))
        for p, words in groups:
            text = "".join(w.text for w in words).strip()
            if not normalize(text):
                continue  # e.g. a lone punctuation mark that fell into another turn
            # Leading space of the first word (Whisper's word separator) is dropped from the word too, so
            # that Utterance.time_at's character counting matches `text`.
            first = words[0]
            words[0] = Word(first.text.lstrip(), first.start, first.end, first.probability)
            out.append(Utterance(window.speaker_of(p), words[0].start, max(w.end for w in words), text, tuple(words)))
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
    return Window(window.speaker_of(piece), (Piece(piece.orig_start, piece.orig_end, 0.0, piece.turn),), audio)


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

    def plan(self, audio: CallAudio, timeline: Timeline) -> Iterator[Window]:
        speakers = timeline_speakers(timeline)
        if self.options.chunking == "dialogue":
            yield from plan_dialogue_windows({s: party_samples(audio, s) for s in speakers}, timeline, self.options)
            return
        for speaker in speakers:
            yield from plan_windows(speaker, party_samples(audio, speaker), timeline, self.options)

    def transcribe(self, audio: CallAudio, timeline: Timeline) -> Transcript:
        utts: list[Utterance] = []
        n_windows = 0
        for win in self.plan(audio, timeline):
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
            options={
                "language": "zh",
                "beam_size": o.beam_size,
                "chunking": o.chunking,
                "word_timestamps": o.word_timestamps,
                "windows": n_windows,
                "temperature": list(o.temperature),
            },
        )
