from pathlib import Path

import pytest
import yaml

from qa_pipeline.checks.registry import all_checks
from qa_pipeline.rubric import RubricError, load_rubric, parse_rubric, score_findings
from qa_pipeline.types import Finding


@pytest.fixture(autouse=True)
def _english_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests match the English wording of configuration errors; tests/test_config_errors.py checks that
    the same errors read in Chinese by default."""
    monkeypatch.setenv("CALLQA_LANG", "en")


REQUIRED_CHECKS = {
    "greeting",
    "closing",
    "polite_terms",
    "honorific",
    "forbidden_phrase",
    "colloquialism",
    "interruption",
    "silence_over_30s",
    "silence_over_60s",
    "hold_notice",
    "hold_apology",
    "response_latency",
    "no_response_to_long_speech",
    "speech_rate",
    "volume",
    "transfer_phrase",
    "transfer_pause",
    "confirm_understanding",
    "repeated_question",
    "wait_fluency",
}


def test_10086_rubric_encodes_the_standard() -> None:
    r = load_rubric("10086")
    assert r.max_points == 100
    assert REQUIRED_CHECKS <= set(r.check_names)
    items = {i.id: i for i in r.items}
    # deductions the seed states
    assert items["C1.1"].bindings[0].deduct == 5  # 重复客户同一问题2次以上…扣5分
    tiers = r.check_params["wait_fluency"]["tiers"]
    assert sorted(t["deduction"] for t in tiers) == [2, 5, 8]
    assert {"count": 2, "over_s": 30} in tiers[0]["any_of"]
    assert [t["deduction"] for t in r.check_params["handling_time"]["tiers"]] == [5, 8, 10]
    assert r.check_params["response_latency"]["max_latency_s"] == 3.0
    assert r.check_params["transfer_pause"]["min_pause_s"] == 2.0
    assert r.check_params["no_response_to_long_speech"]["max_customer_speech_s"] == 30.0
    # not judged from audio → manual, reported needs_review
    for manual in ("S1.2.1", "C2", "E1", "B1"):
        assert items[manual].manual
    assert items["S2.1.1"].fatal and items["S2.4.1"].fatal


def test_every_registered_check_has_a_rubric_binding() -> None:
    r = load_rubric("10086")
    bound = {b.check for i in r.items for b in i.bindings}
    assert set(all_checks()) <= bound


def _rubric_text(**changes: object) -> str:
    data = yaml.safe_load(Path(load_rubric("10086").path).read_text(encoding="utf-8"))
    data.update(changes)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def test_unknown_check_error_names_line_and_check() -> None:
    text = """id: x
title: t
version: "1"
items:
  - id: A
    title: a
    points: 5
    checks:
      - {check: greeting}
      - {check: grreting}
"""
    with pytest.raises(RubricError) as exc:
        parse_rubric(text, "my.yaml")
    msg = str(exc.value)
    assert "my.yaml:line 10" in msg and "unknown check 'grreting'" in msg


def test_unknown_parameter_and_schema_errors() -> None:
    bad_param = (
        "id: x\ntitle: t\nversion: '1'\nchecks:\n  interruption:\n    min_overlap: 1\n"
        "items:\n  - {id: A, title: a, points: 1, manual: true}\n"
    )
    with pytest.raises(RubricError, match=r"line 6.*unknown parameter.*min_overlap"):
        parse_rubric(bad_param, "r.yaml")
    with pytest.raises(RubricError, match=r"line 5.*'points' is a required property"):
        parse_rubric("id: x\ntitle: t\nversion: '1'\nitems:\n  - {id: A, title: a, manual: true}\n", "r.yaml")
    with pytest.raises(RubricError, match="not valid YAML"):
        parse_rubric("id: [x\n", "r.yaml")
    with pytest.raises(RubricError, match="duplicate item id"):
        parse_rubric(
            "id: x\ntitle: t\nversion: '1'\nitems:\n  - {id: A, title: a, points: 1, manual: true}\n"
            "  - {id: A, title: b, points: 1, manual: true}\n"
        )
    with pytest.raises(RubricError, match="no checks"):
        parse_rubric("id: x\ntitle: t\nversion: '1'\nitems:\n  - {id: A, title: a, points: 1}\n")
    with pytest.raises(RubricError, match="not found"):
        load_rubric("no-such-rubric")


def test_new_rubric_is_one_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mini.yaml").write_text(
        "id: mini\ntitle: 迷你\nversion: '3'\nchecks:\n  response_latency: {max_latency_s: 5}\n"
        "items:\n  - {id: R, title: 响应, points: 10, checks: [{check: response_latency, deduct: 4}]}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CALLQA_RUBRICS", str(tmp_path))
    r = load_rubric("mini")
    assert r.check_names == ["response_latency"] and r.check_params["response_latency"]["max_latency_s"] == 5


R = parse_rubric("""
id: t
title: t
version: "1"
fatal_policy: zero_total
items:
  - {id: A, title: a, points: 4, checks: [{check: interruption, deduct: 1.5}]}
  - {id: B, title: b, points: 5, fatal: true,
     checks: [{check: forbidden_phrase, where: {category: rhetorical}, deduct: 5}]}
  - {id: C, title: c, points: 8, checks: [{check: wait_fluency, deduct_from: deduction}]}
  - {id: D, title: d, points: 3, checks: [{check: transfer_pause}]}
  - {id: M, title: m, points: 10, manual: true, reason: needs a human}
""")


def test_scoring_deductions_caps_and_manual_items() -> None:
    findings = [
        Finding("interruption", "fail", 1, 2),
        Finding("interruption", "fail", 5, 6),
        Finding("interruption", "fail", 8, 9),
        Finding("forbidden_phrase", "fail", 3, 4, detail={"category": "dont_know"}),
        Finding("wait_fluency", "fail", detail={"deduction": 5}),
        Finding("transfer_pause", "not_applicable"),
    ]
    s = score_findings(findings, R)
    items = {i.id: i for i in s.items}
    assert items["A"].deduction == 4 and len(items["A"].reasons) == 3  # 3 × 1.5 capped at 4
    assert items["B"].status == "pass" and items["B"].deduction == 0  # a violation of another category
    assert items["C"].deduction == 5
    assert items["D"].status == "not_applicable" and items["D"].deduction == 0
    assert items["M"].status == "needs_review"
    assert (s.max, s.total, s.fatal, s.needs_review) == (20, 11, False, False)


def test_filtered_item_passes_when_its_check_passed() -> None:
    s = score_findings([Finding("forbidden_phrase", "pass"), Finding("interruption", "pass")], R)
    assert {i.id: i.status for i in s.items}["B"] == "pass"
    s = score_findings([Finding("interruption", "pass")], R)  # the check did not run at all
    assert {i.id: i.status for i in s.items}["B"] == "not_applicable"


def test_fatal_item_zeroes_the_total_and_needs_review_is_flagged() -> None:
    s = score_findings(
        [Finding("forbidden_phrase", "fail", detail={"category": "rhetorical"}), Finding("interruption", "pass")], R
    )
    assert s.fatal and s.total == 0
    s = score_findings([Finding("interruption", "needs_review")], R)
    assert s.needs_review and s.max == 16  # the item that needs review is not counted as passed
