"""The rule operators: text (keyword, regex, similar) and voice/timeline (silence, interruption, speech_rate,
first_response, hang_up, volume, duration, sentence_count, repeat).

Each operator declares its parameters as a JSON Schema (unknown parameters are load-time errors naming the
line), may prepare data once at load time (`compile`), and finds hits in one call (`find`). Every numeric pair
is a band of what to *find*: `silence: {min_s: 30}` finds silences of 30 s or more, `speech_rate: {min_cpm: 330}`
finds sentences spoken faster than 330 characters a minute.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..lexicon import DEFAULT_MAX_COST_RATIO, Lexicon, LexiconEntry, approx_find, load_lexicon
from ..text import char_count, normalize
from ..types import CallMetadata, SpeechSegment, Timeline, Transcript, Utterance
from .chars import fast_normalize, fast_syllables
from .model import Hit
from .similarity import similarity, symmetric_similarity

_ROLE = {"enum": ["agent", "customer", "any"]}
_NUM = {"type": "number"}
_POS = {"type": "number", "minimum": 0}


class CallView:
    """One call as the operators see it, with per-sentence normalised text computed once."""

    def __init__(self, timeline: Timeline, transcript: Transcript, metadata: CallMetadata):
        self.timeline = timeline
        self.transcript = transcript
        self.metadata = metadata
        self.utts: tuple[Utterance, ...] = transcript.utterances
        self._norm: list[str | None] = [None] * len(self.utts)
        self._syl: dict[int, list[str]] = {}
        self._roles: dict[str, list[int]] = {}

    def norm(self, i: int) -> str:
        n = self._norm[i]
        if n is None:
            n = self._norm[i] = fast_normalize(self.utts[i].text)
        return n

    def syllables(self, i: int) -> list[str]:
        s = self._syl.get(i)
        if s is None:
            s = self._syl[i] = fast_syllables(self.norm(i))
        return s

    def indices(self, role: str) -> list[int]:
        """The role's sentence indices (a fresh list: callers cut it)."""
        idx = self._roles.get(role)
        if idx is None:
            idx = self._roles[role] = [i for i, u in enumerate(self.utts) if role == "any" or u.speaker == role]
        return list(idx)

    def sentence_at(self, t: float) -> int | None:
        """Index of the last sentence starting at or before `t` (timeline hits get a sentence position)."""
        best = None
        for i, u in enumerate(self.utts):
            if u.start <= t + 1e-6:
                best = i
            else:
                break
        return best


def _sentence_hit(view: CallView, i: int, **detail: Any) -> Hit:
    u = view.utts[i]
    return Hit(u.start, u.end, u.speaker, i, u.text, detail)


@dataclass(frozen=True)
class Operator:
    name: str
    kind: str  # "text" | "timeline"
    schema: Mapping[str, Any]
    find: Callable[[CallView, Any, Sequence[int], str], list[Hit]]
    """(view, compiled params, sentence indices in scope, role) → hits."""
    compile: Callable[[Mapping[str, Any], Callable[[str], Lexicon]], Any] = field(default=lambda p, _lex: p)
    role_params: tuple[str, ...] = ()
    """Parameters that name a role (a rule using them needs attributed speakers)."""


OPERATORS: dict[str, Operator] = {}


def _op(
    name: str, kind: str, properties: Mapping[str, Any], *, required: Sequence[str] = (), role_params=(), compile=None
) -> Callable[[Callable[..., list[Hit]]], Callable[..., list[Hit]]]:
    schema = {"type": "object", "additionalProperties": False, "properties": dict(properties)}
    if required:
        schema["required"] = list(required)

    def wrap(fn: Callable[..., list[Hit]]) -> Callable[..., list[Hit]]:
        OPERATORS[name] = Operator(name, kind, schema, fn, compile or (lambda p, _lex: p), tuple(role_params))
        return fn

    return wrap


# ------------------------------------------------------------------------------------------------ text


@dataclass(frozen=True)
class _Keywords:
    words: tuple[str, ...]
    forms: tuple[tuple[str, ...], ...]  # normalised word + synonyms, per word
    match: str
    at_least: int
    keys: tuple[tuple[tuple[str, ...], ...], ...]  # pinyin: fuzzy syllables of each form, per word (else empty)
    pinyin: bool
    any_form: re.Pattern[str] | None = None  # one search tells whether a sentence says any form at all
    postings: Mapping[str, tuple[tuple[int, int, int], ...]] = field(default_factory=dict)
    """pinyin: syllable → (word index, form index, how often the form's key has it): a sentence's syllables
    count, for each key at once, how many of the key's syllables it carries (the prefilter of `_pinyin_hit`)."""


