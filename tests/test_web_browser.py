"""The workstation in a real browser: Debian's Chromium driven by Selenium through chromium-driver, against
`callqa serve` started on 127.0.0.1 for the test.

Reviewer logs in, opens a call from the queue, clicks a finding (the audio element seeks to it), rejects a finding
(the final score changes), enters the manual items and submits; the call's agent sees the new score; another agent
gets no access. Set CALLQA_SCREENSHOT_DIR to keep screenshots of the main pages (docs/screenshots/ was made so).
"""

from __future__ import annotations

import pytest
from browser_harness import BROWSER_MARKS, chromium, screenshot, serve_workstation
from browser_harness import login as browser_login
from browser_harness import wait_until as _wait
from fixtures_review import CALL_A, build_db

from qa_pipeline.review.users import create_user

PW = "password-1"

pytestmark = BROWSER_MARKS


@pytest.fixture
def server(tmp_path):
    store = build_db(tmp_path)
    create_user(store, "王审", "reviewer", PW, team="质检")
    create_user(store, "王芳", "agent", PW, agent_id="A017")
    create_user(store, "李娜", "agent", PW, agent_id="A020")
    store.close()
    with serve_workstation(tmp_path / "callqa.db") as base:
        yield base


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path / "profile") as drv:
        yield drv


def _shot(drv, name: str) -> None:
    screenshot(drv, name)


def _login(drv, base: str, user: str) -> None:
    browser_login(drv, base, user, PW)


def _final(drv) -> str:
    from selenium.webdriver.common.by import By

    return drv.find_element(By.CSS_SELECTOR, "#final-score .score-total").text.strip()


def test_review_in_a_real_browser(server, browser):
    from selenium.webdriver.common.by import By

    drv, base = browser, server
    _login(drv, base, "王审")
    _wait(drv, lambda d: d.current_url.endswith("/queue"))
    assert "必检" in drv.page_source
    _shot(drv, "queue")
    drv.find_element(By.LINK_TEXT, CALL_A).click()
    _wait(drv, lambda d: f"/calls/{CALL_A}" in d.current_url)
    # the audio element has real media (served with HTTP Range)
    _wait(drv, lambda d: d.execute_script("return document.getElementById('player').readyState") >= 1)
    assert abs(drv.execute_script("return document.getElementById('player').duration") - 150.0) < 0.5
    assert _final(drv) == "0 / 100"
    _shot(drv, "call")

    # click the silence finding: the player seeks to 00:14
    silence = next(el for el in drv.find_elements(By.CSS_SELECTOR, ".finding") if "静音 69.9 秒" in el.text)
    silence.find_element(By.CSS_SELECTOR, ".finding-seek").click()
    _wait(drv, lambda d: 13.9 <= d.execute_script("return document.getElementById('player').currentTime") <= 20)
    # clicking a transcript line seeks too, and that line becomes the current one
    line = next(el for el in drv.find_elements(By.CSS_SELECTOR, "#transcript .line") if "流量用了八成" in el.text)
    line.click()
    _wait(drv, lambda d: d.execute_script("return document.getElementById('player').currentTime") >= 84.0)
    _wait(drv, lambda d: "current" in line.get_attribute("class"))

    # reject the 推诿 finding (误报): the red line no longer zeroes the call
    shirk = next(el for el in drv.find_elements(By.CSS_SELECTOR, ".finding") if "营业厅" in el.text)
    shirk.find_element(By.NAME, "comment").send_keys("告知营业厅地址，不是推诿")
    shirk.find_element(By.CSS_SELECTOR, "button.reject").click()
    _wait(drv, lambda d: _final(d) != "0 / 100")
    assert _final(drv) == "待人工评分"
    assert "52 / 57" in drv.find_element(By.ID, "final-score").text  # 57 − 2 (greeting) − 3 (silence)

    # manual items all passed, then submit: 52 + 43 = 95, capped at 50 by the 严重 (unannounced) silence
    for el in drv.find_elements(By.CSS_SELECTOR, "#manual input[name^='deduction__']"):
        el.send_keys("0")
    drv.find_element(By.CSS_SELECTOR, "#manual button[type=submit]").click()
    _wait(drv, lambda d: _final(d) == "50 / 100")
    drv.find_element(By.ID, "submit-review").click()
    _wait(drv, lambda d: "复核已提交" in d.page_source)
    assert "不合格" in drv.find_element(By.ID, "final-score").text
    _shot(drv, "call_reviewed")

    # the call's agent sees the new score
    _login(drv, base, "王芳")
    _wait(drv, lambda d: d.current_url.endswith("/my"))
    row = next(tr for tr in drv.find_elements(By.CSS_SELECTOR, "table.queue tbody tr") if CALL_A in tr.text)
    assert "50" in row.find_element(By.CSS_SELECTOR, ".final-cell").text
    _shot(drv, "agent")
    drv.get(f"{base}/calls/{CALL_A}")
    assert _final(drv) == "50 / 100" and "/decide" not in drv.page_source

    # another agent: no access to the call or its audio
    _login(drv, base, "李娜")
    _wait(drv, lambda d: d.current_url.endswith("/my"))
    assert CALL_A not in drv.page_source
    drv.get(f"{base}/calls/{CALL_A}")
    assert "没有找到该页面或通话" in drv.page_source and "营业厅" not in drv.page_source
    status = drv.execute_script(
        "return fetch(arguments[0], {headers: {Range: 'bytes=0-99'}}).then(r => r.status)",
        f"{base}/calls/{CALL_A}/audio",
    )
    assert status == 404
