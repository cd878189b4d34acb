# ruff: noqa: F811  (pytest fixtures imported from fixtures_loop are used as parameters)
"""申诉: the window, one appeal per finding, rulings (final) and the final score they change; permissions on the
server for every appeal route (agents: own calls and own appeals only; reviewers cannot rule)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from fixtures_loop import client, login, loop_env, loop_template, review_call_a, user  # noqa: F401
from fixtures_review import CALL_A, CALL_A2, CALL_B

from qa_pipeline.review import appeals as A
from qa_pipeline.review import service as R
from qa_pipeline.review import tables as T

FATAL_KEY = "finding:forbidden_phrase@100.00"


def _reviewed(store):
    review_call_a(store, user(store, "王审"))
    return R.load_call(store, CALL_A, transcript=False)


def test_targets_are_the_counted_deductions(loop_env):
    _, store = loop_env
    assert A.targets(R.load_call(store, CALL_A, transcript=False)) == []  # not reviewed yet: nothing to appeal
    data = _reviewed(store)
    keys = {x.key for x in A.targets(data)}
    # greeting (S1.1.1) and the 推诿 phrase; the silence findings were rejected (误报): nothing to appeal there
    assert keys == {"finding:greeting@0.00", FATAL_KEY}


def test_window_and_one_appeal_per_finding(loop_env):
    _, store = loop_env
    data = _reviewed(store)
    agent = user(store, "王芳")
    submitted = datetime.fromisoformat(data.review["submitted_at"])
    late = submitted + timedelta(days=7, seconds=1)
    with pytest.raises(A.AppealError, match="申诉期"):
        A.open_appeal(store, agent, CALL_A, FATAL_KEY, "不是推诿", window_days=7, now=late)
    ok = submitted + timedelta(days=6, hours=23)
    aid = A.open_appeal(store, agent, CALL_A, FATAL_KEY, "不是推诿", window_days=7, now=ok)
    with pytest.raises(A.AppealError, match="只能申诉一次"):
        A.open_appeal(store, agent, CALL_A, FATAL_KEY, "再申诉", window_days=7, now=ok)
    with pytest.raises(A.AppealError, match="理由"):
        A.open_appeal(store, agent, CALL_A, "finding:greeting@0.00", "  ")
    with pytest.raises(A.AppealError, match="不存在"):
        A.open_appeal(store, agent, CALL_A, "finding:closing@140.00", "结束语")  # a pass: nothing to appeal
    assert A.get_appeal(store, aid)["state"] == "open"


def test_agent_appeals_only_own_reviewed_calls(loop_env):
    _, store = loop_env
    _reviewed(store)
    with pytest.raises(A.AppealError, match="自己的通话"):
        A.open_appeal(store, user(store, "李娜"), CALL_A, FATAL_KEY, "x")
    with pytest.raises(A.AppealError, match="自己的通话"):
        A.open_appeal(store, user(store, "王审"), CALL_A, FATAL_KEY, "x")  # reviewers do not appeal
    with pytest.raises(A.AppealError, match="尚未完成复核"):
        A.open_appeal(store, user(store, "王芳"), CALL_A2, FATAL_KEY, "x")


def test_overturn_changes_the_final_score_and_is_final(loop_env):
    _, store = loop_env
    _reviewed(store)
    assert R.load_call(store, CALL_A).final().scale.total == 0.0  # fatal 推诿 confirmed
    aid = A.open_appeal(store, user(store, "王芳"), CALL_A, FATAL_KEY, "客户要求去营业厅")
    with pytest.raises(A.AppealError, match="主管"):
        A.rule(store, user(store, "王审"), aid, "overturn", "x")
    A.rule(store, user(store, "主管"), aid, "overturn", "客户主动要求，不属推诿")
    # hand-computed: 100 − 2 (greeting, S1.1.1; the silence was rejected) = 98
    fs = R.load_call(store, CALL_A).final()
    assert (fs.scale.total, fs.scale.verdict, fs.scale.fatal) == (98.0, "pass", False)
    with store.read() as conn:
        stored = conn.execute(sa.select(T.reviews.c.final_total, T.reviews.c.verdict)).first()
    assert tuple(stored) == (98.0, "pass")
    with pytest.raises(A.AppealError, match="终裁"):
        A.rule(store, user(store, "主管"), aid, "uphold", "再裁")
    assert A.get_appeal(store, aid)["state"] == "overturned"
    actions = [a["action"] for a in R.audit_for_call(store, CALL_A)]
    assert actions.count("appeal_open") == 1 and actions.count("appeal_rule") == 1
    # the overturned finding now counts no more: it is not a target, and no second appeal is possible
    assert FATAL_KEY not in {x.key for x in A.targets(R.load_call(store, CALL_A, transcript=False))}


def test_uphold_keeps_the_score(loop_env):
    _, store = loop_env
    _reviewed(store)
    aid = A.open_appeal(store, user(store, "王芳"), CALL_A, "finding:greeting@0.00", "说了您好")
    A.rule(store, user(store, "主管"), aid, "uphold", "录音里是“喂，说吧”")
    assert R.load_call(store, CALL_A).final().scale.total == 0.0
    assert A.get_appeal(store, aid)["state"] == "upheld"


def test_overturn_of_a_manual_item_sets_its_new_deduction(loop_env):
    _, store = loop_env
    rv, sup = user(store, "王审"), user(store, "主管")
    data = _reviewed(store)
    R.set_manual(store, rv, CALL_A, "C2", 4.0, "业务解释不清")
    R.submit(store, rv, CALL_A)
    aid = A.open_appeal(store, user(store, "王芳"), CALL_A, "item:C2", "解释清楚了")
    row = next(sf.row_id for sf in data.findings if sf.finding.check == "forbidden_phrase")
    R.decide(store, rv, CALL_A, row, "reject", "")  # take the fatal out so the total shows the manual part
    A.rule(store, sup, aid, "overturn", "部分成立", new_deduction=1.0)
    # 100 − 2 (greeting) − 1 (C2 after the ruling) = 97
    assert R.load_call(store, CALL_A).final().scale.total == 97.0


# ------------------------------------------------------------------------------------------------ routes


def test_routes_agent_appeals_supervisor_rules_agent_sees(loop_env):
    app, store = loop_env
    _reviewed(store)
    agent, tok = login(app, "王芳")
    page = agent.get(f"/calls/{CALL_A}/appeals")
    assert page.status_code == 200 and FATAL_KEY in page.text
    r = agent.post(f"/calls/{CALL_A}/appeals", data={"target": FATAL_KEY, "reason": "客户要求", "csrf_token": tok})
    assert r.status_code == 303
    aid = int(r.headers["location"].rsplit("/", 1)[1])
    again = agent.post(f"/calls/{CALL_A}/appeals", data={"target": FATAL_KEY, "reason": "再来", "csrf_token": tok})
    assert again.status_code == 400
    # no CSRF token: rejected
    assert (
        agent.post(f"/calls/{CALL_A}/appeals", data={"target": "finding:greeting@0.00", "reason": "x"}).status_code
        == 403
    )
    # the agent cannot rule
    assert (
        agent.post(f"/appeals/{aid}/rule", data={"outcome": "overturn", "comment": "x", "csrf_token": tok}).status_code
        == 404
    )
    # a reviewer cannot rule
    rv, rtok = login(app, "王审")
    assert rv.get(f"/appeals/{aid}").status_code == 200
    assert (
        rv.post(f"/appeals/{aid}/rule", data={"outcome": "overturn", "comment": "x", "csrf_token": rtok}).status_code
        == 404
    )
    assert 'id="rule-form"' not in rv.get(f"/appeals/{aid}").text
    sup, stok = login(app, "主管")
    assert 'id="rule-form"' in sup.get(f"/appeals/{aid}").text
    assert f"/appeals/{aid}" in sup.get("/appeals?state=open").text
    r = sup.post(f"/appeals/{aid}/rule", data={"outcome": "overturn", "comment": "不属推诿", "csrf_token": stok})
    assert r.status_code == 303
    again = sup.post(f"/appeals/{aid}/rule", data={"outcome": "uphold", "comment": "x", "csrf_token": stok})
    assert again.status_code == 400
    seen = agent.get(f"/appeals/{aid}").text
    assert "改判" in seen and "不属推诿" in seen and 'id="appeal-final">98<' in seen
    assert f"/appeals/{aid}" in agent.get("/appeals").text


def test_routes_other_agent_sees_nothing(loop_env):
    app, store = loop_env
    _reviewed(store)
    aid = A.open_appeal(store, user(store, "王芳"), CALL_A, FATAL_KEY, "客户要求")
    other, tok = login(app, "李娜")
    assert other.get(f"/appeals/{aid}").status_code == 404
    assert other.get(f"/calls/{CALL_A}/appeals").status_code == 404
    assert f"/appeals/{aid}" not in other.get("/appeals").text
    r = other.post(
        f"/calls/{CALL_A}/appeals", data={"target": "finding:greeting@0.00", "reason": "x", "csrf_token": tok}
    )
    assert r.status_code == 404
    # trainers do not see appeals at all
    tr, _ = login(app, "培训")
    assert tr.get("/appeals").status_code == 404 and tr.get(f"/appeals/{aid}").status_code == 404
    # anonymous → login
    assert client(app).get("/appeals").status_code == 303
    # a reviewer cannot open an appeal
    rv, rtok = login(app, "王审")
    r = rv.post(f"/calls/{CALL_A}/appeals", data={"target": "finding:greeting@0.00", "reason": "x", "csrf_token": rtok})
    assert r.status_code == 404
    assert CALL_B  # B is another agent's call: its appeal page is hidden from 王芳 too
    me, _ = login(app, "王芳")
    assert me.get(f"/calls/{CALL_B}/appeals").status_code == 404


def test_window_in_the_page(loop_env):
    app, store = loop_env
    _reviewed(store)
    old = (datetime.now(timezone.utc) - timedelta(days=30)).isoformat(timespec="seconds")
    with store.engine.begin() as conn:
        conn.execute(T.reviews.update().values(submitted_at=old))
    agent, tok = login(app, "王芳")
    assert "appeal-form" not in agent.get(f"/calls/{CALL_A}/appeals").text
    r = agent.post(f"/calls/{CALL_A}/appeals", data={"target": FATAL_KEY, "reason": "x", "csrf_token": tok})
    assert r.status_code == 400 and "申诉期" in r.text