def _compile_keyword(p: Mapping[str, Any], lexicons: Callable[[str], Lexicon]) -> _Keywords:
    words = [str(w) for w in p.get("words") or []]
    synonyms: Mapping[str, Sequence[str]] = {str(k): [str(x) for x in v] for k, v in (p.get("synonyms") or {}).items()}
    entries: list[LexiconEntry] = []
    if p.get("lexicon"):
        lex = lexicons(p["lexicon"])
        cats = set(p.get("categories") or [])
        for e in lex.entries:
            if not cats or e.category in cats:
                words.append(e.phrase)
                entries.append(e)
    words = list(dict.fromkeys(words))
    forms = []
    for w in words:
        fs = [normalize(w), *(normalize(s) for s in synonyms.get(w, ()))]
        lex_forms = [f for e in entries if e.phrase == w for f in e.forms]
        forms.append(tuple(dict.fromkeys(f for f in (*fs, *lex_forms) if f)))
    keys: tuple[tuple[tuple[str, ...], ...], ...] = ()
    if p.get("pinyin"):
        # homophones of words of 2+ characters (one syllable alone would match far too much)
        keys = tuple(tuple(tuple(fast_syllables(f)) for f in fs if len(f) >= 2) for fs in forms)
    match = p.get("match", "any")
    at_least = int(p.get("at_least", 1 if match == "any" else len(words)))
    if "at_least" in p:
        match = "at_least"
    alternation = "|".join(re.escape(f) for f in sorted({f for fs in forms for f in fs}, key=len, reverse=True))
    any_form = re.compile(alternation) if alternation else None
    postings: dict[str, list[tuple[int, int, int]]] = {}
    for wi, ks in enumerate(keys):
        for ki, key in enumerate(ks):
            for syl, n in Counter(key).items():
                postings.setdefault(syl, []).append((wi, ki, n))
    return _Keywords(
        tuple(words),
        tuple(forms),
        match,
        at_least,
        keys,
        bool(p.get("pinyin")),
        any_form,
        {k: tuple(v) for k, v in postings.items()},
    )


def _pinyin_words(kw: _Keywords, syl: list[str], skip: Sequence[str]) -> list[str]:
    """Words (not in `skip`) one of whose keys the sentence says homophone-tolerantly, in word order."""
    carried: dict[tuple[int, int], int] = {}
    for s in set(syl):
        for wi, ki, n in kw.postings.get(s, ()):
            carried[wi, ki] = carried.get((wi, ki), 0) + n
    out: list[int] = []
    for (wi, ki), n in sorted(carried.items()):
        if out and out[-1] == wi:
            continue  # this word already matched through another form
        key = kw.keys[wi][ki]
        max_cost = DEFAULT_MAX_COST_RATIO * len(key)
        # cheap prefilter, as in lexicon.Lexicon.find: too few of the key's syllables said at all
        if n >= len(key) - 2 * max_cost and kw.words[wi] not in skip and approx_find(key, syl, max_cost):
            out.append(wi)
    return [kw.words[wi] for wi in out]


@_op(
    "keyword",
    "text",
    {
        "words": {"type": "array", "items": {"type": ["string", "number"]}},
        "synonyms": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "match": {"enum": ["any", "all", "none"]},
        "at_least": {"type": "integer", "minimum": 1},
        "pinyin": {"type": "boolean"},
        "lexicon": {"type": "string"},
        "categories": {"type": "array", "items": {"type": "string"}},
    },
    compile=_compile_keyword,
)
def keyword(view: CallView, kw: _Keywords, scope: Sequence[int], role: str) -> list[Hit]:
    """Sentences that say one of the words (or a synonym); `all` / `at_least` count distinct words over the
    scope; `none` holds (one call-level hit) when no word is said."""
    per_sentence: list[tuple[int, list[str]]] = []
    seen: set[str] = set()
    for i in scope:
        norm = view.norm(i)
        if kw.any_form is not None and kw.any_form.search(norm):
            found = [w for w, fs in zip(kw.words, kw.forms, strict=True) if any(f in norm for f in fs)]
        else:
            found = []
        if kw.pinyin and len(found) < len(kw.words):
            found += _pinyin_words(kw, view.syllables(i), found)
        if found:
            per_sentence.append((i, found))
            seen.update(found)
    if kw.match == "none":
        return [] if seen else [Hit(None, None, None, None, "", {"absent": list(kw.words)})]
    need = kw.at_least if kw.match in ("at_least", "any") else len(kw.words)
    if len(seen) < need:
        return []
    return [_sentence_hit(view, i, words=found) for i, found in per_sentence]


