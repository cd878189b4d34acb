"""Phrase lexicons (data in `qa_pipeline/lexicons/*.yaml`) and homophone-tolerant phrase matching.

Matching, per utterance:
1. the text is normalised (`text.normalize_with_map`: t2s, half-width, no punctuation, lower-case);
2. **exact**: every entry's phrase, its `variants` and its regex `pattern` are searched in the normalised
   text (`match: whole` entries only match when they are the whole utterance, optionally repeated);
3. **pinyin**: entries at least `min_fuzzy_len` characters long (lexicon setting) are also searched by
   approximate matching over tone-less *fuzzy* pinyin (zh/z ch/c sh/s n/l an/ang en/eng in/ing merged):
   substitution of a fuzzy-equal syllable costs 0, of a "near" syllable (ni/nin) 0.5, anything else 1;
   insert/delete 1; allowed cost = `max_cost_ratio` × phrase length; score = 1 − cost/length;
4. context guards: `exclude_after` / `exclude_before` (normalised strings) veto a hit when they directly
   follow / precede it;
5. overlapping hits are resolved: larger length × score first, then exact before pinyin.
Offsets in `PhraseMatch` are into the ORIGINAL text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml

from .text import _near_syllable, fuzzy_syllables, normalize, normalize_with_map, orig_span

__all__ = ["PhraseMatch", "LexiconEntry", "Lexicon", "load_lexicon", "available_lexicons"]

DEFAULT_MIN_FUZZY_LEN = 4
DEFAULT_MAX_COST_RATIO = 0.15
NEAR_COST = 0.5


@dataclass(frozen=True)
class PhraseMatch:
    lexicon: str
    category: str
    phrase: str
    start: int
    end: int
    method: str  # "exact" | "pinyin"
    score: float


@dataclass(frozen=True)
class LexiconEntry:
    phrase: str
    category: str
    source: str
    variants: tuple[str, ...] = ()
    pattern: str | None = None
    whole: bool = False
    question_only: bool = False
    fuzzy: bool = True
    exclude_after: tuple[str, ...] = ()
    exclude_before: tuple[str, ...] = ()
    note: str = ""
    # derived
    forms: tuple[str, ...] = field(default=(), compare=False)  # normalised phrase + variants
    keys: tuple[tuple[str, ...], ...] = field(default=(), compare=False)  # fuzzy syllables per form
    regex: Any = field(default=None, compare=False)


def _entry(raw: dict[str, Any], lexicon: str) -> LexiconEntry:
    for k in ("phrase", "category", "source"):
        if not raw.get(k):
            raise ValueError(f"lexicon {lexicon!r}: entry {raw!r} lacks {k!r}")
    forms = tuple(dict.fromkeys(f for f in (normalize(raw["phrase"]), *map(normalize, raw.get("variants", ()))) if f))
    pattern = raw.get("pattern")
    return LexiconEntry(
        phrase=raw["phrase"],
        category=raw["category"],
        source=raw["source"],
        variants=tuple(raw.get("variants", ())),
        pattern=pattern,
        whole=raw.get("match", "substring") == "whole",
        question_only=bool(raw.get("question_only", False)),
        fuzzy=bool(raw.get("fuzzy", True)),
        exclude_after=tuple(normalize(x) for x in raw.get("exclude_after", ())),
        exclude_before=tuple(normalize(x) for x in raw.get("exclude_before", ())),
        note=raw.get("note", ""),
        forms=forms,
        keys=tuple(tuple(fuzzy_syllables(f)) for f in forms),
        regex=re.compile(pattern) if pattern else None,
    )


def _sub_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return NEAR_COST if _near_syllable(a, b) else 1.0


def approx_find(pattern: tuple[str, ...], text: Sequence[str], max_cost: float) -> list[tuple[int, int, float]]:
    """Approximate substring search (Sellers): non-overlapping (start, end, cost) with cost ≤ max_cost."""
    m, n = len(pattern), len(text)
    if m == 0 or n == 0:
        return []
    prev = [0.0] * (n + 1)  # row i=0: free start anywhere
    prev_s = list(range(n + 1))
    for i in range(1, m + 1):
        cur = [float(i)] + [0.0] * n
        cur_s = [0] * (n + 1)
        p = pattern[i - 1]
        for j in range(1, n + 1):
            best, bs = prev[j - 1] + _sub_cost(p, text[j - 1]), prev_s[j - 1]
            c = prev[j] + 1.0  # phrase char missing in text
            if c < best:
                best, bs = c, prev_s[j]
            c = cur[j - 1] + 1.0  # extra char in text
            if c < best:
                best, bs = c, cur_s[j - 1]
            cur[j], cur_s[j] = best, bs
        if min(cur) > max_cost:
            return []
        prev, prev_s = cur, cur_s
    cands = [(prev[j], abs((j - prev_s[j]) - m), prev_s[j], j) for j in range(1, n + 1) if prev[j] <= max_cost + 1e-9]
    cands.sort()
    taken: list[tuple[int, int, float]] = []
    for cost, _, s, e in cands:
        if e <= s:
            continue
        if all(e <= ts or s >= te for ts, te, _ in taken):
            taken.append((s, e, cost))
    return sorted(taken)


# One utterance is matched against every lexicon of every phrase check: normalise it and take its pinyin once
# (OpenCC + pypinyin were most of a call's judging time), not once per lexicon. Immutable results.
@lru_cache(maxsize=4096)
def _normalized(text: str) -> tuple[str, tuple[int, ...]]:
    norm, imap = normalize_with_map(text)
    return norm, tuple(imap)


@lru_cache(maxsize=4096)
def _fuzzy(norm: str) -> tuple[str, ...]:
    return tuple(fuzzy_syllables(norm))


class Lexicon:
    """A named phrase list; `find` returns matches with offsets into the original text."""

    def __init__(
        self,
        name: str,
        entries: list[LexiconEntry],
        *,
        description: str = "",
        min_fuzzy_len: int = DEFAULT_MIN_FUZZY_LEN,
        max_cost_ratio: float = DEFAULT_MAX_COST_RATIO,
    ):
        self.name = name
        self.entries = tuple(entries)
        self.description = description
        self.min_fuzzy_len = min_fuzzy_len
        self.max_cost_ratio = max_cost_ratio

    def __repr__(self) -> str:
        return f"Lexicon({self.name!r}, {len(self.entries)} entries)"

    def categories(self) -> list[str]:
        return list(dict.fromkeys(e.category for e in self.entries))

    def phrases(self, category: str | None = None) -> list[str]:
        return [e.phrase for e in self.entries if category is None or e.category == category]

    # -- matching -------------------------------------------------------------------------------------
    def find(self, text: str, *, fuzzy: bool = True) -> list[PhraseMatch]:
        norm, imap = _normalized(text)
        if not norm:
            return []
        is_question = bool(re.search(r"[?？]\s*$", text or ""))
        cands: list[
            tuple[int, float, int, int, int, LexiconEntry, str]
        ] = []  # (rank, -score, -len, s, e, entry, method)
        syl: tuple[str, ...] | None = None
        for entry in self.entries:
            if entry.question_only and not is_question:
                continue
            hits: list[tuple[int, int]] = []
            if entry.whole:
                for f in entry.forms:
                    if len(norm) % len(f) == 0 and norm == f * (len(norm) // len(f)):
                        hits.append((0, len(norm)))
                        break
            else:
                for f in entry.forms:
                    start = norm.find(f)
                    while start >= 0:
                        hits.append((start, start + len(f)))
                        start = norm.find(f, start + 1)
                if entry.regex is not None:
                    hits.extend(m.span() for m in entry.regex.finditer(norm) if m.end() > m.start())
            exact = [(s, e) for s, e in hits if self._context_ok(entry, norm, s, e)]
            for s, e in exact:
                cands.append((0, -1.0, -(e - s), s, e, entry, "exact"))
            if not (fuzzy and entry.fuzzy and not entry.whole):
                continue
            for key in entry.keys:
                if len(key) < self.min_fuzzy_len:
                    continue
                if syl is None:
                    syl = _fuzzy(norm)
                max_cost = self.max_cost_ratio * len(key)
                # cheap prefilter: enough of the phrase's syllables must occur in the utterance
                present = set(syl)
                # near-substitutions (cost 0.5) can stand in for a missing syllable, hence 2 × max_cost
                if sum(1 for k in key if k in present) < len(key) - 2 * max_cost:
                    continue
                for s, e, cost in approx_find(key, syl, max_cost):
                    if any(not (e <= xs or s >= xe) for xs, xe in exact):
                        continue
                    if not self._context_ok(entry, norm, s, e):
                        continue
                    score = round(1.0 - cost / len(key), 3)
                    cands.append((1, -score, -(e - s), s, e, entry, "pinyin"))
        # longest well-scored coverage first (a long pinyin hit beats a short exact one inside it)
        cands.sort(key=lambda c: (c[2] * -c[1], c[0], c[1], c[3]))
        chosen: list[tuple[int, int, LexiconEntry, str, float]] = []
        for _, nscore, _, s, e, entry, method in cands:
            if all(e <= cs or s >= ce for cs, ce, *_ in chosen):
                chosen.append((s, e, entry, method, -nscore))
        out = []
        for s, e, entry, method, score in sorted(chosen, key=lambda c: c[0]):
            os_, oe = orig_span(list(imap), s, e, len(text))
            out.append(PhraseMatch(self.name, entry.category, entry.phrase, os_, oe, method, float(score)))
        return out

    @staticmethod
    def _context_ok(entry: LexiconEntry, norm: str, s: int, e: int) -> bool:
        after, before = norm[e:], norm[:s]
        if any(after.startswith(x) for x in entry.exclude_after):
            return False
        if any(before.endswith(x) for x in entry.exclude_before):
            return False
        return True


def available_lexicons() -> list[str]:
    pkg = resources.files("qa_pipeline") / "lexicons"
    return sorted(p.name[:-5] for p in pkg.iterdir() if p.name.endswith(".yaml"))


_REGISTERED: dict[str, Lexicon] = {}
"""Lexicons loaded from a QA lead's folder (next to their rubric), under the key the rubric loader gave them."""


