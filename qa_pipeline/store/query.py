"""The search query language, independent of any database.

Terms, "phrases" (straight or curly double quotes), AND / OR / NOT (upper case), parentheses (ASCII or
full-width), implicit AND between terms. Unbalanced quotes and parentheses are tolerated; an operator
where a term is expected is ignored. The parsed tree (`Term` / `Op`) is what backends translate (FTS5
expression, tsquery); no user text ever reaches a backend's syntax except as our own quoted tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..i18n import t
from .tokens import char_pinyin, is_han, normalize, pinyin_tokens, segment


class QueryError(ValueError):
    pass


@dataclass(frozen=True)
class Term:
    text: str
    phrase: bool  # written in double quotes


@dataclass(frozen=True)
class Op:
    op: str  # AND | OR | NOT
    left: Node
    right: Node


Node = Term | Op

_OPS = {"AND", "OR", "NOT"}


def _lex(query: str) -> list[tuple[str, str]]:
    toks: list[tuple[str, str]] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()（）":
            toks.append(("(" if ch in "(（" else ")", ch))
            i += 1
        elif ch in '"“”':
            j = i + 1
            while j < n and query[j] not in '"“”':
                j += 1
            toks.append(("PHRASE", query[i + 1 : j]))  # an unbalanced quote runs to the end
            i = j + 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in '()（）"“”':
                j += 1
            word = query[i:j]
            toks.append(("OP", word) if word in _OPS else ("WORD", word))
            i = j
    return toks


MAX_QUERY_CHARS = 1000
MAX_QUERY_TERMS = 64
MAX_QUERY_DEPTH = 16
"""Bounds on a query (issue 15): beyond them a search is refused with a clear message, never a runaway plan."""


def parse_query(query: str) -> Node | None:
    """Parse into a tree of `Term` / `Op`. Unbalanced quotes and parentheses are tolerated.

    `A NOT B` (also `A AND NOT B`) excludes B; a query that starts with NOT is refused, since a search lists
    utterances that contain something."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(t("search.error.too_long", chars=len(query), limit=MAX_QUERY_CHARS))
    toks = _lex(query)
    n_terms = sum(1 for k, _ in toks if k in ("WORD", "PHRASE"))
    if n_terms > MAX_QUERY_TERMS:
        raise QueryError(t("search.error.too_many_terms", terms=n_terms, limit=MAX_QUERY_TERMS))
    depth = max_depth = 0
    for k, _ in toks:
        depth = depth + 1 if k == "(" else max(0, depth - 1) if k == ")" else depth
        max_depth = max(max_depth, depth)
    if max_depth > MAX_QUERY_DEPTH:
        raise QueryError(t("search.error.too_deep", depth=max_depth, limit=MAX_QUERY_DEPTH))
    pos = 0

    def peek() -> tuple[str, str] | None:
        return toks[pos] if pos < len(toks) else None

    def primary() -> Node | None:
        nonlocal pos
        tok = peek()
        if tok is None:
            return None
        pos += 1
        if tok[0] == "(":
            node = or_expr()
            nxt = peek()
            if nxt and nxt[0] == ")":
                pos += 1
            return node
        if tok[0] == ")":  # stray closing parenthesis
            return primary()
        if tok[0] == "OP" and tok[1] == "NOT":
            raise QueryError(t("search.error.leading_not"))
        if tok[0] == "OP":  # AND/OR where a term is expected: treat as nothing
            return primary()
        return Term(tok[1], tok[0] == "PHRASE")

    def and_expr() -> Node | None:
        nonlocal pos
        left = primary()
        while True:
            tok = peek()
            if tok is None or tok[0] == ")" or (tok[0] == "OP" and tok[1] == "OR"):
                return left
            op = "AND"
            if tok[0] == "OP":
                op = tok[1]
                pos += 1
                nxt = peek()
                if op == "AND" and nxt is not None and nxt == ("OP", "NOT"):  # A AND NOT B = A NOT B
                    op = "NOT"
                    pos += 1
            right = primary()
            if right is None:
                return left
            if left is None:
                left = right if op != "NOT" else None
                continue
            left = Op(op, left, right)

    def or_expr() -> Node | None:
        nonlocal pos
        left = and_expr()
        while (tok := peek()) and tok[0] == "OP" and tok[1] == "OR":
            pos += 1
            right = and_expr()
            if right is None:
                continue
            left = right if left is None else Op("OR", left, right)
        return left

    node = or_expr()
    while pos < len(toks):  # tokens left after a stray ')': AND them on
        pos += 1
        rest = or_expr()
        if rest is not None:
            node = rest if node is None else Op("AND", node, rest)
    return node


