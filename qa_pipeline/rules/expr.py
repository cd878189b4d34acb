"""Boolean expressions over condition ids: `a && !b`, `(a || b) && c` (also `and`/`or`/`not`).

A small recursive-descent parser (no eval): precedence ! > && > ||, parentheses group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..config_errors import show
from ..i18n import t as msg  # `t` is the parser's token variable below

_TOKEN = re.compile(r"\s*(?:(&&|\|\||!|\(|\))|([^\s&|!()]+))")


class ExprError(ValueError):
    """An expression that cannot be parsed; `column` is 1-based."""

    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Not:
    arg: Expr


@dataclass(frozen=True)
class And:
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    args: tuple[Expr, ...]


Expr = Name | Not | And | Or

_WORD_OPS = {"and": "&&", "or": "||", "not": "!", "AND": "&&", "OR": "||", "NOT": "!"}


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, value, column) with kind 'op' or 'name'."""
    out: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ExprError(msg("config.expr.unexpected_char", char=show(text[pos])), pos + 1)
        col = m.start(1 if m.group(1) else 2) + 1
        if m.group(1):
            out.append(("op", m.group(1), col))
        else:
            word = m.group(2)
            if word in _WORD_OPS:
                out.append(("op", _WORD_OPS[word], col))
            elif re.fullmatch(r"[\w.-]+", word):
                out.append(("name", word, col))
            else:
                raise ExprError(msg("config.expr.unexpected_word", word=show(word)), col)
        pos = m.end()
    return out


def parse(text: str) -> Expr:
    toks = _tokens(str(text))
    if not toks:
        raise ExprError(msg("config.expr.empty"), 1)
    i = 0

    def peek() -> tuple[str, str, int] | None:
        return toks[i] if i < len(toks) else None

    def take() -> tuple[str, str, int]:
        nonlocal i
        i += 1
        return toks[i - 1]

    def p_or() -> Expr:
        args = [p_and()]
        while (t := peek()) and t[1] == "||":
            take()
            args.append(p_and())
        return args[0] if len(args) == 1 else Or(tuple(args))

    def p_and() -> Expr:
        args = [p_not()]
        while (t := peek()) and t[1] == "&&":
            take()
            args.append(p_not())
        return args[0] if len(args) == 1 else And(tuple(args))

    def p_not() -> Expr:
        t = peek()
        if t and t[1] == "!":
            take()
            return Not(p_not())
        return p_atom()

    def p_atom() -> Expr:
        t = peek()
        if t is None:
            raise ExprError(msg("config.expr.ends_early"), len(text) + 1)
        take()
        if t[0] == "name":
            return Name(t[1])
        if t[1] == "(":
            e = p_or()
            close = peek()
            if close is None or close[1] != ")":
                raise ExprError(msg("config.expr.missing_paren"), close[2] if close else len(text) + 1)
            take()
            return e
        raise ExprError(msg("config.expr.unexpected", token=show(t[1])), t[2])

    expr = p_or()
    if (t := peek()) is not None:
        raise ExprError(msg("config.expr.unexpected", token=show(t[1])), t[2])
    return expr


def names(expr: Expr) -> list[str]:
    if isinstance(expr, Name):
        return [expr.id]
    if isinstance(expr, Not):
        return names(expr.arg)
    return [n for a in expr.args for n in names(a)]


def positive_names(expr: Expr, negated: bool = False) -> list[str]:
    """Condition ids used without negation (their hits are the rule's evidence)."""
    if isinstance(expr, Name):
        return [] if negated else [expr.id]
    if isinstance(expr, Not):
        return positive_names(expr.arg, not negated)
    return [n for a in expr.args for n in positive_names(a, negated)]


def evaluate(expr: Expr, value: Mapping[str, bool] | Callable[[str], bool]) -> bool:
    get = value if callable(value) else value.__getitem__
    if isinstance(expr, Name):
        return bool(get(expr.id))
    if isinstance(expr, Not):
        return not evaluate(expr.arg, get)
    if isinstance(expr, And):
        return all(evaluate(a, get) for a in expr.args)
    return any(evaluate(a, get) for a in expr.args)
