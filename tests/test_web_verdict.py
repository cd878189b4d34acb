"""The workstation's call page shows the rubric verdict (合格/不合格), the severity classes and the sub-clauses a
person still has to check (issue 9), in Chinese and in English."""

from __future__ import annotations

import html

import pytest
from fixtures_review import CALL_A, CALL_B, RUBRIC, build_db, login

from qa_pipeline import i18n
from qa_pipeline.review.users import create_user
from qa_pipeline.web import create_app
from qa_pipeline.web.settings import WebSettings


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    d = tmp_path_factory.mktemp("verdictdb")
    store = build_db(d)
    create_user(store, "主管", "supervisor", "password-1")
    yield create_app(WebSettings(db=str(d / "callqa.db"), secret_key="test-secret"), store)
    store.close()


def _page(app, call_id: str) -> str:
    c, _ = login(app, "主管")
    r = c.get(f"/calls/{call_id}")
    assert r.status_code == 200
    return html.unescape(r.text)


def test_call_page_shows_verdict_severity_and_unjudged_in_chinese(app) -> None:
    a = _page(app, CALL_A)  # 推诿 (S2.4.1, 红线) among its faults
    assert "规则判定：不合格（最严重：红线）" in a and 'data-verdict="fail"' in a
    partial = [i for i in RUBRIC.items if i.unjudged and not i.manual]
    assert partial
    for item in partial:
        assert "部分判定（以下内容需人工检查：" + "、".join(item.unjudged) + "）" in a, item.id
    severe = [i for i in RUBRIC.items if i.severity == "severe" and not i.fatal and not i.manual]
    assert severe and '<span class="severity severity-severe">严重</span>' in a
    b = _page(app, CALL_B)  # nothing failed
    assert "规则判定：合格（最严重：无扣分项）" in b


def test_call_page_shows_verdict_severity_and_unjudged_in_english(app) -> None:
    i18n.set_language("en")
    a = _page(app, CALL_A)
    assert "rubric verdict: fail (不合格) (worst: red line)" in a
    assert "partially judged (a person still checks:" in a and ">severe</span>" in a
    assert "规则判定" not in a and "部分判定（" not in a
