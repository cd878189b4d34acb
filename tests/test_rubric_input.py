"""Hostile or unlucky rubric files: clear errors naming the file and the problem, never a hang or a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qa_pipeline.rubric import RubricError, find_rubric, load_rubric, parse_rubric
from qa_pipeline.rubric_input import param_errors


@pytest.fixture(autouse=True)
def _english_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests match the English wording of configuration errors; tests/test_config_errors.py checks that
    the same errors read in Chinese by default."""
    monkeypatch.setenv("CALLQA_LANG", "en")


BASE = find_rubric("10086")


def _with_check(tmp_path: Path, params: str) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(
        f"extends: {BASE}\nid: mine\ntitle: 我的\nversion: '1'\nchecks:\n{params}\nitems: []\n", encoding="utf-8"
    )
    return p


BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BOMB, "alias bomb"),
        ("a: &x [1, *x]\n", "refers to itself"),
        ("a: &x {b: *x}\n", "refers to itself"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 200)), "nested too deeply"),
    ],
)
def test_hostile_yaml_is_refused_quickly(text: str, message: str) -> None:
    t0 = time.perf_counter()
    with pytest.raises(RubricError, match=message):
        parse_rubric(text, "evil.yaml")
    assert time.perf_counter() - t0 < 5  # not a hang (a generous bound: the real cost is milliseconds)


def test_folder_gbk_and_missing_files(tmp_path: Path) -> None:
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    with pytest.raises(RubricError, match="is a folder"):
        load_rubric(folder)
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes(BASE.read_text(encoding="utf-8").encode("gb18030"))
    assert load_rubric(gbk).id == load_rubric(BASE).id  # a rubric saved as GBK loads
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(b"\xff\xfe\x00\x81\x30" * 10)
    with pytest.raises(RubricError):
        load_rubric(junk)


def test_extends_itself_is_an_error(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text("extends: a.yaml\nid: a\ntitle: A\nversion: '1'\nitems: []\n", encoding="utf-8")
    with pytest.raises(RubricError, match="extends itself"):
        load_rubric(a)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("  silence_over_30s: {min_gap_s: thirty}", "must be a number, not text"),
        ("  response_latency: {max_latency_s: null}", "must be a number, not empty"),
        ("  response_latency: {max_latency_s: -3}", "at least 0"),
        ("  interruption: {min_overlap_s: .inf}", "finite"),
        ("  greeting: {model: 'yes'}", "must be true/false"),
        ("  repeated_question: {min_repeats: 2.5}", "whole number"),
        ("  repeated_question: {similarity: 1.5}", "at most 1"),
        ("  volume: {min_dbfs: 3}", "at most 0"),
        ("  speech_rate: {min_chars_per_minute: 400, max_chars_per_minute: 300}", "greater than"),
        ("  closing: {required_parts: thanks}", "must be a list"),
    ],
)
def test_check_parameters_are_validated_from_the_declared_defaults(tmp_path: Path, params: str, message: str) -> None:
    with pytest.raises(RubricError, match=message) as exc:
        load_rubric(_with_check(tmp_path, params))
    assert "r.yaml:" in str(exc.value)  # names the file and line


def test_valid_parameters_pass() -> None:
    assert param_errors("silence_over_30s", {"min_gap_s": 25}, {"min_gap_s": 30.0}) == []
    assert param_errors("handling_time", {"average_s": None}, {"average_s": None}) == []
    assert param_errors("volume", {"min_dbfs": -45.0}, {"min_dbfs": -40.0, "max_dbfs": -6.0}) == []
