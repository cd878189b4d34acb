"""Turn-taking decoder (turntaking.decode_turns) with the text role model: roles where the cue words are silent."""

from __future__ import annotations

import pytest

from qa_pipeline.diarize import FORCED_SPLIT_METHOD, ONE_CLUSTER_METHOD, Diarization, DiarizeOptions
from qa_pipeline.turntaking import decode_turns
from qa_pipeline.types import SpeechSegment, Utterance

# A call whose customer never uses a customer cue word (你们/我想/我要/投诉 …) and whose agent uses almost no
# service phrase: what real customers do in most turns (docs/diarization.md, real 10086 text probe).
TEXTS = [
    "喂。",
    "手机最近老是没信号，打电话也打不出去。",
    "您是在什么位置没有信号呢？",
    "就在家里，小区那一片都不行。",
    "这边给您登记了，明天会有工作人员跟您联系。",
    "行，那我等电话吧。",
    "嗯，后续有问题再打过来。",
    "好。",
]
TRUTH = ["agent", "customer"] * 4


def _call(forced: bool) -> tuple[Diarization, list[Utterance]]:
    spans, t = [], 0.5
    for x in TEXTS:
        spans.append((round(t, 2), round(t + 0.2 * len(x), 2)))
        t += 0.2 * len(x) + 0.6
    units = tuple(SpeechSegment("spk0", a, b) for a, b in spans)  # type: ignore[arg-type]
    method = FORCED_SPLIT_METHOD if forced else ONE_CLUSTER_METHOD
    diar = Diarization(units, 1, {"spk0": round(t, 2)}, None, method=method, units=units)
    return diar, [Utterance("spk0", a, b, x) for (a, b), x in zip(spans, TEXTS, strict=True)]  # type: ignore[arg-type]


@pytest.mark.parametrize("forced", [False, True])
def test_role_model_finds_the_parties_where_cue_words_are_silent(forced: bool) -> None:
    """No voice evidence at all (identical voices): the role model's reading of each turn plus turn-taking
    labels every turn; without the model the same call stays in review (measured: confidence 0.658 / one
    speaker), so the model is what decides here."""
    diar, utts = _call(forced)
    dec = decode_turns(diar, utts, DiarizeOptions())
    roles = dec.roles.roles
    assert sorted(roles.values()) == ["agent", "customer"], dec.roles
    assert [roles[s.speaker] for s in dec.diarization.segments] == TRUTH
    assert dec.roles.confidence >= DiarizeOptions().turn_min_confidence
    without = decode_turns(diar, utts, DiarizeOptions(turn_model_weight=0.0))
    assert set(without.roles.roles.values()) == {"unknown"}
