# ruff: noqa: F811  (pytest fixtures imported from fixtures_loop are used as parameters)
"""Machine accuracy learned from reviews (per check, per rubric item, misses; date and team filters), the
`callqa eval --reviews` command, the page's permissions, and the triage effect of a low-precision check."""

from __future__ import annotations

import json

from fixtures_loop import login, loop_env, loop_template, user  # noqa: F401
from fixtures_review import CALL_A, FINDINGS_B, RUBRIC, make_result
from typer.testing import CliRunner

from qa_pipeline.review import service as R
from qa_pipeline.review.machine_accuracy import low_precision_checks, machine_accuracy
from qa_pipeline.review.triage import TriageConfig
from qa_pipeline.types import Finding

CALL_C = "20261120_A020_000009"  # 李娜: only the greeting fails (not 必检 by any other rule)


def _row(store, call_id, check):
    data = R.load_call(store, call_id, transcript=False)
    return next(sf.row_id for sf in data.findings if sf.finding.check == check)


def _review(store):
    rv = user(store, "王审")
    R.decide(store, rv, CALL_A, _row(store, CALL_A, "forbidden_phrase"), "confirm")
    R.decide(store, rv, CALL_A, _row(store, CALL_A, "greeting"), "reject", "说了您好")
    R.decide(store, rv, CALL_A, _row(store, CALL_A, "silence_over_30s"), "confirm")
    R.add_finding(store, rv, CALL_A, "S2.3.1", start=50.0, deduction=None, comment="抢话")
    R.submit(store, rv, CALL_A)


def test_precision_per_check_and_rule(loop_env):
    _, store = loop_env
    _review(store)
    rep = machine_accuracy(store, RUBRIC)
    checks = {a.key: (a.confirmed, a.rejected, a.missed, a.precision) for a in rep.checks}
    assert rep.reviews == 1
    assert checks == {
        "forbidden_phrase": (1, 0, 0, 1.0),
        "greeting": (0, 1, 0, 0.0),
        "silence_over_30s": (1, 0, 0, 1.0),
    }
    rules = {a.key: (a.confirmed, a.rejected, a.missed) for a in rep.rules}
    # S2.1.4 (silence) binds the 30 s check; S2.4.1 (推诿) the forbidden phrase of category shirking only
    assert rules["S1.1.1"] == (0, 1, 0)
    assert rules["S2.1.4"] == (1, 0, 0)
    assert rules["S2.4.1"] == (1, 0, 0)
    assert rules["S2.3.1"] == (0, 0, 1)  # the added 漏检
    assert sum(v[0] for v in rules.values()) == 2  # the shirking phrase counts for S2.4.1 only
    # filters: the other team, and a date range without the call
    assert machine_accuracy(store, RUBRIC, team="二组").reviews == 0
    assert machine_accuracy(store, RUBRIC, team="一组").reviews == 1
    assert machine_accuracy(store, RUBRIC, date_from="2026-11-21").checks == ()
    assert machine_accuracy(store, RUBRIC, date_from="2026-11-20", date_to="2026-11-20").reviews == 1


def test_draft_reviews_do_not_count(loop_env):
    _, store = loop_env
    R.decide(store, user(store, "王审"), CALL_A, _row(store, CALL_A, "greeting"), "reject")
    assert machine_accuracy(store, RUBRIC).checks == ()


def test_low_precision_check_routes_hits_to_must(loop_env, tmp_path):
    _, store = loop_env
    audio = tmp_path / "call.wav"
    findings_c = [Finding("greeting", "fail", 0.0, 3.0, "agent", "喂", {}), *FINDINGS_B[1:]]
    store.upsert_call(make_result(CALL_C, "A020", "李娜", "二组", "2026-11-20T12:00:00", findings_c, audio))
    cfg = TriageConfig(sample_n=0, min_precision=0.5, min_decisions=1)
    R.ensure_triage(store, "2026-11-20", cfg)
    rows, _, _ = R.queue(store, R.QueueFilter("2026-11-20", "2026-11-20"), cfg)
    bucket = {r["call_id"]: (r["bucket"], r["reasons"]) for r in rows}
    assert bucket[CALL_C] == ("skip", "")
    _review(store)  # the reviewer rejects the greeting hit: its precision is 0 of 1
    assert low_precision_checks(store, 0.5, 1) == {"greeting"}
    assert low_precision_checks(store, 0.5, 2) == frozenset()  # too few decisions to judge
    assert low_precision_checks(store, None, 1) == frozenset()  # off
    rows, _, _ = R.queue(store, R.QueueFilter("2026-11-20", "2026-11-20"), cfg)
    bucket = {r["call_id"]: (r["bucket"], r["reasons"]) for r in rows}
    assert bucket[CALL_C] == ("must", "low_precision")
    assert bucket[CALL_A][0] == "must" and "low_precision" in bucket[CALL_A][1]  # its greeting fails too
    # with the threshold off, triage goes back
    off = TriageConfig(sample_n=0, min_precision=None)
    rows, _, _ = R.queue(store, R.QueueFilter("2026-11-20", "2026-11-20"), off)
    assert {r["call_id"]: r["bucket"] for r in rows}[CALL_C] == "skip"


def test_cli_eval_reviews(loop_env, tmp_path):
    from qa_pipeline.cli import app

    _, store = loop_env
    _review(store)
    db = str(tmp_path / "callqa.db")
    res = CliRunner().invoke(app, ["eval", "--reviews", "--db", db, "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {c["key"]: c["precision"] for c in data["checks"]} == {
        "forbidden_phrase": 1.0,
        "greeting": 0.0,
        "silence_over_30s": 1.0,
    }
    res = CliRunner().invoke(app, ["eval", "--reviews", "--db", db, "--team", "一组"])
    assert res.exit_code == 0 and "| 0 | 1 | 0.0% | 0 |" in res.stdout
    res = CliRunner().invoke(app, ["eval", "--reviews"])
    assert res.exit_code == 2


def test_page_and_permissions(loop_env):
    app, store = loop_env
    _review(store)
    sup, _ = login(app, "主管")
    page = sup.get("/accuracy")
    assert page.status_code == 200 and 'data-key="greeting"' in page.text and "0.0%" in page.text
    assert "0.0%" not in sup.get("/accuracy?team=二组").text
    rv, _ = login(app, "王审")
    assert rv.get("/accuracy").status_code == 200
    for name in ("王芳", "培训"):
        c, _ = login(app, name)
        assert c.get("/accuracy").status_code == 404
