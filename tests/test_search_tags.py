"""Schema versions 4 and 11: date/speaker (v4) and team/agent (v11) filter tags in the FTS index (plan "tags"),
bm25 unchanged (SQLite only)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fixtures_store import fixture_results, make_result

from qa_pipeline.store import open_store
from qa_pipeline.store.backends.sqlite import (
    INCOMPLETE,
    _fts5_token_count,
    agent_token,
    tags_column_v11,
    tags_match,
    team_token,
    token_count,
)
from qa_pipeline.store.search import search
from qa_pipeline.store.tokens import grams_column, index_columns

QUERIES = ["我不知道", "您", "稍等 OR 详单", "(积分 OR 宽带) NOT 一直", '"请您稍等"']
FILTERS = [
    {},
    dict(date_from="2026-11-01", date_to="2026-11-22"),
    dict(date_from="2026-11-03", speaker="agent"),
    dict(date_to="2026-11-10", speaker="customer"),
    dict(date_from="2026-11-01", date_to="2026-11-30", team="一组"),
    dict(date_from="2026-11-01", date_to="2026-11-30", speaker="agent", min_score=70),
    # version 11: team and agent tags (with and without dates and speaker, by agent id and by name)
    dict(team="二组"),
    dict(team="一组", speaker="customer"),
    dict(agent="A001"),
    dict(agent="李娜", speaker="customer"),
    dict(agent="A003", date_from="2026-11-01", date_to="2026-11-30", speaker="agent"),
    dict(team="一组", check="silence", status="fail"),
    dict(team="没有这个组"),
    dict(agent="nobody"),
]


def key(hits):
    return [(h.call_id, h.utterance_idx, h.rank) for h in hits]  # ranks compared exactly


@pytest.fixture(scope="module")
def dbs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tags")
    v3, v4 = open_store(tmp / "v3.db", migrate_to=3), open_store(tmp / "v4.db")
    extra = make_result(
        "x1",
        "A002",
        "2026-11-05T10:00:00+08:00",
        80.0,
        {},
        utterances=[
            ("customer", 0.0, 2.0, "我不知道 Ｃａｆé ñ 5G-套餐。ユーザー 😀 3.5元"),
            ("unknown", 2.0, 3.0, "您"),
            ("customer", 3.0, 4.0, "ユ"),  # two index tokens: no room for team and agent tags ("x")
        ],
    )
    for s in (v3, v4):
        for r in fixture_results() + [extra]:
            s.upsert_call(r)
    yield v3, v4
    v3.close()
    v4.close()


def untagged_bm25(store, q, hits):
    """bm25 of `hits` recomputed on an index without the tags column (same seg/py/grams rows)."""
    from qa_pipeline.store.backends.sqlite import build_match

    with store.engine.connect() as conn:
        conn.exec_driver_sql("CREATE VIRTUAL TABLE temp.plain USING fts5(seg, py, grams)")
        conn.exec_driver_sql(
            "INSERT INTO temp.plain(rowid, seg, py, grams) SELECT rowid, seg, py, grams FROM utterance_fts"
        )
        rows = dict(
            conn.exec_driver_sql(
                "SELECT u.call_id || '/' || u.idx, bm25(plain) FROM temp.plain p JOIN utterances u"
                " ON u.utterance_id = p.rowid WHERE plain MATCH ?",
                (build_match(q),),
            ).all()
        )
        conn.exec_driver_sql("DROP TABLE temp.plain")
    return [rows[f"{h.call_id}/{h.utterance_idx}"] for h in hits]


def test_version_4_has_tags(dbs):
    v3, v4 = dbs
    assert not v3.fts.tags and v4.fts.tags and v4.version >= 4
    assert not v3.fts.filter_tags and v4.fts.filter_tags and v4.version >= 11


def test_version_11_tags_are_padded_and_marked(dbs):
    _, v4 = dbs
    with v4.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT seg, py, grams, tags, sh, tri FROM utterance_fts").all()
    assert rows
    for seg, py, grams, tags, sh, tri in rows:  # tags + pairs = index tokens: bm25's D doubles exactly (v13)
        assert token_count(tags) + _fts5_token_count(sh) + _fts5_token_count(tri) == (
            token_count(seg) + token_count(py) + token_count(grams)
        )
        assert tags.split()[0].startswith("d")
    full = tags_column_v11("2026-11-05", "customer", "一组", "A002", "李娜", "我 不 知道", "wo bu zhi dao", "我不")
    assert full.split()[0].startswith("d20261105s")
    assert full.split()[1:3] == [team_token("一组", "customer"), agent_token("A002", "李娜")]
    short = tags_column_v11("2026-11-05", "customer", "一组", "A002", "李娜", "ユ", "", "ユ")
    assert short.split() == [full.split()[0], INCOMPLETE]
    assert agent_token(None, "李娜") != agent_token("李娜", None) and agent_token(None, None) is None
    # the row with no room for its team/agent tags is still found by team and agent filters, and only by its own
    for f in (dict(team="一组"), dict(agent="A002"), dict(agent="李娜", speaker="customer")):
        assert ("x1", 2) in {(h.call_id, h.utterance_idx) for h in search(v4, "ユ", plan="tags", **f)}, f
    for f in (dict(team="二组"), dict(agent="A001"), dict(team="一组", speaker="agent")):
        assert ("x1", 2) not in {(h.call_id, h.utterance_idx) for h in search(v4, "ユ", plan="tags", **f)}, f


@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("f", FILTERS)
def test_tags_plan_gives_the_untagged_results_and_bm25(dbs, q, f):
    v3, v4 = dbs
    want = key(search(v4, q, limit=100, plan="fts", **f))
    for plan in ("auto", "tags", "calls"):
        assert key(search(v4, q, limit=100, plan=plan, **f)) == want, plan
    # word matches of the older index are all still found (substring search only adds)
    assert {k[:2] for k in key(search(v3, q, limit=100, **f))} <= {k[:2] for k in want}
    # pinyin matches are the same rows (bm25 differs: the grams column makes every row longer)
    pinyin = [k[:2] for k in key(search(v4, q, limit=100, plan="tags", pinyin=True, **f))]
    assert sorted(pinyin) == sorted(k[:2] for k in key(search(v3, q, limit=100, pinyin=True, **f)))
    assert key(search(v4, q, limit=100, plan="tags", pinyin=True, **f)) == key(
        search(v4, q, limit=100, plan="fts", pinyin=True, **f)
    )


@pytest.mark.parametrize("q", QUERIES)
def test_tags_do_not_change_bm25(dbs, q):
    _, v4 = dbs
    hits = search(v4, q, limit=100)
    assert [h.rank for h in hits] == untagged_bm25(v4, q, hits)


def test_token_count_matches_fts5():
    for text in [
        "我不知道",
        "Ｃａｆé ñ 5G-套餐。",
        "ユーザー 😀 3.5元",
        "a_b c-d",
        "𠀀 x",
        "",
        "ＡＢＣ１２３",
        "e\u0301 x",
    ]:
        for col in (*index_columns(text), grams_column(text)):
            assert token_count(col) == _fts5_token_count(col), (text, col)


def test_tags_track_reimport_and_are_not_injectable(tmp_path):
    s = open_store(tmp_path / "t.db")
    for r in fixture_results():
        s.upsert_call(r)
    nov = dict(date_from="2026-11-01", date_to="2026-11-30")
    before = {h.call_id for h in search(s, "营业厅", plan="tags", **nov)}
    assert before == {"c3"}
    r3 = next(r for r in fixture_results() if r["call_id"] == "c3")
    r3["metadata"]["started_at"] = "2026-12-02T09:00:00+08:00"  # re-imported with another date
    s.upsert_call(r3)
    assert search(s, "营业厅", plan="tags", **nov) == []
    assert {h.call_id for h in search(s, "营业厅", plan="tags", date_from="2026-12-01")} == {"c3"}
    team = r3["metadata"]["team"]
    assert {h.call_id for h in search(s, "营业厅", plan="tags", team=team)} == {"c3"}
    r3["metadata"]["team"], r3["agent_id"] = "三组", "A009"  # and with another team and agent
    s.upsert_call(r3)
    assert search(s, "营业厅", plan="tags", team=team) == []
    assert {h.call_id for h in search(s, "营业厅", plan="tags", team="三组", agent="A009")} == {"c3"}
    # user text never reaches the tags column: it is quoted into seg/py
    for q in ["tags : d2026*", '"x" OR tags : d20261103*', "d20261103*", "{tags} : dx"]:
        hits = search(s, q, plan="tags", **nov)
        assert all("d2026" in h.text.lower() or "tags" in h.text.lower() for h in hits)
    assert tags_match(["2026-11-03"], None) == "tags : d20261103*"
    assert tags_match(["2026-11-03", "2026-11-04"], "agent").count("tags : d2026110") == 2
    with pytest.raises(ValueError):
        tags_match(["2026/11/03"], None)
    s.close()


def test_irregular_dates_fall_back(tmp_path):
    s = open_store(tmp_path / "t.db")
    r = fixture_results()[0]
    r["metadata"]["started_at"] = "2026-11-3 09:00"  # not YYYY-MM-DD: no tag, plan falls back
    s.upsert_call(r)
    got = key(search(s, "稍等", date_from="2026-11-01", date_to="2026-11-30", plan="auto"))
    assert got == key(search(s, "稍等", date_from="2026-11-01", date_to="2026-11-30", plan="fts")) and got
    s.close()


def test_upgrade_from_version_3_keeps_results(tmp_path):
    db = tmp_path / "v3.db"
    old = open_store(db, migrate_to=3)
    for r in fixture_results():
        old.upsert_call(r)
    want = {q: key(search(old, q, limit=100, **f)) for q in QUERIES for f in [FILTERS[1]]}
    old.close()
    new = open_store(db)
    assert new.fts.tags and new.fts.grams
    with new.engine.connect() as conn:
        assert not sa.inspect(conn).has_table("utterance_fts_v3")
        assert not sa.inspect(conn).has_table("utterance_fts_v5")
    for q, w in want.items():
        got = key(search(new, q, limit=100, plan="tags", **FILTERS[1]))
        assert {k[:2] for k in w} <= {k[:2] for k in got}
        assert got == key(search(new, q, limit=100, plan="fts", **FILTERS[1]))
    # substrings across jieba's words are found after the upgrade (the old rows were re-indexed)
    assert {h.call_id for h in search(new, "直连不")} == {"c3"}
    new.close()


def test_upgrade_from_version_10_keeps_results_and_ranks(tmp_path):
    """Migration 11 rebuilds the index of an existing database: same hits and bm25 for every filter."""
    db = tmp_path / "v10.db"
    old = open_store(db, migrate_to=10)
    assert not old.fts.filter_tags
    for r in fixture_results():
        old.upsert_call(r)
    want = {(q, i): key(search(old, q, limit=100, plan="fts", **f)) for q in QUERIES for i, f in enumerate(FILTERS)}
    old.close()
    new = open_store(db)
    assert new.fts.filter_tags and new.version >= 11
    with new.engine.connect() as conn:
        assert not sa.inspect(conn).has_table("utterance_fts_v10")
        tags = conn.exec_driver_sql("SELECT tags FROM utterance_fts").scalars().all()
    assert any(team_token("一组", "agent") in t for t in tags)
    for (q, i), w in want.items():
        for plan in ("auto", "tags", "fts"):
            assert key(search(new, q, limit=100, plan=plan, **FILTERS[i])) == w, (q, FILTERS[i], plan)
    new.close()
