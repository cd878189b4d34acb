"""Final score = machine findings ⊕ human decisions, against hand-computed values on a small rubric."""

from __future__ import annotations

import pytest

from qa_pipeline.review.final import AddedFinding, Decision, ManualEntry, attach, final_score, machine_scale
from qa_pipeline.rubric import load_rubric, parse_rubric
from qa_pipeline.types import Finding

RUBRIC = parse_rubric(
    """
id: t
title: test
version: "1"
fatal_policy: zero_total
items:
  - {id: G, title: 开头结束语, points: 4, checks: [{check: greeting, deduct: 2}, {check: closing, deduct: 2}]}
  - {id: S, title: 静音, points: 3, checks: [{check: silence_over_30s, where: {announced: false}, deduct: 2}]}
  - {id: F, title: 推诿, points: 4, fatal: true,
     checks: [{check: forbidden_phrase, where: {category: shirking}, deduct: 4}]}
  - {id: R, title: 重复提问, points: 5, checks: [{check: repeated_question, deduct: 5}]}
  - {id: M1, title: 业务准确性, points: 6, manual: true}
  - {id: M2, title: 普通话, points: 2, manual: true}
"""
)  # 24 points: 16 automatic, 8 manual; pass mark 80 % = 19.2

FINDINGS = [
    Finding("greeting", "fail", 0.0, 3.0, "agent", "喂", {}),
    Finding("closing", "pass", 200.0, 203.0, "agent", "再见", {}),
    Finding("silence_over_30s", "fail", 14.0, 83.9, None, "", {"duration_s": 69.9, "announced": False}),
    Finding("forbidden_phrase", "fail", 100.0, 102.0, "agent", "您去营业厅办吧", {"category": "shirking"}),
    Finding("repeated_question", "pass", detail={}),
]

REJECT_F = Decision("forbidden_phrase", 100.0, 102.0, "reject", "fail")
CONFIRM_G = Decision("greeting", 0.0, 3.0, "confirm", "fail")
REJECT_S = Decision("silence_over_30s", 14.0, 83.9, "reject", "fail")
MANUAL = [ManualEntry("M1", 2.0, "资费说错一次"), ManualEntry("M2", 0.0)]


def test_machine_only_fatal_is_zero_and_manual_pending():
    fs = final_score(RUBRIC, FINDINGS)
    # automatic: G −2, S −2, F −4 (fatal), R 0 → 16 − 8 = 8 of 16; fatal → total 0
    assert (fs.scale.auto_points, fs.scale.auto_score, fs.scale.auto_pct) == (16, 8, 50.0)
    assert fs.scale.fatal and fs.scale.total == 0.0 and fs.scale.verdict == "fatal"
    assert fs.scale.manual_points == 8 and fs.scale.manual_score is None
    assert fs.machine == fs.scale


def test_reject_fatal_finding_leaves_manual_part_pending():
    fs = final_score(RUBRIC, FINDINGS, [REJECT_F, CONFIRM_G])
    # F passes after 误报: 16 − (2 + 2) = 12 of 16 = 75 %; manual items not entered → 待人工评分
    assert (fs.scale.auto_score, fs.scale.auto_pct) == (12, 75.0)
    assert not fs.scale.fatal and fs.scale.total is None and fs.scale.verdict == "pending"
    assert fs.scale.pending_items == 2
    items = {i.id: i for i in fs.items}
    assert items["F"].status == "pass" and items["F"].source == "human" and items["F"].machine_deduction == 4
    assert items["G"].source == "machine" and items["G"].deduction == 2
    assert fs.machine.verdict == "fatal"  # the machine score is kept beside


def test_manual_entry_completes_the_score():
    fs = final_score(RUBRIC, FINDINGS, [REJECT_F], manual=MANUAL)
    # 12 automatic + (6 − 2) + (2 − 0) = 18 of 24 < 19.2 → 不合格
    assert fs.scale.manual_score == 6 and fs.scale.total == 18 and fs.scale.verdict == "fail"


def test_added_missed_finding_uses_the_binding_deduction():
    fs = final_score(RUBRIC, FINDINGS, [REJECT_F], [AddedFinding("R", 5.0, 50.0, comment="同一问题问了三次")], MANUAL)
    # R −5: automatic 16 − 9 = 7; total 7 + 6 = 13
    assert fs.scale.auto_score == 7 and fs.scale.total == 13
    r = {i.id: i for i in fs.items}["R"]
    assert r.status == "fail" and r.machine_status == "pass" and r.source == "human"


def test_added_deduction_is_capped_at_the_item_points():
    fs = final_score(RUBRIC, FINDINGS, [REJECT_F], [AddedFinding("G", 3.0)], MANUAL)
    assert {i.id: i for i in fs.items}["G"].deduction == 4  # 2 (machine) + 3, capped at 4


