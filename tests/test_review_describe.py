"""Findings as sentences for people: the check's label, when, how long, and why (reason codes from the catalog)."""

from __future__ import annotations

import re
from pathlib import Path

from qa_pipeline import i18n
from qa_pipeline.i18n import catalog
from qa_pipeline.review.describe import describe_finding, reason_text
from qa_pipeline.rubric import load_rubric, score_findings
from qa_pipeline.types import Finding

PACKAGE = Path(__file__).resolve().parents[1] / "qa_pipeline"
# a check or the judge setting a reason: `"reason": "…"`, `detail["reason"] = "…"`, `reason = "…"`, `reason="…"`,
# `out["reason"], … = "…"` — whatever the literal is, it must be a code the catalog words (not a sentence)
_REASON_CODE = re.compile(r"""(?:["']reason["']\]?|\breason)(?:\s*[:=]\s*|\s*,[^=\n]*=\s*)["']([^"'\n]*)["']""")


def _reason_codes() -> set[str]:
    codes: set[str] = set()
    # the modules that make findings (roles.py's `reason` is a diagnostic of the role decision, not shown to people)
    finders = [*PACKAGE.glob("checks/*.py"), *PACKAGE.glob("rules/*.py"), PACKAGE / "detect.py", PACKAGE / "judging.py"]
    for path in finders:
        codes |= set(_REASON_CODE.findall(path.read_text(encoding="utf-8")))
    return codes


def test_every_reason_code_a_check_stores_reads_in_both_languages() -> None:
    codes = _reason_codes()
    assert {"no_wait", "roles_unknown", "nonstandard_transfer", "few_stored_calls", "borderline_paraphrase"} <= codes
    assert all(re.fullmatch(r"[a-z_]+", c) for c in codes), sorted(c for c in codes if not re.fullmatch(r"[a-z_]+", c))
    for lang in ("zh", "en"):
        missing = sorted(c for c in codes if f"finding.why.{c}" not in catalog(lang))
        assert not missing, (lang, missing)


def test_reason_codes_are_worded_with_their_values() -> None:
    detail = {
        "reason": "few_stored_calls",
        "average_by": "queue",
        "average_key": "宽带",
        "average_calls": 3,
        "window_days": 30,
        "min_calls": 20,
    }
    assert reason_text(detail) == "队列 宽带 在此前 30 天内只有 3 通已存通话（至少需要 20 通）"
    assert reason_text({"reason": "no_wait", "min_wait_s": 10.0}) == "没有超过 10 秒的等待"
    i18n.set_language("en")
    assert reason_text({"reason": "no_wait", "min_wait_s": 10.0}) == "no wait over 10 s"
    # results written before the codes existed carry a sentence: shown as it is
    assert reason_text({"reason": "an older sentence"}) == "an older sentence"
    # a code whose values are missing names the code rather than failing the page
    assert reason_text({"reason": "no_wait"}) == "no_wait"


def test_a_finding_reads_as_one_sentence() -> None:
    text = describe_finding("silence_over_30s", 14.0, 84.0, "", {"duration_s": 70.0, "announced": False})
    assert text == "静音 70.0 秒（00:14–01:24），未告知客户"
    text = describe_finding("hold_notice", None, None, "", {"reason": "no_wait", "min_wait_s": 10.0})
    assert "没有超过 10 秒的等待" in text and "no_wait" not in text


def test_item_reasons_in_the_score_are_sentences_with_the_deduction() -> None:
    rubric = load_rubric("10086")
    findings = [Finding("interruption", "fail", 11.7, 14.0, "agent", "您先别着急", {"overlap_s": 2.3})]
    item = next(i for i in score_findings(findings, rubric).items if i.reasons and i.deduction)
    assert item.reasons[0].startswith("抢话 2.3 秒（00:12–00:14）：“您先别着急”") and item.reasons[0].endswith("）")
    assert "interruption" not in item.reasons[0] and "@" not in item.reasons[0]
    i18n.set_language("en")
    item = next(i for i in score_findings(findings, rubric).items if i.reasons and i.deduction)
    assert "(−" in item.reasons[0]
