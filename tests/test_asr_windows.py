"""Window planning without a model: the parties' last windows shared ("packed-tails")."""

from __future__ import annotations

import numpy as np

from qa_pipeline.asr import AsrOptions
from qa_pipeline.asr.engine import WindowedWhisperEngine, utterances_from
from qa_pipeline.asr.filters import RawSegment, RawWord
from qa_pipeline.asr.windows import join_tails, plan_windows
from qa_pipeline.timeline import timeline_from_segments
from qa_pipeline.types import SAMPLE_RATE, AudioSource, CallAudio, CallMetadata, SpeechSegment


def _call(speech: list[tuple[str, float, float]], dur: float) -> tuple[CallAudio, object]:
    rng = np.random.default_rng(0)
    # distinct audio per party so that a piece's samples show which channel it was cut from
    parties = {s: rng.normal(0, 0.1, int(dur * SAMPLE_RATE)).astype(np.float32) for s in ("agent", "customer")}
    src = AudioSource("mem.wav", "0" * 64, dur, SAMPLE_RATE, 2, "stereo")
    tl = timeline_from_segments([SpeechSegment(s, a, b, -20.0) for s, a, b in speech], dur)  # type: ignore[arg-type]
    return CallAudio(CallMetadata("c"), src, parties), tl  # type: ignore[arg-type]


SPEECH = [
    ("agent", 0.5, 5.0),
    ("customer", 6.0, 10.0),
    ("agent", 11.0, 30.0),
    ("customer", 31.0, 35.0),
    ("agent", 36.0, 44.0),
    ("customer", 45.0, 48.0),
]


def test_last_windows_of_both_parties_share_one_window() -> None:
    audio, tl = _call(SPEECH, 50.0)
    opts = AsrOptions(chunking="packed-tails")
    per_party = [plan_windows(s, audio.parties[s], tl, opts) for s in ("agent", "customer")]  # type: ignore[arg-type]
    assert [len(w) for w in per_party] == [2, 1]
    windows = join_tails(per_party, opts)
    assert len(windows) == 2  # one encoder pass less
    joined = windows[-1]
    assert {p.speaker for p in joined.pieces} == {"agent", "customer"}
    # the earlier-starting window first, each party's pieces in time order, never overlapping in the window
    assert joined.pieces[0].orig_start == min(p.orig_start for p in joined.pieces)
    for spk in ("agent", "customer"):
        own = [p.orig_start for p in joined.pieces if p.speaker == spk]
        assert own == sorted(own)
    assert all(b.win_start >= a.win_end for a, b in zip(joined.pieces, joined.pieces[1:], strict=False))
    for p in joined.pieces:  # every piece is its own channel's audio at its place in the window
        i0, j0 = int(round(p.win_start * SAMPLE_RATE)), int(round(p.orig_start * SAMPLE_RATE))
        k = int(p.duration * SAMPLE_RATE) - 1
        assert np.array_equal(joined.audio[i0 : i0 + k], audio.parties[p.speaker][j0 : j0 + k])
    # a word in the middle of each piece maps back to that piece's speaker and recording time
    words = [
        RawWord(f"w{i}", (p.win_start + p.win_end) / 2 - 0.1, (p.win_start + p.win_end) / 2 + 0.1, 0.9)
        for i, p in enumerate(joined.pieces)
    ]
    seg = RawSegment(0.0, joined.duration, "".join(w.text for w in words), words)
    utts = utterances_from(joined, [seg], opts)
    assert sum(len(u.words) for u in utts) == len(joined.pieces)
    for u in utts:
        for w in u.words:
            p = joined.pieces[int(w.text[1:])]
            assert u.speaker == p.speaker
            assert abs((w.start + w.end) / 2 - (p.orig_start + p.orig_end) / 2) < 1e-2


def test_tails_that_do_not_fit_stay_apart() -> None:
    audio, tl = _call([("agent", 0.5, 20.0), ("customer", 21.0, 40.0)], 42.0)
    opts = AsrOptions(chunking="packed-tails")
    per_party = [plan_windows(s, audio.parties[s], tl, opts) for s in ("agent", "customer")]  # type: ignore[arg-type]
    assert join_tails(per_party, opts) == [w for ws in per_party for w in ws]
    assert join_tails(per_party[:1], opts) == per_party[0]  # one party: nothing to share


def test_the_engine_plans_shared_tails_only_when_asked() -> None:
    audio, tl = _call(SPEECH, 50.0)
    packed = list(WindowedWhisperEngine(AsrOptions()).plan(audio, tl))  # type: ignore[arg-type]
    tails = list(WindowedWhisperEngine(AsrOptions(chunking="packed-tails")).plan(audio, tl))  # type: ignore[arg-type]
    assert (len(packed), len(tails)) == (3, 2)
    assert sorted(p.orig_start for w in packed for p in w.pieces) == sorted(
        p.orig_start for w in tails for p in w.pieces
    )
