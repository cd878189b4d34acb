"""Timeline: voice activity per party (Silero VAD) → speech, silences, overlaps, turn changes, loudness.

Built from the audio, never from ASR gaps: Whisper invents text in silence and hold music.
"""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

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
    backchannel_min_s: float = 0.1
    """On a call with two parties, speech shorter than `min_speech_s` but at least this long is kept when it falls
    inside the other party's turn: a backchannel (嗯, 好的 — 0.2–0.3 s above the threshold), the only sign that
    the agent listens through a long customer turn, and one that ASR drops too. Elsewhere (in a silence) such a
    blip is still dropped, so a cough does not break a hold's silence. 0 = off."""
    backchannel_turn_gap_s: float = 1.0
    """The other party's segments closer than this form one turn for `backchannel_min_s`."""


class NoSpeechError(ValueError):
    """The voice activity detector found no speech in any channel."""


FRAME = 512  # Silero's frame at 16 kHz (32 ms), each prefixed with the last CONTEXT samples of the one before
CONTEXT = 64
BLOCK_FRAMES = 512  # frames per ONNX call (~16 s): the LSTM state is carried from one block to the next


class SileroVad:
    """Silero VAD v6 ("sequence" ONNX model of the silero-vad package) on onnxruntime, without torch.

    The silero-vad package's own front-end (`get_speech_timestamps_sequence`) computes exactly this, but its
    package imports torch (utils_vad), which costs every worker ~2 s of start-up (~7 % of the wall time of a
    4-call batch) for nothing: the model is ONNX. Same model file, same framing, same state machine, so the
    same timestamps to the sample (tests/test_timeline_vad.py compares them on real clips)."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.inter_op_num_threads = so.intra_op_num_threads = 1  # one channel per thread (build_timeline)
        self.session = ort.InferenceSession(str(path or _silero_model_path()), so, ["CPUExecutionProvider"])

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Speech probability of every 32 ms frame (the last one zero-padded), block by block (a 3 h channel
        is never copied into frames at once)."""
        n = (samples.size + FRAME - 1) // FRAME
        h = np.zeros((1, 1, 128), dtype=np.float32)
        c = np.zeros((1, 1, 128), dtype=np.float32)
        context = np.zeros(CONTEXT, dtype=np.float32)
        out = [np.zeros(0, dtype=np.float32)]
        for first in range(0, n, BLOCK_FRAMES):
            k = min(BLOCK_FRAMES, n - first)
            own = np.zeros((k, FRAME), dtype=np.float32)
            chunk = samples[first * FRAME : (first + k) * FRAME]
            own.reshape(-1)[: chunk.size] = chunk
            # each frame is prefixed with the tail of the one before (zeros before the first)
            frames = np.concatenate((np.vstack((context, own[:-1, -CONTEXT:])), own), axis=1)
            context = own[-1, -CONTEXT:].copy()
            probs, h, c = self.session.run(["speech_probs", "hn", "cn"], {"input": frames, "h": h, "c": c})
            out.append(probs.reshape(-1))
        return np.concatenate(out)


def _silero_model_path() -> Path:
    # find_spec locates the package without importing it (its __init__ imports torch)
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(t("install.missing", package="silero-vad", install="pip install 'silero-vad>=6.2'"))
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad_16k_sequence.onnx"


@lru_cache(maxsize=1)
def _silero() -> SileroVad:
    return SileroVad()


