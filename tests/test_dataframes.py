"""Analyst API: DataFrames with date/team/agent filters."""

from __future__ import annotations

import pytest
from fixtures_store import build_fixture_db
from pg_server import BACKENDS, backend_db

from qa_pipeline import dataframes as R


@pytest.fixture(scope="module", params=BACKENDS)
def db(request, tmp_path_factory):
    loc = backend_db(request, tmp_path_factory, "api", request.param)
    return build_fixture_db(tmp_path_factory.mktemp("api"), loc)


def test_load_calls(db):
    df = R.load_calls(db, date_from="2026-11-01", date_to="2026-11-22")
    assert sorted(df.call_id) == ["c1", "c2", "c3", "c4", "c5", "c6", "c7"]
    assert str(df.started_at.dtype).startswith("datetime64")
    assert df.set_index("call_id").loc["c3", "score_pct"] == 60.0
    assert list(R.load_calls(db, team="二组", status="ok").call_id) == ["c8", "c6"]
    assert list(R.load_calls(db, agent="李娜").call_id) == ["c4", "c5"]


def test_load_checks_items_utterances(db):
    ch = R.load_checks(db, status="fail", date_from="2026-11-01", date_to="2026-11-22")
    assert len(ch) == 7 and set(ch.columns) >= {"call_id", "check", "check_label", "agent_name", "call_hour"}
    assert ch[ch.check == "forbidden_phrase"].check_label.tolist() == ["服务禁语"]
    it = R.load_item_scores(db, agent="A001")
    assert len(it) == 12 and set(it.status) == {"pass", "fail", "not_applicable"}
    u = R.load_utterances(db, call_ids=["c3"])
    assert u.text.tolist()[2] == "这个我不知道，你自己去营业厅问吧。"
    assert R.load_utterances(db, call_ids=[]).empty
