"""Phrase classifier: linear SVMs (one-vs-rest, classes weighted by their size; the forbidden categories do not
count each other's sentences as negatives, see `OVERLAPS`) over character 1–3-grams, fuzzy-pinyin 1–2-grams and
jieba word 1–2-grams.

One class per phrase category plus `none`. Trained from `generate.training_examples` (fixed seed) at first
use, kept in memory for the process and pickled in the user cache dir ($CALLQA_HOME or ~/.cache/callqa,
`phrase_model-<content hash>.pkl`) so later processes load it in milliseconds; the hash covers the templates,
every lexicon file, the training code, the extra phrases and the library versions, so editing any retrains. Nothing is
downloaded, nothing is read from the held-out set.

The score is the SVM margin squashed by a logistic (`1 / (1 + exp(-3·margin))`): 0.5 is the decision
boundary. It orders hits by confidence and separates clear hits from borderline ones; it is not a
calibrated probability. The hit / review thresholds ARE calibrated, per category, on a validation split of
the generated data (`calibrate`): 5-fold cross-validation grouped by template, so every validation sentence is
a paraphrase whose template (or lexicon entry) the fold's model never saw — the closest the training data
gets to "wording nobody scripted". The held-out set plays no part in it.

Inputs are short units of an utterance (clauses, adjacent clause pairs, the whole short utterance, see
`detect.units`): the classifier sees roughly what it was trained on, and a hit keeps a tight span.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import sklearn
from pypinyin import Style, lazy_pinyin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC
from sklearn.utils.class_weight import compute_class_weight

from ..text import fuzzy_syllable, normalize, tokens
from .categories import CATEGORIES, FORBIDDEN
from .generate import BARE, NONE, Example, training_examples

_QUESTION = re.compile(r"[?？]\s*$")
C = 0.5
MAX_ITER = 10_000
"""liblinear's iteration cap (sklearn's default is 1000). The dual solver converges in 33–121 iterations on the
built-in training data (session 8: no ConvergenceWarning in a full train_model; scores at tol 1e-4 and 1e-6 differ by
≤ 1.1e-5), so score changes between two trainings are the optimum moving, not solver noise. The cap only matters for
unusual extra phrases: the model records the most iterations any class took (`OneVsRest.n_iter_`, tested) and warns
when one hit the cap, since an unconverged model's scores depend on where the solver stopped."""
MARGIN_SCALE = 3.0
MODEL_VERSION = "4"
FOLDS = 5
REPEATS = 3
HIT_RANGE = (0.5, 0.85)
"""Calibrated hit thresholds stay in this band: never below the classifier's own decision boundary (0.5)."""
FORBIDDEN_MIN_HIT = 0.6
"""A forbidden-category hit can zero a call (红线): it needs a clear margin, whatever the validation folds allow
(a first calibration without this floor, at 0.45–0.51, flagged 2 ordinary lines of the real 10086 transcripts)."""
REVIEW_BAND = 0.1
"""A score this far below the hit threshold is borderline (needs_review)."""
FALSE_ALARM_TARGETS = {"hard": 0.05, "other": 0.005}
"""Validation false-alarm rates a hit threshold may allow: on the category's own hard negatives (the issue's
target, ≤ 0.05), and on every other sentence (other categories, neutral talk)."""
POSITIONAL_TARGETS = {"hard": 0.10, "other": 0.01}
"""Looser for the categories the checks only look for at one moment (Category.positional): closing asks such as
还有别的事吗 must not become borderline because 您还有没有收到短信 looks alike in the middle of a call."""
FORBIDDEN_TARGETS = {"hard": 0.05, "other": 0.004}
"""Stricter for the forbidden categories: one such hit can zero a call (红线). Their "other" sentences leave out
the other forbidden categories: 你有完没完 taken for 反问 rather than 不耐烦 is still the same forbidden phrase;
and the colloquial ones: the standard itself calls 什么？/你说啥？/再说一次 "反问的方式" (l.9), and on the
validation folds a left-out 啥/咋 question scores like the 咋/怎么 反问 it resembles, which drove the 反问 threshold
to the cap."""
"""The cache key also covers generate.py, model.py and every data file by content; bump this for changes
made elsewhere that alter training."""


