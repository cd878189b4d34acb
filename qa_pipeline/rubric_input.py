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
        raise RubricInputError(f"{path}: is a folder, not a rubric file (give the .yaml file)")
    try:
        size = path.stat().st_size
        if size > MAX_RUBRIC_BYTES:
            raise RubricInputError(f"{path}: {size} bytes is too large for a rubric (at most {MAX_RUBRIC_BYTES})")
        raw = path.read_bytes()
    except OSError as exc:
        raise RubricInputError(f"{path}: cannot read the rubric ({exc.strerror or exc})") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RubricInputError(f"{path}: not a text file in UTF-8 or GBK")


def safe_yaml(text: str, origin: str) -> tuple[Any, yaml.Node | None]:
    """(data, node) of a YAML document, refusing documents whose aliases expand past `MAX_NODES`, that refer
    to themselves, or nest deeper than `MAX_DEPTH` — before anything is expanded."""
    if len(text) > MAX_RUBRIC_BYTES:
        raise RubricInputError(f"{origin}: too large for a rubric ({len(text)} characters)")
    _check_flow_depth(text, origin)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise RubricInputError(f"{origin}: nested too deeply (at most {MAX_DEPTH} levels)") from None
    if node is not None:
        _check_graph(node, origin)
    try:
        data = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader, graph bounded above
    except RecursionError:
        raise RubricInputError(f"{origin}: nested too deeply (at most {MAX_DEPTH} levels)") from None
    return data, node


def _check_flow_depth(text: str, origin: str) -> None:
    """`[[[[…` thousands deep makes PyYAML's scanner crawl before its composer overflows: refuse it by counting
    brackets first (generously: brackets inside quoted text count too)."""
    depth = line = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > 2 * MAX_DEPTH:
                raise RubricInputError(f"{origin}:line {line + 1}: nested too deeply (at most {MAX_DEPTH} levels)")
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
                    f"{origin}:{node.start_mark.line + 1}: aliases expand to more than {MAX_NODES} values "
                    "(an alias bomb?)"
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise RubricInputError(f"{origin}:{node.start_mark.line + 1}: an anchor refers to itself (recursive alias)")
        if depth > MAX_DEPTH:
            raise RubricInputError(
                f"{origin}:{node.start_mark.line + 1}: nested too deeply (at most {MAX_DEPTH} levels)"
            )
        on_path.add(key)
        stack.append((node, depth, True))
        for child in _children(node):
            if id(child) in on_path:
                raise RubricInputError(
                    f"{origin}:{child.start_mark.line + 1}: an anchor refers to itself (recursive alias)"
                )
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


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return "empty" if value is None else type(value).__name__


def param_errors(check: str, params: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(parameter, message) for every value whose type or range differs from what the check's defaults declare."""
    errors: list[tuple[str, str]] = []
    for key, value in params.items():
        if key not in defaults:
            continue  # unknown names are reported by the loader with the list of known ones
        default = defaults[key]
        expected = _kind(default)
        if default is None:  # optional: a number of seconds or nothing (handling_time's average_s…)
            if value is None or not key.endswith("_s"):
                continue
            expected = "a number"
        if isinstance(default, bool) or expected in ("text", "a list", "a mapping"):
            if _kind(value) != expected:
                errors.append((key, f"{check}.{key} must be {expected}, not {_kind(value)} ({_show(value)})"))
            continue
        if expected == "a number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors.append((key, f"{check}.{key} must be a number, not {_kind(value)} ({_show(value)})"))
                continue
            if not math.isfinite(value):
                errors.append((key, f"{check}.{key} must be a finite number, not {value}"))
                continue
            if isinstance(default, int) and not isinstance(default, bool) and value != int(value):
                errors.append((key, f"{check}.{key} must be a whole number, not {value}"))
                continue
            lo, hi = _range(key)
            if lo is not None and value < lo:
                errors.append((key, f"{check}.{key} must be at least {lo:g}, not {value:g}"))
            elif hi is not None and value > hi:
                errors.append((key, f"{check}.{key} must be at most {hi:g}, not {value:g}"))
    merged = {**defaults, **params}
    for key, value in params.items():  # min_x ≤ max_x when both are numbers
        if key.startswith(("min_", "max_")):
            other = ("max_" if key.startswith("min_") else "min_") + key[4:]
            lo, hi = (value, merged.get(other)) if key.startswith("min_") else (merged.get(other), value)
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi))
            if numeric and lo > hi and not any(k == key for k, _ in errors):  # type: ignore[operator]
                errors.append((key, f"{check}: min_{key[4:]} ({lo:g}) is greater than max_{key[4:]} ({hi:g})"))
    return errors


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 40 else text[:37] + "..."