@dataclass(frozen=True)
class _Regex:
    pattern: re.Pattern[str]
    not_regex: re.Pattern[str] | None


@_op(
    "regex",
    "text",
    {"pattern": {"type": "string"}, "not_regex": {"type": "string"}},
    required=["pattern"],
    compile=lambda p, _lex: _Regex(
        re.compile(p["pattern"]), re.compile(p["not_regex"]) if p.get("not_regex") else None
    ),
)
def regex(view: CallView, rx: _Regex, scope: Sequence[int], role: str) -> list[Hit]:
    """Sentences whose text matches `pattern` and not `not_regex` (Python regular expressions)."""
    hits = []
    for i in scope:
        text = view.utts[i].text
        m = rx.pattern.search(text)
        if m and not (rx.not_regex and rx.not_regex.search(text)):
            hits.append(_sentence_hit(view, i, matched=m.group(0)))
    return hits


def _phrase_categories() -> list[str]:
    from ..phrasing import CATEGORIES

    return sorted(CATEGORIES)


@_op(
    "similar",
    "text",
    {
        "examples": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "category": {"type": "string"},
        "threshold": {"type": "number", "minimum": 0, "maximum": 1},
        "pinyin": {"type": "boolean"},
        "model": {"type": "boolean"},
        "model_threshold": {"type": "number", "minimum": 0, "maximum": 1},
    },
)
def similar(view: CallView, p: Mapping[str, Any], scope: Sequence[int], role: str) -> list[Hit]:
    """Sentences that say what one of the example sentences says. Bare examples: the wording score (≥
    threshold, default 0.8) or a paraphrase classifier learnt from the examples (`phrasing.example_matcher`,
    score ≥ model_threshold, default 0.25: learnt from a handful of sentences, its scores run lower than the
    phrase model's; `model: false` turns it off). With `category` (a phrase
    category of `qa_pipeline.phrasing`: closing_ask, hold_notice …), that category's classifier judges, the
    examples added to its training phrases."""
    if p.get("category"):
        return _similar_category(view, p, scope)
    threshold = float(p.get("threshold", 0.8))
    probs = _example_model_scores(view, p, scope) if p.get("model", True) else {}
    model_threshold = float(p.get("model_threshold", EXAMPLE_MODEL_THRESHOLD))
    hits = []
    for i in scope:
        text = view.utts[i].text
        best = max((similarity(ex, text, pinyin=bool(p.get("pinyin"))), ex) for ex in p["examples"])
        if best[0] >= threshold:
            hits.append(_sentence_hit(view, i, example=best[1], similarity=round(best[0], 3)))
        elif probs.get(i, 0.0) >= model_threshold:
            hits.append(_sentence_hit(view, i, method="model", similarity=round(probs[i], 3)))
    return hits


EXAMPLE_MODEL_THRESHOLD = 0.25
"""Default score from which the examples' classifier counts a sentence (on constructed marketing offers:
paraphrases 0.3–0.65, unrelated agent and customer turns ≤ 0.12; `callqa rules test` shows a rule's hits)."""


_MODEL_CACHE_SIZE = 50_000
_model_scores: OrderedDict[tuple[tuple[str, ...], str], float] = OrderedDict()
"""(examples, sentence) → score: scripted sentences recur across an archive (as in `phrasing.detect.prime`)."""


def _example_model_scores(view: CallView, p: Mapping[str, Any], scope: Sequence[int]) -> dict[int, float]:
    """Per sentence in scope: the highest score the examples' classifier gives one of its units (clauses,
    adjacent clause pairs, the whole short sentence — as the phrase checks classify)."""
    examples = tuple(str(e) for e in p["examples"])
    texts = {i: view.utts[i].text for i in scope}
    score_sentences(examples, texts.values())
    return {i: _model_scores.get((examples, t), 0.0) for i, t in texts.items()}