def test_pass_verdict():
    fs = final_score(RUBRIC, FINDINGS, [REJECT_F, REJECT_S], manual=[ManualEntry("M1", 0), ManualEntry("M2", 0)])
    # 16 − 2 (greeting) = 14 + 8 manual = 22 ≥ 19.2
    assert fs.scale.total == 22 and fs.scale.verdict == "pass"


def test_confirming_a_needs_review_finding_makes_it_a_deduction():
    findings = [
        *FINDINGS[:3],
        Finding("forbidden_phrase", "needs_review", 100.0, 102.0, "agent", "x", {"category": "shirking"}),
        FINDINGS[4],
    ]
    pending = final_score(RUBRIC, findings)
    assert {i.id: i for i in pending.items}["F"].pending and pending.scale.auto_points == 12
    fs = final_score(RUBRIC, findings, [Decision("forbidden_phrase", 100.0, 102.0, "confirm", "needs_review")])
    assert fs.scale.fatal and fs.scale.total == 0


def test_rescoring_reattaches_decisions_by_check_and_time():
    moved = [
        Finding("greeting", "fail", 0.4, 3.2, "agent", "喂", {}),
        Finding("silence_over_30s", "fail", 14.5, 84.0, None, "", {"duration_s": 69.5, "announced": False}),
        Finding("forbidden_phrase", "needs_review", 100.0, 102.0, "agent", "x", {"category": "shirking"}),
        Finding("repeated_question", "pass"),
    ]
    decisions = [CONFIRM_G, REJECT_S, REJECT_F, Decision("closing", 200.0, 203.0, "reject", "fail")]
    att = attach(decisions, moved)
    assert [(a.finding_index, a.conflict) for a in att] == [
        (0, "moved"),
        (1, "moved"),
        (2, "status_changed"),
        (None, "orphan"),
    ]
    fs = final_score(RUBRIC, moved, decisions)
    # S rejected still applies (moved 0.5 s); F changed status → not applied, stays pending; G −2
    items = {i.id: i for i in fs.items}
    assert items["S"].status == "pass" and items["F"].pending and items["G"].deduction == 2
    assert len(fs.conflicts) == 4


def test_a_decision_attaches_to_one_finding_only():
    two = [Finding("greeting", "fail", 0.0, 1.0), Finding("greeting", "fail", 1.5, 2.0)]
    att = attach([Decision("greeting", 0.0, 1.0, "reject", "fail", decision_id=1)], two)
    assert att[0].finding_index == 0 and att[0].conflict is None


def test_unknown_item_is_an_error():
    with pytest.raises(ValueError, match="X9"):
        final_score(RUBRIC, FINDINGS, manual=[ManualEntry("X9", 1)])


def test_10086_rubric_is_a_100_point_scale():
    r = load_rubric("10086")
    fs = final_score(r, [])
    assert fs.scale.max_points == 100
    manual = sum(i.points for i in r.items if i.manual)
    assert fs.scale.manual_points == manual and fs.scale.verdict == "pending"
    full = final_score(r, [], manual=[ManualEntry(i.id, 0) for i in r.items if i.manual])
    # no findings: every automatic item is not_applicable (judged, nothing deducted) → 57 + 43 manual passed
    assert (full.scale.auto_points, full.scale.manual_score, full.scale.total) == (100 - manual, manual, 100)


def test_machine_scale_from_stored_totals():
    s = machine_scale(100, 49.2, 57, False, 43)
    assert s.auto_pct == 86.3 and s.total is None and s.verdict == "pending"
    assert machine_scale(100, 0, 57, True, 43).verdict == "fatal"
    assert machine_scale(24, 20, 24, False, 0).verdict == "pass"


def test_severe_item_caps_the_total_and_fails_the_call():
    r = parse_rubric(
        """
id: s
title: severe
version: "1"
verdict: {pass_ratio: 0.6, severe_cap_ratio: 0.5}
items:
  - {id: A, title: 抢话, points: 2, severity: severe, checks: [{check: interruption, deduct: 1}]}
  - {id: B, title: 开头语, points: 8, checks: [{check: greeting, deduct: 2}]}
  - {id: M, title: 业务准确性, points: 10, manual: true}
"""
    )
    hit = [Finding("interruption", "fail", 5.0, 7.0), Finding("greeting", "pass")]
    fs = final_score(r, hit, manual=[ManualEntry("M", 0)])
    # 20 − 1 = 19, capped at 50 % of 20 = 10; severe → 不合格 although 19 ≥ 60 %
    assert fs.scale.total == 10 and fs.scale.verdict == "fail"
    pending = final_score(r, hit)
    assert pending.scale.total is None and pending.scale.verdict == "fail"  # known 不合格 before the manual part
    ok = final_score(r, hit, [Decision("interruption", 5.0, 7.0, "reject", "fail")], manual=[ManualEntry("M", 0)])
    assert ok.scale.total == 20 and ok.scale.verdict == "pass"
    assert (
        final_score(
            r, hit, [Decision("interruption", 5.0, 7.0, "reject", "fail")], manual=[ManualEntry("M", 9)]
        ).scale.verdict
        == "fail"
    )  # 11 < 12
