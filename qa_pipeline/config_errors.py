"""Wording of configuration errors (rubrics, rule files, lexicons) from the message catalog, and `show`, the one
way a value a person wrote (YAML, JSON transcript) is quoted back to them in an error message.

A QA lead who writes a rubric or a rule file reads these errors, so they come from the catalog in the chosen
language like everything else a person reads. jsonschema's own messages are English sentences built around
Python reprs; `schema_message` words the same facts from the error's validator, value and limit instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema

from .i18n import t

_MAX_SHOWN = 40


def show(value: Any) -> str:
    """A value as a person wrote it in YAML: text in quotes, numbers and lists as YAML/JSON would print them."""
    if isinstance(value, str):
        text = f"'{value}'"
    elif isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    elif isinstance(value, float) and value != value:
        text = ".nan"
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except ValueError:  # inf and the like
            text = str(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def show_list(values: Sequence[Any]) -> str:
    return t("common.list_sep").join(str(v) for v in values) if values else t("config.none")


def kind(value: Any) -> str:
    """What kind of YAML value this is, in words (for "must be a number, not text")."""
    if isinstance(value, bool):
        return t("config.kind.bool")
    if isinstance(value, (int, float)):
        return t("config.kind.number")
    if isinstance(value, str):
        return t("config.kind.text")
    if isinstance(value, (list, tuple)):
        return t("config.kind.list")
    if isinstance(value, Mapping):
        return t("config.kind.mapping")
    return t("config.kind.empty") if value is None else t("config.kind.other")


_SCHEMA_TYPES = {
    "object": "config.kind.mapping",
    "array": "config.kind.list",
    "string": "config.kind.text",
    "number": "config.kind.number",
    "integer": "config.kind.integer",
    "boolean": "config.kind.bool",
    "null": "config.kind.empty",
}


def located(origin: str, line: int | str | None, message: str, loc: str | None = None) -> str:
    """`file:line N: key/path: message` in the chosen language (line `?` when unknown)."""
    where = "?" if line is None else line
    if loc is None:
        return t("config.at_line", origin=origin, line=where, message=message)
    return t("config.at_key", origin=origin, line=where, loc=loc or t("config.top"), message=message)


def at_file(origin: str, message: str) -> str:
    return t("config.at_file", origin=origin, message=message)


def yaml_problem(exc: Exception) -> str:
    """PyYAML's own short description of a syntax error (its wording; the line is given by the caller)."""
    return t("config.yaml_invalid", problem=getattr(exc, "problem", None) or type(exc).__name__)


def schema_message(error: jsonschema.ValidationError) -> str:
    """One jsonschema error in the catalog's words."""
    v, limit, value = error.validator, error.validator_value, error.instance
    if v == "required":
        missing = [k for k in limit if not isinstance(value, Mapping) or k not in value]
        return t("config.schema.required", name=missing[0] if missing else "?")
    if v == "type":
        expected = [limit] if isinstance(limit, str) else list(limit)
        words = t("config.or").join(t(_SCHEMA_TYPES.get(x, "config.kind.other")) for x in expected)
        return t("config.schema.type", expected=words, actual=kind(value), value=show(value))
    if v == "enum":
        return t("config.schema.enum", value=show(value), allowed=show_list([show(x) for x in limit]))
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return t(f"config.schema.{v}", value=show(value), limit=show(limit))
    if v == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}) if isinstance(error.schema, Mapping) else [])
        extra = sorted(str(k) for k in value if k not in allowed) if isinstance(value, Mapping) else []
        return t("config.schema.unknown_keys", keys=show_list(extra), allowed=show_list(allowed))
    if v == "minItems":
        return t("config.schema.min_items", limit=limit)
    if v == "pattern":
        return t("config.schema.pattern", value=show(value), pattern=limit)
    return t("config.schema.invalid", value=show(value))
