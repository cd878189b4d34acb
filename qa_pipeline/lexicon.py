"""Phrase lexicons (data in `qa_pipeline/lexicons/*.yaml`) and homophone-tolerant phrase matching.

Matching, per utterance:
1. the text is normalised (`text.normalize_with_map`: t2s, half-width, no punctuation, lower-case);
2. **exact**: every entry's phrase, its `variants` and its regex `pattern` are searched in the normalised
   text (`match: whole` entries only match when they are the whole utterance, optionally repeated);
3. **pinyin**: entries at least `min_fuzzy_len` characters long (lexicon setting) are also searched by
   approximate matching over tone-less *fuzzy* pinyin (zh/z ch/c sh/s n/l an/ang en/eng in/ing merged):
   substitution of a fuzzy-equal syllable costs 0, of a "near" syllable (ni/nin) 0.5, anything else 1;
   insert/delete 1; allowed cost = `max_cost_ratio` × phrase length; score = 1 − cost/length;
   a pinyin hit must say 不 / 没 / 别 as often as the phrase does (`same_polarity`): 就是您说的那样 is one
   syllable from 不是您说的那样 and means the opposite;
4. context guards: `exclude_after` / `exclude_before` (normalised strings) veto a hit when they directly
   follow / precede it;
5. overlapping hits are resolved: larger length × score first, then exact before pinyin.
Offsets in `PhraseMatch` are into the ORIGINAL text.
"""

from __future__ import annotations

import bisect
import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from .config_errors import show, show_list
from .i18n import t
from .text import _near_syllable, fuzzy_syllables, normalize, normalize_with_map, orig_span

__all__ = ["PhraseMatch", "LexiconEntry", "Lexicon", "load_lexicon", "available_lexicons"]

DEFAULT_MIN_FUZZY_LEN = 4
DEFAULT_MAX_COST_RATIO = 0.15
NEAR_COST = 0.5
NEGATION_SYLLABLES = tuple(fuzzy_syllables("不没别"))
"""Syllables that turn a phrase's meaning around (不 / 没 / 别; 部 / 每 / 憋 share them, so an ASR homophone of the
negation still matches)."""


def same_polarity(phrase: Sequence[str], span: Sequence[str]) -> bool:
    """Whether a pinyin match keeps the phrase's negations: each of `NEGATION_SYLLABLES` occurs as often in the
    matched syllables as in the phrase's. A substitution that costs one syllable can otherwise flip the meaning
    (不是您说的那样 → 就是您说的那样, 别着急 → 很着急) and the approximate match cannot tell."""
    return all(phrase.count(n) == span.count(n) for n in NEGATION_SYLLABLES)


FIND_CACHE_SIZE = 512
"""Utterances whose matches a lexicon remembers (a call's agent turns are asked about several times)."""


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
            raise ValueError(t("config.lexicon.entry_lacks", name=show(lexicon), entry=show(raw), key=k))
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


# -- approximate matching -------------------------------------------------------------------------------
# Linear in the text: a syllable-count filter finds the few windows where a match within the allowed cost is
# possible at all, and the Sellers DP runs only over those (issue 15: the DP over every utterance × every long
# phrase was ~10 ms per character). The windows are chosen so that the DP gives exactly what a DP over the
# whole text gives (see `_regions`).

NUMPY_DP_MIN_LEN = 48
"""Regions at least this long run the DP row by row in numpy; shorter ones (the usual case) in plain Python,
where numpy's per-call overhead would dominate."""


@dataclass
class MatchStats:
    """Work done by approximate matching (a test bounds it per character without timing anything)."""

    calls: int = 0
    regions: int = 0
    dp_cells: int = 0


STATS = MatchStats()


