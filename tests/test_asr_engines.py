"""Real Whisper inference on real Mandarin clips (read from ../shared/real-audio, never copied)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from asr_helpers import make_call, read_16k, references, silero_segments

from qa_pipeline.asr import AsrOptions, load_engine, to_simplified
from qa_pipeline.asr.filters import RawSegment, keep_segment
from qa_pipeline.asr.windows import plan_windows
from qa_pipeline.evaluate import character_error_rate
from qa_pipeline.types import SAMPLE_RATE, SpeechSegment

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-audio"
if not REAL.is_dir():
    REAL = Path("/work/shared/real-audio")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (REAL / "audio").is_dir(), reason="shared real-audio clips not present"),
]

GREEDY = dict(beam_size=1, temperature=(0.0,))


def clip(name: str) -> np.ndarray:
    return read_16k(REAL / "audio" / name)


@pytest.fixture(scope="module")
def fw():  # type: ignore[no-untyped-def]
    return load_engine(AsrOptions())


@pytest.mark.parametrize(
    "name,bound",
    [
        ("aishell1_BAC009S0724W0121.wav", 0.2),  # human label; base gets 2/12 wrong (佛地产, 中间)
        ("paddlespeech_zh.wav", 0.15),
        ("funasr_asr_example_zh.wav", 0.15),
    ],
)
def test_faster_whisper_cer(fw, name: str, bound: float) -> None:  # type: ignore[no-untyped-def]
    x = clip(name)
    audio, tl = make_call({"unknown": x}, silero_segments(x, "unknown"), path=str(REAL / "audio" / name))
    tr = fw.transcribe(audio, tl)
    text = "".join(u.text for u in tr.utterances)
    assert character_error_rate(references(REAL / "transcripts.tsv")[name], text) <= bound, text
    assert text == to_simplified(text)  # Simplified output
    assert tr.engine == "faster-whisper" and tr.model == "base"
    for u in tr.utterances:
        assert u.speaker == "unknown" and 0 <= u.start <= u.end <= audio.duration + 0.01
        assert u.words and "".join(w.text for w in u.words) == u.text


def test_engines_agree_on_same_weights() -> None:
    pytest.importorskip("whisper")
    x = clip("funasr_paraformer_example1.wav")
    audio, tl = make_call({"customer": x}, silero_segments(x, "customer"))
    a = load_engine(AsrOptions(compute_type="float32", **GREEDY)).transcribe(audio, tl)
    b = load_engine(AsrOptions(engine="openai-whisper", **GREEDY)).transcribe(audio, tl)
    ta, tb = ("".join(u.text for u in t.utterances) for t in (a, b))
    assert len(ta) > 20 and character_error_rate(ta, tb) <= 0.05, (ta, tb)
    assert b.engine == "openai-whisper" and tb == to_simplified(tb)
    for ua, ub in zip(a.utterances, b.utterances, strict=False):
        assert abs(ua.start - ub.start) < 0.5 and abs(ua.end - ub.end) < 0.5


def test_only_speech_is_sent_and_times_are_absolute(fw) -> None:  # type: ignore[no-untyped-def]
    """Two parties on separate channels with long silences; customer speaks twice around an agent turn."""
    a, b = clip("paddlespeech_zh.wav"), clip("funasr_asr_example_zh.wav")
    n = int(26 * SAMPLE_RATE)
    cust, agent = np.zeros(n, np.float32), np.zeros(n, np.float32)
    rng = np.random.default_rng(0)
    cust += rng.normal(0, 1e-4, n).astype(np.float32)  # a faint line hiss in the silences
    c1, ag, c2 = 4.0, 11.0, 19.0
    cust[int(c1 * SAMPLE_RATE) :][: len(a)] += a
    agent[int(ag * SAMPLE_RATE) :][: len(b)] += b
    cust[int(c2 * SAMPLE_RATE) :][: len(a)] += a
    segs = [SpeechSegment("customer", c1 + s.start, c1 + s.end) for s in silero_segments(a, "customer")]
    segs += [SpeechSegment("agent", ag + s.start, ag + s.end) for s in silero_segments(b, "agent")]
    segs += [SpeechSegment("customer", c2 + s.start, c2 + s.end) for s in silero_segments(a, "customer")]
    audio, tl = make_call({"agent": agent, "customer": cust}, segs)

    wins = plan_windows("customer", cust, tl, fw.options)
    assert len(wins) == 1 and wins[0].duration < 12  # both customer turns packed, 15 s of silence left out

    tr = fw.transcribe(audio, tl)
    cus, agt = tr.by("customer"), tr.by("agent")
    assert len(agt) >= 1 and all(ag - 0.5 <= u.start and u.end <= ag + len(b) / SAMPLE_RATE + 0.5 for u in agt)
    first = [u for u in cus if u.end < ag]
    second = [u for u in cus if u.start > ag + len(b) / SAMPLE_RATE]
    assert first and second and len(first) + len(second) == len(cus)  # no utterance spans the agent's turn
    assert abs(first[0].start - segs[0].start) < 0.7 and abs(second[0].start - (c2 + segs[0].start - c1)) < 0.7
    for u in cus:
        assert all(u.start - 0.01 <= w.start <= w.end <= u.end + 0.01 for w in u.words)
    ref = references(REAL / "transcripts.tsv")
    assert character_error_rate(ref["paddlespeech_zh.wav"], "".join(u.text for u in first)) <= 0.15
    assert character_error_rate(ref["funasr_asr_example_zh.wav"], "".join(u.text for u in agt)) <= 0.15
    assert [u.start for u in tr.utterances] == sorted(u.start for u in tr.utterances)


def test_hallucination_guard() -> None:
    opts = AsrOptions()
    bad = RawSegment(0, 2, "請不吝點贊 訂閱 轉發 打賞支持明鏡與點點欄目", avg_logprob=-0.3, no_speech_prob=0.1)
    assert not keep_segment(bad, opts)
    assert not keep_segment(RawSegment(0, 2, "谢谢观看"), opts)
    assert not keep_segment(RawSegment(0, 2, "字幕由Amara.org社区提供"), opts)
    assert not keep_segment(RawSegment(0, 2, "好的", avg_logprob=-1.4, no_speech_prob=0.9), opts)  # silence
    assert not keep_segment(RawSegment(0, 9, "好的" * 40, compression_ratio=5.0), opts)  # loop
    assert keep_segment(RawSegment(0, 2, "谢谢您的来电，再见", avg_logprob=-0.2, no_speech_prob=0.05), opts)


def test_noise_only_segment_yields_nothing(fw, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A VAD false positive on line noise must not become text — and must not cost Whisper's full 448 tokens at
    every temperature of the fallback schedule: each decode is capped by the window's length
    (AsrOptions.max_tokens_per_s; 5 s of noise: ≈ 17 → 6 s of CPU)."""
    import faster_whisper.transcribe as FT

    caps: list[int | None] = []
    real = FT.WhisperModel.generate_with_fallback

    def spy(self, enc, prompt, tokenizer, options):  # type: ignore[no-untyped-def]
        caps.append(options.max_new_tokens)
        result = real(self, enc, prompt, tokenizer, options)
        assert len(result[0].sequences_ids[0]) <= options.max_new_tokens
        return result

    monkeypatch.setattr(FT.WhisperModel, "generate_with_fallback", spy)
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 3e-3, 8 * SAMPLE_RATE).astype(np.float32)
    audio, tl = make_call({"agent": noise}, [SpeechSegment("agent", 1.0, 6.0)])
    tr = fw.transcribe(audio, tl)
    assert all(not u.text or len(u.text) <= 2 for u in tr.utterances), tr.utterances
    window_s = (6.0 - 1.0) + 2 * fw.options.pad_s
    assert caps and all(c is not None and c <= window_s * 20 + 32 + 1 for c in caps), caps
    # a window of a whole 28 s of speech keeps Whisper's own limit (cap + prompt would pass 448)
    assert fw._token_cap(28 * SAMPLE_RATE) is None and fw._token_cap(5 * SAMPLE_RATE) == 5 * 20 + 32


