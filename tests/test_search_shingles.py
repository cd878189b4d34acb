"""Schema version 13 (SQLite): word pairs (``sh``) and character trigrams (``tri``) answer phrases of several
words / bigrams with exactly the hits and bm25 of the ``seg`` / ``grams`` phrases they replace."""

from __future__ import annotations

import random

import pytest
from fixtures_store import AGENTS, fixture_results, make_result

from qa_pipeline.store import open_store
from qa_pipeline.store.backends.sqlite import (
    JOINER,
    _fts5_token_count,
    build_match,
    fts5_tokens,
    gram_triples,
    grams_phrase,
    shingle_columns,
    word_pairs,
    words_phrase,
)
from qa_pipeline.store.search import search
from qa_pipeline.store.tokens import grams_column, index_columns

# pieces repeated inside and across utterances: phrases occur several times in a row (frequency > 1) and as
# substrings across jieba's words
PIECES = [
    "我不知道",
    "不知道",
    "我不",
    "话费余额",
    "余额",
    "您好",
    "请您稍等",
    "这不归我们管",
    "流量包",
    "宽带",
    "取消",
    "知道了",
    "我们",
    "5G套餐",
    "ok",
    "Ｃａｆé",
    "3.5元",
    "ユーザー",
    "不不不",
    "知道知道",
]
QUERIES = [
    "我不知道",
    "不知道",
    "话费余额",
    "余额",
    "不归我们管",
    "知道 OR 余额",
    "宽带 NOT 取消",
    "不",
    "知道知道",
    "5g套餐",
    "cafe",
    "不不",
]
FILTERS = [{}, dict(speaker="customer"), dict(team="一组"), dict(date_from="2026-11-03", date_to="2026-11-20")]


def key(hits):
    return [(h.call_id, h.utterance_idx, h.rank) for h in hits]  # ranks compared exactly


def generated_results(seed: int = 7, calls: int = 12) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(calls):
        utts = []
        t = 0.0
        for _ in range(rnd.randint(3, 8)):
            text = "，".join("".join(rnd.choices(PIECES, k=rnd.randint(1, 4))) for _ in range(rnd.randint(1, 3)))
            utts.append((rnd.choice(["agent", "customer"]), t, t + 2.0, text))
            t += 2.5
        agent = rnd.choice(sorted(AGENTS))
        out.append(make_result(f"g{i}", agent, f"2026-11-{3 + i:02d}T10:00:00+08:00", 80.0, {}, utterances=utts))
    return out


def archive() -> list[dict]:
    return fixture_results() + generated_results()


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shingles")
    v12, v13 = open_store(tmp / "v12.db", migrate_to=12), open_store(tmp / "v13.db")
    for s in (v12, v13):
        for r in archive():
            s.upsert_call(r)
    yield v12, v13
    v12.close()
    v13.close()


def test_versions(stores):
    v12, v13 = stores
    assert not v12.fts.shingles and v13.fts.shingles and v13.version >= 13


def test_phrases_are_rewritten_only_where_equivalent():
    m = build_match("我不知道 OR 余额 NOT 不", shingles=True)
    assert f'sh : "我{JOINER}不 不{JOINER}知道"' in m and 'tri : "我不知 不知道"' in m
    assert 'seg : "余额"' in m and 'grams : "余额"' in m  # one token: nothing to pair
    assert 'grams : "不" *' in m  # a one-character substring stays a prefix query
    assert build_match("我不知道", shingles=False) == build_match("我不知道")
    assert "sh :" not in build_match("我不知道", pinyin=True, shingles=True)  # pinyin keeps its phrase
    assert words_phrase(["3", "5"]) == [f"3{JOINER}5"] and words_phrase(["a.b", "c"]) is None
    assert grams_phrase(["我不", "知道"]) is None  # not adjacent bigrams
    assert grams_phrase(["我不", "不知"]) == ["我不知"]


ODD_TEXTS = [
    "我不知道",
    "Ｃａｆé ñ 5G-套餐。ユーザー 😀 3.5元",
    "a_b c-d",
    "𠀀 x",
    "e\u0301 x",
    "",
    "ユ",
    f"我{JOINER}不",
]


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_pairs_are_single_fts5_tokens_in_position(text):
    seg, _ = index_columns(text)
    grams = grams_column(text)
    sh, tri = shingle_columns(seg, grams)
    # each pair is one FTS5 token, so position k of sh/tri is the pair of seg/grams tokens k, k+1
    assert fts5_tokens(sh) == sh.split() and _fts5_token_count(sh) == len(sh.split())
    assert fts5_tokens(tri) == tri.split() and _fts5_token_count(tri) == len(tri.split())
    words, bigrams = fts5_tokens(seg), fts5_tokens(grams)
    assert len(sh.split()) <= max(len(words) - 1, 0) and len(tri.split()) <= max(len(bigrams) - 1, 0)
    for k, p in enumerate(sh.split()):
        assert p == JOINER or p == words[k] + JOINER + words[k + 1]
    for k, p in enumerate(tri.split()):
        assert p == JOINER or (p[:2] == bigrams[k] and p[1:] == bigrams[k + 1])
    assert word_pairs([]) == [] and gram_triples(["ab"]) == []


@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("f", FILTERS)
def test_same_hits_and_bm25_as_version_12(stores, q, f):
    v12, v13 = stores
    want = key(search(v12, q, limit=200, plan="fts", **f))
    for plan in ("auto", "tags", "calls", "fts"):
        assert key(search(v13, q, limit=200, plan=plan, **f)) == want, plan


def test_upgrade_to_13_keeps_bm25_bit_identical(tmp_path):
    """Migration 13 on an existing (generated) archive: every hit and its bm25 are the same as before."""
    db = tmp_path / "v12.db"
    old = open_store(db, migrate_to=12)
    for r in archive():
        old.upsert_call(r)
    want = {(q, i): key(search(old, q, limit=200, plan="fts", **f)) for q in QUERIES for i, f in enumerate(FILTERS)}
    with old.engine.connect() as conn:
        before = dict(conn.exec_driver_sql("SELECT rowid, tags FROM utterance_fts").all())
    old.close()
    new = open_store(db)
    assert new.fts.shingles
    with new.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT rowid, seg, py, grams, tags, sh, tri FROM utterance_fts").all()
        assert not conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'utterance_fts_v12'").all()
    assert {r[0] for r in rows} == set(before)
    # the migrated columns are what a fresh import writes, and the tag tokens moved unchanged
    for rowid, seg, _py, grams, tags, sh, tri in rows:
        assert (sh, tri) == shingle_columns(seg, grams)
        assert [t for t in tags.split() if t != "z"] == [t for t in before[rowid].split() if t != "z"]
    assert any(p != JOINER for r in rows for p in r[5].split())
    hit_sets = 0
    for (q, i), w in want.items():
        hit_sets += bool(w)
        for plan in ("auto", "fts"):  # every plan = fts: test_same_hits_and_bm25_as_version_12
            assert key(search(new, q, limit=200, plan=plan, **FILTERS[i])) == w, (q, FILTERS[i], plan)
    assert hit_sets > len(want) // 2  # the comparison is not vacuous
    new.close()