class _Encoded:
    """A syllable sequence as integer ids into its own vocabulary, with the substitution cost of a phrase
    syllable against every vocabulary syllable computed once per syllable (not once per DP cell)."""

    __slots__ = ("ids", "index", "by_prefix", "_rows")

    def __init__(self, text: Sequence[str]):
        index: dict[str, int] = {}
        self.ids = np.fromiter((index.setdefault(t, len(index)) for t in text), dtype=np.int64, count=len(text))
        self.index = index
        by_prefix: dict[str, list[int]] = {}
        for syl, i in index.items():
            if len(syl) >= 3 and syl.isalpha():
                by_prefix.setdefault(syl[:-1], []).append(i)
        self.by_prefix = by_prefix
        self._rows: dict[str, np.ndarray] = {}

    def cost_row(self, p: str) -> np.ndarray:
        """`_sub_cost(p, v)` for every vocabulary syllable v (0 equal, NEAR_COST near, 1 otherwise)."""
        row = self._rows.get(p)
        if row is None:
            row = np.ones(len(self.index))
            if len(p) >= 2 and p.isalpha():  # _near_syllable: one extra final letter either way
                for i in self.by_prefix.get(p, ()):
                    row[i] = NEAR_COST
                shorter = self.index.get(p[:-1]) if len(p) >= 3 else None
                if shorter is not None:
                    row[shorter] = NEAR_COST
            same = self.index.get(p)
            if same is not None:
                row[same] = 0.0
            self._rows[p] = row
        return row


@lru_cache(maxsize=256)
def _encoded_norm(norm: str) -> _Encoded:
    return _Encoded(_fuzzy(norm))


def _regions(pattern: tuple[str, ...], enc: _Encoded, max_cost: float) -> list[tuple[int, int]]:
    """Stretches of the text that can hold a match of cost ≤ max_cost, as maximal unions of windows.

    A match aligns the m phrase syllables to a text span of at most m + ⌊max_cost⌋ syllables (each extra text
    syllable costs 1), and at most 2·max_cost phrase syllables are not matched by an EQUAL text syllable (a
    near substitution costs 0.5): so some window of W = m + ⌊max_cost⌋ syllables around it holds at least
    m − 2·max_cost syllables that occur in the phrase. Two matches with a common end lie in one union, and a
    cheaper path from outside a union would itself be such a match: the DP inside each union therefore gives
    the same (cost, start) at every end of cost ≤ max_cost as the DP over the whole text."""
    n, m = len(enc.ids), len(pattern)
    need = m - 2 * max_cost - 1e-9
    width = m + int(np.floor(max_cost + 1e-9))
    member = np.zeros(len(enc.index), dtype=bool)
    for p in pattern:
        i = enc.index.get(p)
        if i is not None:
            member[i] = True
    counts = np.concatenate(([0], np.cumsum(member[enc.ids])))
    if n <= width:
        return [(0, n)] if counts[n] >= need else []
    ok = np.flatnonzero(counts[width:] - counts[:-width] >= need)
    if ok.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(ok) > width)
    starts = np.concatenate((ok[:1], ok[breaks + 1]))
    ends = np.concatenate((ok[breaks], ok[-1:])) + width
    return [(int(a), min(int(b), n)) for a, b in zip(starts, ends, strict=True)]


def _dp_python(
    rows: list[list[float]], ids: list[int], m: int, max_cost: float
) -> tuple[list[float], list[int]] | None:
    n = len(ids)
    prev = [0.0] * (n + 1)  # row i=0: free start anywhere
    prev_s = list(range(n + 1))
    for i in range(1, m + 1):
        cur = [float(i)] + [0.0] * n
        cur_s = [0] * (n + 1)
        cost = rows[i - 1]
        for j in range(1, n + 1):
            best, bs = prev[j - 1] + cost[ids[j - 1]], prev_s[j - 1]
            c = prev[j] + 1.0  # phrase char missing in text
            if c < best:
                best, bs = c, prev_s[j]
            c = cur[j - 1] + 1.0  # extra char in text
            if c < best:
                best, bs = c, cur_s[j - 1]
            cur[j], cur_s[j] = best, bs
        if min(cur) > max_cost:
            return None
        prev, prev_s = cur, cur_s
    return prev, prev_s


