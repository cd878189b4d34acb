"""Mono diarization + roles (issue #5): real two-speaker clips, sample mixdowns, low confidence, dup stereo."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import REAL_AUDIO

import qa_pipeline.pipeline as pipeline
from qa_pipeline.asr.transcript import read_transcript
from qa_pipeline.audio import load_call
from qa_pipeline.detect import qualify_mono_findings
from qa_pipeline.diarize import FORCED_SPLIT_METHOD, ONE_CLUSTER_METHOD, Diarization, DiarizeOptions, diarize
from qa_pipeline.evaluate.metrics import diarization_error_rate
from qa_pipeline.pipeline import PipelineOptions, score_call
from qa_pipeline.roles import assign_roles
from qa_pipeline.timeline import build_timeline, detect_speech, timeline_from_segments
from qa_pipeline.turntaking import TURN_DECODE_METHOD, decode_turns
from qa_pipeline.types import CallMetadata, Finding, SpeechSegment, Transcript, Utterance, Word

pytest.importorskip("resemblyzer")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"
REAL = REAL_AUDIO / "audio"
SR = 16_000


def _mixdown(stem: str, tmp: Path, *, stereo_copy: float | None = None) -> Path:
    """Mono mixdown of a committed stereo sample (or, with `stereo_copy`, a stereo file whose 2nd channel
    is the mix × stereo_copy), written to tmp — never into the repository."""
    data, rate = sf.read(str(SAMPLES / f"{stem}.flac"), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    out = tmp / f"{stem}.flac"
    sf.write(str(out), mono if stereo_copy is None else np.stack([mono, mono * stereo_copy], 1), rate, subtype="PCM_16")
    return out


class _TextByTime:
    """Transcript TEXT of the sample, speaker labels dropped and re-attributed by time to the diarized
    speakers (no ASR in unit tests; the file's labels would be cheating on mono)."""

    name, model, compute_type = "text-by-time", "", ""

    def __init__(self, stem: str, neutral: bool = False) -> None:
        self.utts = read_transcript(SAMPLES / f"{stem}.transcript.json")
        self.neutral = neutral

    def transcribe(self, audio, timeline):  # type: ignore[no-untyped-def]
        out = []
        for u in self.utts:
            best = max(timeline.speech, key=lambda s: min(u.end, s.end) - max(u.start, s.start))
            out.append(replace(u, speaker=best.speaker, text="嗯好的" if self.neutral else u.text))
        return Transcript(tuple(out), engine=self.name)


@pytest.fixture
def text_engine(monkeypatch):  # type: ignore[no-untyped-def]
    def use(stem: str, neutral: bool = False) -> None:
        monkeypatch.setattr(pipeline, "load_engine", lambda _o: _TextByTime(stem, neutral))

    return use


# --------------------------------------------------------------------------------------------- DER


def test_der_metric() -> None:
    ref = [("a", 0.0, 5.0), ("b", 6.0, 10.0)]
    assert diarization_error_rate(ref, [("x", 0.0, 5.0), ("y", 6.0, 10.0)])["der"] == 0.0
    assert diarization_error_rate(ref, [("x", 0.1, 5.1), ("y", 6.2, 10.0)])["der"] == 0.0  # inside collar
    one = diarization_error_rate(ref, [("x", 0.0, 10.0)])
    assert one["confusion"] > 0.3 and one["false_alarm"] > 0.0


def _clip(name: str, a: float = 0.0, b: float | None = None) -> np.ndarray:
    import soxr

    x, rate = sf.read(str(REAL / name), dtype="float32")
    if rate != SR:
        x = soxr.resample(x, rate, SR).astype(np.float32)
    x = x[int(a * SR) : None if b is None else int(b * SR)]
    return x * np.float32(0.05 / np.sqrt(np.mean(x**2)))


@pytest.mark.skipif(not REAL.is_dir(), reason="shared real-audio clips not available")
def test_real_two_speaker_mono_der() -> None:
    """Two real Mandarin speakers (FunASR VAD demo monologue vs. Paraformer debate clip) alternating in one
    mono track with 0.6 s gaps: the speakers are found and the turns recovered."""
    a = [_clip("funasr_fsmn_vad_example_70s.wav", s, e) for s, e in [(0.0, 2.4), (2.6, 6.2), (6.4, 12.0), (23.9, 26.3)]]
    b = [_clip("funasr_paraformer_example1.wav", s, e) for s, e in [(0.0, 4.3), (4.3, 8.6), (8.6, 13.0)]]
    turns = [("A", a[0]), ("B", b[0]), ("A", a[1]), ("B", b[1]), ("A", a[2]), ("B", b[2]), ("A", a[3])]
    gap = np.zeros(int(0.6 * SR), np.float32)
    parts, ref, t = [gap], [], 0.6
    for spk, x in turns:
        ref.append((spk, t, t + len(x) / SR))
        parts += [x, gap]
        t += (len(x) + len(gap)) / SR
    mono = np.concatenate(parts)
    tl = timeline_from_segments(detect_speech(mono, "unknown"), len(mono) / SR, "mono")
    d = diarize(mono, tl)
    assert d.n_speakers == 2
    der = diarization_error_rate(ref, [(s.speaker, s.start, s.end) for s in d.segments])
    assert der["der"] < 0.10, der


@pytest.mark.parametrize("stem", ["01_bill_query_perfect", "06_complaint_interruptions"])
def test_sample_mixdown_der(stem: str, tmp_path: Path) -> None:
    audio = load_call(_mixdown(stem, tmp_path), CallMetadata(stem))
    assert audio.source.layout == "mono"
    d = diarize(audio.parties["unknown"], build_timeline(audio))
    truth = json.loads((SAMPLES / f"{stem}.truth.json").read_text(encoding="utf-8"))
    der = diarization_error_rate(
        [(t["speaker"], t["start"], t["end"]) for t in truth["turns"]],
        [(s.speaker, s.start, s.end) for s in d.segments],
    )
    assert d.n_speakers == 2
    assert der["der"] < (0.15 if stem.startswith("06") else 0.08), der  # 06: overlaps cannot be split in mono


# --------------------------------------------------------------------------------------------- roles, end to end


def _speech_overlap(result, speaker: str, truth: dict, role: str) -> float:  # type: ignore[no-untyped-def]
    return sum(
        max(0.0, min(e.end, t["end"]) - max(e.start, t["start"]))
        for e in result.events
        if e.type == "speech" and e.speaker == speaker
        for t in truth["turns"]
        if t["speaker"] == role
    )


@pytest.mark.parametrize("stem", ["01_bill_query_perfect", "10_terrible_forbidden"])
def test_mono_roles_end_to_end(stem: str, tmp_path: Path, text_engine) -> None:  # type: ignore[no-untyped-def]
    text_engine(stem)
    r = score_call(_mixdown(stem, tmp_path), CallMetadata(stem), PipelineOptions())
    assert r.status == "ok" and r.audio.layout == "mono"
    info = r.diarization
    assert info is not None and "diarization" not in r.transcript.options  # stored once
    assert info.n_speakers == 2 and info.role_confidence >= 0.5
    assert sorted(info.roles.values()) == ["agent", "customer"]
    assert r.to_json()["diarization"]["roles"] == info.roles
    truth = json.loads((SAMPLES / f"{stem}.truth.json").read_text(encoding="utf-8"))
    assert _speech_overlap(r, "agent", truth, "agent") > 5 * _speech_overlap(r, "customer", truth, "agent")
    status = {f.check: f.status for f in r.checks}
    assert status["greeting"] == truth["checks"]["greeting"]["status"]
    assert status["forbidden_phrase"] == truth["checks"]["forbidden_phrase"]["status"]
    assert "diarize" in r.timings


def test_low_confidence_keeps_unknown_and_needs_review(tmp_path: Path, text_engine) -> None:  # type: ignore[no-untyped-def]
    text_engine("01_bill_query_perfect", neutral=True)  # no agent/customer wording at all
    r = score_call(_mixdown("01_bill_query_perfect", tmp_path), CallMetadata("c"), PipelineOptions())
    info = r.diarization
    assert info is not None and info.role_confidence < 0.5 and set(info.roles.values()) == {"unknown"}
    assert {u.speaker for u in r.transcript.utterances} == {"unknown"}
    status = {f.check: f.status for f in r.checks}
    for check in ("greeting", "closing", "forbidden_phrase", "interruption", "response_latency"):
        assert status[check] == "needs_review", check


def test_assign_roles_unit() -> None:
    diar = Diarization((), 2, {"spk0": 10.0, "spk1": 8.0}, 0.7)
    agent = [
        Utterance("spk1", 0.5, 3.0, "您好，很高兴为您服务，请问有什么可以帮您？"),  # type: ignore[arg-type]
        Utterance("spk0", 4.0, 8.0, "我想查一下话费"),  # type: ignore[arg-type]
        Utterance("spk1", 9.0, 10.0, "请您稍等，我帮您查询一下"),
    ]  # type: ignore[arg-type]
    ra = assign_roles(agent, diar)
    assert ra.roles == {"spk1": "agent", "spk0": "customer"} and ra.confidence >= 0.5
    weak = assign_roles([Utterance("spk0", 0, 1, "喂"), Utterance("spk1", 2, 3, "嗯")], diar)  # type: ignore[arg-type]
    assert set(weak.roles.values()) == {"unknown"}
    three = Diarization((), 3, {"spk0": 10.0, "spk1": 8.0, "spk2": 6.0}, 0.7)
    ra3 = assign_roles([*agent, Utterance("spk2", 20, 25, "您好，专家席为您服务，请您稍等")], three)  # type: ignore[arg-type]
    assert ra3.roles == {"spk0": "customer", "spk1": "agent", "spk2": "agent"}


def test_mono_interruption_never_silently_passes() -> None:
    f = [Finding("interruption", "pass"), Finding("greeting", "pass")]
    seg = (SpeechSegment("spk0", 0, 1),)  # type: ignore[arg-type]
    with_ovl = qualify_mono_findings(f, Diarization(seg, 2, {}, 0.7, ((3.0, 4.6),)).overlap_suspects)
    assert with_ovl[0].status == "needs_review" and with_ovl[1].status == "pass"
    without = qualify_mono_findings(f, Diarization(seg, 2, {}, 0.7).overlap_suspects)
    assert without[0].status == "pass" and without[0].detail["mono"] and "confidence" in without[0].detail


@pytest.mark.parametrize("copy_gain", [1.0, 0.5])  # identical channels, and a −6 dB copy
def test_duplicate_channel_stereo_is_mono_end_to_end(copy_gain: float, tmp_path: Path, text_engine) -> None:  # type: ignore[no-untyped-def]
    stem = "06_complaint_interruptions"
    text_engine(stem)
    r = score_call(_mixdown(stem, tmp_path, stereo_copy=copy_gain), CallMetadata(stem), PipelineOptions())
    assert r.audio.channels == 2 and r.audio.layout == "mono"
    assert (
        r.diarization is not None
        and r.diarization.roles
        and {u.speaker for u in r.transcript.utterances}
        == {
            "agent",
            "customer",
        }
    )
    assert {f.check: f.status for f in r.checks}["interruption"] in ("needs_review", "fail")


# --------------------------------------------------------------------------------------------- similar voices


@pytest.mark.skipif(not REAL.is_dir(), reason="shared real-audio clips not available")
def test_one_voice_only_stays_one_speaker() -> None:
    """The two-speaker default must not split a single voice (IVR prompt, one party only): one real speaker's
    phrases with telephone-like pauses between them stay one speaker."""
    spans = [(0.0, 2.4), (2.6, 6.2), (6.4, 12.0), (12.2, 16.0), (16.2, 20.0), (23.9, 26.3), (26.5, 30.0)]
    gap = np.zeros(int(0.7 * SR), np.float32)
    parts = [gap]
    for s, e in spans:
        parts += [_clip("funasr_fsmn_vad_example_70s.wav", s, e), gap]
    mono = np.concatenate(parts)
    tl = timeline_from_segments(detect_speech(mono, "unknown"), len(mono) / SR, "mono")
    assert diarize(mono, tl).n_speakers == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stem", "pitch", "formant"),
    [
        ("01_bill_query_perfect", 0.94, 0.97),  # voices.SIMILAR_CUSTOMER
        ("13_long_monologue_no_response", 0.91, 0.955),  # another call and shift, not used while tuning
        # a complaint with interruptions at the closest shift (−3 %): in review before the text role model
        ("06_complaint_interruptions", 0.97, 0.985),
    ],
)
def test_similar_voice_mono_call_gets_two_speakers_and_the_agent(  # type: ignore[no-untyped-def]
    stem: str, pitch: float, formant: float, tmp_path: Path, monkeypatch
) -> None:
    """Agent and customer with nearly the same voice (the TTS agent voice, the customer a few % lower in pitch
    and formants) in a mono mixdown: the voices form one cluster, the turn-taking decoder still finds two
    speakers, and the agent label lies on the agent's speech."""
    from qa_pipeline.synth import SPECS_DIR
    from qa_pipeline.synth.render import render, similar_voices
    from qa_pipeline.synth.spec import load_spec
    from qa_pipeline.synth.voices import Voice

    render(similar_voices(load_spec(SPECS_DIR / f"{stem}.yaml"), Voice(pitch, formant)), tmp_path, mono=True)
    engine = _TextByTime(stem)
    engine.utts = read_transcript(tmp_path / f"{stem}.transcript.json")
    monkeypatch.setattr(pipeline, "load_engine", lambda _o: engine)
    r = score_call(tmp_path / f"{stem}.mono.flac", CallMetadata(stem), PipelineOptions())
    info = r.diarization
    assert info is not None and info.n_speakers == 2, info
    assert sorted(info.roles.values()) == ["agent", "customer"]
    truth = json.loads((tmp_path / f"{stem}.truth.json").read_text(encoding="utf-8"))
    assert _speech_overlap(r, "agent", truth, "agent") > 3 * _speech_overlap(r, "customer", truth, "agent")


