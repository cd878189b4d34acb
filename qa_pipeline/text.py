"""Chinese text helpers: normalisation with an index map, tokens, tone-less/fuzzy pinyin, spoken-char count.

Everything that compares transcript text (lexicon matching, repeated-question detection) works on the
*normalised* form (Simplified, half-width, lower-case, no punctuation/spaces) and maps hits back to the
original string with :func:`normalize_with_map`.
"""

from __future__ import annotations

import logging
import marshal
import re
import unicodedata
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

__all__ = [
    "normalize",
    "normalize_with_map",
    "to_halfwidth",
    "tokens",
    "syllables",
    "fuzzy_syllable",
    "fuzzy_syllables",
    "pinyin_key",
    "char_count",
    "syllable_distance",
    "pinyin_similarity",
    "is_cjk",
    "to_simplified",
]

# Fuzzy pinyin (模糊音): initials and finals commonly merged by southern/regional accents and by ASR on
# narrow-band phone audio. Applied after tone removal.
FUZZY_INITIALS: tuple[tuple[str, str], ...] = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
FUZZY_FINALS: tuple[tuple[str, str], ...] = (("ang", "an"), ("eng", "en"), ("ing", "in"))


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified (OpenCC t2s; Whisper base often writes Traditional for Mandarin)."""
    return str(_t2s().convert(text)) if text else text


def is_cjk(ch: str) -> bool:
    """A CJK ideograph (unified, extension A–F, compatibility)."""
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2FA1F or 0xF900 <= o <= 0xFAFF


def to_halfwidth(text: str) -> str:
    """Full-width ASCII variants (Ａ１！) and the ideographic space → their half-width forms."""
    out = []
    for ch in text:
        o = ord(ch)
        if o == 0x3000:
            out.append(" ")
        elif 0xFF01 <= o <= 0xFF5E:
            out.append(chr(o - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def _t2s_same_length(text: str) -> str:
    conv = _t2s().convert(text)
    if len(conv) == len(text):
        return conv
    # Phrase-level conversion changed the length (rare): fall back to char-by-char so indices stay aligned.
    return "".join(c if len(c := _t2s().convert(ch)) == 1 else ch for ch in text)


def _keep(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in ("L", "N")  # letters (incl. CJK) and digits; drops punctuation, symbols, spaces, "_"


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """Normalised text plus `index_map` where `index_map[i]` is the index in `text` of normalised char `i`.

    Steps: OpenCC t2s → full-width→half-width → drop everything that is not a letter/digit → lower-case.
    """
    conv = _t2s_same_length(to_halfwidth(text or ""))
    chars: list[str] = []
    index_map: list[int] = []
    for i, ch in enumerate(conv):
        if _keep(ch):
            chars.append(ch.lower() if ch.isascii() else ch)
            index_map.append(i)
    return "".join(chars), index_map


def normalize(text: str) -> str:
    """Simplified, half-width, lower-case text without punctuation or whitespace."""
    return normalize_with_map(text)[0]


def orig_span(index_map: Sequence[int], start: int, end: int, orig_len: int) -> tuple[int, int]:
    """Map a half-open span [start, end) of normalised text to a half-open span of the original text."""
    if not index_map or start >= len(index_map):
        return orig_len, orig_len
    return index_map[start], (index_map[end - 1] + 1 if end > start else index_map[start])


@cache
def jieba_module() -> Any:
    """jieba, for every caller that segments text: imported on first use, its dictionary loaded and its logging
    quiet (its first use would print "Building prefix dict…" on stderr)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.marshal = _WholeFileMarshal  # its dictionary cache, read in one go (see below)
    jieba.initialize()
    return jieba


class _WholeFileMarshal:
    """`marshal` as jieba's module sees it: `load(file)` reads the file in one go and unmarshals it from memory.

    jieba loads its dictionary cache (≈ 500,000 words and prefixes) with ``marshal.load(file)``, which reads the
    file a few bytes per object: 1.4–1.6 s of CPU in every process that segments text (each `callqa import`,
    each scoring worker). ``marshal.loads(file.read())`` makes the same objects in 0.4 s. Same file, same
    data: the dictionary and the segmentation are unchanged; jieba's own logic (which cache file, whether it
    is current, rebuilding it) is untouched."""

    dump = staticmethod(marshal.dump)
    dumps = staticmethod(marshal.dumps)
    loads = staticmethod(marshal.loads)

    @staticmethod
    def load(file: Any) -> Any:
        return marshal.loads(file.read())


