"""Untrusted rubric input made safe before the rubric loader sees it (issue 15).

A rubric is a file anyone can hand to `callqa rubric validate` or `--rubric`: it must give a clear error, never a
hang or a traceback. Here: reading (folders, size, encoding — UTF-8, else GBK/GB18030 as Chinese Windows editors
save), bounded YAML (alias bombs, recursive anchors, deep nesting) and each check's parameters against the types
and ranges its registered defaults declare.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .config_errors import at_file, kind, located, show
from .i18n import t

MAX_RUBRIC_BYTES = 2_000_000
MAX_NODES = 200_000
"""YAML nodes after expanding aliases (the 10086 rubric has a few thousand)."""
MAX_DEPTH = 64


class RubricInputError(ValueError):
    """A sentence naming the file (and line) and the problem."""


def read_rubric_text(path: Path) -> str:
    """The text of a rubric file; RubricInputError for a folder, a huge file or undecodable bytes."""
    path = Path(path)
    if path.is_dir():
        raise RubricInputError(at_file(str(path), t("config.input.is_folder")))
    try:
        size = path.stat().st_size
        if size > MAX_RUBRIC_BYTES:
            raise RubricInputError(
                at_file(str(path), t("config.input.too_large_bytes", size=size, limit=MAX_RUBRIC_BYTES))
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise RubricInputError(at_file(str(path), t("config.input.unreadable", reason=exc.strerror or exc))) from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RubricInputError(at_file(str(path), t("config.input.encoding")))


def safe_yaml(text: str, origin: str) -> tuple[Any, yaml.Node | None]:
    """(data, node) of a YAML document, refusing documents whose aliases expand past `MAX_NODES`, that refer
    to themselves, or nest deeper than `MAX_DEPTH` — before anything is expanded."""
    if len(text) > MAX_RUBRIC_BYTES:
        raise RubricInputError(at_file(origin, t("config.input.too_large_chars", chars=len(text))))
    _check_flow_depth(text, origin)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise RubricInputError(at_file(origin, t("config.input.too_deep", limit=MAX_DEPTH))) from None
    if node is not None:
        _check_graph(node, origin)
    try:
        data = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader, graph bounded above
    except RecursionError:
        raise RubricInputError(at_file(origin, t("config.input.too_deep", limit=MAX_DEPTH))) from None
    return data, node


def _check_flow_depth(text: str, origin: str) -> None:
    """`[[[[…` thousands deep makes PyYAML's scanner crawl before its composer overflows: refuse it by counting
    brackets first (generously: brackets inside quoted text count too)."""
    depth = line = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > 2 * MAX_DEPTH:
                raise RubricInputError(located(origin, line + 1, t("config.input.too_deep", limit=MAX_DEPTH)))
        elif ch in "]}":
            depth = max(0, depth - 1)
        elif ch == "\n":
            line += 1


def _check_graph(root: yaml.Node, origin: str) -> None:
    """Expanded size and depth of the node graph, iteratively, with a cycle check (aliases share nodes)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(node))
            if sizes[key] > MAX_NODES:
                raise RubricInputError(
                    located(origin, node.start_mark.line + 1, t("config.input.alias_bomb", limit=MAX_NODES))
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise RubricInputError(located(origin, node.start_mark.line + 1, t("config.input.recursive_alias")))
        if depth > MAX_DEPTH:
            raise RubricInputError(
                located(origin, node.start_mark.line + 1, t("config.input.too_deep", limit=MAX_DEPTH))
            )
        on_path.add(key)
        stack.append((node, depth, True))
        for child in _children(node):
            if id(child) in on_path:
                raise RubricInputError(located(origin, child.start_mark.line + 1, t("config.input.recursive_alias")))
            if id(child) not in sizes:
                stack.append((child, depth + 1, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


# --------------------------------------------------------------------------------------------- check parameters


def _range(name: str) -> tuple[float | None, float | None]:
    """The range a numeric parameter's name declares: dBFS levels ≤ 0, scores and shares in [0, 1], every other
    threshold (seconds, counts, characters per minute, dB) ≥ 0."""
    if name.endswith("_dbfs"):
        return None, 0.0
    if "score" in name or name in ("similarity",) or name.endswith(("_share", "_ratio")):
        return 0.0, 1.0
    return 0.0, None


def param_errors(check: str, params: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(parameter, message) for every value whose type or range differs from what the check's defaults declare."""
    errors: list[tuple[str, str]] = []
    number = t("config.kind.number")
    for key, value in params.items():
        if key not in defaults:
            continue  # unknown names are reported by the loader with the list of known ones
        default = defaults[key]
        expected = kind(default)
        if default is None:  # optional: a number of seconds or nothing (handling_time's average_s…)
            if value is None or not key.endswith("_s"):
                continue
            expected = number
        names = {"check": check, "key": key}
        if isinstance(default, bool) or isinstance(default, (str, list, tuple, Mapping)):
            if kind(value) != expected:
                errors.append(
                    (key, t("config.param.must_be", **names, expected=expected, actual=kind(value), value=show(value)))
                )
            continue
        if expected == number:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors.append(
                    (key, t("config.param.must_be", **names, expected=number, actual=kind(value), value=show(value)))
                )
                continue
            if not math.isfinite(value):
                errors.append((key, t("config.param.not_finite", **names, value=value)))
                continue
            if isinstance(default, int) and not isinstance(default, bool) and value != int(value):
                errors.append((key, t("config.param.not_whole", **names, value=value)))
                continue
            lo, hi = _range(key)
            if lo is not None and value < lo:
                errors.append((key, t("config.param.at_least", **names, limit=f"{lo:g}", value=f"{value:g}")))
            elif hi is not None and value > hi:
                errors.append((key, t("config.param.at_most", **names, limit=f"{hi:g}", value=f"{value:g}")))
    merged = {**defaults, **params}
    for key, value in params.items():  # min_x ≤ max_x when both are numbers
        if key.startswith(("min_", "max_")):
            other = ("max_" if key.startswith("min_") else "min_") + key[4:]
            lo, hi = (value, merged.get(other)) if key.startswith("min_") else (merged.get(other), value)
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi))
            if numeric and lo > hi and not any(k == key for k, _ in errors):  # type: ignore[operator]
                errors.append(
                    (key, t("config.param.min_gt_max", check=check, name=key[4:], lo=f"{lo:g}", hi=f"{hi:g}"))
                )
    return errors
