from itertools import pairwise

import numpy as np
import pytest
from helpers import real_clip, timeline

from qa_pipeline.timeline import NoSpeechError, build_timeline, detect_speech
from qa_pipeline.types import SAMPLE_RATE, AudioSource, CallAudio, CallMetadata

# FSMN-VAD reference segments (ms) published with the 70 s clip (shared/real-audio/SOURCES.md)
FSMN_PAUSES_MS = [
    (2340, 2620),
    (6200, 6480),
    (23670, 23950),
    (26250, 26780),
    (28990, 29950),
    (31430, 31750),
    (37600, 38210),
    (46900, 47310),
    (49630, 49910),
    (56460, 56740),
    (59540, 59820),
]


def _call(**parties: np.ndarray) -> CallAudio:
    n = max(len(x) for x in parties.values())
    src = AudioSource(
        "mem.wav", "0" * 64, n / SAMPLE_RATE, SAMPLE_RATE, len(parties), "stereo" if len(parties) == 2 else "mono"
    )
    return CallAudio(CallMetadata("c"), src, parties)  # type: ignore[arg-type]


def test_vad_finds_the_pauses_of_a_real_monologue() -> None:
    x = real_clip("funasr_fsmn_vad_example_70s.wav", SAMPLE_RATE)
    segs = detect_speech(x, "unknown")
    gaps = [(a.end, b.start) for a, b in pairwise(segs)]
    # every pause of ≥ 0.4 s in the reference lies inside a gap we found
    found = 0
    for a, b in FSMN_PAUSES_MS:
        if (b - a) < 400:
            continue
        mid = (a + b) / 2000
        found += any(g0 - 0.15 <= mid <= g1 + 0.15 for g0, g1 in gaps)
    long_refs = sum(1 for a, b in FSMN_PAUSES_MS if b - a >= 400)
    assert found >= long_refs - 1
    speech = sum(s.duration for s in segs)
    assert 55 < speech < 70  # the clip is 70 s of nearly continuous talk
    assert all(s.loudness_dbfs is not None and -60 < s.loudness_dbfs < 0 for s in segs)


def test_hold_music_and_line_noise_are_not_speech() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(int(20 * SAMPLE_RATE)) / SAMPLE_RATE
    notes = [261.6, 329.6, 392.0, 523.3]
    music = sum(0.08 * np.sin(2 * np.pi * f * t) * (np.floor(t * 2 + i) % 4 == 0) for i, f in enumerate(notes))
    noise = rng.normal(0, 0.003, t.size)
    segs = detect_speech((music + noise).astype(np.float32), "agent")
    assert sum(s.duration for s in segs) < 1.0


def test_silences_overlaps_and_responses_from_two_parties() -> None:
    speech = real_clip("aishell1_BAC009S0724W0121.wav", SAMPLE_RATE)
    n = 40 * SAMPLE_RATE
    agent = np.zeros(n, np.float32)
    cust = np.zeros(n, np.float32)
    agent[SAMPLE_RATE : SAMPLE_RATE + speech.size] = speech  # agent 1 s – ~5.3 s
    start = int(36.0 * SAMPLE_RATE)
    cust[start : start + speech.size // 2] = speech[: speech.size // 2]  # customer at 36 s
    tl = build_timeline(_call(agent=agent, customer=cust))
    assert tl.has_roles
    assert len(tl.silences) == 1 and tl.silences[0].duration > 29
    assert tl.responses and tl.responses[0].speaker == "customer" and tl.responses[0].latency > 29


def test_no_speech_is_an_error() -> None:
    quiet = np.random.default_rng(1).normal(0, 0.002, 5 * SAMPLE_RATE).astype(np.float32)
    with pytest.raises(NoSpeechError, match="没有检测到语音"):
        build_timeline(_call(unknown=quiet))


def test_derived_structure_from_segments() -> None:
    tl = timeline(("agent", 0, 4), ("customer", 5, 12), ("agent", 10, 14), ("customer", 11, 11.5), ("agent", 50, 52))
    assert [(g.start, g.end) for g in tl.silences] == [(4, 5), (14, 50)]
    ov = [(o.speaker, o.start, o.end) for o in tl.overlaps]
    assert ("agent", 10, 12) in ov
    assert [(r.speaker, r.after, round(r.latency, 2)) for r in tl.responses] == [
        ("customer", "agent", 1.0),
        ("agent", "customer", -2.0),
        ("customer", "agent", -3.0),
    ]


def test_overlaps_are_those_of_comparing_every_pair():
    """The sweep over still-active segments finds exactly the overlaps (in the same order) that comparing every
    segment with every earlier one finds."""
    import random

    from qa_pipeline.timeline import _overlaps
    from qa_pipeline.types import Overlap, SpeechSegment

    rng = random.Random(4)
    for _ in range(200):
        speech = sorted(
            (
                SpeechSegment(rng.choice(["agent", "customer"]), a, a + rng.choice([0.0, 0.5, 1.0, 3.0, 9.0]))
                for a in (rng.randint(0, 40) / 2 for _ in range(rng.randint(0, 30)))
            ),
            key=lambda s: (s.start, s.end),
        )
        expected = [
            Overlap(later.start, min(earlier.end, later.end), later.speaker, earlier.speaker, later)
            for i, later in enumerate(speech)
            for earlier in speech[:i]
            if earlier.speaker != later.speaker and min(earlier.end, later.end) > later.start
        ]
        assert _overlaps(speech) == expected