def render_query(node: Node | None, term: Callable[[Term], str | None], combine: Callable[[str, str, str], str]) -> str:
    """A backend's match expression for a parsed query: `term` renders one term (None: nothing searchable in it),
    `combine(op, left, right)` one operator. A term with nothing searchable drops out of its operator; an operator
    left with one side is that side, except `x NOT y` without `x`, which matches nothing on its own."""

    def emit(n: Node | None) -> str | None:
        if n is None:
            return None
        if isinstance(n, Term):
            return term(n)
        left, right = emit(n.left), emit(n.right)
        if left is None:
            return None if n.op == "NOT" else right
        if right is None:
            return left
        return combine(n.op, left, right)

    expr = emit(node)
    if not expr:
        raise QueryError(t("search.error.no_words"))
    return expr


def term_tokens(term: Term, pinyin: bool) -> tuple[str, ...]:
    if pinyin:
        # Chinese → syllables; Latin input is taken as pinyin already ("bu zhi dao")
        return pinyin_tokens(term.text)
    return segment(term.text)


def joined_alternative(term: Term) -> str | None:
    """jieba may keep a short query split ("太 差") that it joins in context ("太差"): the joined single
    word is searched as well for a short all-Han term of several words."""
    toks = segment(term.text)
    joined = "".join(toks)
    if len(toks) > 1 and len(joined) <= 4 and all(is_han(ch) for ch in joined):
        return joined
    return None


def short_term_words(node: Node | None, pinyin: bool = False) -> set[str]:
    """The single-word alternatives of `joined_alternative` in the query (backends may check them against
    the vocabulary first: a word no utterance holds can be left out)."""
    if node is None or pinyin:
        return set()
    if isinstance(node, Term):
        alt = joined_alternative(node)
        return {alt} if alt else set()
    return short_term_words(node.left) | short_term_words(node.right)


def positive_terms(node: Node | None) -> list[Term]:
    """Terms that are not under the right side of a NOT (what to highlight)."""
    if node is None:
        return []
    if isinstance(node, Term):
        return [node]
    if node.op == "NOT":
        return positive_terms(node.left)
    return positive_terms(node.left) + positive_terms(node.right)


def _substring_pattern(text: str) -> str | None:
    """Regex for `text` as a substring, punctuation and spaces in the utterance skipped (as the grams index)."""
    chars = [ch for ch in normalize(text) if ch.isalnum()]
    return r"[\s\W_]*".join(re.escape(ch) for ch in chars) if chars else None


def highlighter(
    terms: Iterable[Term], pinyin: bool = False, mark: tuple[str, str] = ("【", "】")
) -> Callable[[str], str]:
    """`highlight` for many texts of one query: the terms' patterns (jieba words, substrings, pinyin syllables)
    are built once, not once per hit."""
    mark0, mark1 = mark
    if pinyin:
        wanted = [list(term_tokens(term, True)) for term in terms]
        patterns: list[re.Pattern[str]] = []
    else:
        wanted = []
        pats = []
        for term in terms:
            toks = segment(term.text)
            if toks:
                pats.append(r"[\s\W_]*".join(re.escape(t) for t in toks))
            sub = _substring_pattern(term.text)
            if sub:
                pats.append(sub)
        patterns = [re.compile(p) for p in dict.fromkeys(pats)]  # one pattern once

    def mark_text(text: str) -> str:
        spans: list[tuple[int, int]] = []
        if pinyin:
            units = [(i, char_pinyin(ch)) for i, ch in enumerate(text) if is_han(ch)]
            for want in wanted:
                k = len(want)
                for s in range(0, len(units) - k + 1) if k else ():
                    if [u[1] for u in units[s : s + k]] == want:
                        spans.append((units[s][0], units[s + k - 1][0] + 1))
        else:
            norm = normalize(text)
            if len(norm) != len(text):
                norm = text.lower()
            for pat in patterns:
                spans.extend(m.span() for m in pat.finditer(norm))
        if not spans:
            return text
        spans.sort()
        merged: list[list[int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        out, last = [], 0
        for s, e in merged:
            out += [text[last:s], mark0, text[s:e], mark1]
            last = e
        out.append(text[last:])
        return "".join(out)

    return mark_text


def highlight(text: str, terms: Iterable[Term], pinyin: bool = False, mark: tuple[str, str] = ("【", "】")) -> str:
    """Mark every occurrence of the query terms in the original text (words and substrings)."""
    return highlighter(terms, pinyin, mark)(text)
