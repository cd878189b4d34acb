"""The workstation's part 2 in a real browser (Debian's Chromium through chromium-driver, against `callqa serve`):
the agent files an appeal, the supervisor rules on it, the agent sees the ruling and the new final score; a
supervisor runs a two-reviewer blind calibration and sees the kappa. Set CALLQA_SCREENSHOT_DIR to keep
screenshots (docs/screenshots/loop-*.png were made so)."""

from __future__ import annotations

import pytest
from browser_harness import BROWSER_MARKS, chromium, screenshot, serve_workstation
from browser_harness import login as browser_login
from browser_harness import wait_until as _wait
from fixtures_loop import MANUAL_IDS, review_call_a, user
from fixtures_review import CALL_A, build_db

from qa_pipeline.review import collections as K
from qa_pipeline.review.users import create_user

PW = "password-1"

pytestmark = BROWSER_MARKS


@pytest.fixture
def server(tmp_path):
    store = build_db(tmp_path)
    for name, role, extra in (
        ("主管", "supervisor", {}),
        ("王审", "reviewer", {}),
        ("李审", "reviewer", {}),
        ("培训", "trainer", {}),
        ("王芳", "agent", {"agent_id": "A017"}),
    ):
        create_user(store, name, role, PW, **extra)
    review_call_a(store, user(store, "王审"))  # the official review, submitted: the 推诿 confirmed (fatal → 0)
    tr = user(store, "培训")
    cid = K.create_collection(store, tr, "推诿反例", shared=True)
    K.add_example(
        store,
        tr,
        cid,
        CALL_A,
        start=100.0,
        end=102.5,
        speaker="agent",
        text="这个您去营业厅办吧",
        rule="forbidden_phrase",
        note="典型推诿：应主动办理",
    )
    store.close()
    with serve_workstation(tmp_path / "callqa.db") as base:
        yield base


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path / "profile") as drv:
        yield drv


def _shot(drv, name: str) -> None:
    screenshot(drv, f"loop-{name}")


def _login(drv, base: str, name: str) -> None:
    browser_login(drv, base, name, PW)
    _wait(drv, lambda d: "/login" not in d.current_url)