def _one_cluster(
    spans: list[tuple[float, float]], emb: np.ndarray | None = None, *, forced: bool = False
) -> Diarization:
    units = tuple(SpeechSegment("spk0", a, b) for a, b in spans)  # type: ignore[arg-type]
    return Diarization(
        units,
        1,
        {"spk0": round(sum(b - a for a, b in spans), 2)},
        None,
        method=FORCED_SPLIT_METHOD if forced else ONE_CLUSTER_METHOD,
        units=units,
        unit_embeddings=emb,
    )


def test_turn_decoder_labels_turns_from_text_and_turn_taking() -> None:
    """Similar voices (embeddings all alike): the text's role cues anchor some turns, turn-taking fills in the
    ones without cues, and an utterance with word times that spans two turns is cut between them."""
    spans = [(0.5, 3.0), (3.6, 6.0), (6.7, 9.0), (9.6, 11.0), (11.8, 14.0), (14.6, 15.5), (16.1, 18.0)]
    texts = [
        "您好，很高兴为您服务，请问有什么可以帮您？",
        "我想查一下这个月的话费。",
        "好的，请您稍等，我帮您查询一下。",
        "嗯，行。",  # no cue: turn-taking says customer
        "您本月话费是八十六元。",
        "那我先考虑一下。",  # no cue
        "好的，感谢您的来电，再见。",
    ]
    utts = [Utterance("spk0", a, b, t) for (a, b), t in zip(spans, texts, strict=True)]  # type: ignore[arg-type]
    # units 4 and 5 transcribed as one utterance (one provisional speaker): word times separate them
    w4 = tuple(Word(c, 11.8 + k * 0.2, 12.0 + k * 0.2) for k, c in enumerate(texts[4]))
    w5 = tuple(Word(c, 14.6 + k * 0.1, 14.7 + k * 0.1) for k, c in enumerate(texts[5]))
    utts[4:6] = [Utterance("spk0", 11.8, 15.5, texts[4] + texts[5], w4 + w5)]  # type: ignore[arg-type]
    dec = decode_turns(_one_cluster(spans), utts, DiarizeOptions())  # no voice evidence either way
    assert dec.diarization.n_speakers == 2 and dec.diarization.method == TURN_DECODE_METHOD
    roles = dec.roles.roles
    assert sorted(roles.values()) == ["agent", "customer"], dec.roles
    by_unit = [roles[s.speaker] for s in dec.diarization.segments]
    assert by_unit == ["agent", "customer", "agent", "customer", "agent", "customer", "agent"]
    cut = [(roles[u.speaker], u.text) for u in dec.utterances if 11.0 < u.start < 16.0]
    assert cut == [("agent", texts[4]), ("customer", texts[5])]


