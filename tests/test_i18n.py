import pytest

from qa_pipeline import i18n


def test_chinese_is_the_default(monkeypatch):
    monkeypatch.delenv("CALLQA_LANG", raising=False)
    i18n.set_language(None)
    assert i18n.t("status.fail") == "未通过"


def test_english_and_fallbacks(monkeypatch):
    i18n.set_language("en")
    try:
        assert i18n.t("speaker.agent") == "agent"
        assert i18n.t("no.such.key") == "no.such.key"
    finally:
        i18n.set_language(None)
    monkeypatch.setenv("CALLQA_LANG", "en")
    assert i18n.t("status.pass") == "pass"


def test_unknown_language_is_rejected():
    with pytest.raises(ValueError):
        i18n.set_language("fr")


def test_every_key_exists_in_both_languages():
    assert set(i18n.catalog("zh")) == set(i18n.catalog("en"))