def _dialogue_call():  # type: ignore[no-untyped-def]
    """Customer asks (2 s), the agent answers (9 s), the customer talks over the agent (11 s), customer again
    (19 s): separate channels, so the overlap is two clean pieces."""
    q, ans, over, last = (
        clip(n)
        for n in (
            "paddlespeech_zh.wav",
            "funasr_asr_example_zh.wav",
            "wenetspeech_nst_ID001.wav",
            "aishell1_BAC009S0724W0121.wav",
        )
    )
    n = int(26 * SAMPLE_RATE)
    cust, agent = np.zeros(n, np.float32), np.zeros(n, np.float32)
    placed = [("customer", q, 2.0), ("agent", ans, 9.0), ("customer", over, 11.0), ("customer", last, 19.0)]
    segs = []
    for spk, x, t0 in placed:
        (cust if spk == "customer" else agent)[int(t0 * SAMPLE_RATE) :][: len(x)] += x
        segs += [SpeechSegment(spk, t0 + s.start, t0 + s.end) for s in silero_segments(x, spk)]
    audio, tl = make_call({"agent": agent, "customer": cust}, segs)
    return audio, tl, [(spk, t0, t0 + len(x) / SAMPLE_RATE) for spk, x, t0 in placed]


def test_dialogue_windows_map_words_to_their_piece() -> None:
    """No model: one word in the middle of every piece of a dialogue window comes back with that piece's
    speaker and recording time; overlapping pieces are laid one after the other, not mixed."""
    from qa_pipeline.asr.engine import utterances_from
    from qa_pipeline.asr.filters import RawWord
    from qa_pipeline.asr.windows import plan_dialogue_windows

    audio, tl, _ = _dialogue_call()
    opts = AsrOptions(chunking="dialogue")
    wins = plan_dialogue_windows(audio.parties, tl, opts)
    assert len(wins) == 1
    win = wins[0]
    pieces = win.pieces
    assert [p.orig_start for p in pieces] == sorted(p.orig_start for p in pieces)
    assert {p.speaker for p in pieces} == {"agent", "customer"}
    for a, b in zip(pieces, pieces[1:], strict=False):  # no window audio shared; silence of the right length in between
        gap = b.win_start - a.win_end
        assert gap >= 0.29 and (a.speaker == b.speaker or abs(gap - opts.speaker_separator_s) < 1e-3)
    assert abs(win.duration - (pieces[-1].win_end)) < 1e-3
    for p in pieces:  # each piece is its own channel's audio, unmixed
        i0, j0 = int(round(p.win_start * SAMPLE_RATE)), int(round(p.orig_start * SAMPLE_RATE))
        k = int(p.duration * SAMPLE_RATE) - 1
        assert np.array_equal(win.audio[i0 : i0 + k], audio.parties[p.speaker][j0 : j0 + k])
    words = [
        RawWord(f"w{i}", (p.win_start + p.win_end) / 2 - 0.1, (p.win_start + p.win_end) / 2 + 0.1, 0.9)
        for i, p in enumerate(pieces)
    ]
    seg = RawSegment(0.0, win.duration, "".join(w.text for w in words), words)
    utts = utterances_from(win, [seg], opts)
    got = [w for u in utts for w in u.words]
    assert [w.text for w in got] == [w.text for w in words]  # nothing lost
    for u in utts:
        for w in u.words:
            p = pieces[int(w.text[1:])]
            assert u.speaker == p.speaker
            assert abs((w.start + w.end) / 2 - (p.orig_start + p.orig_end) / 2) < 1e-2  # absolute time


