"""SQLite search speed-ups that must not change a result: ranking in utterance-id ranges on several connections
(`SqliteFts.parts` / `top`: the same hits, order and bm25 values as one statement, for every plan, with gaps in the
ids, when a write lands in between, in a forked child), the remembered vocabulary misses, the call-day seek."""

from __future__ import annotations

import multiprocessing as mp
import os

import pytest
import sqlalchemy as sa
from fixtures_store import make_result
from test_search_shingles import FILTERS, QUERIES, archive

from qa_pipeline.store import open_store
from qa_pipeline.store import schema as S
from qa_pipeline.store.backends.sqlite import MAX_PARTS, call_days, idle_cpus
from qa_pipeline.store.filters import resolve
from qa_pipeline.store.query import parse_query
from qa_pipeline.store.search import search

FILTERS_MORE = [
    *FILTERS,
    dict(agent="A001", speaker="agent"),
    dict(check="forbidden_phrase", status="fail"),
    dict(team="一组", min_score=60),
]


def key(hits):
    # ranks compared exactly; the context turns too (they are read after the merge)
    return [(h.call_id, h.utterance_idx, h.rank, h.text, h.before, h.after) for h in hits]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = open_store(tmp_path_factory.mktemp("parallel") / "p.db")
    undated = make_result("undated", "A002", None, 70.0, {}, utterances=[("customer", 0, 2, "我不知道余额，不知道")])
    for r in [*archive(), undated]:
        s.upsert_call(r)
    yield s
    s.close()


@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("f", FILTERS_MORE)
def test_parts_rank_exactly_as_one_statement(store, q, f):
    for plan in ("auto", "tags", "calls", "fts"):
        want = key(search(store, q, limit=200, plan=plan, parts=1, **f))
        for n in (2, MAX_PARTS):
            assert key(search(store, q, limit=200, plan=plan, parts=n, **f)) == want, (plan, n)
    # a limit below the number of hits: the merge keeps the statement's best few (ties: lower id first)
    want = key(search(store, q, limit=3, parts=1, **f))
    assert key(search(store, q, limit=3, parts=3, **f)) == want


def test_comparison_is_not_vacuous(store):
    hits = [len(search(store, q, limit=200, parts=3)) for q in QUERIES]
    assert sum(h > 3 for h in hits) >= len(QUERIES) // 2


def test_ranges_cover_ids_with_gaps(tmp_path):
    s = open_store(tmp_path / "gaps.db")
    results = archive()
    for r in results:
        s.upsert_call(r)
    for r in results[::3]:  # ids left unused in the middle and at both ends
        s.delete_call(r["call_id"])
    s.upsert_call(results[0])  # re-imported: new ids at the top
    for q in QUERIES:
        want = key(search(s, q, limit=200, parts=1))
        for n in (2, 3, 4):
            assert key(search(s, q, limit=200, parts=n)) == want, (q, n)
    s.close()


def test_parts_chosen(store):
    fts = store.fts
    with store.read() as conn:
        assert fts.parts(conn, 1)[0] == 1
        n, lo, hi = fts.parts(conn, 3)
        assert n == 3 and 1 <= lo < hi
        assert fts.parts(conn, 99)[0] == MAX_PARTS
        assert fts.parts(conn)[0] == 1  # automatic: a small index is ranked in one statement
    assert 0 <= idle_cpus() < 4096


def test_write_between_parts_keeps_one_snapshot(tmp_path):
    """A write committed after the search's read transaction began: parts on other connections would see other
    statistics (row count, phrase counts) and so other bm25 values; the search ranks in its own snapshot instead."""
    s = open_store(tmp_path / "w.db")
    for r in archive():
        s.upsert_call(r)
    fts, q = s.fts, "我不知道"
    with s.read() as conn:
        split = fts.parts(conn, 3)
        stmt = fts.ranked(conn, parse_query(q), False, resolve(None), 200, "fts", split=True)
        before = fts.top(conn, s.read, stmt, split, 200)
        assert len(before) > 3
        s.upsert_call(
            make_result("w1", "A001", "2026-11-05T10:00:00+08:00", 80.0, {}, utterances=[("agent", 0, 2, "我不知道")])
        )
        assert fts.top(conn, s.read, stmt, split, 200) == before
    with s.read() as conn:  # a new read transaction sees the write: other statistics, other values
        split = fts.parts(conn, 3)
        stmt = fts.ranked(conn, parse_query(q), False, resolve(None), 200, "fts", split=True)
        after = fts.top(conn, s.read, stmt, split, 200)
    assert len(after) == len(before) + 1
    assert {u: r for u, r in after if u in dict(before)} != dict(before)
    assert key(search(s, q, limit=200, parts=3)) == key(search(s, q, limit=200, parts=1))
    s.close()


def test_word_lookups_follow_writes(tmp_path):
    """Words found in no utterance are not looked up again while the index is unchanged, and are after a write;
    a store that searched before ranks exactly as a freshly opened one."""
    db = tmp_path / "c.db"
    s = open_store(db)
    results = archive()
    s.upsert_call(results[0])  # holds neither 不知道 nor 不不 in any column
    lookups: list[str] = []
    sa.event.listen(
        s.engine, "before_cursor_execute", lambda _c, _cur, sql, *_: lookups.append(sql) if "_vocab" in sql else None
    )
    queries = [*QUERIES, "不知道 OR 话费"]
    before = {q: key(search(s, q, limit=200, parts=1)) for q in queries}
    n = len(lookups)
    assert n > 0 and before == {q: key(search(s, q, limit=200, parts=1)) for q in queries}
    assert len(lookups) == n  # unchanged index: answered from memory
    for r in results[1:]:
        s.upsert_call(r)
    fresh = open_store(db)
    for q in queries:
        assert key(search(s, q, limit=200, parts=1)) == key(search(fresh, q, limit=200, parts=1)), q
    assert len(lookups) > n  # looked up again after the writes
    assert key(search(s, "不知道", limit=200)) != before["不知道"]
    fresh.close()
    s.close()


def _search_in_child(db, q, out):
    s = open_store(db)
    out.put(key(search(s, q, limit=200, parts=2)))
    s.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_ranks_in_parts(store):
    """A child forked after the parent ranked in parts inherits the worker pool but not its threads."""
    want = key(search(store, "我不知道", limit=200, parts=2))
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_search_in_child, args=(store.path, "我不知道", out))
    child.start()
    try:
        assert out.get(timeout=30) == want
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0


def test_call_days_are_the_distinct_days_in_range(store):
    c = S.calls
    with store.read() as conn:
        every = sorted(d for d in conn.execute(sa.select(c.c.call_date).distinct()).scalars() if d)
        assert len(every) > 5 and conn.execute(sa.select(c.c.call_id).where(c.c.call_date.is_(None))).all()
        bounds = [None, every[0], every[2], "2026-11-10", every[-1], "2000-01-01", "2099-01-01"]
        for lo in bounds:
            for hi in bounds if lo else bounds[1:]:  # (asked only with a date bound)
                where = resolve(None, date_from=lo, date_to=hi)
                want = sorted(
                    conn.execute(sa.select(c.c.call_date).where(*where.date_conditions()).distinct()).scalars()
                )
                assert call_days(conn, where, 100) == want, (lo, hi)
                assert call_days(conn, where, 2) == want[:2], (lo, hi)