def features_text(unit: str) -> str:
    """Normalised text; a trailing ？ survives as a token (反问 and 口语化 hinge on it)."""
    return normalize(unit) + ("？" if _QUESTION.search(unit or "") else "")


def _as_chars(text: str) -> Any:
    """pypinyin `errors` handler: characters without pinyin stay themselves (pypinyin accepts a list here
    although its annotation says str)."""
    return list(text)


@cache
def _char_pinyin(ch: str) -> str:
    # per character (not per phrase like text.fuzzy_syllables): 60× faster, and polyphone choice matters
    # little for features that only need homophones to coincide
    return fuzzy_syllable(lazy_pinyin(ch, style=Style.NORMAL, errors=_as_chars)[0])


_memo: dict[tuple[str, str], list[str]] | None = None
"""Analyzer outputs per (feature kind, text) while `train_model` runs, else None. Calibration fits the vectorizers 16
times on overlapping folds of the same sentences; tokenising each sentence once instead of 16 times cut training by
about a fifth (session 8), with the very same tokens. Dropped after training: it holds every training sentence's
n-grams."""


def _memoised(kind: str, analyze: Callable[[str], list[str]], text: str) -> list[str]:
    memo = _memo
    if memo is None:
        return analyze(text)
    key = (kind, text)
    out = memo.get(key)
    if out is None:
        out = memo[key] = analyze(text)
    return out


_CHAR_NGRAMS: Callable[[str], list[str]] = TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).build_analyzer()
"""sklearn's own character 1–3-gram analyzer (lower-casing, white space folded), as `analyzer="char"` applies it."""


def char_tokens(text: str) -> list[str]:
    return _memoised("char", _CHAR_NGRAMS, text)


def pinyin_tokens(text: str) -> list[str]:
    """Fuzzy tone-less syllables and syllable bigrams: homophones (ASR errors) share features."""
    return _memoised("pinyin", _pinyin_tokens, text)


def _pinyin_tokens(text: str) -> list[str]:
    syl = [_char_pinyin(ch) for ch in text.rstrip("？")]
    return syl + [f"{a}_{b}" for a, b in zip(syl, syl[1:], strict=False)]


def word_tokens(text: str) -> list[str]:
    return _memoised("words", lambda t: list(_word_tokens(t)), text)


@lru_cache(maxsize=100_000)
def _word_tokens(text: str) -> tuple[str, ...]:
    """jieba words and word bigrams: a paraphrase keeps words (看/短信/营业厅) in new orders and surroundings,
    which character n-grams that straddle a word boundary miss (on the grouped validation folds these features
    raised the forbidden categories' leave-template-out recall by about 0.02)."""
    words = tokens(text)
    return (*words, *(f"{a}|{b}" for a, b in zip(words, words[1:], strict=False)))


class PhraseModel:
    """A fitted classifier; `predict` gives one probability per category for each unit; `limits` the calibrated
    (hit, review) thresholds per category and `validation` what they gave on the validation folds."""

    def __init__(
        self,
        features: FeatureUnion,
        clf: _Classifier,
        limits: Mapping[str, tuple[float, float]] | None = None,
        validation: Mapping[str, Mapping[str, float]] | None = None,
    ):
        self._features = features
        self._clf = clf
        self.classes: tuple[str, ...] = tuple(str(c) for c in clf.classes_)
        self.limits: dict[str, tuple[float, float]] = dict(limits or {})
        self.validation: dict[str, dict[str, float]] = {k: dict(v) for k, v in (validation or {}).items()}

    def predict(self, units: Sequence[str]) -> np.ndarray:
        """Array (len(units), len(classes)) of scores in 0–1 (0.5 = decision boundary)."""
        if not units:
            return np.zeros((0, len(self.classes)))
        margin = self._clf.decision_function(self._features.transform([features_text(u) for u in units]))
        if margin.ndim == 1:  # two classes (an example matcher): sklearn gives the margin of classes[1] only
            margin = np.column_stack([-margin, margin])
        return _squash(margin)

    def scores(self, text: str) -> dict[str, float]:
        """Category → probability for one unit of text (diagnostics, benchmarks)."""
        row = self.predict([text])[0]
        return {c: float(p) for c, p in zip(self.classes, row, strict=True) if c != NONE}