def _dp_numpy(rows: list[np.ndarray], ids: np.ndarray, m: int, max_cost: float) -> tuple[list[float], list[int]] | None:
    """The same recurrence and tie-breaking as `_dp_python` (diagonal, then up, then left only when strictly
    cheaper), one row at a time: cur[j] = min(base[j], cur[j−1] + 1) is a running minimum of base[j] − j."""
    n = len(ids)
    cols = np.arange(n + 1)
    prev: np.ndarray = np.zeros(n + 1)
    prev_s: np.ndarray = cols.copy()
    for i in range(1, m + 1):
        diag = prev[:-1] + rows[i - 1][ids]
        up = prev[1:] + 1.0
        use_up = up < diag
        vals = np.concatenate(([float(i)], np.where(use_up, up, diag)))
        srcs = np.concatenate(([0], np.where(use_up, prev_s[1:], prev_s[:-1])))
        v = vals - cols
        run = np.minimum.accumulate(v)
        src = np.maximum.accumulate(np.where(v == run, cols, 0))  # latest column whose own value is kept
        cur = run + cols
        if cur.min() > max_cost:
            return None
        prev, prev_s = cur, srcs[src]
    return prev.tolist(), prev_s.tolist()


def _approx_encoded(pattern: tuple[str, ...], enc: _Encoded, max_cost: float) -> list[tuple[int, int, float]]:
    m, n = len(pattern), len(enc.ids)
    if m == 0 or n == 0:
        return []
    STATS.calls += 1
    cands: list[tuple[float, int, int, int]] = []
    rows_np = [enc.cost_row(p) for p in pattern]
    rows_py: list[list[float]] | None = None
    for a, b in _regions(pattern, enc, max_cost):
        STATS.regions += 1
        STATS.dp_cells += m * (b - a)
        if b - a >= NUMPY_DP_MIN_LEN:
            out = _dp_numpy(rows_np, enc.ids[a:b], m, max_cost)
        else:
            rows_py = rows_py or [r.tolist() for r in rows_np]
            out = _dp_python(rows_py, enc.ids[a:b].tolist(), m, max_cost)
        if out is None:
            continue
        last, last_s = out
        cands += [
            (last[j], abs((j - last_s[j]) - m), a + last_s[j], a + j)
            for j in range(1, b - a + 1)
            if last[j] <= max_cost + 1e-9
        ]
    cands.sort()
    taken = _Disjoint()
    for cost, _, s, e in cands:
        if e > s and taken.add_if_free(s, e, cost):
            pass
    return taken.items()


class _Disjoint:
    """Non-overlapping half-open spans kept sorted: `add_if_free` is O(log n) (a list scan was quadratic in
    the number of hits of a long utterance)."""

    __slots__ = ("_starts", "_items")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._items: list[tuple[int, int, Any]] = []

    def free(self, s: int, e: int) -> bool:
        k = bisect.bisect_left(self._starts, s)
        if k < len(self._items) and self._items[k][0] < e:
            return False
        return not (k > 0 and self._items[k - 1][1] > s)

    def add_if_free(self, s: int, e: int, value: Any) -> bool:
        if not self.free(s, e):
            return False
        k = bisect.bisect_left(self._starts, s)
        self._starts.insert(k, s)
        self._items.insert(k, (s, e, value))
        return True

    def items(self) -> list[Any]:
        return list(self._items)


class _Overlaps:
    """Does [s, e) overlap any of some (possibly overlapping) spans? O(log n) per question."""

    __slots__ = ("_starts", "_max_end")

    def __init__(self, spans: Sequence[tuple[int, int]]):
        ordered = sorted(spans)
        self._starts = [s for s, _ in ordered]
        self._max_end = list(itertools.accumulate((e for _, e in ordered), max))

    def __call__(self, s: int, e: int) -> bool:
        k = bisect.bisect_left(self._starts, e)  # spans starting before e
        return k > 0 and self._max_end[k - 1] > s


