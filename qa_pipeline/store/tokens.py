"""Tokenisation for the search index, shared by every backend and by the query side.

Three forms of each utterance are indexed:

* ``seg``: jieba words (normalised), for word and phrase search with a good ranking;
* ``py``: tone-less pinyin, one syllable per Han character, for homophone-tolerant search;
* ``grams``: the characters of the utterance as overlapping bigrams (punctuation and spaces dropped), with the
  last character of the text alone at the end, so that any substring can be found: a query of n ≥ 2
  characters is the phrase of its n-1 bigrams, a one-character query is a prefix of a bigram. This finds
  ``不归我们管`` in ``这不归我们管`` although jieba stored ``这不归 / 我们 / 管``.

Every form is a space-joined token string; backends store them verbatim (FTS5 columns, tsvector lexemes).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from ..text import is_cjk as is_han  # noqa: F401  (the query side asks is_han; one definition of a Han char)
from ..text import jieba_module


def _unchanged(text: str) -> Any:
    """pypinyin `errors` handler: a non-Han run comes back as one item (pypinyin accepts a list here although
    its annotation says str)."""
    return [text]


def is_word(tok: str) -> bool:
    return any(ch.isalnum() for ch in tok)


def normalize(text: str) -> str:
    """NFKC (full-width letters/digits → ASCII) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


@lru_cache(maxsize=200_000)
def segment(text: str) -> tuple[str, ...]:
    """jieba words of `text` (normalised), without whitespace and punctuation."""
    return tuple(t for t in jieba_module().lcut(normalize(text), HMM=True) if is_word(t))


@lru_cache(maxsize=50_000)
def char_pinyin(ch: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return str(lazy_pinyin(ch, style=Style.NORMAL)[0])


@lru_cache(maxsize=200_000)
def pinyin_tokens(text: str) -> tuple[str, ...]:
    """Tone-less pinyin, one syllable per Han character; other word characters kept as runs."""
    from pypinyin import Style, lazy_pinyin

    out: list[str] = []
    for chunk in lazy_pinyin(normalize(text), style=Style.NORMAL, errors=_unchanged):
        # non-Han runs come back unchanged (may hold punctuation/spaces): split to words
        out.extend(w for w in re.split(r"[^0-9a-zA-Z\u00C0-\u024F]+", chunk) if w)
    return tuple(out)


# Characters kept for substring search: letters and digits of the normalised text, with combining marks
# dropped (FTS5's unicode61 tokenizer folds diacritics the same way on both sides, PostgreSQL does not).
def _gram_chars(text: str) -> str:
    norm = unicodedata.normalize("NFKD", normalize(text))
    return "".join(ch for ch in norm if ch.isalnum() and not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def char_grams(text: str) -> tuple[str, ...]:
    """Index side: overlapping character bigrams, then the last character alone."""
    s = _gram_chars(text)
    if not s:
        return ()
    return tuple(s[i : i + 2] for i in range(len(s) - 1)) + (s[-1],)


def query_grams(text: str) -> tuple[tuple[str, ...], bool]:
    """Query side: (tokens, prefix). n ≥ 2 characters: its n-1 bigrams as a phrase; one character: that
    character as a prefix of the stored bigrams (and of the final unigram); nothing: ((), False)."""
    s = _gram_chars(text)
    if len(s) >= 2:
        return tuple(s[i : i + 2] for i in range(len(s) - 1)), False
    return ((s,), True) if s else ((), False)


def index_columns(text: str) -> tuple[str, str]:
    return " ".join(segment(text)), " ".join(pinyin_tokens(text))


def grams_column(text: str) -> str:
    return " ".join(char_grams(text))
