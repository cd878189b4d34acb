"""The check catalogue is the one source of check names, kinds and labels; everything else derives from it."""

from __future__ import annotations

import pytest

from qa_pipeline import i18n
from qa_pipeline.checks import CATALOG, all_checks, check_info, check_label, check_names
from qa_pipeline.checks.registry import register


def test_every_catalogued_check_is_implemented_and_nothing_else() -> None:
    assert list(all_checks()) == list(check_names())
    assert len(set(check_names())) == len(CATALOG)


def test_every_check_has_a_label_in_every_language() -> None:
    for lang in i18n.LANGUAGES:
        for name in check_names():
            assert f"check.{name}" in i18n.catalog(lang), (lang, name)
    assert {k for k in i18n.catalog("zh") if k.startswith("check.")} == {f"check.{n}" for n in check_names()}
    assert check_label("forbidden_phrase", "zh") == "服务禁语"
    assert check_label("no_such_check") == "no_such_check"


def test_kinds_and_scopes() -> None:
    assert check_info("greeting").kind == "phrase" and check_info("greeting").scope == "call"
    assert check_info("interruption").kind == "timeline" and check_info("interruption").match == "time"
    assert check_info("forbidden_phrase").match == "span"
    assert set(check_names(kind="phrase")) | set(check_names(kind="timeline")) == set(check_names())
    with pytest.raises(KeyError):
        check_info("bogus")


def test_derived_lists_follow_the_catalogue() -> None:
    from qa_pipeline.batch import CHECK_COLUMNS
    from qa_pipeline.evaluate import OCCURRENCE_CHECKS, PHRASE_CHECKS
    from qa_pipeline.synth.truth import CHECKS

    assert CHECK_COLUMNS == check_names()
    assert CHECKS == [n for n in check_names() if n != "handling_time"]
    assert set(OCCURRENCE_CHECKS) == set(check_names(scope="occurrence"))
    assert PHRASE_CHECKS == check_names(kind="phrase")


def test_an_uncatalogued_check_cannot_register() -> None:
    with pytest.raises(ValueError, match="not in the catalogue"):
        register("made_up_check")(lambda ctx: [])
