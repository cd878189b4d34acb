"""The batched first pass hands its temperature-0 result to faster-whisper's fallback loop, which then runs only
the later temperatures: what it returns must be what the library's whole schedule returns. The library's own
generate_with_fallback runs here; only the CTranslate2 model under it is scripted (one result per temperature)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("faster_whisper")
from faster_whisper.transcribe import TranscriptionOptions, WhisperModel  # noqa: E402

from qa_pipeline.asr.faster_whisper import _make_primed_model  # noqa: E402

TEMPS = [0.0, 0.2, 0.4, 0.6]
TEXTS = ["您好请问有什么可以帮您", "重复" * 40]  # an ordinary sentence; a repetitive one (compression ratio > 2.4)
Result = tuple[float, int, float]  # (log-prob score per token, text index, no-speech probability)


class ScriptedWhisper:
    """Stands in for ctranslate2.models.Whisper: generate() at temperature t returns the script's result for t."""

    def __init__(self, script: list[Result]) -> None:
        self.script = script
        self.temperatures: list[float] = []

    def generate(self, enc: Any, prompts: Any, **kw: Any) -> list[Any]:
        t = kw.get("sampling_temperature", 0.0)
        self.temperatures.append(t)
        score, text, no_speech = self.script[TEMPS.index(t)]
        return [SimpleNamespace(sequences_ids=[[text] * 4], scores=[score], no_speech_prob=no_speech)]


class Tokenizer:
    def decode(self, tokens: list[int]) -> str:
        return TEXTS[tokens[0]]


def _model(cls: type, script: list[Result]) -> Any:
    m = object.__new__(cls)  # no weights: only what generate_with_fallback reads
    m.model = ScriptedWhisper(script)
    m.max_length = 448
    m.time_precision = 0.02
    m.logger = SimpleNamespace(debug=lambda *a, **k: None)
    return m


def _options(temperatures: list[float]) -> TranscriptionOptions:
    values = dict(
        beam_size=5,
        best_of=5,
        patience=1.0,
        length_penalty=1.0,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        log_prob_threshold=-1.0,
        no_speech_threshold=0.6,
        compression_ratio_threshold=2.4,
        temperatures=temperatures,
        suppress_blank=True,
        suppress_tokens=[-1],
        max_initial_timestamp=1.0,
        max_new_tokens=None,
    )
    fields = {f.name: None for f in dataclasses.fields(TranscriptionOptions)}
    return TranscriptionOptions(**{**fields, **values})  # the rest are not read by generate_with_fallback


# avg log-prob = score × 4/5 (4 tokens); fails under -1.0
GOOD, BAD, REPETITIVE, SILENT = (-0.2, 0, 0.1), (-2.0, 0, 0.1), (-0.3, 1, 0.1), (-2.0, 0, 0.9)
SCRIPTS = {
    "the first fallback passes": [BAD, GOOD, BAD, BAD],
    "the last one passes": [BAD, BAD, BAD, GOOD],
    "all fail, a later one is best": [BAD, (-1.4, 0, 0.1), (-2.2, 0, 0.1), (-1.6, 0, 0.1)],
    "all fail, the first is best": [(-1.3, 0, 0.1), BAD, BAD, BAD],
    "repetitive ones lose to any under the ratio": [REPETITIVE, BAD, (-1.7, 0, 0.1), REPETITIVE],
    "none under the ratio": [REPETITIVE, REPETITIVE, (-0.1, 1, 0.1), REPETITIVE],
    "a tie goes to the earliest": [BAD, BAD, BAD, BAD],
}


@pytest.mark.parametrize("case", list(SCRIPTS))
def test_primed_fallback_returns_what_the_whole_schedule_returns(case: str) -> None:
    script, tok = SCRIPTS[case], Tokenizer()
    whole = _model(WhisperModel, script)
    expected = WhisperModel.generate_with_fallback(whole, None, [1], tok, _options(TEMPS))
    assert len(whole.model.temperatures) > 1  # the library did fall back

    first = WhisperModel.generate_with_fallback(_model(WhisperModel, script), None, [1], tok, _options(TEMPS[:1]))
    primed = _model(_make_primed_model(WhisperModel), script)
    primed.primed_decoding = first  # what the batched first pass hands over
    got = primed.generate_with_fallback(None, [1], tok, _options(TEMPS))

    assert (got[0].scores, got[0].sequences_ids, got[1:]) == (
        expected[0].scores,
        expected[0].sequences_ids,
        expected[1:],
    )
    assert primed.model.temperatures == whole.model.temperatures[1:]  # temperature 0 is not decoded again


def test_a_passing_or_silent_first_pass_is_returned_as_is() -> None:
    tok = Tokenizer()
    for script in ([GOOD, BAD, BAD, BAD], [SILENT, GOOD, GOOD, GOOD]):
        first = WhisperModel.generate_with_fallback(_model(WhisperModel, script), None, [1], tok, _options(TEMPS[:1]))
        primed = _model(_make_primed_model(WhisperModel), script)
        primed.primed_decoding = first
        assert primed.generate_with_fallback(None, [1], tok, _options(TEMPS)) is first
        assert primed.model.temperatures == []


def test_the_scripts_take_different_paths() -> None:
    outcomes = set()
    for script in SCRIPTS.values():
        m = _model(WhisperModel, script)
        r = WhisperModel.generate_with_fallback(m, None, [1], Tokenizer(), _options(TEMPS))
        outcomes.add((len(m.model.temperatures), r[0].scores[0], r[3] > 2.4))
    assert len(outcomes) == len(SCRIPTS)