def approx_find(pattern: tuple[str, ...], text: Sequence[str], max_cost: float) -> list[tuple[int, int, float]]:
    """Approximate substring search (Sellers): non-overlapping (start, end, cost) with cost ≤ max_cost, sorted."""
    return _approx_encoded(tuple(pattern), _Encoded(text), max_cost)


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
        self._found: OrderedDict[tuple[str, bool], tuple[PhraseMatch, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Lexicon({self.name!r}, {len(self.entries)} entries)"

    def categories(self) -> list[str]:
        return list(dict.fromkeys(e.category for e in self.entries))

    def phrases(self, category: str | None = None) -> list[str]:
        return [e.phrase for e in self.entries if category is None or e.category == category]

    # -- matching -------------------------------------------------------------------------------------
    def find(self, text: str, *, fuzzy: bool = True) -> list[PhraseMatch]:
        # several checks and phrase categories ask the same lexicon about the same utterance (the six forbidden
        # categories share one lexicon): match once
        key = (text, fuzzy)
        with self._lock:  # the workstation's threads share the process-wide lexicons
            hit = self._found.get(key)
            if hit is not None:
                self._found.move_to_end(key)
        if hit is None:
            hit = tuple(self._find(text, fuzzy))
            with self._lock:
                self._found[key] = hit
                while len(self._found) > FIND_CACHE_SIZE:
                    self._found.popitem(last=False)
        return list(hit)

    def __getstate__(self) -> dict[str, Any]:
        # what a lexicon is, not what it remembers (and a lock does not pickle)
        return {k: v for k, v in self.__dict__.items() if k not in ("_found", "_lock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._found = OrderedDict()
        self._lock = threading.Lock()

    def _find(self, text: str, fuzzy: bool) -> list[PhraseMatch]:
        norm, imap = _normalized(text)
        if not norm:
            return []
        is_question = bool(re.search(r"[?？]\s*$", text or ""))
        cands: list[
            tuple[int, float, int, int, int, LexiconEntry, str]
        ] = []  # (rank, -score, -len, s, e, entry, method)
        enc: _Encoded | None = None
        present: set[str] = set()
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
            overlaps_exact = _Overlaps(exact)
            for key in entry.keys:
                if len(key) < self.min_fuzzy_len:
                    continue
                if enc is None:
                    enc = _encoded_norm(norm)
                    present = set(enc.index)
                max_cost = self.max_cost_ratio * len(key)
                # cheap prefilter: enough of the phrase's syllables must occur in the utterance
                # near-substitutions (cost 0.5) can stand in for a missing syllable, hence 2 × max_cost
                if sum(1 for k in key if k in present) < len(key) - 2 * max_cost:
                    continue
                for s, e, cost in _approx_encoded(key, enc, max_cost):
                    if overlaps_exact(s, e) or not same_polarity(key, _fuzzy(norm)[s:e]):
                        continue
                    if not self._context_ok(entry, norm, s, e):
                        continue
                    score = round(1.0 - cost / len(key), 3)
                    cands.append((1, -score, -(e - s), s, e, entry, "pinyin"))
        # longest well-scored coverage first (a long pinyin hit beats a short exact one inside it)
        cands.sort(key=lambda c: (c[2] * -c[1], c[0], c[1], c[3]))
        chosen = _Disjoint()
        for _, nscore, _, s, e, entry, method in cands:
            chosen.add_if_free(s, e, (entry, method, -nscore))
        out = []
        for s, e, (entry, method, score) in chosen.items():
            os_, oe = orig_span(imap, s, e, len(text))
            out.append(PhraseMatch(self.name, entry.category, entry.phrase, os_, oe, method, float(score)))
        return out

    @staticmethod
    def _context_ok(entry: LexiconEntry, norm: str, s: int, e: int) -> bool:
        # startswith/endswith at an offset: slicing norm[e:] per hit made a long utterance quadratic
        if any(norm.startswith(x, e) for x in entry.exclude_after):
            return False
        if any(norm.endswith(x, 0, s) for x in entry.exclude_before):
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
        raise ValueError(t("config.lexicon.not_mapping", name=show(name)))
    return _build(data, name)


def load_lexicon(name: str) -> Lexicon:
    """A registered lexicon, else `qa_pipeline/lexicons/<name>.yaml` (cached)."""
    found = _REGISTERED.get(name)
    return found if found is not None else _load_builtin(name)


@cache
def _load_builtin(name: str) -> Lexicon:
    path = resources.files("qa_pipeline") / "lexicons" / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(t("config.lexicon.unknown", name=show(name), known=show_list(available_lexicons())))
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if data.get("name", name) != name:
        raise ValueError(t("config.lexicon.name_mismatch", name=name, declared=show(data.get("name"))))
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
