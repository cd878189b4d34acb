"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["COLUMNS"] = "240"  # rich wraps CLI output at the terminal width; keep lines whole for asserts

import pytest  # noqa: E402
from helpers import real_clip, render_stereo  # noqa: E402


@pytest.fixture
def real_call(tmp_path: Path) -> Path:
    """A 60 s stereo 8 kHz call built from real speech with a 35 s silence in the middle."""
    agent = real_clip("funasr_asr_example_zh.wav")
    cust = real_clip("paddlespeech_zh.wav") * 3
    cust2 = real_clip("wenetspeech_nst_ID001.wav")
    return render_stereo(
        tmp_path / "call_0001.wav", [("agent", 0.5, agent), ("customer", 7.0, cust), ("customer", 48.0, cust2)], 60.0
    )