class _Classifier(Protocol):
    classes_: np.ndarray

    def decision_function(self, x: Any) -> np.ndarray: ...


class OneVsRest:
    """A linear one-vs-rest classifier whose per-class problems may leave classes out (`OVERLAPS`): the stacked
    weights of one binary LinearSVC per class, so scoring is one sparse matrix product, as with sklearn's own."""

    def __init__(self, classes: Sequence[str], coef: np.ndarray, intercept: np.ndarray, n_iter: int = 0):
        self.classes_ = np.asarray(classes)
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_iter_ = n_iter
        """The most solver iterations any class's LinearSVC took (`MAX_ITER` = it stopped unconverged)."""

    def decision_function(self, x: Any) -> np.ndarray:
        return np.asarray(x @ self.coef_.T) + self.intercept_


OVERLAPS: dict[str, frozenset[str]] = {
    **{c: frozenset(FORBIDDEN) - {c} for c in FORBIDDEN},
    "closing_ask": frozenset({"confirm"}),
    "confirm": frozenset({"closing_ask"}),
}
"""Classes whose sentences a category's binary problem leaves out instead of counting them as its negatives. The
six forbidden categories overlap by nature (说了你也不懂 is 不耐烦 and 训斥 at once, 你找别人问去吧 推诿 and 不耐烦):
a 反问 template teaching the 不耐烦 classifier that such wording is *not* 不耐烦 pushed every blend down in all of
them. On the validation folds grouped by template (REPEATS=1, same folds) leaving them out raised the forbidden
categories' leave-template-out recall from 0.56 to 0.68 at unchanged false-alarm targets, other categories equal.
Calibration already ignores the other forbidden categories for the same reason (FORBIDDEN_TARGETS).

The closing ask and the confirm ask overlap the same way (session 9): 还有什么不明白的吗 / 还有啥要问的不 at the end
of an explanation is both "anything unclear?" (l.39) and "anything else?" (l.5). When the session-9 confirm families
(还有哪里不清楚的 / 有不明白的随时问我) counted as closing-ask negatives, closing-ask recall on the development sets
fell 0.85 → 0.69 (dev) and 1.00 → 0.88 (independent); each now leaves the other's sentences out, in training and in
calibration."""


def _features() -> FeatureUnion:
    return FeatureUnion(
        [
            ("chars", TfidfVectorizer(analyzer=char_tokens, sublinear_tf=True, lowercase=False)),
            ("pinyin", TfidfVectorizer(analyzer=pinyin_tokens, sublinear_tf=True, lowercase=False)),
            ("words", TfidfVectorizer(analyzer=word_tokens, sublinear_tf=True, lowercase=False)),
        ]
    )


def _fit(texts: Sequence[str], labels: Sequence[str]) -> tuple[FeatureUnion, OneVsRest]:
    """The phrase model: one binary LinearSVC per class (its own sentences against every other class's, less
    `OVERLAPS`). Class weights as sklearn's `balanced` one-vs-rest gives them (liblinear weighs a class's own
    sentences by n / (k · n_class) and the rest by 1): sizes differ 10× (a broad 反问 template set vs a few
    greeting ones, thousands of `none`), and weighting keeps a small category from being outvoted."""
    features = _features()
    x = features.fit_transform(texts)
    y = np.asarray(labels)
    classes = np.unique(y)
    weights = dict(zip(classes, compute_class_weight("balanced", classes=classes, y=y), strict=True))
    coef, intercept, n_iter = [], [], 0
    for c in classes:
        rows = np.flatnonzero((y == c) | ~np.isin(y, sorted(OVERLAPS.get(str(c), ()))))
        clf = LinearSVC(C=C, random_state=0, class_weight={1: weights[c], 0: 1.0}, max_iter=MAX_ITER)
        clf.fit(x[rows], (y[rows] == c).astype(int))
        n_iter = max(n_iter, int(np.max(clf.n_iter_)))
        if n_iter >= MAX_ITER:
            warnings.warn(
                f"phrase model: the LinearSVC for {c!r} did not converge in {MAX_ITER} iterations", stacklevel=2
            )
        coef.append(clf.coef_[0])
        intercept.append(clf.intercept_[0])
    return features, OneVsRest([str(c) for c in classes], np.vstack(coef), np.asarray(intercept), n_iter)


