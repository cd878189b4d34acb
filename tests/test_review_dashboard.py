# ruff: noqa: F811  (pytest fixtures imported from fixtures_loop are used as parameters)
"""评分大盘 numbers against hand-computed values on the fixture, the calls behind each number, permissions."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fixtures_loop import MANUAL_IDS, client, login, loop_env, loop_template, user  # noqa: F401
from fixtures_review import CALL_A, CALL_A2, CALL_B, FINDINGS_B, RUBRIC, make_result

from qa_pipeline.review import appeals as A
from qa_pipeline.review import service as R
from qa_pipeline.review.dashboard import DashFilter, Drill, dashboard, drill_calls
from qa_pipeline.types import Finding

CALL_OLD = "20261112_A020_000001"  # 李娜, the week before: greeting fails → 55 / 57 = 96.49 %
ITEMS = [(i.id, i.title) for i in RUBRIC.items]

# The fixture (machine score % = score_total / score_max of the judged automatic items):
#   CALL_A    一组 A017 11-20   0 / 57 = 0 %, fatal (推诿)
#   CALL_A2   一组 A017 11-20  57 / 57 = 100 %; reviewed: manual items −22 → final 78 < 80 → 不合格; appealed
#   CALL_B    二组 A020 11-20  57 / 57 = 100 %
#   CALL_OLD  二组 A020 11-12  55 / 57 = 96.49 %


def _setup(store, tmp_path):
    findings = [Finding("greeting", "fail", 0.0, 3.0, "agent", "喂", {}), *FINDINGS_B[1:]]
    store.upsert_call(
        make_result(CALL_OLD, "A020", "李娜", "二组", "2026-11-12T09:00:00", findings, tmp_path / "call.wav")
    )
    rv = user(store, "王审")
    ded = {"C2": 6.0, "C3.2": 6.0, "B2.1": 10.0}
    for item_id in MANUAL_IDS:
        R.set_manual(store, rv, CALL_A2, item_id, ded.get(item_id, 0.0))
    fs = R.submit(store, rv, CALL_A2)
    assert (fs.scale.total, fs.scale.verdict) == (78.0, "fail")
    A.open_appeal(store, user(store, "王芳"), CALL_A2, "item:C2", "解释清楚了")


def test_numbers_against_hand_computed(loop_env, tmp_path):
    _, store = loop_env
    _setup(store, tmp_path)
    d = dashboard(store, DashFilter("2026-11-07", "2026-11-20"), ITEMS)
    assert d.total.calls == 4
    assert d.total.avg_score == pytest.approx((0 + 100 + 100 + 100 * 55 / 57) / 4)
    assert d.total.passed == 2 and d.total.pass_rate == 0.5  # B and OLD; A2's final verdict is 不合格
    assert (d.total.fatal, d.total.reviewed, d.total.appeals) == (1, 1, 1)
    teams = dict(d.teams)
    one, two = teams["一组"], teams["二组"]
    assert (one.calls, one.avg_score, one.pass_rate, one.fatal, one.reviewed, one.appeals) == (2, 50.0, 0.0, 1, 1, 1)
    assert (two.calls, two.pass_rate, two.fatal) == (2, 1.0, 0)
    assert two.avg_score == pytest.approx((100 + 100 * 55 / 57) / 2)
    # week on week: 11-14..11-20 (A, A2, B: 1 of 3 passes) against 11-07..11-13 (OLD: passes)
    assert (d.this_week.start, d.this_week.end, d.last_week.start, d.last_week.end) == (
        "2026-11-14",
        "2026-11-20",
        "2026-11-07",
        "2026-11-13",
    )
    assert (d.this_week.tally.calls, d.this_week.tally.passed) == (3, 1)
    assert (d.last_week.tally.calls, d.last_week.tally.passed) == (1, 1)
    # item pass rates: S1.1.1 passes on A2 and B, fails on A and OLD → 50 %; S2.4.1 judged (failed) on A only
    items = {i.item_id: (i.passed, i.failed) for i in d.items}
    assert items["S1.1.1"] == (2, 2) and items["S2.4.1"] == (0, 1)
    assert d.items[0].rate == 0.0  # lowest first
    # agent trend: one column per Monday–Sunday week in range
    assert date.fromisoformat(d.weeks[0].start) == date(2026, 11, 7)
    li = next(x for x in d.agents if x[0] == "A020")
    per_week = {w.start: ts.calls for w, ts in zip(d.weeks, li[3], strict=True)}
    assert (
        sum(per_week.values()) == 2
        and per_week[next(w.start for w in d.weeks if w.start <= "2026-11-12" <= w.end)] == 1
    )
    assert d.appeals == {"open": 1}
    # filters
    assert dashboard(store, DashFilter("2026-11-07", "2026-11-20", team="二组"), ITEMS).total.calls == 2
    assert dashboard(store, DashFilter("2026-11-07", "2026-11-20", agent="A017"), ITEMS).total.calls == 2


def test_drill_lists_the_calls_behind_each_number(loop_env, tmp_path):
    _, store = loop_env
    _setup(store, tmp_path)

    def ids(**kw):
        rows, n = drill_calls(store, Drill("2026-11-07", "2026-11-20", **kw))
        assert n == len(rows)
        return {r["call_id"] for r in rows}

    assert ids() == {CALL_A, CALL_A2, CALL_B, CALL_OLD}
    assert ids(outcome="pass") == {CALL_B, CALL_OLD}
    assert ids(outcome="nopass") == {CALL_A, CALL_A2}
    assert ids(outcome="fatal") == {CALL_A}
    assert ids(reviewed=True) == {CALL_A2} == ids(appealed=True)
    assert ids(item="S1.1.1", item_status="fail") == {CALL_A, CALL_OLD}
    assert ids(team="二组", outcome="pass") == {CALL_B, CALL_OLD}


def test_page_links_and_permissions(loop_env, tmp_path):
    app, store = loop_env
    _setup(store, tmp_path)
    sup, _ = login(app, "主管")
    page = sup.get("/dashboard?date_from=2026-11-07&date_to=2026-11-20").text
    assert re.search(r'id="kpi-pass" href="[^"]*outcome=pass[^"]*">50.0%<', page)
    assert re.search(r'data-team="一组">.*?class="num pass-rate"><a href="([^"]+)">0.0%<', page, re.S)
    link = re.search(r'id="kpi-fatal" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    drill = sup.get(link).text
    assert 'id="drill-count">1<' in drill and CALL_A in drill
    assert "−66.7 pp" in page or "-66.7 pp" in page  # 合格率 33.3 % this week against 100 % last week
    for name in ("王审", "培训", "王芳"):
        c, _ = login(app, name)
        assert c.get("/dashboard").status_code == 404
        assert c.get("/dashboard/calls").status_code == 404
    assert client(app).get("/dashboard").status_code == 303


def test_scorecard_gains_review_appeal_and_calibration_columns(loop_env, tmp_path):
    from qa_pipeline.report import build_scorecard
    from qa_pipeline.report.html import render_html
    from qa_pipeline.report.scorecard import views
    from qa_pipeline.review import calibration as C

    _, store = loop_env
    _setup(store, tmp_path)  # CALL_A2 reviewed (final 78) and appealed
    C.create_session(
        store, user(store, "主管"), "校准", [CALL_B], [user(store, "王审").user_id, user(store, "李审").user_id]
    )
    card = build_scorecard(store, date_from="2026-11-01", date_to="2026-11-30")
    s = card.summary.set_index("agent_id")
    assert (s.loc["A017", "reviewed"], s.loc["A017", "final_mean"], s.loc["A017", "appeals"]) == (1, 78.0, 1)
    assert s.loc["A017", "overturned"] == 0 and s.loc["A017", "calibrated"] == 0
    assert (s.loc["A020", "reviewed"], s.loc["A020", "calibrated"]) == (0, 1)
    assert pd_isna(s.loc["A020", "final_mean"])
    table = views(card)["summary"]
    assert {"已复核通话", "复核后平均分", "申诉数", "改判数", "校准通话"} <= set(table.columns)
    assert "复核后平均分" in render_html(card)


def pd_isna(x) -> bool:
    import pandas as pd

    return bool(pd.isna(x))


def test_folded_numbers_equal_a_call_by_call_count(tmp_path):
    """The vectorised fold against a plain count over the calls themselves, on generated calls spread over teams,
    agents (one of them moving team), days and weeks, for several ranges and filters, cached and uncached."""
    import random

    import sqlalchemy as sa

    from qa_pipeline.review.dashboard import DashboardCache
    from qa_pipeline.store import open_store
    from qa_pipeline.store import schema as S

    rng = random.Random(3)
    store = open_store(tmp_path / "dash.db")
    wav = tmp_path / "call.wav"
    wav.touch()
    checks = ["greeting", "closing", "forbidden_phrase", "interruption", "silence_over_30s"]
    for i in range(90):
        agent = rng.choice(["A1", "A2", "A3", "A4", "A5"])
        team = {"A1": "一组", "A2": "一组", "A3": "二组", "A4": "三组"}.get(agent) or rng.choice(["二组", "三组"])
        findings = [
            Finding(c, rng.choice(["pass", "pass", "fail", "not_applicable"]), 1.0, 2.0, "agent", "", {})
            for c in checks
        ]
        day = date(2026, 11, 1 + rng.randrange(30)).isoformat()
        store.upsert_call(make_result(f"C{i:03d}", agent, agent, team, f"{day}T09:00:00", findings, wav))
    with store.read() as conn:
        calls = conn.execute(
            sa.select(
                S.calls.c.call_id,
                S.calls.c.team,
                S.calls.c.agent_id,
                S.calls.c.call_date,
                S.calls.c.score_total,
                S.calls.c.score_max,
                S.calls.c.fatal,
            )
        ).all()
        item_rows = conn.execute(
            sa.select(S.item_scores.c.call_id, S.item_scores.c.item_id, S.item_scores.c.status)
        ).all()
    cache = DashboardCache()
    for d0, d1, team, agent in [
        ("2026-11-01", "2026-11-30", None, None),
        ("2026-11-05", "2026-11-19", None, None),
        ("2026-11-03", "2026-11-24", "二组", None),
        ("2026-11-01", "2026-11-30", None, "A5"),
        ("2026-11-10", "2026-11-10", "三组", None),
        ("2026-11-01", "2026-11-30", "没有这个组", None),
    ]:
        sel = [c for c in calls if d0 <= c.call_date <= d1 and team in (None, c.team) and agent in (None, c.agent_id)]
        passes = [c for c in sel if not c.fatal and c.score_max > 0 and c.score_total * 100 >= c.score_max * 80 - 1e-9]
        for use_cache in (None, cache):
            d = dashboard(store, DashFilter(d0, d1, team, agent), ITEMS, 80.0, use_cache)
            assert (d.total.calls, d.total.passed, d.total.fatal) == (
                len(sel),
                len(passes),
                sum(bool(c.fatal) for c in sel),
            )
            assert d.total.score_sum == pytest.approx(sum(100 * c.score_total / c.score_max for c in sel))
            assert {name: x.calls for name, x in d.teams} == {
                tm: sum(c.team == tm for c in sel) for tm in {c.team for c in sel}
            }
            for aid, _, _, tallies in d.agents:
                for w, x in zip(d.weeks, tallies, strict=True):
                    assert x.calls == sum(c.agent_id == aid and w.start <= c.call_date <= w.end for c in sel)
            assert {a[0] for a in d.agents} == {c.agent_id for c in sel}
            ids = {c.call_id for c in sel}
            want: dict[str, list[int]] = {}
            for r in item_rows:
                if r.call_id in ids and r.status in ("pass", "fail"):
                    want.setdefault(r.item_id, [0, 0])[r.status == "fail"] += 1
            assert {i.item_id: [i.passed, i.failed] for i in d.items} == want
            lw_from = (date.fromisoformat(d1) - __import__("datetime").timedelta(days=13)).isoformat()
            tw_from = (date.fromisoformat(d1) - __import__("datetime").timedelta(days=6)).isoformat()
            in_scope = [c for c in calls if team in (None, c.team) and agent in (None, c.agent_id)]
            assert d.this_week.tally.calls == sum(tw_from <= c.call_date <= d1 for c in in_scope)
            assert d.last_week.tally.calls == sum(lw_from <= c.call_date < tw_from for c in in_scope)
    store.close()