def tokens(text: str) -> list[str]:
    """jieba word tokens of the normalised text."""
    norm = normalize(text)
    return [t for t in jieba_module().lcut(norm) if t.strip()]


def syllables(norm: str) -> list[str]:
    """Tone-less pinyin, exactly one item per character of the (already normalised) string.

    Non-Chinese characters (latin letters, digits) are kept as themselves. Polyphones are resolved by
    pypinyin's phrase dictionary on the whole string.
    """
    from pypinyin import Style, lazy_pinyin

    if not norm:
        return []
    out: list[str] = lazy_pinyin(norm, style=Style.NORMAL, errors=_as_chars, v_to_u=False)
    if len(out) != len(norm):  # defensive: never let alignment drift
        out = [lazy_pinyin(ch, style=Style.NORMAL, errors=_as_chars)[0] for ch in norm]
    return out


def _as_chars(text: str) -> Any:
    """pypinyin `errors` handler: characters without pinyin stay themselves, one item each (pypinyin accepts a
    list here although its annotation says str)."""
    return list(text)


@lru_cache(maxsize=4096)
def fuzzy_syllable(syl: str) -> str:
    """Canonical fuzzy form: zh/z ch/c sh/s n/l initials, an/ang en/eng in/ing finals merged."""
    s = syl
    for a, b in FUZZY_INITIALS:
        if s.startswith(a) and not (a == "n" and s.startswith("ng")):
            s = b + s[len(a) :]
            break
    for a, b in FUZZY_FINALS:
        if s.endswith(a):
            s = s[: -len(a)] + b
            break
    return s


def fuzzy_syllables(norm: str) -> list[str]:
    return [fuzzy_syllable(s) for s in syllables(norm)]


def pinyin_key(text: str) -> str:
    """Space-joined fuzzy pinyin of `text` (normalised first): equal keys ⇒ homophones up to fuzzy rules."""
    return " ".join(fuzzy_syllables(normalize(text)))


_LATIN_RUN = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")


def char_count(text: str) -> int:
    """Spoken units for speech rate: each CJK character counts 1, each latin word / digit run counts 1.

    Punctuation, spaces and symbols count 0. (Digit runs are counted as one unit; Whisper usually writes
    numbers as digits, which under-counts the syllables actually spoken — documented limitation.)
    """
    conv = to_halfwidth(text or "").lower()
    n = 0
    buf: list[str] = []
    for ch in conv:
        if is_cjk(ch):
            n += 1
            buf.append(" ")
        elif ch.isascii() and (ch.isalnum() or ch in ".'"):
            buf.append(ch)
        elif unicodedata.category(ch)[0] in ("L", "N"):  # other scripts' letters (kana, etc.)
            n += 1
            buf.append(" ")
        else:
            buf.append(" ")
    n += len(_LATIN_RUN.findall("".join(buf)))
    return n


def _near_syllable(a: str, b: str) -> bool:
    return (
        len(a) >= 2
        and len(b) >= 2
        and a.isalpha()
        and b.isalpha()
        and abs(len(a) - len(b)) == 1
        and (a.startswith(b) or b.startswith(a))
    )


def syllable_distance(a: list[str] | tuple[str, ...], b: list[str] | tuple[str, ...], near_cost: float = 0.5) -> float:
    """Levenshtein distance over (fuzzy) syllables; a 'near' pair (ni/nin) substitutes for `near_cost`."""
    prev = [float(j) for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        cur = [float(i)] + [0.0] * len(b)
        for j in range(1, len(b) + 1):
            x, y = a[i - 1], b[j - 1]
            sub = 0.0 if x == y else (near_cost if _near_syllable(x, y) else 1.0)
            cur[j] = min(prev[j - 1] + sub, prev[j] + 1.0, cur[j - 1] + 1.0)
        prev = cur
    return prev[-1]


def pinyin_similarity(a: str, b: str) -> float:
    """1 − (fuzzy-pinyin edit distance / longer length) of the normalised texts; 1.0 = homophones."""
    sa, sb = fuzzy_syllables(normalize(a)), fuzzy_syllables(normalize(b))
    if not sa and not sb:
        return 1.0
    return 1.0 - syllable_distance(sa, sb) / max(len(sa), len(sb))