def test_appeal_ruling_and_calibration_in_a_real_browser(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    drv, base = browser, server
    # the agent opens the reviewed call, goes to its appeals and appeals the 推诿 deduction
    _login(drv, base, "王芳")
    drv.get(f"{base}/calls/{CALL_A}")
    drv.find_element(By.ID, "appeals-link").click()
    _wait(drv, lambda d: d.current_url.endswith("/appeals"))
    target = drv.find_element(By.CSS_SELECTOR, '[data-target="finding:forbidden_phrase@100.00"]')
    target.find_element(By.NAME, "reason").send_keys("客户主动要求去营业厅办理，不是推诿")
    _shot(drv, "appeal-open")
    target.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(drv, lambda d: "/appeals/" in d.current_url)
    appeal_url = drv.current_url
    assert drv.find_element(By.ID, "appeal-state").text == "待裁决"
    assert drv.find_element(By.ID, "appeal-final").text == "0"

    # the supervisor rules 改判 from the appeals list
    _login(drv, base, "主管")
    drv.get(f"{base}/appeals?state=open")
    drv.find_element(By.CSS_SELECTOR, "table.appeals tbody tr td a").click()
    _wait(drv, lambda d: d.find_elements(By.ID, "rule-form"))
    Select(drv.find_element(By.NAME, "outcome")).select_by_value("overturn")
    drv.find_element(By.CSS_SELECTOR, "#rule-form input[name=comment]").send_keys("录音显示客户主动要求，改判")
    _shot(drv, "appeal-rule")
    drv.find_element(By.CSS_SELECTOR, "#rule-form button[type=submit]").click()
    _wait(drv, lambda d: d.find_element(By.ID, "appeal-state").text == "改判")

    # the agent sees the ruling and the new final score (100 − 2 greeting = 98; the silence was rejected)
    _login(drv, base, "王芳")
    drv.get(appeal_url)
    assert drv.find_element(By.ID, "appeal-state").text == "改判"
    assert "录音显示客户主动要求，改判" in drv.find_element(By.ID, "ruling").text
    assert drv.find_element(By.ID, "appeal-final").text == "98"
    _shot(drv, "appeal-ruled")
    drv.get(f"{base}/calls/{CALL_A}")
    assert drv.find_element(By.CSS_SELECTOR, "#final-score .score-total").text.startswith("98")

    # the supervisor creates a two-reviewer calibration on the call
    _login(drv, base, "主管")
    drv.get(f"{base}/calibration")
    form = drv.find_element(By.ID, "calibration-form")
    form.find_element(By.NAME, "title").send_keys("十一月校准")
    form.find_element(By.NAME, "calls").send_keys(CALL_A)
    for box in form.find_elements(By.NAME, "reviewer_id"):
        if box.find_element(By.XPATH, "..").text.split()[0] in ("王审", "李审"):
            box.click()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(drv, lambda d: d.find_elements(By.ID, "progress"))
    session_url = drv.current_url
    # each reviewer judges blind: 王审 confirms everything; 李审 rejects the silence and 推诿 findings
    choices = {
        "王审": {
            "greeting": "confirm",
            "silence_over_30s": "confirm",
            "silence_over_60s": "reject",
            "forbidden_phrase": "confirm",
        },
        "李审": {
            "greeting": "confirm",
            "silence_over_30s": "reject",
            "silence_over_60s": "reject",
            "forbidden_phrase": "reject",
        },
    }
    for name, picks in choices.items():
        _login(drv, base, name)
        drv.get(session_url)
        drv.find_element(By.CSS_SELECTOR, "a.judge-link").click()
        _wait(drv, lambda d: d.find_elements(By.ID, "judge-form"))
        assert not drv.find_elements(By.CSS_SELECTOR, "#judge-form input[type=radio]:checked")  # blind: nothing pre-set
        for f in drv.find_elements(By.CSS_SELECTOR, "#judge-form .finding"):
            check = f.get_attribute("data-check")
            f.find_element(By.CSS_SELECTOR, f"input[value={picks[check]}]").click()
        for item_id in MANUAL_IDS:
            drv.find_element(By.NAME, f"m__{item_id}").send_keys("0")
        if name == "李审":
            _shot(drv, "calibration-judge")
        drv.find_element(By.CSS_SELECTOR, "#judge-form button[type=submit]").click()
        _wait(drv, lambda d: d.find_elements(By.ID, "progress"))
        assert not drv.find_elements(By.ID, "agreement")  # still blind while open
    _login(drv, base, "主管")
    drv.get(session_url)
    drv.find_element(By.CSS_SELECTOR, "#close-form button").click()
    _wait(drv, lambda d: d.find_elements(By.ID, "agreement"))
    # hand-computed: 2 of 4 findings agree, p_e = 0.375 → Cohen's κ = 0.2
    row = drv.find_element(By.CSS_SELECTOR, '#agreement tr[data-key="findings"]')
    assert row.find_element(By.CSS_SELECTOR, ".kappa").text == "0.200"
    assert "50.0%" in row.text
    _shot(drv, "calibration-results")
    # the other pages, for the README's screenshots
    drv.get(f"{base}/dashboard?date_from=2026-11-07&date_to=2026-11-20")
    assert drv.find_element(By.ID, "kpi-calls").text == "3"
    _shot(drv, "dashboard")
    drv.get(f"{base}/accuracy")
    _shot(drv, "accuracy")
    _login(drv, base, "培训")
    drv.get(f"{base}/search?q=营业厅")
    assert drv.find_elements(By.CSS_SELECTOR, "#hits .hit")
    drv.find_element(By.CSS_SELECTOR, "#hits .play").click()
    _wait(drv, lambda d: d.execute_script("return document.getElementById('hit-player').currentTime") >= 99.9)
    _shot(drv, "search")
    drv.get(f"{base}/collections")
    drv.find_element(By.LINK_TEXT, "推诿反例").click()
    _shot(drv, "collection")
