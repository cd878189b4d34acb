"""Approximate phrase matching (`lexicon.approx_find`): the windowed matcher gives exactly what a Sellers DP over
the whole text gives, and its work per character stays bounded as utterances grow (counted, not timed)."""

import json
import random

import pytest
from helpers import REPO

from qa_pipeline import lexicon
from qa_pipeline.lexicon import approx_find, available_lexicons, load_lexicon
from qa_pipeline.text import _near_syllable


def reference_approx_find(pattern, text, max_cost):
    """The Sellers DP over the whole text, as the matcher was before it became windowed (the oracle)."""

    def sub(a, b):
        return 0.0 if a == b else 0.5 if _near_syllable(a, b) else 1.0

    m, n = len(pattern), len(text)
    if m == 0 or n == 0:
        return []
    prev, prev_s = [0.0] * (n + 1), list(range(n + 1))
    for i in range(1, m + 1):
        cur, cur_s = [float(i)] + [0.0] * n, [0] * (n + 1)
        for j in range(1, n + 1):
            best, bs = prev[j - 1] + sub(pattern[i - 1], text[j - 1]), prev_s[j - 1]
            if prev[j] + 1.0 < best:
                best, bs = prev[j] + 1.0, prev_s[j]
            if cur[j - 1] + 1.0 < best:
                best, bs = cur[j - 1] + 1.0, cur_s[j - 1]
            cur[j], cur_s[j] = best, bs
        if min(cur) > max_cost:
            return []
        prev, prev_s = cur, cur_s
    cands = sorted(
        (prev[j], abs((j - prev_s[j]) - m), prev_s[j], j) for j in range(1, n + 1) if prev[j] <= max_cost + 1e-9
    )
    taken = []
    for cost, _, s, e in cands:
        if e > s and all(e <= ts or s >= te for ts, te, _ in taken):
            taken.append((s, e, cost))
    return sorted(taken)


# near pairs (ni/nin, zi/zin, a/an), look-alikes and one-letter syllables the near rule must not touch
ALPHABET = ["ni", "nin", "in", "zi", "zin", "a", "an", "shi", "s", "si", "de", "wo", "bu", "dao", "ma", "7"]


@pytest.mark.parametrize("numpy_from", [0, 48, 10**9])  # every region in numpy / the default / all in Python
def test_same_matches_as_the_whole_text_dp(monkeypatch, numpy_from):
    monkeypatch.setattr(lexicon, "NUMPY_DP_MIN_LEN", numpy_from)
    rng = random.Random(numpy_from)
    for trial in range(600):
        m = rng.randint(1, 8)
        n = rng.randint(0, 300 if trial % 7 == 0 else 60)
        pattern = tuple(rng.choice(ALPHABET) for _ in range(m))
        text = [rng.choice(ALPHABET) for _ in range(n)]
        if n > m and rng.random() < 0.6:  # plant a noisy copy of the phrase
            k = rng.randint(0, n - m)
            text[k : k + m] = [x if rng.random() > 0.25 else rng.choice(ALPHABET) for x in pattern]
        cost = rng.choice([0.0, 0.5, 0.6, 1.0, 1.2, 1.5, 2.0, 3.0, 0.15 * m])
        assert approx_find(pattern, text, cost) == reference_approx_find(pattern, text, cost), (pattern, text, cost)


def _agent_text(chars):
    turns = []
    for f in sorted((REPO / "data_samples").glob("*.transcript.json")):
        turns += [u["text"] for u in json.loads(f.read_text(encoding="utf-8"))["utterances"] if u["speaker"] == "agent"]
    out, i = "", 0
    while len(out) < chars:
        out += turns[i % len(turns)]
        i += 1
    return out[:chars]


def _dp_cells_per_char(chars):
    text = _agent_text(chars)
    before = lexicon.STATS.dp_cells
    for name in available_lexicons():
        lex = load_lexicon(name)
        lex._found.clear()  # count the work, not the memory of an earlier test
        lex.find(text)
    return (lexicon.STATS.dp_cells - before) / len(text)


def test_matching_work_per_character_is_bounded():
    # the DP runs only in windows that can hold a match: its cells per character do not grow with the length
    # (the whole-text DP did m × n cells for every phrase whose syllables all occur somewhere in the text)
    short, long = _dp_cells_per_char(2_000), _dp_cells_per_char(16_000)
    assert long <= 1.25 * short
    n_phrase_keys = sum(len(k) for name in available_lexicons() for e in load_lexicon(name).entries for k in e.keys)
    assert long < 0.05 * n_phrase_keys  # far below the whole-text DP's cells per character


def test_found_matches_are_remembered_and_not_shared():
    lex = load_lexicon("forbidden")
    first = lex.find("这个我不清楚，你问别人吧")
    again = lex.find("这个我不清楚，你问别人吧")
    assert first == again and first is not again and first
    again.clear()
    assert lex.find("这个我不清楚，你问别人吧") == first


def test_a_lexicon_pickles_without_what_it_remembers():
    import pickle

    lex = load_lexicon("forbidden")
    lex.find("我不知道")
    copy = pickle.loads(pickle.dumps(lex))
    assert copy.find("我不知道") == lex.find("我不知道") and copy.entries == lex.entries