def _squash(margin: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-MARGIN_SCALE * margin)))


def _fold_of(repeat: int, group: str) -> int:
    """The validation fold of one template (or lexicon entry) in one calibration repeat: a hash of its own name, so
    adding or editing a template leaves every other template in its fold (like `generate.template_rng`)."""
    return int(hashlib.sha256(f"{repeat}|{group}".encode()).hexdigest(), 16) % FOLDS


def calibrate(
    examples: Sequence[Example], texts: Sequence[str]
) -> tuple[dict[str, tuple[float, float]], dict[str, dict[str, float]]]:
    """Per-category (hit, review) thresholds from out-of-fold scores (folds grouped by template).

    hit = the lowest score in `HIT_RANGE` at which the validation false alarms stay within the targets (the
    category's own hard negatives; everything else); review = hit − `REVIEW_BAND`. Returns the thresholds and,
    per category, the validation recall / false-alarm rates they give (reported by benchmarks/bench_phrases)."""
    labels = np.array([e.label for e in examples])
    groups = [e.group or e.text for e in examples]
    classes = sorted(set(labels))
    oof = np.zeros((len(examples), len(classes)))
    # which templates share a fold moved single thresholds by up to 0.2 between otherwise equal runs: average
    # the out-of-fold scores over REPEATS different (deterministic) assignments of templates to folds. Each
    # template's fold comes from its own name alone (`_fold_of`): with GroupKFold's size-balancing assignment, one
    # added 推诿 template re-dealt every other template's fold and moved the 反问 threshold 0.60 → 0.63 (session 15)
    for r in range(REPEATS):
        folds = [_fold_of(r, g) for g in groups]
        for k in range(FOLDS):
            train = [i for i, f in enumerate(folds) if f != k]
            val = [i for i, f in enumerate(folds) if f == k]
            features, clf = _fit([texts[i] for i in train], [str(labels[i]) for i in train])
            cols = [list(clf.classes_).index(c) for c in classes]
            oof[val] += _squash(clf.decision_function(features.transform([texts[i] for i in val])))[:, cols]
    oof /= REPEATS
    # a bare connective or courtesy word standing alone (generate.BARE: 不是 / 还是 / 那么) is learnt as `none` but
    # never judged (detect._bare skips it), so its score cannot raise a false alarm: it would only push thresholds up
    # (session 15: 不是 / 还是 / 那么 scored 0.94-0.99 as 反问 out of fold, 5 of the 65 "other" sentences at 0.6)
    bare = {features_text(b) for b in BARE}
    judged = np.array([t not in bare for t in texts])
    limits: dict[str, tuple[float, float]] = {}
    report: dict[str, dict[str, float]] = {}
    for name in CATEGORIES:
        if name not in classes:
            continue
        col = oof[:, classes.index(name)]
        pos = col[labels == name]
        hard_mask = np.array([e.label == NONE and e.group.startswith(f"{name}:negative") for e in examples]) & judged
        others = (labels != name) & ~hard_mask & judged
        if name in FORBIDDEN:
            others &= ~np.isin(labels, (*FORBIDDEN, "colloquial"))
        others &= ~np.isin(labels, sorted(OVERLAPS.get(name, ())))
        hard, other = col[hard_mask], col[others]
        target = (
            FORBIDDEN_TARGETS
            if name in FORBIDDEN
            else POSITIONAL_TARGETS
            if CATEGORIES[name].positional
            else FALSE_ALARM_TARGETS
        )
        low = max(HIT_RANGE[0], FORBIDDEN_MIN_HIT) if name in FORBIDDEN else HIT_RANGE[0]
        grid = np.round(np.arange(low, HIT_RANGE[1] + 1e-9, 0.01), 2)

        def fa(scores: np.ndarray, t: float) -> float:
            return float((scores >= t).mean()) if len(scores) else 0.0

        hit = next(
            (float(t) for t in grid if fa(hard, t) <= target["hard"] and fa(other, t) <= target["other"]),
            HIT_RANGE[1],
        )
        limits[name] = (hit, round(hit - REVIEW_BAND, 2))
        report[name] = {
            "hit": hit,
            "recall": round(float((pos >= hit).mean()), 3),
            "false_alarm_hard": round(fa(hard, hit), 3),
            "false_alarm_other": round(fa(other, hit), 4),
            "n_pos": len(pos),
            "n_hard": len(hard),
        }
    return limits, report


