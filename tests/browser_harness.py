"""The real-browser harness shared by the workstation browser tests: `callqa serve` started on 127.0.0.1 for the
test, and Debian's Chromium driven by Selenium through chromium-driver (headless, offline flags)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ROOT = Path(__file__).resolve().parents[1]

BROWSER_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="chromium/chromium-driver not installed (CI: apt-get install chromium chromium-driver)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_workstation(db: Path) -> Iterator[str]:
    """`callqa serve --db DB` in a subprocess on a free loopback port; yields its base URL, stops it after."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CALLQA_LANG": "zh"}
    cmd = [sys.executable, "-c", "from qa_pipeline.cli import app; app()", "serve", "--db", str(db)]
    proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"callqa serve exited: {out}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("callqa serve did not start in 90 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


OFFLINE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Headless Chromium on this offline machine: no sandbox (root), no GPU, nothing fetched in the background."""


@contextmanager
def chromium(profile_dir: Path) -> Iterator[Any]:
    """A headless Chromium at 1366×768 with the flags this offline machine needs (no background networking)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        *OFFLINE_FLAGS,
        "--disable-dev-shm-usage",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1366,768",
        f"--user-data-dir={profile_dir}",
    ):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def screenshot(drv: Any, name: str) -> None:
    """Keep a screenshot when CALLQA_SCREENSHOT_DIR is set (docs/screenshots/ was made so)."""
    out = os.environ.get("CALLQA_SCREENSHOT_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        drv.save_screenshot(str(Path(out) / f"{name}.png"))


def login(drv: Any, base: str, name: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    drv.delete_all_cookies()
    drv.get(f"{base}/login")
    drv.find_element(By.ID, "username").send_keys(name)
    drv.find_element(By.ID, "password").send_keys(password)
    drv.find_element(By.ID, "login-submit").click()


def wait_until(drv: Any, cond: Any, timeout: float = 30.0) -> Any:
    """Wait for `cond(drv)` to be truthy. A form post reloads the page under the condition's feet: an element
    found just before the reload is stale when read, so stale and missing elements mean "not yet"."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(drv, timeout, ignored_exceptions=ignored).until(cond)