def speech_spans(probs: np.ndarray, n_samples: int, options: VadOptions = VadOptions()) -> list[tuple[int, int]]:
    """Speech (start, end) in samples from frame probabilities: silero-vad's `get_speech_timestamps_from_probs`
    with no maximum speech length (the only way we call it): a segment starts at a frame >= threshold and
    ends at the first frame < threshold - 0.15 that starts a pause of at least min_silence; segments shorter
    than min_speech are dropped; then each is padded by speech_pad, splitting shorter gaps in the middle."""
    # thresholds as float32, like the probabilities: silero-vad compares float32 scalars (NumPy 2 rules)
    threshold = float(np.float32(options.threshold))
    neg = float(np.float32(max(options.threshold - 0.15, 0.01)))
    min_speech = SAMPLE_RATE * int(options.min_speech_s * 1000) / 1000
    min_silence = SAMPLE_RATE * int(options.min_silence_s * 1000) / 1000
    pad = SAMPLE_RATE * int(options.speech_pad_s * 1000) / 1000
    spans: list[list[int]] = []
    start: int | None = None
    temp_end = 0
    for i, p in enumerate(probs.tolist()):
        cur = FRAME * i
        if p >= threshold:
            temp_end = 0
            if start is None:
                start = cur
            continue
        if start is not None and p < neg:
            if not temp_end:
                temp_end = cur
            if cur - temp_end >= min_silence:
                if temp_end - start > min_speech:
                    spans.append([start, temp_end])
                start, temp_end = None, 0
    if start is not None and n_samples - start > min_speech:
        spans.append([start, n_samples])
    for i, sp in enumerate(spans):
        if i == 0:
            sp[0] = int(max(0, sp[0] - pad))
        if i != len(spans) - 1:
            gap = spans[i + 1][0] - sp[1]
            if gap < 2 * pad:
                sp[1] += int(gap // 2)
                spans[i + 1][0] = int(max(0, spans[i + 1][0] - gap // 2))
            else:
                sp[1] = int(min(n_samples, sp[1] + pad))
                spans[i + 1][0] = int(max(0, spans[i + 1][0] - pad))
        else:
            sp[1] = int(min(n_samples, sp[1] + pad))
    return [(a, b) for a, b in spans]


def detect_speech(samples: np.ndarray, speaker: Speaker, options: VadOptions = VadOptions()) -> list[SpeechSegment]:
    """Speech segments of one party's 16 kHz samples, with their loudness (RMS dBFS)."""
    return _detect(samples, speaker, options)[0]


def _detect(
    samples: np.ndarray, speaker: Speaker, options: VadOptions
) -> tuple[list[SpeechSegment], list[SpeechSegment]]:
    """(speech segments, short ones: ≥ `backchannel_min_s` and < `min_speech_s`, overlapping no segment)."""
    if samples.size == 0:
        return [], []
    x = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
    probs = _silero().probabilities(x)

    def segments(spans: list[tuple[int, int]]) -> list[SpeechSegment]:
        return [
            SpeechSegment(speaker, round(a / SAMPLE_RATE, 3), round(b / SAMPLE_RATE, 3), _rms_dbfs(samples[a:b]))
            for a, b in spans
        ]

    spans = speech_spans(probs, x.size, options)
    short: list[tuple[int, int]] = []
    if 0 < options.backchannel_min_s < options.min_speech_s:
        loose = speech_spans(probs, x.size, replace(options, min_speech_s=options.backchannel_min_s))
        short = [(a, b) for a, b in loose if not any(a < e and s < b for s, e in spans)]
    return segments(spans), segments(short)


def _backchannels(short: list[SpeechSegment], others: list[SpeechSegment], options: VadOptions) -> list[SpeechSegment]:
    """The short segments whose middle falls inside another party's turn (segments `backchannel_turn_gap_s` apart
    or closer merged)."""
    turns: list[list[float]] = []
    for seg in sorted(others, key=lambda s: s.start):
        if turns and seg.start - turns[-1][1] <= options.backchannel_turn_gap_s:
            turns[-1][1] = max(turns[-1][1], seg.end)
        else:
            turns.append([seg.start, seg.end])
    return [s for s in short if any(a <= (s.start + s.end) / 2 <= b for a, b in turns)]


def _rms_dbfs(x: np.ndarray) -> float | None:
    if x.size == 0:
        return None
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return round(float(20 * np.log10(rms)), 2) if rms > 0 else None


def build_timeline(audio: CallAudio, options: VadOptions = VadOptions()) -> Timeline:
    """Run VAD on every party and derive silences, overlaps and turn changes."""
    # one thread per party: the ONNX kernels release the GIL, so two channels take the time of one
    with ThreadPoolExecutor(max_workers=len(audio.parties)) as pool:
        per_party = list(pool.map(lambda item: _detect(item[1], item[0], options), audio.parties.items()))
    speech = [seg for segs, _ in per_party for seg in segs]
    for k, (_, short) in enumerate(per_party):  # backchannels: only where another party is talking
        others = [seg for j, (segs, _) in enumerate(per_party) if j != k for seg in segs]
        speech += _backchannels(short, others, options)
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
