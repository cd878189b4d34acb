"""必检 / 抽检 / 免检 rules and the reproducible stratified sample."""

from __future__ import annotations

import random

from qa_pipeline.review.triage import TriageConfig, TriageInput, low_confidence_hit, triage

CFG = TriageConfig(score_threshold_pct=80.0, sample_n=2, seed="s1")


def _calls(agent: str, n: int, day: str = "2026-11-20") -> list[TriageInput]:
    return [TriageInput(f"{agent}-{day}-{i:03d}", agent, day, score_pct=95.0) for i in range(n)]


def test_must_rules():
    calls = [
        TriageInput("fatal", "A", "d", fatal=True, score_pct=0),
        TriageInput("nr", "A", "d", needs_review=True, score_pct=100),
        TriageInput("low", "A", "d", low_confidence=True, score_pct=100),
        TriageInput("mono", "A", "d", uncertain_roles=True, score_pct=100),
        TriageInput("score", "A", "d", score_pct=79.9),
        TriageInput("edge", "A", "d", score_pct=80.0),
    ]
    out = {r.call_id: r for r in triage(calls, CFG)}
    assert out["fatal"].reasons == ("fatal", "low_score")
    assert [out[k].reasons for k in ("nr", "low", "mono", "score")] == [
        ("needs_review",),
        ("low_confidence",),
        ("uncertain_roles",),
        ("low_score",),
    ]
    assert out["edge"].bucket == "sample"  # alone in its agent-day group: sampled, not 必检


def test_sample_n_per_agent_per_day_is_reproducible_and_order_free():
    calls = _calls("A", 10) + _calls("B", 1) + _calls("A", 5, "2026-11-21")
    first = {r.call_id: r.bucket for r in triage(calls, CFG)}
    shuffled = calls[:]
    random.Random(7).shuffle(shuffled)
    assert {r.call_id: r.bucket for r in triage(shuffled, CFG)} == first
    per_group: dict[tuple[str, str], int] = {}
    for c in calls:
        if first[c.call_id] == "sample":
            per_group[(c.agent_id, c.call_date)] = per_group.get((c.agent_id, c.call_date), 0) + 1
    assert per_group == {("A", "2026-11-20"): 2, ("B", "2026-11-20"): 1, ("A", "2026-11-21"): 2}
    other_seed = {r.call_id: r.bucket for r in triage(calls, TriageConfig(sample_n=2, seed="s2"))}
    assert other_seed != first  # the seed changes which calls, not how many
    assert sum(b == "sample" for b in other_seed.values()) == 5


def test_sample_percent_rounds_up_to_at_least_one():
    cfg = TriageConfig(sample_pct=10.0)
    out = triage(_calls("A", 25) + _calls("B", 3), cfg)
    by_agent = {a: sum(1 for r in out if r.bucket == "sample" and r.call_id.startswith(a)) for a in "AB"}
    assert by_agent == {"A": 3, "B": 1}  # ceil(2.5) = 3, ceil(0.3) = 1


def test_must_calls_are_not_counted_in_the_sample():
    calls = [TriageInput("x", "A", "d", fatal=True)] + _calls("A", 3, "d")
    out = triage(calls, TriageConfig(sample_n=1))
    assert [r.bucket for r in out].count("sample") == 1 and out[0].bucket == "must"


def test_low_confidence_hit():
    assert low_confidence_hit("fail", {"method": "pinyin", "score": 0.9}, CFG)
    assert not low_confidence_hit("fail", {"method": "exact", "score": 0.5}, CFG)
    assert not low_confidence_hit("fail", {"method": "pinyin", "score": 0.99}, CFG)
    assert not low_confidence_hit("pass", {"method": "pinyin", "score": 0.1}, CFG)