def score_sentences(examples: tuple[str, ...], texts: Iterable[str]) -> None:
    """Score the sentences not scored yet with the examples' classifier, in one batch (a classifier call costs
    ~0.9 ms per unit in batches of one call's sentences, ~0.04 ms in batches of a thousand calls')."""
    from ..phrasing import MATCH, example_matcher
    from ..phrasing.detect import units

    todo = [t for t in dict.fromkeys(texts) if (examples, t) not in _model_scores]
    if not todo:
        return
    # trained on each example and each of its clauses and clause pairs: the units a sentence is classified by
    model = example_matcher(tuple(dict.fromkeys([*examples, *(e[a:b] for e in examples for a, b in units(e))])))
    flat = [(t, t[s:e]) for t in todo for s, e in units(t)]
    col = model.classes.index(MATCH)
    probs: list[float] = model.predict([u for _, u in flat])[:, col].tolist() if flat else []
    best = dict.fromkeys(todo, 0.0)
    for (t, _), pr in zip(flat, probs, strict=True):
        best[t] = max(best[t], float(pr))
    for t, pr in best.items():
        _model_scores[examples, t] = pr
    while len(_model_scores) > _MODEL_CACHE_SIZE:
        _model_scores.popitem(last=False)


def _similar_category(view: CallView, p: Mapping[str, Any], scope: Sequence[int]) -> list[Hit]:
    from ..phrasing import find_in_utterance, prime

    name = p["category"]
    extra = {name: tuple(p["examples"])} if p.get("examples") else None
    prime([view.utts[i].text for i in scope], extra)  # one classifier batch for the call
    hits = []
    for i in scope:
        u = view.utts[i]
        found = find_in_utterance(name, u.text, u.speaker, extra=extra)
        found = [m for m in found if "threshold" not in p or m.score >= p["threshold"]]
        if found:
            best = max(found, key=lambda m: m.score)
            hits.append(_sentence_hit(view, i, category=name, method=best.method, similarity=best.score))
    return hits


# -------------------------------------------------------------------------------------------- timeline


def _gaps(speech: Sequence[SpeechSegment]) -> list[tuple[float, float, str, str]]:
    """(start, end, speaker before, speaker after) of every gap where nobody speaks."""
    out: list[tuple[float, float, str, str]] = []
    floor: SpeechSegment | None = None
    for seg in speech:
        if floor is not None and seg.start > floor.end:
            out.append((floor.end, seg.start, floor.speaker, seg.speaker))
        if floor is None or seg.end >= floor.end:
            floor = seg
    return out


def _in_band(x: float, p: Mapping[str, Any], lo: str, hi: str) -> bool:
    return (p.get(lo) is None or x >= p[lo]) and (p.get(hi) is None or x <= p[hi])


def _said(view: CallView, speaker: str, start: float, end: float) -> str:
    return " ".join(u.text for u in view.utts if u.speaker == speaker and u.end > start and u.start < end)


@_op(
    "silence",
    "timeline",
    {"min_s": _POS, "max_s": _POS, "between": {"enum": ["different", "same", "any"]}, "after": _ROLE},
    role_params=("after",),
)
def silence(view: CallView, p: Mapping[str, Any], scope: Sequence[int], role: str) -> list[Hit]:
    """Gaps where nobody speaks, in [min_s, max_s]; `between` different/same roles; `after` who spoke last."""
    between, after = p.get("between", "any"), p.get("after", "any")
    hits = []
    for a, b, before, nxt in _gaps(view.timeline.speech):
        if not _in_band(b - a, p, "min_s", "max_s"):
            continue
        if (between == "different" and before == nxt) or (between == "same" and before != nxt):
            continue
        if after != "any" and before != after:
            continue
        hits.append(
            Hit(a, b, before, view.sentence_at(a), _said(view, before, a - 15, a), {"silence_s": round(b - a, 2)})
        )
    return hits


