"""The real pipeline end to end: decode → Silero VAD → faster-whisper base → checks → 10086 score."""

import json
from pathlib import Path

import jsonschema
import pytest

from qa_pipeline.evaluate import character_error_rate as _cer
from qa_pipeline.pipeline import PipelineOptions, score_call
from qa_pipeline.result import SCHEMA_PATH
from qa_pipeline.types import CallMetadata


@pytest.mark.slow
def test_real_asr_pipeline_on_a_stereo_call(real_call: Path) -> None:
    result = score_call(real_call, CallMetadata("call_0001", agent_id="A1"), PipelineOptions())
    assert result.status == "ok", result.error
    data = result.to_json()
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))

    agent = "".join(u["text"] for u in data["utterances"] if u["speaker"] == "agent")
    cust = "".join(u["text"] for u in data["utterances"] if u["speaker"] == "customer")
    assert _cer("欢迎大家来体验达摩院推出的语音识别模型", agent) < 0.25
    assert _cer("我认为跑步最重要的就是给我带来了身体健康作为一个男人最起码的这个担当", cust) < 0.3
    assert data["engine"]["asr"] == "faster-whisper" and data["engine"]["model"]
    # the 35 s gap comes from the audio, not from ASR gaps
    silences = [c for c in data["checks"] if c["check"] == "silence_over_30s" and c["status"] == "fail"]
    assert len(silences) == 1 and 30 < silences[0]["detail"]["duration_s"] < 40
    assert {c["check"] for c in data["checks"]} >= {"greeting", "interruption", "speech_rate", "wait_fluency"}
    assert data["score"]["max"] > 0 and 0 <= data["score"]["total"] <= data["score"]["max"]
    assert set(data["timings"]) >= {"decode", "vad", "asr", "checks"}