def test_dialogue_chunking_transcribes_both_parties(fw) -> None:  # type: ignore[no-untyped-def]
    """Real Whisper on a dialogue window: every clip's text lands in its speaker's utterances at its time."""
    audio, tl, placed = _dialogue_call()
    eng = load_engine(AsrOptions(chunking="dialogue"))
    tr = eng.transcribe(audio, tl)
    assert tr.options["chunking"] == "dialogue"
    ref = references(REAL / "transcripts.tsv")
    names = [
        "paddlespeech_zh.wav",
        "funasr_asr_example_zh.wav",
        "wenetspeech_nst_ID001.wav",
        "aishell1_BAC009S0724W0121.wav",
    ]
    for u in tr.utterances:  # every utterance lies inside one of its speaker's clips
        assert any(spk == u.speaker and t0 - 0.5 <= u.start <= u.end <= t1 + 0.5 for spk, t0, t1 in placed), u
    agent = "".join(u.text for u in tr.by("agent"))
    assert character_error_rate(ref["funasr_asr_example_zh.wav"], agent) <= 0.15, agent
    for name, (spk, t0, t1) in zip(names, placed, strict=True):
        if spk == "customer":
            text = "".join(u.text for u in tr.by("customer") if t0 - 0.5 <= u.start <= t1 + 0.5)
            # the 3 s WenetSpeech clip is hard for base (作为一个拿人…单当): bound loose, the point is placement
            assert character_error_rate(ref[name], text) <= 0.4, (name, text)
    customer = "".join(u.text for u in tr.by("customer"))  # nothing lost: the customer's three clips in order
    assert character_error_rate("".join(ref[n] for n in names if n != names[1]), customer) <= 0.2, customer


