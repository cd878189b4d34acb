"""Paraphrase-tolerant phrase judgement.

Two paths per phrase category (greeting, closing ask / thanks, hold notice / apology, each forbidden category,
colloquialism, transfer, confirm understanding):

* the lexicons (`qa_pipeline.lexicon`): exact + homophone-tolerant pinyin matching, high precision;
* a classifier (`phrasing.model`) over character and pinyin n-grams, trained at first use from the lexicon
  phrases, templated paraphrases (`phrasing/templates.yaml` via `phrasing.generate`) and hard negatives; it
  catches wordings no lexicon lists and gives a probability, so a borderline hit can become `needs_review`.

`find(category, text)` returns both kinds of hit as `PhraseMatch` (method "exact" / "pinyin" / "model").
The held-out measurement set (benchmarks/data/heldout_phrases.yaml) is never read by this package.
"""

from __future__ import annotations

from .categories import CATEGORIES, Category, category
from .detect import find, find_in_utterance, is_sure, prime, thresholds
from .model import MATCH, PhraseModel, example_matcher, get_model, train_model

__all__ = [
    "CATEGORIES",
    "MATCH",
    "Category",
    "PhraseModel",
    "category",
    "example_matcher",
    "find",
    "find_in_utterance",
    "is_sure",
    "get_model",
    "prime",
    "thresholds",
    "train_model",
]
