"""Tokenisation for the search index, shared by every backend and by the query side.

Three forms of each utterance are indexed:

* ``seg``: jieba words (normalised), for word and phrase search with a good ranking;
* ``py``: tone-less pinyin, one syllable per Han character, for homophone-tolerant search;
* ``grams``: the characters of the utterance as overlapping bigrams (punctuation and spaces dropped), with the
  last character of the text alone at the end, so that any substring can be found: a query of n ≥ 2
  characters is the phrase of its n-1 bigrams, a one-character query is a prefix of a bigram. This finds
  ``不归我们管`` in ``这不归我们管`` although jieba stored ``这不归 / 我们 / 管``.

Every form is a space-joined token string; backends store them verbatim (FTS5 columns, tsvector lexemes).

Tokenised once (`search_tokens`): the pipeline adds the ``seg`` and ``py`` forms of every utterance to the result it
writes (``search_tokens`` in the result JSON, with `tokenizer_version` and a digest of the texts), in the scoring
worker that already holds the transcript; `import` and `upsert_call` use them (`carried_forms`) instead of loading
jieba and pypinyin and segmenting again, and tokenise afresh when the version or the texts differ (an older
callqa, a newer jieba, a result redacted at import) or the block is missing (results written before). ``grams``
is not carried: it is the text's characters, cheaper to recompute than to read back.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from functools import cache, lru_cache
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


@cache
def _pinyin() -> Any:
    """pypinyin's `lazy_pinyin` (the same converter, `UltimateConverter` with its defaults) with each segment's
    result remembered: pypinyin splits a text into phrases of its dictionary and converts each phrase on its own
    (its result does not depend on the text around it), which is two thirds of its time; call-centre turns
    repeat the same phrases (您好 / 请问 / 流量 …). 879 real 10086 turns, memo empty at the start: 0.53 → 0.25 ms of
    CPU per turn. Results are identical (tests/test_store_tokens.py compares them with `lazy_pinyin`)."""
    from pypinyin.converter import UltimateConverter
    from pypinyin.core import Pinyin

    class _PhraseMemo(UltimateConverter):
        def __init__(self) -> None:
            super().__init__(v_to_u=False, neutral_tone_with_five=False, tone_sandhi=False)
            self.memo: dict[tuple[Any, ...], list[list[str]]] = {}

        def convert(
            self, words: str, style: Any, heteronym: bool, errors: Any, strict: bool = True, **kwargs: Any
        ) -> list[list[str]]:
            key = (words, style, heteronym, errors, strict)
            got = self.memo.get(key)
            if got is None:
                got = super().convert(words, style, heteronym, errors, strict, **kwargs)
                if len(self.memo) >= 200_000:
                    self.memo.clear()
                self.memo[key] = [list(x) for x in got]
                return got
            return [list(x) for x in got]  # copies: the caller owns its lists

    return Pinyin(_PhraseMemo())


@lru_cache(maxsize=200_000)
def pinyin_tokens(text: str) -> tuple[str, ...]:
    """Tone-less pinyin, one syllable per Han character; other word characters kept as runs."""
    from pypinyin import Style

    out: list[str] = []
    for chunk in _pinyin().lazy_pinyin(normalize(text), style=Style.NORMAL, errors=_unchanged):
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


# ---------------------------------------------------------------- tokenised once, carried in the result JSON

SEARCH_TOKENS = "search_tokens"  # the result JSON's key
# Raise when `segment`, `pinyin_tokens` or `normalize` change what they produce for a text: results that carry
# tokens of another version are tokenised again at import.
TOKENS_VERSION = 1


@cache
def tokenizer_version() -> str:
    """What the carried tokens depend on: this module's forms, jieba's and pypinyin's versions (their code and
    dictionaries) and the Unicode tables behind NFKC. Read from the installed packages' metadata, without
    loading either dictionary (an import of carried tokens never loads them)."""
    from importlib.metadata import version

    return (
        f"callqa-tokens {TOKENS_VERSION}; jieba {version('jieba')}; pypinyin {version('pypinyin')};"
        f" unicode {unicodedata.unidata_version}"
    )


def texts_digest(texts: Sequence[str]) -> str:
    """sha256 of the utterance texts in order (their JSON list: unambiguous), tying carried tokens to the texts
    they were made from."""
    return hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()


def _texts(result: dict[str, Any]) -> list[str]:
    """The utterance texts as the store indexes them."""
    return [str(u.get("text") or "") for u in result.get("utterances") or []]


def search_tokens(texts: Sequence[str]) -> dict[str, Any]:
    """The ``search_tokens`` block of a result whose utterances have `texts`: the version, the texts' digest,
    and per utterance its ``seg`` and ``py`` forms (`index_columns`, the one tokenisation)."""
    forms = [index_columns(t) for t in texts]
    return {
        "version": tokenizer_version(),
        "texts_sha256": texts_digest(texts),
        "seg": [seg for seg, _ in forms],
        "py": [py for _, py in forms],
    }


def with_search_tokens(result: dict[str, Any]) -> dict[str, Any]:
    """`result` (a result JSON) with its ``search_tokens`` block, when it has utterances (in place)."""
    texts = _texts(result)
    if texts:
        result[SEARCH_TOKENS] = search_tokens(texts)
    else:
        result.pop(SEARCH_TOKENS, None)
    return result


def carried_forms(result: dict[str, Any]) -> list[tuple[str, str]] | None:
    """The (seg, py) forms of each utterance carried by `result`, when they are this tokenizer's forms of its
    texts as they are now; None otherwise (no block, another version, texts changed since, malformed): the
    caller tokenises the texts itself."""
    block = result.get(SEARCH_TOKENS)
    if not isinstance(block, dict) or block.get("version") != tokenizer_version():
        return None
    seg, py = block.get("seg"), block.get("py")
    texts = _texts(result)
    if not (isinstance(seg, list) and isinstance(py, list) and len(seg) == len(py) == len(texts)):
        return None
    if not all(isinstance(x, str) for x in seg) or not all(isinstance(x, str) for x in py):
        return None
    if block.get("texts_sha256") != texts_digest(texts):
        return None
    return list(zip(seg, py, strict=True))
