# ruff: noqa: F811  (pytest fixtures imported from fixtures_loop are used as parameters)
"""校准: blind two-reviewer sessions, agreement against hand-computed kappa, score spread, disputed items, and the
permissions of every calibration route."""

from __future__ import annotations

import pytest
from fixtures_loop import MANUAL_IDS, client, login, loop_env, loop_template, user  # noqa: F401
from fixtures_review import CALL_A, RUBRIC

from qa_pipeline.review import calibration as C
from qa_pipeline.review import service as R

# Rater 1 (王审) and rater 2 (李审) on CALL_A's four machine findings:
#             greeting  silence 30 s  silence 60 s  推诿 (fatal)
# rater 1:    confirm   confirm       reject        confirm
# rater 2:    confirm   reject        reject        reject
# p_o = 2/4, p_e = 3/4·1/4 + 1/4·3/4 = 0.375 → Cohen's κ = (0.5 − 0.375) / 0.625 = 0.2
R1 = {"greeting": "confirm", "silence_over_30s": "confirm", "silence_over_60s": "reject", "forbidden_phrase": "confirm"}
R2 = {"greeting": "confirm", "silence_over_30s": "reject", "silence_over_60s": "reject", "forbidden_phrase": "reject"}


def _rows(store):
    data = R.load_call(store, CALL_A, transcript=False)
    return {sf.finding.check: sf.row_id for sf in data.findings if sf.finding.status == "fail"}


def _session(store):
    sup = user(store, "主管")
    return C.create_session(
        store, sup, "十一月校准", [CALL_A], [user(store, "王审").user_id, user(store, "李审").user_id]
    )


def _judge_both(store, sid):
    rows = _rows(store)
    manual = dict.fromkeys(MANUAL_IDS, 0.0)
    C.judge(store, user(store, "王审"), sid, CALL_A, {rows[k]: v for k, v in R1.items()}, manual)
    C.judge(store, user(store, "李审"), sid, CALL_A, {rows[k]: v for k, v in R2.items()}, manual)


def test_two_reviewer_kappa_spread_and_disputed(loop_env):
    _, store = loop_env
    sid = _session(store)
    _judge_both(store, sid)
    with pytest.raises(C.CalibrationError, match="背对背"):
        C.results(store, sid)  # still open: blind
    C.close_session(store, user(store, "主管"), sid)
    res = C.results(store, sid)
    assert res.raters == ("王审", "李审")
    assert res.findings.units == 4
    assert res.findings.agreement == pytest.approx(0.5)
    assert res.findings.kappa == pytest.approx(0.2)
    by_check = {a.key: (a.units, a.agreement, a.disagreements) for a in res.by_check}
    assert by_check["greeting"] == (1, 1.0, 0) and by_check["forbidden_phrase"] == (1, 0.0, 1)
    # totals: rater 1 confirmed the fatal 推诿 → 0; rater 2: 100 − 2 (greeting) = 98 → spread 98
    assert res.calls[0].totals == (0.0, 98.0) and res.calls[0].spread == 98.0
    disputed = {a.key for a in res.most_disputed}
    assert disputed == {"S2.1.4", "S2.4.1"}  # the silence (one rater charged it) and 推诿
    items = {a.key: a for a in res.by_item}
    assert items["S1.1.1"].agreement == 1.0 and items["S2.4.1"].agreement == 0.0
    assert res.items.units == len(items) == len(RUBRIC.items)  # every item judged by both (manual ones entered)
    assert res.items.disagreements == 2 and res.items.agreement == pytest.approx(1 - 2 / len(RUBRIC.items))
    # the official review is untouched: calibration judgements never leak into it
    assert R.load_call(store, CALL_A).review is None


