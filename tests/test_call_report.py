"""`callqa check`'s one-call report: the rubric verdict, severity classes and partially judged items (issue 9),
in Chinese (default) and English, from one message catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa_pipeline.cli import app

runner = CliRunner()


@pytest.fixture
def forbidden_call(real_call: Path) -> Path:
    # the agent opens properly, then says a forbidden phrase (禁语 — 严重 in the 10086 rubric)
    (real_call.parent / "call_0001.transcript.json").write_text(
        json.dumps(
            {
                "utterances": [
                    {"speaker": "agent", "start": 0.5, "end": 6.0, "text": "您好，很高兴为您服务"},
                    {"speaker": "customer", "start": 7.0, "end": 20.0, "text": "我的话费为什么多扣了二十块"},
                    {"speaker": "agent", "start": 21.0, "end": 30.0, "text": "这个我不知道"},
                ]
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return real_call


def _check(call: Path, *lang: str) -> tuple[str, dict]:
    r = runner.invoke(app, [*lang, "check", str(call), "--engine", "transcript"])
    assert r.exit_code == 0, r.output
    js = runner.invoke(app, ["check", str(call), "--engine", "transcript", "--json"])
    return r.output, json.loads(js.output)


def test_report_shows_verdict_severity_and_unjudged_in_chinese(forbidden_call: Path) -> None:
    out, result = _check(forbidden_call)
    score = result["score"]
    assert score["verdict"] == "fail" and score["severity"] in ("severe", "red_line")
    worst = {"severe": "严重", "red_line": "红线"}[score["severity"]]
    assert "规则判定：不合格" in out and f"最严重：{worst}" in out
    assert "等级" in out and "一般" in out  # the severity column, also on items that did not fail
    partial = [i for i in score["items"] if i["unjudged"]]
    assert partial and "部分判定的条目" in out
    for i in partial:  # every sub-clause a person still has to check is named
        assert all(u in out for u in i["unjudged"]), i["id"]
    assert "pass (合格)" not in out and "severe" not in out  # nothing from the English catalog


def test_report_shows_verdict_severity_and_unjudged_in_english(forbidden_call: Path) -> None:
    out, result = _check(forbidden_call, "--lang", "en")
    worst = {"severe": "severe", "red_line": "red line"}[result["score"]["severity"]]
    assert "rubric verdict: fail (不合格)" in out and f"(worst: {worst})" in out
    assert "severity" in out and "minor" in out and "partially judged items" in out
    assert "规则判定" not in out and "部分判定的条目" not in out