def train_model(extra: Mapping[str, Iterable[str]] | None = None) -> PhraseModel:
    global _memo
    examples = training_examples(extra)
    texts = [features_text(e.text) for e in examples]
    _memo = {}
    try:
        limits, report = calibrate(examples, texts)
        features, clf = _fit(texts, [e.label for e in examples])
    finally:
        _memo = None
    return PhraseModel(features, clf, limits, report)


def cache_dir() -> Path:
    return Path(os.environ.get("CALLQA_HOME", Path.home() / ".cache" / "callqa")) / "phrase_model"


def _content_key(extra_key: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    h = hashlib.sha256(f"{MODEL_VERSION}|{sklearn.__version__}|{np.__version__}|{extra_key!r}".encode())
    pkg = resources.files("qa_pipeline")
    for folder in ("phrasing", "lexicons"):
        for f in sorted((pkg / folder).iterdir(), key=lambda p: p.name):
            if f.name.endswith(".yaml") or (folder == "phrasing" and f.name in ("generate.py", "model.py")):
                h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:20]


@lru_cache(maxsize=8)
def _cached(extra_key: tuple[tuple[str, tuple[str, ...]], ...]) -> PhraseModel:
    path = cache_dir() / f"phrase_model-{_content_key(extra_key)}.pkl"
    return _load_or_train(path, lambda: train_model({k: v for k, v in extra_key} or None))


def _load_or_train(path: Path, train: Callable[[], PhraseModel]) -> PhraseModel:
    try:
        with path.open("rb") as fh:
            model = pickle.load(fh)  # our own file, written below from the same content key
        if isinstance(model, PhraseModel):
            return model
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        pass
    model = train()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(pickle.dumps(model))
        tmp.replace(path)
    except OSError:
        pass  # a read-only home only costs the retraining next time
    return model


def get_model(extra: Mapping[str, Iterable[str]] | None = None) -> PhraseModel:
    """The process-wide model (trained once), or one that also learns `extra` phrases per category."""
    key = tuple(sorted((k, tuple(sorted(set(v)))) for k, v in (extra or {}).items() if v))
    return _cached(key)


# ------------------------------------------------------------ one new category from examples (rules' `similar`)

MATCH = "match"


def _train_example_matcher(examples: tuple[str, ...]) -> PhraseModel:
    from .generate import SEED, templates, vary

    data = templates()
    rng = random.Random(SEED)
    fillers, particles = data.get("fillers", []), data.get("particles", [])
    positives = [v for e in examples for v in (e, *(vary(e, rng, fillers, particles) for _ in range(3)))]
    own = set(positives)
    pool = [e.text for e in training_examples() if e.text not in own]
    texts = [features_text(t) for t in (*positives, *pool)]
    # few examples against thousands of other sentences: weigh the classes, or the examples are outvoted
    features = _features()
    clf = LinearSVC(C=C, random_state=0, class_weight="balanced", max_iter=MAX_ITER)
    clf.fit(features.fit_transform(texts), [MATCH] * len(positives) + [NONE] * len(pool))
    return PhraseModel(features, clf)


@lru_cache(maxsize=32)
def example_matcher(examples: tuple[str, ...]) -> PhraseModel:
    """A classifier for ONE category no phrase category covers (a rule's `similar` with bare example
    sentences, e.g. a new marketing offer; the caller passes each example's clauses too, see
    `rules.operators.score_sentences`): the examples and their surface variations against the shared pool of
    every built-in training sentence (greetings, closings, forbidden wordings, neutral talk …), with the phrase
    model's features. Classes `match` / `none`; cached on disk by content like the phrase model."""
    ex = tuple(sorted(set(examples)))
    key = _content_key((("<examples>", ex),))
    return _load_or_train(cache_dir() / f"example_matcher-{key}.pkl", lambda: _train_example_matcher(ex))