def register_lexicon(key: str, lexicon: Lexicon) -> None:
    """Make `load_lexicon(key)` return `lexicon` (the rubric loader registers lexicons found next to a rubric)."""
    _REGISTERED[key] = lexicon


def parse_lexicon(text: str, name: str) -> Lexicon:
    """A lexicon from YAML text (`name:`, `entries:`); raises ValueError on a bad entry."""
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError(f"lexicon {name!r}: a lexicon is a mapping with name and entries")
    return _build(data, name)


def load_lexicon(name: str) -> Lexicon:
    """A registered lexicon, else `qa_pipeline/lexicons/<name>.yaml` (cached)."""
    found = _REGISTERED.get(name)
    return found if found is not None else _load_builtin(name)


@cache
def _load_builtin(name: str) -> Lexicon:
    path = resources.files("qa_pipeline") / "lexicons" / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(f"unknown lexicon {name!r}; known: {', '.join(available_lexicons())}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if data.get("name", name) != name:
        raise ValueError(f"lexicon file {name}.yaml declares name {data.get('name')!r}")
    return _build(data, name)


def _build(data: dict[str, Any], name: str) -> Lexicon:
    entries = [_entry(raw, name) for raw in data.get("entries", [])]
    return Lexicon(
        name,
        entries,
        description=data.get("description", ""),
        min_fuzzy_len=int(data.get("min_fuzzy_len", DEFAULT_MIN_FUZZY_LEN)),
        max_cost_ratio=float(data.get("max_cost_ratio", DEFAULT_MAX_COST_RATIO)),
    )
