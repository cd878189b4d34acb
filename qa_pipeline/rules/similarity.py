"""Sentence similarity for the `similar` and `repeat` operators.

The paraphrase-tolerant matcher of the judgement issue plugs in here: when `qa_pipeline.paraphrase` provides
`similarity(example, sentence) -> float` (0..1), it is used; until then a character-bigram containment score
(how much of the example's wording the sentence carries), optionally maxed with homophone-tolerant pinyin
similarity, stands in.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from ..text import pinyin_similarity
from .chars import fast_normalize


def _bigrams(norm: str) -> set[str]:
    return {norm[i : i + 2] for i in range(len(norm) - 1)} if len(norm) > 1 else {norm}


@lru_cache(maxsize=65536)
def _norm(text: str) -> str:
    return fast_normalize(text)


def wording_similarity(example: str, sentence: str) -> float:
    """Share of the example's character bigrams found in the sentence (1.0: the sentence says it all)."""
    a, b = _bigrams(_norm(example)), _bigrams(_norm(sentence))
    if not a or not b:
        return 0.0
    return len(a & b) / len(a)


def _external() -> Callable[[str, str], float] | None:
    try:
        from .. import paraphrase  # type: ignore[attr-defined]
    except ImportError:
        return None
    fn = getattr(paraphrase, "similarity", None)
    return fn if callable(fn) else None


_EXTERNAL = _external()


def similarity(example: str, sentence: str, *, pinyin: bool = False) -> float:
    if _EXTERNAL is not None:
        return float(_EXTERNAL(example, sentence))
    score = wording_similarity(example, sentence)
    if pinyin and score < 1.0:
        score = max(score, pinyin_similarity(example, sentence))
    return score


def symmetric_similarity(a: str, b: str) -> float:
    """For repeats: both sentences carry each other's wording."""
    return min(wording_similarity(a, b), wording_similarity(b, a))
