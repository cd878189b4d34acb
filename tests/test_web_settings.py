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


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ("appeal_dayz: 3\n", "未知设置项 appeal_dayz", "unknown setting(s) appeal_dayz"),
        ("- a\n- b\n", "设置文件应为 key: value 映射", "a settings file is a key: value mapping"),
        ("triage: {rate: 1}\n", "triage 可用项：", "triage takes "),
        ("a: [1\n", "无法读取设置文件", "cannot read the settings file"),
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
