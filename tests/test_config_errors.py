"""Configuration errors (rubrics, rule files, lexicons) read in the chosen language, Chinese by default."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest

from qa_pipeline import i18n
from qa_pipeline.config_errors import kind, located, schema_message, show
from qa_pipeline.rubric import RubricError, load_rubric, parse_rubric
from qa_pipeline.rules.loader import Resolver, RuleError, parse_rules, read_source

# English words that would mean a message escaped the catalog (jsonschema's or Python's own wording)
_ENGLISH = re.compile(r"\b(unknown|must|required|property|is not|line|expected|Error)\b")
_PYTHON_REPR = re.compile(r"\{'|\bNone\b|\bTrue\b|\bFalse\b|ValidationError|Traceback")


def _schema_error(schema: dict, value: object) -> jsonschema.ValidationError:
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(value))
    assert errors, "the value should be invalid for the schema"
    return errors[0]


@pytest.mark.parametrize(
    ("schema", "value", "zh", "en"),
    [
        ({"type": "object", "required": ["points"]}, {}, "缺少必填项 'points'", "'points' is a required property"),
        ({"type": "number"}, "三十", "应为数字，而不是文本（'三十'）", "must be a number, not text ('三十')"),
        ({"type": ["number", "null"]}, [1], "应为数字或空值", "must be a number or empty"),
        ({"enum": ["minor", "severe"]}, "fatal", "'fatal' 不是允许的取值", "'fatal' is not one of the allowed"),
        ({"minimum": 0}, -3, "-3 小于最小值 0", "-3 is less than the minimum of 0"),
        ({"maximum": 1}, 1.5, "1.5 大于最大值 1", "1.5 is greater than the maximum of 1"),
        (
            {"type": "object", "properties": {"a": {}}, "additionalProperties": False},
            {"a": 1, "zz": 2},
            "未知的键 zz；允许的键：a",
            "unknown key(s) zz; allowed: a",
        ),
        ({"type": "array", "minItems": 1}, [], "至少需要 1 项", "needs at least 1 item(s)"),
        ({"not": {"type": "string"}}, "x", "取值 'x' 不符合要求", "the value 'x' is not allowed here"),
    ],
)
def test_schema_errors_are_worded_from_the_catalog(schema: dict, value: object, zh: str, en: str) -> None:
    error = _schema_error(schema, value)
    assert zh in schema_message(error)
    i18n.set_language("en")
    assert en in schema_message(error)


def test_values_are_shown_as_yaml_not_python() -> None:
    assert show(None) == "null" and show(True) == "true" and show("中文") == "'中文'"
    assert show({"a": [1, 2]}) == '{"a": [1, 2]}'
    assert show("x" * 100).endswith("...") and len(show("x" * 100)) == 40
    assert kind(None) == "空值" and kind([1]) == "列表" and kind({}) == "映射"
    assert located("r.yaml", 3, "坏了", "items/0") == "r.yaml:第 3 行：items/0：坏了"
    assert located("r.yaml", None, "坏了") == "r.yaml:第 ? 行：坏了"


HEAD = "id: x\ntitle: t\nversion: '1'\n"
MANUAL_ITEM = "items:\n  - {id: M, title: m, points: 1, manual: true}\n"
RUBRIC_ERRORS = [
    # (rubric text, what the Chinese message must say)
    (HEAD + "items:\n  - id: A\n    title: a\n    checks: [{check: greeting}]\n", "缺少必填项 'points'"),
    (HEAD + "items:\n  - {id: A, title: a, points: 3, checks: [{check: grreting}]}\n", "未知检查项 'grreting'"),
    (HEAD + "items:\n  - id: A\n    title: a\n    points: 3\n", "没有绑定检查"),
    (HEAD + "checks:\n  greeting: {min_scor: 1}\n" + MANUAL_ITEM, "没有参数 'min_scor'"),
    (HEAD + "checks:\n  speech_rate: {min_chars_per_minute: abc}\n" + MANUAL_ITEM, "应为数字，而不是文本"),
    ("a: &x [1, *x]\n", "锚点引用了自身"),
]


@pytest.mark.parametrize(("text", "words"), RUBRIC_ERRORS)
def test_rubric_errors_read_in_chinese_with_file_and_line(text: str, words: str) -> None:
    with pytest.raises(RubricError) as exc:
        parse_rubric(text, "我的标准.yaml")
    message = str(exc.value)
    assert message.startswith("我的标准.yaml:第 ") and words in message
    assert not _ENGLISH.search(message.replace("'min_scor'", "").replace("'grreting'", "")), message
    assert not _PYTHON_REPR.search(message), message


def test_a_yaml_syntax_error_names_the_line_and_quotes_the_parser() -> None:
    with pytest.raises(RubricError) as exc:
        parse_rubric("a: [1, 2\n", "我的标准.yaml")
    assert str(exc.value).startswith("我的标准.yaml:第 2 行：不是有效的 YAML（YAML 解析器的原文说明：")


RULE_ERRORS = [
    ("id: r\nconditions:\n  a:\n    keywrd: {words: [x]}\n", "未知运算符 'keywrd'"),
    ("id: r\nconditions:\n  a: {regex: x}\nexpression: a &&\n", "表达式提前结束"),
    ("id: r\nconditions:\n  a: {regex: x}\nexpression: a && b\n", "未知条件 'b'"),
    ("id: r\nconditions:\n  a:\n    regex: x\n    role: boss\n", "role 只能是"),
    ("id: r\nconditions:\n  a:\n    silence: {min_s: 3, maxs: 4}\n", "未知的silence 参数 'maxs'"),
    ("id: r\nconditions:\n  a:\n    regex: '('\n", "regex 的参数无效"),
    ("id: r\nconditions:\n  a:\n    keyword: {lexicon: nope}\n", "未知词表 'nope'"),
]


@pytest.mark.parametrize(("text", "words"), RULE_ERRORS)
def test_rule_errors_read_in_chinese_with_file_and_line(text: str, words: str) -> None:
    src = read_source(text, "规则.yaml")
    with pytest.raises(RuleError) as exc:
        parse_rules(src, (), src.data, Resolver(None))
    message = str(exc.value)
    assert message.startswith("规则.yaml:第 ") and words in message, message
    assert not _PYTHON_REPR.search(message), message


def test_a_missing_rubric_is_named_in_either_language(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="找不到评分标准文件"):
        load_rubric(tmp_path / "nope.yaml")
    i18n.set_language("en")
    with pytest.raises(RubricError, match="rubric file not found"):
        load_rubric(tmp_path / "nope.yaml")
