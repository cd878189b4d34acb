"""Reviews through the store: decisions, added findings, manual items, submit, audit log, re-scoring, queue."""

from __future__ import annotations

import sqlalchemy as sa
from fixtures_review import CALL_A, CALL_A2, CALL_B, FINDINGS_A, RUBRIC, build_db, make_result, write_audio

from qa_pipeline.review import service as R
from qa_pipeline.review import tables as T
from qa_pipeline.review.triage import TriageConfig
from qa_pipeline.review.users import authenticate, create_user
from qa_pipeline.types import Finding

MANUAL_IDS = [i.id for i in RUBRIC.items if i.manual]


def _row(data, check, start=None):
    return next(
        f.row_id for f in data.findings if f.finding.check == check and (start is None or f.finding.start == start)
    )


def test_machine_score_of_the_fixture(tmp_path):
    store = build_db(tmp_path)
    fs = R.load_call(store, CALL_A).final()
    # 57 automatic points; greeting −2, silence 30 s −2 + 60 s −2 capped at 3, 推诿 −4 (fatal)
    assert (fs.scale.auto_points, fs.scale.auto_score) == (57, 48)
    assert fs.scale.verdict == "fatal" and fs.scale.total == 0 and fs.scale.manual_points == 43


def test_reject_confirm_add_manual_submit(tmp_path):
    store = build_db(tmp_path)
    rv = create_user(store, "王审", "reviewer", "password1", team="质检")
    data = R.load_call(store, CALL_A)
    R.decide(store, rv, CALL_A, _row(data, "forbidden_phrase"), "reject", "说的是营业厅地址，不是推诿")
    R.decide(store, rv, CALL_A, _row(data, "greeting"), "confirm")
    fs = R.load_call(store, CALL_A).final()
    # 57 − 2 − 3 = 52; the silence item (S2.1.4) is 严重 in the rubric: 不合格 already, total still pending
    assert fs.scale.verdict == "fail" and fs.scale.total is None and fs.scale.auto_score == 52
    # change of mind on the same finding replaces the decision (one decision per finding)
    R.decide(store, rv, CALL_A, _row(data, "greeting"), "reject", "开头语其实说了")
    assert R.load_call(store, CALL_A).final().scale.auto_score == 54
    R.add_finding(store, rv, CALL_A, "C1.1", start=95.0, deduction=None, comment="问了三遍号码")  # −5
    for iid in MANUAL_IDS:
        R.set_manual(store, rv, CALL_A, iid, 3.0 if iid == "C2" else 0.0, "资费说错" if iid == "C2" else "")
    fs = R.submit(store, rv, CALL_A, "复核完成")
    # automatic 57 − 3 (silence) − 5 (漏检) = 49; manual 43 − 3 = 40 → 89, capped at 50 % (严重 silence) → 不合格
    assert (fs.scale.auto_score, fs.scale.manual_score, fs.scale.total, fs.scale.verdict) == (49, 40, 50, "fail")
    assert fs.machine.verdict == "fatal"
    with store.read() as conn:
        review = conn.execute(sa.select(T.reviews).where(T.reviews.c.call_id == CALL_A)).one()
        assert (review.state, review.final_total, review.verdict, review.machine_total) == ("submitted", 50, "fail", 0)
    log = R.audit_for_call(store, CALL_A)
    actions = [e["action"] for e in log]
    assert actions[:4] == ["review_open", "decision", "decision", "decision"]
    assert actions.count("manual_score") == len(MANUAL_IDS) and actions[-1] == "submit"
    third = [e for e in log if e["action"] == "decision"][2]
    assert third["username"] == "王审" and '"confirm"' in third["before_json"] and '"reject"' in third["after_json"]


def test_audit_log_is_append_only_in_the_api(tmp_path):
    store = build_db(tmp_path)
    rv = create_user(store, "王审", "reviewer", "password1")
    R.set_manual(store, rv, CALL_A, "C2", 2.0)
    R.set_manual(store, rv, CALL_A, "C2", 1.0, "改判")
    entries = [e for e in R.audit_for_call(store, CALL_A) if e["action"] == "manual_score"]
    assert len(entries) == 2 and '"deduction": 2.0' in entries[1]["before_json"]


def test_bad_inputs_are_refused(tmp_path):
    store = build_db(tmp_path)
    rv = create_user(store, "王审", "reviewer", "password1")
    data = R.load_call(store, CALL_A)
    import pytest

    with pytest.raises(R.ReviewError):
        R.decide(store, rv, CALL_A, _row(data, "closing"), "reject")  # a pass finding
    with pytest.raises(R.ReviewError):
        R.set_manual(store, rv, CALL_A, "C2", 7.0)  # C2 is worth 6
    with pytest.raises(R.ReviewError):
        R.set_manual(store, rv, CALL_A, "S1.1.1", 1.0)  # automatic item
    with pytest.raises(R.ReviewError):
        R.decide(store, rv, CALL_B, _row(data, "greeting"), "reject")  # finding of another call


def test_rescoring_keeps_decisions_and_flags_conflicts(tmp_path):
    store = build_db(tmp_path)
    rv = create_user(store, "王审", "reviewer", "password1")
    data = R.load_call(store, CALL_A)
    R.decide(store, rv, CALL_A, _row(data, "forbidden_phrase"), "reject")
    R.decide(store, rv, CALL_A, _row(data, "silence_over_60s"), "reject")
    # re-score: the silence moved by 0.4 s, the 60 s finding is gone (the gap is now 59 s), greeting unchanged
    new = [f for f in FINDINGS_A if f.check not in ("silence_over_30s", "silence_over_60s")]
    new.append(Finding("silence_over_30s", "fail", 14.4, 73.4, None, "", {"duration_s": 59.0, "announced": False}))
    audio = write_audio(tmp_path / "call2.wav")
    store.upsert_call(make_result(CALL_A, "A017", "王芳", "一组", "2026-11-20T09:00:00", new, audio))
    again = R.load_call(store, CALL_A)
    assert len(again.decisions) == 2  # nothing human lost
    fs = again.final()
    assert not fs.scale.fatal  # the 误报 on the 推诿 phrase still applies
    assert sorted(a.conflict for a in fs.conflicts) == ["orphan"]  # the 60 s decision has nothing left to attach to
    assert fs.scale.auto_score == 57 - 2 - 2  # greeting −2, silence 30 s −2