def test_turn_decoder_keeps_one_voice_with_one_role_as_one_speaker() -> None:
    """IVR / voicemail: one voice, only agent-side wording (no customer anywhere) → one speaker, roles unknown."""
    spans = [(0.5, 4.0), (4.6, 8.0), (8.7, 12.0), (12.6, 15.0)]
    texts = [
        "您好，欢迎致电中国移动。",
        "查询话费请按一，办理业务请按二。",
        "请您稍等，正在为您转接。",
        "感谢您的耐心等待。",
    ]
    utts = [Utterance("spk0", a, b, t) for (a, b), t in zip(spans, texts, strict=True)]  # type: ignore[arg-type]
    dec = decode_turns(_one_cluster(spans), utts, DiarizeOptions())
    assert dec.diarization.n_speakers == 1 and set(dec.roles.roles.values()) == {"unknown"}


def test_turn_decoder_unclear_call_goes_to_review() -> None:
    """Two parties, but the text barely says who is who and the voices do not help: roles stay unknown."""
    spans = [(0.5, 2.0), (2.6, 4.0), (4.6, 6.0), (6.6, 8.0), (8.6, 10.0), (10.6, 12.0)]
    texts = ["喂？", "嗯。", "对。", "我要问个事。", "好。", "行吧。"]
    utts = [Utterance("spk0", a, b, t) for (a, b), t in zip(spans, texts, strict=True)]  # type: ignore[arg-type]
    dec = decode_turns(_one_cluster(spans, forced=True), utts, DiarizeOptions())
    assert set(dec.roles.roles.values()) == {"unknown"}
    assert dec.roles.confidence < DiarizeOptions().turn_min_confidence