@_op(
    "interruption",
    "timeline",
    {"min_overlap_ms": _POS, "min_chars": {"type": "integer", "minimum": 0}, "delay_ms": _POS, "by": _ROLE},
    role_params=("by",),
)
def interruption(view: CallView, p: Mapping[str, Any], scope: Sequence[int], role: str) -> list[Hit]:
    """One party starts while the other speaks: overlap ≥ min_overlap_ms, the interrupting sentence has ≥
    min_chars characters, and it starts ≥ delay_ms after the interrupted party began (not a joint start)."""
    by = p.get("by", role)
    hits = []
    for o in view.timeline.overlaps:
        if by != "any" and o.speaker != by:
            continue
        if o.duration * 1000 < p.get("min_overlap_ms", 0):
            continue
        host = next(
            (s for s in view.timeline.segments(o.interrupted) if s.start <= o.start < s.end),
            None,
        )
        delay_ms = (o.start - host.start) * 1000 if host else 0.0
        if delay_ms < p.get("delay_ms", 0):
            continue
        seg = o.interrupter_segment
        said = _said(view, o.speaker, seg.start, seg.end)
        if char_count(said) < p.get("min_chars", 0):
            continue
        hits.append(
            Hit(
                o.start,
                o.end,
                o.speaker,
                view.sentence_at(o.start),
                said,
                {"overlap_ms": round(o.duration * 1000), "delay_ms": round(delay_ms), "interrupted": o.interrupted},
            )
        )
    return hits


@_op(
    "speech_rate",
    "timeline",
    {
        "per": {"enum": ["sentence", "call"]},
        "min_chars": {"type": "integer", "minimum": 0},
        "min_cpm": _POS,
        "max_cpm": _POS,
    },
)
def speech_rate(view: CallView, p: Mapping[str, Any], scope: Sequence[int], role: str) -> list[Hit]:
    """Characters per minute in [min_cpm, max_cpm]: per sentence (sentences of ≥ min_chars), or over the
    call (the role's characters over its voice-activity time)."""
    min_chars = p.get("min_chars", 4)
    if p.get("per", "sentence") == "call":
        segs = view.timeline.speech if role == "any" else view.timeline.segments(role)  # type: ignore[arg-type]
        speech_s = sum(s.duration for s in segs)
        chars = sum(char_count(view.utts[i].text) for i in scope)
        if speech_s <= 0 or chars < min_chars:
            return []
        cpm = chars / speech_s * 60.0
        if not _in_band(cpm, p, "min_cpm", "max_cpm"):
            return []
        return [
            Hit(None, None, None if role == "any" else role, None, f"{cpm:.0f}", {"chars_per_minute": round(cpm, 1)})
        ]
    hits = []
    for i in scope:
        u = view.utts[i]
        n = char_count(u.text)
        if n < min_chars or u.end <= u.start:
            continue
        cpm = n / (u.end - u.start) * 60.0
        if _in_band(cpm, p, "min_cpm", "max_cpm"):
            hits.append(_sentence_hit(view, i, chars_per_minute=round(cpm, 1)))
    return hits


@_op("first_response", "timeline", {"over_s": _POS}, required=["over_s"])
def first_response(view: CallView, p: Mapping[str, Any], scope: Sequence[int], role: str) -> list[Hit]:
    """非正常接听: the agent's first sentence starts more than over_s after the call connects (or never)."""
    first = next((i for i, u in enumerate(view.utts) if u.speaker == "agent"), None)
    if first is None:
        return [Hit(0.0, view.timeline.duration, "agent", None, "", {"first_response_s": None})]
    u = view.utts[first]
    if u.start <= p["over_s"]:
        return []
    return [Hit(0.0, u.start, "agent", first, u.text, {"first_response_s": round(u.start, 2)})]


@_op("hang_up", "timeline", {"over_s": _POS, "last_speaker": _ROLE}, required=["over_s"], role_params=("last_speaker",))
def hang_up(view: CallView, p: Mapping[str, Any], scope: Sequence[int], role: str) -> list[Hit]:
    """非正常挂机: the recording runs on more than over_s after the last sentence (who spoke last: last_speaker)."""
    if not view.utts:
        return []
    i = max(range(len(view.utts)), key=lambda k: view.utts[k].end)
    u = view.utts[i]
    tail = view.timeline.duration - u.end
    who = p.get("last_speaker", "any")
    if tail <= p["over_s"] or (who != "any" and u.speaker != who):
        return []
    return [Hit(u.end, view.timeline.duration, u.speaker, i, u.text, {"after_last_sentence_s": round(tail, 2)})]


