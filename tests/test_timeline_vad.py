"""The torch-free Silero front-end (timeline.SileroVad + speech_spans) gives the silero-vad package's own
timestamps to the sample, and scoring a call's timeline never imports torch (start-up, issue 14)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import real_clip

from qa_pipeline.timeline import SileroVad, VadOptions, _silero, detect_speech, speech_spans
from qa_pipeline.types import SAMPLE_RATE

CLIPS = ["funasr_fsmn_vad_example_70s.wav", "aishell1_BAC009S0724W0121.wav", "paddlespeech_zh.wav"]


def _reference(x: np.ndarray, o: VadOptions) -> tuple[np.ndarray, list[tuple[int, int]]]:
    from silero_vad import load_silero_vad
    from silero_vad.sequence_vad import get_speech_timestamps_sequence

    model = load_silero_vad(sequence=True)
    stamps = get_speech_timestamps_sequence(
        x,
        model,
        threshold=o.threshold,
        sampling_rate=SAMPLE_RATE,
        min_speech_duration_ms=int(o.min_speech_s * 1000),
        min_silence_duration_ms=int(o.min_silence_s * 1000),
        speech_pad_ms=int(o.speech_pad_s * 1000),
    )
    return model.audio_forward(x), [(int(s["start"]), int(s["end"])) for s in stamps]


@pytest.mark.parametrize("name", CLIPS)
def test_same_probabilities_and_timestamps_as_the_silero_package(name: str) -> None:
    speech = real_clip(name, SAMPLE_RATE)
    # the clip, a pause, the clip at a third of its level: short and long silences, a partial last frame
    x = np.concatenate([speech, np.zeros(SAMPLE_RATE * 2 + 123, np.float32), speech / 3]).astype(np.float32)
    for o in (VadOptions(), VadOptions(threshold=0.6, min_silence_s=0.1, speech_pad_s=0.2)):
        probs, stamps = _reference(x, o)
        mine = _silero().probabilities(x)
        assert np.array_equal(mine, probs)
        assert speech_spans(mine, x.size, o) == stamps
        assert stamps  # the clip has speech: the comparison is not vacuous


def test_blocks_carry_the_state_across_block_boundaries() -> None:
    x = real_clip("funasr_fsmn_vad_example_70s.wav", SAMPLE_RATE)  # 70 s: several 512-frame blocks
    vad = SileroVad()
    probs = vad.probabilities(x)
    assert probs.shape == ((x.size + 511) // 512,)
    assert np.array_equal(probs, _reference(x, VadOptions())[0])


def test_empty_and_tiny_inputs() -> None:
    assert detect_speech(np.zeros(0, np.float32), "agent") == []
    assert _silero().probabilities(np.zeros(100, np.float32)).shape == (1,)
    assert speech_spans(np.zeros(0, np.float32), 0) == []


def test_a_timeline_is_built_without_importing_torch(tmp_path: Path) -> None:
    # a worker process that only scores calls must not pay torch's ~2 s import (silero-vad's package does)
    code = (
        "import sys, numpy as np\n"
        "from qa_pipeline.timeline import detect_speech\n"
        "x = (np.random.default_rng(0).normal(0, 0.1, 16000)).astype(np.float32)\n"
        "detect_speech(x, 'agent')\n"
        "print('torch' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.strip() == "False"


def test_backchannels_inside_the_other_partys_turn_are_speech_blips_in_silence_are_not() -> None:
    """Sample 14: the agent says 嗯 (≈ 0.2 s above the threshold) and 好的 while the customer talks for 30 s.
    Shorter than silero's 0.25 s minimum, both were dropped, and with ASR dropping them too the no-response
    check failed an agent who was listening. They are kept because the customer is talking around them; the
    same 好的 with the customer silent around it (a cough in a hold) is still no speech."""
    from dataclasses import replace

    from qa_pipeline.audio import load_call
    from qa_pipeline.timeline import build_timeline
    from qa_pipeline.types import CallMetadata

    path = Path(__file__).resolve().parents[1] / "data_samples" / "14_long_monologue_backchannel.flac"
    audio = load_call(path, CallMetadata("14"))
    agent = [(s.start, s.end) for s in build_timeline(audio).segments("agent")]
    assert any(9.9 < a < 10.5 for a, _ in agent) and any(21.4 < a < 22.0 for a, _ in agent), agent
    off = build_timeline(audio, VadOptions(backchannel_min_s=0.0)).segments("agent")
    assert not any(9.9 < s.start < 10.5 or 21.4 < s.start < 22.0 for s in off)

    quiet = audio.parties["customer"].copy()
    quiet[int(15.0 * SAMPLE_RATE) : int(28.0 * SAMPLE_RATE)] = 0.0
    alone = replace(audio, parties={**audio.parties, "customer": quiet})
    agent_alone = [(s.start, s.end) for s in build_timeline(alone).segments("agent")]
    assert not any(21.4 < a < 22.0 for a, _ in agent_alone), agent_alone
    assert any(9.9 < a < 10.5 for a, _ in agent_alone)  # the 嗯 at 10.2 s is still inside the customer's turn