def test_batched_windows_give_the_one_at_a_time_transcript() -> None:
    """Both parties' windows decoded as one batch (first pass shared, fallbacks and word timing per window) give
    exactly the transcript of decoding them one at a time."""
    from qa_pipeline.asr.faster_whisper import FasterWhisperEngine

    audio, tl, _ = _dialogue_call()
    one = FasterWhisperEngine(AsrOptions(batch_windows=1, cpu_threads=1)).transcribe(audio, tl)
    engine = FasterWhisperEngine(AsrOptions(batch_windows=4, cpu_threads=1))
    assert len(list(engine.plan(audio, tl))) >= 2  # the batched path really runs
    batched = engine.transcribe(audio, tl)
    assert [(u.speaker, u.text) for u in batched.utterances] == [(u.speaker, u.text) for u in one.utterances]
    for a, b in zip(batched.utterances, one.utterances, strict=True):
        assert abs(a.start - b.start) < 0.05 and abs(a.end - b.end) < 0.05
    assert batched.options["windows"] == one.options["windows"]


def test_long_calls_reach_the_engine_in_bounded_groups(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A long call's windows are handed to the engine a group at a time (its audio is not copied into every
    window at once), and the transcript is the one a single hand-over gives."""
    from qa_pipeline.asr import engine as engine_mod
    from qa_pipeline.asr.engine import WindowedWhisperEngine
    from qa_pipeline.timeline import timeline_from_segments
    from qa_pipeline.types import CallAudio, CallMetadata

    class Recorder(WindowedWhisperEngine):
        name = "recorder"
        batches: list[int] = []

        def _run_many(self, batch):  # type: ignore[no-untyped-def]
            Recorder.batches.append(len(batch))
            # one segment per window naming its length, so that every window is seen in the transcript
            return [[RawSegment(0.0, 1.0, f"窗口{len(x)}")] for x in batch]

    n = 40
    speech = [
        SpeechSegment(spk, 3.0 * i + off, 3.0 * i + off + 1.2)
        for i in range(n)
        for spk, off in (("agent", 0.0), ("customer", 1.5))
    ]
    parties = {s: np.zeros(int(3.0 * n * SAMPLE_RATE) + SAMPLE_RATE, np.float32) for s in ("agent", "customer")}
    audio = CallAudio(CallMetadata("long"), None, parties)  # type: ignore[arg-type]
    tl = timeline_from_segments(speech, 3.0 * n + 1.0)
    opts = AsrOptions(max_window_s=2.0, chunking="packed")

    whole = Recorder(opts).transcribe(audio, tl)
    assert max(Recorder.batches) > 3
    Recorder.batches = []
    monkeypatch.setattr(engine_mod, "WINDOW_GROUP", 3)
    grouped = Recorder(opts).transcribe(audio, tl)
    assert max(Recorder.batches) <= 3 and sum(Recorder.batches) == whole.options["windows"]
    assert grouped == whole