@_op(
    "volume",
    "timeline",
    {"min_dbfs": _NUM, "max_dbfs": _NUM, "min_jump_db": _POS, "min_span_db": _POS},
)
def volume(view: CallView, p: Mapping[str, Any], scope: Sequence[int], role: str) -> list[Hit]:
    """Loudness of the role's speech segments: in the band [min_dbfs, max_dbfs]; or a jump ≥ min_jump_db
    between adjacent segments of the same party; or a span (loudest − quietest) ≥ min_span_db."""
    segs = [s for s in view.timeline.speech if (role == "any" or s.speaker == role) and s.loudness_dbfs is not None]
    hits: list[Hit] = []
    if "min_jump_db" in p:
        last: dict[str, SpeechSegment] = {}
        for s in segs:
            prev = last.get(s.speaker)
            if prev is not None and abs(s.loudness_dbfs - prev.loudness_dbfs) >= p["min_jump_db"]:  # type: ignore[operator]
                jump = round(s.loudness_dbfs - prev.loudness_dbfs, 1)  # type: ignore[operator]
                hits.append(
                    Hit(
                        s.start,
                        s.end,
                        s.speaker,
                        view.sentence_at(s.start),
                        _said(view, s.speaker, s.start, s.end),
                        {"jump_db": jump},
                    )
                )
            last[s.speaker] = s
        return hits
    if "min_span_db" in p:
        if segs:
            lo = min(segs, key=lambda s: s.loudness_dbfs)  # type: ignore[arg-type,return-value]
            hi = max(segs, key=lambda s: s.loudness_dbfs)  # type: ignore[arg-type,return-value]
            span = hi.loudness_dbfs - lo.loudness_dbfs  # type: ignore[operator]
            if span >= p["min_span_db"]:
                hits.append(
                    Hit(hi.start, hi.end, hi.speaker, view.sentence_at(hi.start), "", {"span_db": round(span, 1)})
                )
        return hits
    for s in segs:
        if _in_band(s.loudness_dbfs, p, "min_dbfs", "max_dbfs"):  # type: ignore[arg-type]
            hits.append(
                Hit(
                    s.start,
                    s.end,
                    s.speaker,
                    view.sentence_at(s.start),
                    _said(view, s.speaker, s.start, s.end),
                    {"dbfs": s.loudness_dbfs},
                )
            )
    return hits


@_op("duration", "timeline", {"min_s": _POS, "max_s": _POS})
def duration(view: CallView, p: Mapping[str, Any], scope: Sequence[int], role: str) -> list[Hit]:
    """The call lasts between min_s and max_s."""
    d = view.timeline.duration
    return [Hit(0.0, d, None, None, "", {"duration_s": round(d, 1)})] if _in_band(d, p, "min_s", "max_s") else []


@_op("sentence_count", "timeline", {"min": {"type": "integer", "minimum": 0}, "max": {"type": "integer", "minimum": 0}})
def sentence_count(view: CallView, p: Mapping[str, Any], scope: Sequence[int], role: str) -> list[Hit]:
    """The role says between min and max sentences (in the condition's position scope)."""
    n = len(scope)
    return (
        [Hit(None, None, None if role == "any" else role, None, "", {"sentences": n})]
        if _in_band(n, p, "min", "max")
        else []
    )


@_op(
    "repeat",
    "timeline",
    {
        "within": {"type": "integer", "minimum": 1},
        "min_similarity": {"type": "number", "minimum": 0, "maximum": 1},
        "min_chars": {"type": "integer", "minimum": 0},
    },
)
def repeat(view: CallView, p: Mapping[str, Any], scope: Sequence[int], role: str) -> list[Hit]:
    """A sentence that repeats one of the same party's previous `within` sentences (similarity ≥
    min_similarity, both ≥ min_chars characters)."""
    within, min_sim, min_chars = (
        int(p.get("within", 3)),
        float(p.get("min_similarity", 0.8)),
        int(p.get("min_chars", 4)),
    )
    hits = []
    by_speaker: dict[str, list[int]] = {}
    for i in scope:
        u = view.utts[i]
        prev = by_speaker.setdefault(u.speaker, [])
        if char_count(u.text) >= min_chars:
            for j in prev[-within:]:
                if char_count(view.utts[j].text) >= min_chars:
                    sim = symmetric_similarity(view.utts[j].text, u.text)
                    if sim >= min_sim:
                        hits.append(_sentence_hit(view, i, repeats=j, similarity=round(sim, 3)))
                        break
        prev.append(i)
    return hits


def operator_names() -> list[str]:
    return sorted(OPERATORS)


_ = load_lexicon  # the default lexicon resolver (the loader passes one that looks next to the rubric first)
