"""Real recorded speech on the customer channel of scripted calls (rendered at test time from
shared/real-audio, never committed): VAD pauses, real ASR and the phrase checks, measured by the harness."""

import json
from pathlib import Path

import pytest
from helpers import REAL_AUDIO

from qa_pipeline.batch import call_path, run_batch
from qa_pipeline.evaluate import evaluate, sample_jobs
from qa_pipeline.pipeline import PipelineOptions
from qa_pipeline.synth import render_spec

SPECS = sorted((Path(__file__).resolve().parent.parent / "qa_pipeline" / "synth" / "specs" / "real").glob("*.yaml"))


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    clips = REAL_AUDIO / "audio"
    if not clips.exists():
        pytest.skip("shared/real-audio not available")
    calls = tmp_path_factory.mktemp("real_calls")
    for spec in SPECS:
        render_spec(spec, calls, customer_clips_dir=clips)
    out = tmp_path_factory.mktemp("real_results")
    summary = run_batch(sample_jobs(calls), out, PipelineOptions())
    assert summary.ok == len(SPECS), summary.failures
    return calls, out


@pytest.mark.slow
def test_real_speech_transcribed_and_timed(scored: tuple[Path, Path]) -> None:
    calls, out = scored
    rep = evaluate(out, calls)
    assert not rep.missing
    # real Mandarin clips through an 8 kHz channel: Whisper base, errors mostly homophones
    assert rep.cer["customer"] is not None and rep.cer["customer"] < 0.35
    assert rep.cer["agent"] is not None and rep.cer["agent"] < 0.25
    gaps = rep.timeline["silence_gaps"]
    # the one miss: a mumbled 0.3 s "哦嗯" backchannel that Silero does not count as speech
    assert gaps["recall"] >= 0.8 and gaps["start_error_s"]["mean_abs"] < 0.4


@pytest.mark.slow
def test_phrase_and_timing_checks_on_real_speech(scored: tuple[Path, Path]) -> None:
    _, out = scored
    polite = json.loads(call_path(out, "real_01_data_query_real_customer").read_text(encoding="utf-8"))
    rude = json.loads(call_path(out, "real_02_interrupted_real_customer").read_text(encoding="utf-8"))

    def statuses(result: dict, check: str) -> list[str]:  # type: ignore[type-arg]
        return [c["status"] for c in result["checks"] if c["check"] == check]

    assert statuses(polite, "greeting") == ["pass"] and statuses(polite, "closing") == ["pass"]
    assert statuses(polite, "forbidden_phrase") == ["pass"] and statuses(polite, "interruption") == ["pass"]
    assert "fail" in statuses(rude, "forbidden_phrase")
    assert statuses(rude, "interruption") == ["fail"]
    assert statuses(rude, "response_latency") == ["fail"]
    assert polite["score"]["total"] > rude["score"]["total"]
