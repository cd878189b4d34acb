"""Whisper engine base: plan speech-only windows per party, run each, map words back to the recording.

Whisper engines never see silence: each party's VAD speech segments are cut out (with a little padding),
packed into windows (asr/windows.py), transcribed, filtered (asr/filters.py), and every word time is mapped back
to the recording. Words are grouped into utterances that never cross a turn of the other party.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import numpy as np

from qa_pipeline.asr.filters import RawSegment, keep_segment
from qa_pipeline.asr.options import AsrDescription, AsrOptions
from qa_pipeline.asr.windows import (
    Piece,
    Window,
    join_tails,
    party_samples,
    plan_dialogue_windows,
    plan_windows,
    subwindow,
    timeline_speakers,
)
from qa_pipeline.text import normalize, to_simplified
from qa_pipeline.types import CallAudio, Timeline, Transcript, Utterance, Word

WINDOW_GROUP = 64
"""Windows handed to the engine at once: a multiple of the CPU batch (4) and the GPU batch cap (64), so batching
is unchanged; ~30 min of audio at most, whatever the length of the call."""


def _groups(items: Iterable[Window], n: int) -> Iterator[list[Window]]:
    it = iter(items)
    while group := list(itertools.islice(it, n)):
        yield group


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


def sort_utterances(utts: Iterable[Utterance]) -> tuple[Utterance, ...]:
    return tuple(sorted(utts, key=lambda u: (u.start, u.end, u.speaker)))


class WindowedWhisperEngine:
    """Template for Whisper engines: plan speech-only windows per party, run them, map back."""

    name: str = ""
    model: str = ""
    compute_type: str = ""

    def __init__(self, options: AsrOptions) -> None:
        self.options = options

    @classmethod
    def describe(cls, options: AsrOptions) -> AsrDescription:
        o = options
        extra = {"beam_size": o.beam_size, "chunking": o.chunking, "pad_s": o.pad_s}
        return AsrDescription(cls.name, o.model, cls.compute_type_for(o), extra)

    @classmethod
    def compute_type_for(cls, options: AsrOptions) -> str:
        return options.compute_type

    def _run(self, samples: np.ndarray) -> list[RawSegment]:  # pragma: no cover - abstract
        raise NotImplementedError

    def plan(self, audio: CallAudio, timeline: Timeline) -> Iterator[Window]:
        speakers = timeline_speakers(timeline)
        if self.options.chunking == "dialogue":
            yield from plan_dialogue_windows({s: party_samples(audio, s) for s in speakers}, timeline, self.options)
            return
        if self.options.chunking == "packed-tails":
            per_party = [plan_windows(s, party_samples(audio, s), timeline, self.options) for s in speakers]
            yield from join_tails(per_party, self.options)
            return
        for speaker in speakers:
            yield from plan_windows(speaker, party_samples(audio, speaker), timeline, self.options)

    def _run_many(self, batch: list[np.ndarray]) -> list[list[RawSegment]]:
        """Transcribe several windows; engines that can decode windows together in one pass override this."""
        return [self._run(samples) for samples in batch]

    def transcribe(self, audio: CallAudio, timeline: Timeline) -> Transcript:
        utts: list[Utterance] = []
        n_windows = 0
        # The windows of the call (both parties) go to the engine together, so that it can batch them; a long
        # call's go in groups of WINDOW_GROUP so that its audio is not copied into windows all at once
        # (issue 15: a 3 h call). Separate hunk by hardening.
        for windows in _groups(self.plan(audio, timeline), WINDOW_GROUP):
            subs: list[Window] = []
            for win, segs in zip(windows, self._run_many([w.audio for w in windows]), strict=True):
                utts.extend(utterances_from(win, segs, self.options))
                # Whisper sometimes ends a window early (end-of-text after the first sentence followed by
                # silence, seen with greedy decoding on packed windows), silently skipping the rest: any
                # piece that got no text is transcribed again on its own.
                subs.extend(subwindow(win, piece) for piece in uncovered(win, segs, self.options))
            if subs:
                for sub, segs in zip(subs, self._run_many([s.audio for s in subs]), strict=True):
                    utts.extend(utterances_from(sub, segs, self.options))
            n_windows += len(windows) + len(subs)
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
