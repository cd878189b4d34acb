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
