"""Per-character normalisation and fuzzy pinyin for the rule engine (cached per character)."""

from __future__ import annotations

from functools import lru_cache

from ..text import fuzzy_syllables, normalize


@lru_cache(maxsize=65536)
def _char_norm(ch: str) -> str:
    return normalize(ch)


@lru_cache(maxsize=65536)
def _char_syllable(ch: str) -> str:
    syl = fuzzy_syllables(ch)
    return syl[0] if syl else ch


def fast_normalize(text: str) -> str:
    """`text.normalize` character by character (cached per character): rules run over whole archives, and
    OpenCC/pypinyin per sentence would dominate. Differs from phrase-level conversion only for the rare
    characters whose simplified form depends on the word."""
    return "".join([_char_norm(ch) for ch in text])


def fast_syllables(norm: str) -> list[str]:
    """Fuzzy tone-less pinyin, one per character of normalised text (per-character reading, cached)."""
    return [_char_syllable(ch) for ch in norm]
