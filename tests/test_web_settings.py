"""Workstation settings: a bad settings file is a clear error naming the file, in the chosen language."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_pipeline import i18n
from qa_pipeline.web.settings import SettingsError, load_settings


def test_a_settings_file_overrides_the_defaults(tmp_path: Path) -> None:
    f = tmp_path / "web.yaml"
    f.write_text("appeal_days: 3\ntriage: {sample_n: 5}\n", encoding="utf-8")
    s = load_settings(str(tmp_path / "qa.db"), f)
    assert s.appeal_days == 3 and s.triage.sample_n == 5
    # optional settings may be null; a float setting takes a whole number
    f.write_text("audio_root: null\npass_mark: 85\ntriage: {min_precision: null}\n", encoding="utf-8")
    s = load_settings(str(tmp_path / "qa.db"), f)
    assert s.audio_root is None and s.pass_mark == 85 and s.triage.min_precision is None


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ("appeal_dayz: 3\n", "未知设置项 appeal_dayz", "unknown setting(s) appeal_dayz"),
        ("- a\n- b\n", "设置文件应为 key: value 映射", "a settings file is a key: value mapping"),
        ("triage: {rate: 1}\n", "triage 可用项：", "triage takes "),
        ("a: [1\n", "无法读取设置文件", "cannot read the settings file"),
        # values of the wrong kind are said before the server starts (port: abc was uvicorn's "Errno -8")
        ("port: abc\n", "设置项 port 的值 'abc' 无效，应为1–65535", "setting port = 'abc' is not valid"),
        ("port: 70000\n", "应为1–65535 之间的端口号", "a port number from 1 to 65535"),
        ("page_size: 0\n", "设置项 page_size 的值 0 无效，应为正数", "expected a positive number"),
        ("secure_cookies: 'yes'\n", "应为true 或 false", "expected true or false"),
        ("session_hours: true\n", "设置项 session_hours 的值 true 无效", "setting session_hours = true"),
        ("triage: {sample_pct: lots}\n", "设置项 triage.sample_pct 的值 'lots' 无效，应为数字", "expected a number"),
    ],
)
def test_bad_settings_files_are_named_errors(tmp_path: Path, text: str, zh: str, en: str) -> None:
    f = tmp_path / "web.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as exc:
        load_settings(str(tmp_path / "qa.db"), f)
    assert str(exc.value).startswith(str(f)) and zh in str(exc.value)
    i18n.set_language("en")
    with pytest.raises(SettingsError, match=en.replace("(", r"\(").replace(")", r"\)")):
        load_settings(str(tmp_path / "qa.db"), f)
