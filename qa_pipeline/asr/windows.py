"""Speech-only Whisper windows: each party's padded VAD segments packed into windows of at most ~28 s.

Chunking: "packed" fills each window with one party's speech ("packed-tails": and the two parties' last,
partly empty windows share one window when they fit); "dialogue" fills it with both parties' pieces in
time order (each piece cut from its own channel, so overlapping speech is placed one piece after the other,
never mixed), which lets Whisper hear the question with the answer; every word goes back to the piece — hence
the speaker and turn — it falls in. "turn" and "segment" use one window per turn / per VAD segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa_pipeline.asr.options import AsrOptions
from qa_pipeline.types import SAMPLE_RATE, CallAudio, Speaker, SpeechSegment, Timeline


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


def join_tails(per_party: list[list[Window]], opts: AsrOptions) -> list[Window]:
    """The parties' packed windows, with the two parties' last (partly empty) windows laid into one window when
    they fit (the earlier-starting first, `speaker_separator_s` of digital silence between): one encoder pass
    and one decode less per call. Each piece keeps its speaker, so words map back as in dialogue windows."""
    windows = [w for ws in per_party for w in ws]
    lasts = [ws[-1] for ws in per_party if ws]
    if len(per_party) != 2 or len(lasts) != 2:
        return windows
    a, b = sorted(lasts, key=lambda w: w.pieces[0].orig_start)
    if a.duration + opts.speaker_separator_s + b.duration > opts.max_window_s:
        return windows
    sep = np.zeros(int(round(opts.speaker_separator_s * SAMPLE_RATE)), dtype=np.float32)
    offset = (len(a.audio) + len(sep)) / SAMPLE_RATE
    pieces = tuple(Piece(p.orig_start, p.orig_end, p.win_start, p.turn, a.speaker_of(p)) for p in a.pieces)
    pieces += tuple(Piece(p.orig_start, p.orig_end, offset + p.win_start, p.turn, b.speaker_of(p)) for p in b.pieces)
    joined = Window(a.speaker, pieces, np.concatenate([a.audio, sep, b.audio]))
    return [w for w in windows if w is not a and w is not b] + [joined]


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
