"""Severity classes, the per-call verdict, unjudged sub-clauses (issue 9) on the 10086 rubric."""

from __future__ import annotations

from qa_pipeline.rubric import load_rubric, parse_rubric, score_findings
from qa_pipeline.types import Finding

RUBRIC = load_rubric("10086")
COURTESY_AND_LOOKUP = ["greeting", "closing", "polite_terms", "honorific", "hold_notice", "hold_apology"]
COURTESY_AND_LOOKUP += ["confirm_understanding", "wait_fluency"]


def _clean() -> list[Finding]:
    """Every check the rubric binds, passing."""
    return [Finding(c, "pass") for c in RUBRIC.check_names]


def _with(*fails: Finding) -> list[Finding]:
    failed = {f.check for f in fails}
    return [f for f in _clean() if f.check not in failed] + list(fails)


def _worst_courtesy_call() -> list[Finding]:
    """Every courtesy phrase omitted and the slowest properly handled lookups (−8 fluency)."""
    fails = [Finding(c, "fail") for c in COURTESY_AND_LOOKUP if c != "wait_fluency"]
    fails.append(Finding("wait_fluency", "fail", detail={"deduction": 8}))
    return _with(*fails)


PROHIBITED = {
    "我不知道": Finding("forbidden_phrase", "fail", detail={"category": "dont_know"}),
    "刚才说过了": Finding("forbidden_phrase", "fail", detail={"category": "already_told"}),
    "不耐烦": Finding("forbidden_phrase", "fail", detail={"category": "impatient"}),
    "推诿": Finding("forbidden_phrase", "fail", detail={"category": "shirking"}),
    "反问/训斥": Finding("forbidden_phrase", "fail", detail={"category": "rhetorical"}),
    "争辩": Finding("forbidden_phrase", "fail", detail={"category": "argue"}),
    "抢话": Finding("interruption", "fail"),
    "无故静音": Finding("silence_over_30s", "fail", detail={"announced": False}),
}


def test_any_prohibited_behaviour_ranks_below_every_courtesy_only_call() -> None:
    floor = score_findings(_worst_courtesy_call(), RUBRIC)
    assert floor.verdict == "fail" and floor.severity == "minor"  # 20 of 57 lost: below the 80 % bar
    for name, finding in PROHIBITED.items():
        s = score_findings(_with(finding), RUBRIC)  # the ONLY fault of an otherwise perfect call
        assert s.total < floor.total, (name, s.total, floor.total)
        assert s.verdict == "fail" and s.severity in ("red_line", "severe"), name


def test_red_line_zeroes_and_severe_caps() -> None:
    s = score_findings(_with(PROHIBITED["推诿"]), RUBRIC)
    assert s.total == 0 and s.fatal and s.severity == "red_line"
    s = score_findings(_with(PROHIBITED["我不知道"]), RUBRIC)
    assert not s.fatal and s.severity == "severe" and s.total == RUBRIC.severe_cap_ratio * s.max


def test_verdict_threshold() -> None:
    perfect = score_findings(_clean(), RUBRIC)
    assert perfect.verdict == "pass" and perfect.severity == "" and perfect.total == perfect.max
    one_minor = score_findings(_with(Finding("greeting", "fail")), RUBRIC)
    assert one_minor.verdict == "pass" and one_minor.severity == "minor"
    text = """
id: t
title: t
version: "1"
verdict: {pass_ratio: 0.99}
items:
  - {id: A, title: a, points: 10, checks: [{check: greeting, deduct: 1}]}
"""
    strict = parse_rubric(text)
    assert score_findings([Finding("greeting", "fail")], strict).verdict == "fail"
    assert score_findings([Finding("greeting", "pass")], strict).verdict == "pass"


def test_unjudged_subclauses_are_reported() -> None:
    items = {i.id: i for i in score_findings(_clean(), RUBRIC).items}
    assert items["S2.1.4"].unjudged and "征得客户同意" in items["S2.1.4"].unjudged[0]
    assert items["S1.1.5"].unjudged and "直呼客户" in items["S1.1.5"].unjudged[0]
    assert items["S2.1.4"].status == "pass"  # judged as far as it goes; the rest is listed for a person


def _silence_item(findings: list[Finding]):
    return next(i for i in score_findings(findings, RUBRIC).items if i.id == "S2.1.4")


def test_one_silence_is_charged_once_per_item_at_its_heaviest_rule():
    """A 69.9 s unannounced silence is both silence_over_30s and silence_over_60s: one event, one charge."""
    long_silence = dict(start=14.0, end=83.9, detail={"announced": False})
    item = _silence_item(
        _with(Finding("silence_over_30s", "fail", **long_silence), Finding("silence_over_60s", "fail", **long_silence))
    )
    assert item.deduction == 3
    assert len(item.reasons) == 1 and item.reasons[0].endswith("（−3）")  # the 60 s rule's deduction, charged once


def test_separate_silences_are_separate_events():
    first = Finding("silence_over_30s", "fail", start=10.0, end=45.0, detail={"announced": False})
    second = Finding("silence_over_30s", "fail", start=100.0, end=140.0, detail={"announced": False})
    item = _silence_item(_with(first, second))
    assert len(item.reasons) == 2
    assert item.deduction == 3  # 2 + 2, capped at the item's 3 points