def test_blind_and_closed(loop_env):
    _, store = loop_env
    sid = _session(store)
    rows = _rows(store)
    C.judge(store, user(store, "王审"), sid, CALL_A, {rows["greeting"]: "reject"}, {})
    # the other reviewer sees only their own (empty) judgement
    assert C.own_judgement(store, sid, CALL_A, user(store, "李审")).decisions == ()
    assert len(C.own_judgement(store, sid, CALL_A, user(store, "王审")).decisions) == 1
    with pytest.raises(C.CalibrationError, match="没有被分配"):
        C.judge(store, user(store, "主管"), sid, CALL_A, {}, {})
    with pytest.raises(C.CalibrationError, match="两名"):
        C.create_session(store, user(store, "主管"), "x", [CALL_A], [user(store, "王审").user_id])
    with pytest.raises(C.CalibrationError, match="主管"):
        C.create_session(store, user(store, "王审"), "x", [CALL_A], [1, 2])
    C.close_session(store, user(store, "主管"), sid)
    with pytest.raises(C.CalibrationError, match="已结束"):
        C.judge(store, user(store, "王审"), sid, CALL_A, {}, {})
    res = C.results(store, sid)
    assert res.incomplete == 1 and res.findings.units == 0  # 李审 never judged: no unit judged by both


def test_routes_supervisor_runs_calibration_and_sees_kappa(loop_env):
    app, store = loop_env
    sup, stok = login(app, "主管")
    ids = [user(store, "王审").user_id, user(store, "李审").user_id]
    r = sup.post(
        "/calibration",
        data={"title": "校准一", "calls": CALL_A, "reviewer_id": [str(i) for i in ids], "csrf_token": stok},
    )
    assert r.status_code == 303, r.text
    sid = int(r.headers["location"].rsplit("/", 1)[1])
    rows = _rows(store)
    for name, choice in (("王审", R1), ("李审", R2)):
        c, tok = login(app, name)
        page = c.get(f"/calibration/{sid}/calls/{CALL_A}")
        assert page.status_code == 200 and 'id="judge-form"' in page.text
        form = (
            {f"d__{rows[k]}": v for k, v in choice.items()} | {f"m__{m}": "0" for m in MANUAL_IDS} | {"csrf_token": tok}
        )
        assert c.post(f"/calibration/{sid}/calls/{CALL_A}", data=form).status_code == 303
        # blind: the session page has no agreement while open; the judge page shows only own choices
        assert 'id="agreement"' not in c.get(f"/calibration/{sid}").text
    rv2, _ = login(app, "李审")
    own = rv2.get(f"/calibration/{sid}/calls/{CALL_A}").text
    assert f'name="d__{rows["forbidden_phrase"]}" value="reject" checked' in own  # 李审's own choice
    assert f'name="d__{rows["forbidden_phrase"]}" value="confirm" checked' not in own  # never 王审's
    assert 'id="agreement"' not in sup.get(f"/calibration/{sid}").text
    assert sup.post(f"/calibration/{sid}/close", data={"csrf_token": stok}).status_code == 303
    page = sup.get(f"/calibration/{sid}").text
    assert 'id="agreement"' in page
    assert 'data-key="findings"' in page and "0.200" in page and "50.0%" in page
    assert "Cohen" in page


def test_routes_permissions(loop_env):
    app, store = loop_env
    sid = _session(store)
    # an agent, a trainer: no calibration at all
    for name in ("王芳", "培训"):
        c, tok = login(app, name)
        assert c.get("/calibration").status_code == 404
        assert c.get(f"/calibration/{sid}").status_code == 404
        assert c.post("/calibration", data={"calls": CALL_A, "csrf_token": tok}).status_code == 404
    # a reviewer cannot create or close sessions, and cannot judge a call they are not assigned
    rv, tok = login(app, "王审")
    assert (
        rv.post("/calibration", data={"calls": CALL_A, "reviewer_id": ["1", "2"], "csrf_token": tok}).status_code == 404
    )
    assert rv.post(f"/calibration/{sid}/close", data={"csrf_token": tok}).status_code == 404
    assert rv.get(f"/calibration/{sid}").status_code == 200
    # the supervisor is not a rater here: no judge page for them
    sup, _ = login(app, "主管")
    assert sup.get(f"/calibration/{sid}/calls/{CALL_A}").status_code == 404
    # a reviewer of another session sees nothing of this one
    other = C.create_session(
        store, user(store, "主管"), "二", [CALL_A], [user(store, "李审").user_id, user(store, "admin").user_id]
    )
    assert rv.get(f"/calibration/{other}").status_code == 404
    assert rv.get(f"/calibration/{other}/calls/{CALL_A}").status_code == 404
    assert client(app).get("/calibration").status_code == 303  # anonymous → login