def test_login(tmp_path):
    store = build_db(tmp_path)
    create_user(store, "admin", "admin", "s3cret-pass")
    assert authenticate(store, "admin", "s3cret-pass").role == "admin"
    assert authenticate(store, "admin", "wrong-pass") is None
    assert authenticate(store, "nobody", "s3cret-pass") is None
    with store.read() as conn:
        h = conn.execute(sa.select(T.users.c.password_hash)).scalar()
    assert h.startswith("$argon2id$") and "s3cret" not in h


def test_queue_buckets_states_and_assignment(tmp_path):
    store = build_db(tmp_path)
    sup = create_user(store, "主管", "supervisor", "password1")
    rv = create_user(store, "王审", "reviewer", "password1")
    cfg = TriageConfig(sample_n=0)
    f = R.QueueFilter("2026-11-20", "2026-11-20")
    rows, total, counts = R.queue(store, f, cfg)
    assert total == 3 and counts == {"must": 1, "skip": 2}
    assert rows[0]["call_id"] == CALL_A and rows[0]["bucket"] == "must" and "fatal" in rows[0]["reasons"]
    rows, total, _ = R.queue(store, R.QueueFilter("2026-11-20", "2026-11-20", team="二组"), cfg)
    assert [r["call_id"] for r in rows] == [CALL_B]
    assert R.assign(store, sup, [CALL_A, CALL_B], rv.user_id) == 2
    rows, _, _ = R.queue(store, R.QueueFilter("2026-11-20", "2026-11-20", assignee_id=rv.user_id), cfg)
    assert {r["call_id"] for r in rows} == {CALL_A, CALL_B} and rows[0]["assignee"] == "王审"
    R.submit(store, rv, CALL_B)
    rows, _, _ = R.queue(store, R.QueueFilter("2026-11-20", "2026-11-20", state="reviewed"), cfg)
    assert [r["call_id"] for r in rows] == [CALL_B]
    rows, _, _ = R.queue(store, R.QueueFilter("2026-11-20", "2026-11-20", state="pending"), cfg)
    assert {r["call_id"] for r in rows} == {CALL_A, CALL_A2}
    # settings change → recomputed: one sampled call per agent-day among the non-必检 calls
    _, _, counts = R.queue(store, f, TriageConfig(sample_n=1))
    assert counts == {"must": 1, "sample": 2}


def test_scorecard_worst_calls_use_final_score_and_heaviest_deduction(tmp_path):
    from qa_pipeline.report import build_scorecard

    store = build_db(tmp_path)
    worst = build_scorecard(store).worst
    # the two 100-point calls are not "worst"; the fatal call's reason is the 红线 item, not its first finding
    assert worst.call_id.tolist() == [CALL_A]
    w = worst.iloc[0]
    assert w.reason == "禁止推诿客户(推到营业厅等其他途径) −4（红线）" and w.check == "forbidden_phrase"
    assert w.transcript == "这个您去营业厅办吧" and w.final_total is None or str(w.final_total) == "nan"
    rv = create_user(store, "王审", "reviewer", "password1")
    data = R.load_call(store, CALL_A)
    R.decide(store, rv, CALL_A, _row(data, "forbidden_phrase"), "reject")
    for iid in MANUAL_IDS:
        R.set_manual(store, rv, CALL_A, iid, 0.0)
    R.submit(store, rv, CALL_A)
    assert build_scorecard(store).worst.iloc[0].final_total == 50  # 57 − 2 − 3 + 43 = 95, 严重 silence: cap 50


def test_one_scale_in_dataframes_and_calls_csv(tmp_path):
    import pandas as pd
    from fixtures_review import FINDINGS_B, write_audio

    from qa_pipeline import dataframes
    from qa_pipeline.batch import calls_table_row
    from qa_pipeline.review.final import scale_from_score

    store = build_db(tmp_path)
    rv = create_user(store, "王审", "reviewer", "password1")
    for iid in MANUAL_IDS:
        R.set_manual(store, rv, CALL_B, iid, 0.0)
    R.submit(store, rv, CALL_B)
    df = dataframes.load_calls(store).set_index("call_id")
    assert df.loc[CALL_B, "final_total"] == 100 and df.loc[CALL_B, "final_verdict"] == "pass"
    assert pd.isna(df.loc[CALL_A, "review_state"]) and pd.isna(df.loc[CALL_A, "final_total"])
    assert df.loc[CALL_A, "score_pct"] == 0.0  # fatal: the machine total is 0 of 57 judged
    result = make_result(
        "x", "A017", "王芳", "一组", "2026-11-20T09:00:00", FINDINGS_B, write_audio(tmp_path / "b.wav")
    )
    sc = scale_from_score(result["score"])
    assert (sc.max_points, sc.auto_points, sc.total, sc.verdict) == (100, 57, None, "pending")
    row = calls_table_row(result)
    assert (row["score_pct"], row["score_100"], row["pending_points"], row["verdict"]) == (
        100.0,
        "",
        43.0,
        "待人工评分",
    )
