"""Transcript search: Chinese tokenisation, phrases, boolean operators, filters, pinyin, injection."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa
import typer
from fixtures_store import GREET, build_fixture_db, make_result
from pg_server import BACKENDS, backend_db
from typer.testing import CliRunner

from qa_pipeline.cli.store import search_command
from qa_pipeline.store import open_store
from qa_pipeline.store.backends.sqlite import build_match
from qa_pipeline.store.query import QueryError, parse_query
from qa_pipeline.store.search import search
from qa_pipeline.store.tokens import segment


@pytest.fixture(scope="module", params=BACKENDS)
def db(request, tmp_path_factory):
    loc = backend_db(request, tmp_path_factory, "search", request.param)
    return build_fixture_db(tmp_path_factory.mktemp("search"), loc)


def sqlite_only(store, why):
    if store.dialect != "sqlite":
        pytest.skip(f"SQLite FTS5 specific: {why}")


@pytest.fixture()
def store(db):
    s = open_store(db)
    yield s
    s.close()


def ids(hits):
    return sorted({h.call_id for h in hits})


def test_segmentation_is_chinese_aware():
    assert segment("这个我不知道，你自己去营业厅问吧。") == (
        "这个",
        "我",
        "不",
        "知道",
        "你",
        "自己",
        "去",
        "营业厅",
        "问",
        "吧",
    )
    assert build_match("我不知道") == '(seg : "我 不 知道" OR seg : "我不知道" OR grams : "我不 不知 知道")'
    assert build_match("营业厅") == '(seg : "营业厅" OR grams : "营业 业厅")'
    assert build_match("您") == '(seg : "您" OR grams : "您" *)'


def test_word_and_phrase(store):
    assert ids(search(store, "我不知道")) == ["c2", "c3", "c8"]
    assert ids(search(store, '"流量套餐"')) == ["c2"]
    assert ids(search(store, "营业厅")) == ["c3"]
    # substring semantics: "知" is no word of any utterance, but it is in the text
    assert ids(search(store, "知")) == ["c2", "c3", "c8"]
    assert search(store, "知道了吧") == []
    # a short term that jieba splits alone but joins in context
    assert ids(search(store, "服务态度")) == ["c3"]


def test_boolean_operators(store):
    assert ids(search(store, "稍等 查询")) == ["c1", "c5"]  # implicit AND
    assert ids(search(store, "稍等 AND 查询 AND 详单")) == ["c1"]
    assert ids(search(store, "积分 OR 宽带")) == ["c3", "c4"]
    hits = search(store, "稍等 NOT 详单")
    assert ids(hits) == ["c4", "c5"]
    assert ids(search(store, "(积分 OR 宽带) NOT 一直")) == ["c4"]


def test_filters(store):
    assert ids(search(store, "我不知道", speaker="customer")) == ["c2"]
    assert ids(search(store, "我不知道", speaker="agent")) == ["c3", "c8"]
    assert ids(search(store, "我不知道", agent="张伟")) == ["c2", "c3"]
    assert ids(search(store, "我不知道", agent="A004")) == ["c8"]
    assert ids(search(store, "我不知道", check="forbidden_phrase")) == ["c3", "c8"]
    assert ids(search(store, "我不知道", check="forbidden_phrase", status="pass")) == []
    assert ids(search(store, "我不知道", date_from="2026-11-01", date_to="2026-11-22")) == ["c2", "c3"]
    assert ids(search(store, "我不知道", min_score=70)) == ["c2"]
    assert ids(search(store, "我不知道", max_score=60)) == ["c3", "c8"]
    assert ids(search(store, "请您稍等", team="一组", speaker="agent")) == ["c1", "c4", "c5"]
    assert len(search(store, "您", limit=2)) == 2


def test_hit_context_and_highlight(store):
    (hit,) = search(store, "营业厅")
    assert hit.call_id == "c3" and hit.speaker == "agent" and hit.start == 63.0
    assert hit.agent_name == "张伟" and hit.agent_id == "A001"
    assert hit.highlighted == "这个我不知道，你自己去【营业厅】问吧。"
    assert [t["text"] for t in hit.before] == ["我的宽带一直连不上网"]
    assert [t["text"] for t in hit.after] == ["你们这是什么服务态度"]
    # ranking: best first, ranks ascending (FTS5 bm25: lower is better)
    hits = search(store, "稍等 OR 详单")
    assert hits[0].call_id == "c1"
    assert [h.rank for h in hits] == sorted(h.rank for h in hits)


def test_pinyin_homophones(store):
    assert "c6" not in ids(search(store, "我不知道"))
    hits = search(store, "我不知道", pinyin=True)
    assert ids(hits) == ["c2", "c3", "c6", "c8"]
    c6 = next(h for h in hits if h.call_id == "c6")
    assert c6.highlighted == "这个【我不只到】啊"
    # typed pinyin works too
    assert ids(search(store, "bu zhi dao", pinyin=True)) == ["c2", "c3", "c6", "c8"]


@pytest.mark.parametrize(
    "q",
    [
        '"; DROP TABLE calls; --',
        "'; DELETE FROM utterances; --",
        '"unbalanced',
        'a "b',
        "((我不知道",
        "我不知道))",
        "NOT",
        "OR OR AND",
        'seg : "x" OR py : *',
        "NEAR(a b)",
        "我不知道 NOT",
        "*",
        "utterance_fts MATCH 1",
    ],
)
def test_injection_and_malformed_queries_are_safe(store, q):
    try:
        hits = search(store, q)
    except QueryError:
        hits = []
    assert isinstance(hits, list)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM calls")).scalar() == 8
        assert conn.execute(sa.text("SELECT count(*) FROM utterances")).scalar() == 25


def test_unbalanced_quote_runs_to_end(store):
    assert ids(search(store, '"我不知道')) == ["c2", "c3", "c8"]
    assert ids(search(store, "(积分 OR 宽带")) == ["c3", "c4"]
    with pytest.raises(QueryError):
        search(store, '"; -- ')
    assert parse_query("") is None


def _app():
    app = typer.Typer()
    app.command("search")(search_command)
    app.command("noop")(lambda: None)
    return app


def test_cli_formats(db):
    runner = CliRunner()
    r = runner.invoke(_app(), ["search", "我不知道", "--db", str(db), "--format", "json", "--speaker", "agent"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert {d["call_id"] for d in data} == {"c3", "c8"}
    r = runner.invoke(_app(), ["search", "营业厅", "--db", str(db), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows[0]["call_id"] == "c3" and rows[0]["offset_s"] == "63.0" and "【营业厅】" in rows[0]["highlighted"]
    r = runner.invoke(_app(), ["search", "我不知道", "--db", str(db), "--pinyin"])
    assert r.exit_code == 0 and "c6" in r.stdout
    r = runner.invoke(_app(), ["search", '"; --', "--db", str(db)])
    assert r.exit_code == 2
    # nothing found: said in words, with the homophone hint unless --pinyin was already given
    r = runner.invoke(_app(), ["search", "没有这句话", "--db", str(db)])
    assert r.exit_code == 0 and "没有找到" in r.stdout and "--pinyin" in r.stdout and "┃" not in r.stdout
    r = runner.invoke(_app(), ["search", "没有这句话", "--db", str(db), "--pinyin"])
    assert "没有找到" in r.stdout and "--pinyin" not in r.stdout


@pytest.mark.parametrize("plan", ["auto", "calls", "fts", "tags"])
def test_ranking_is_true_top_n_for_every_plan(store, plan):
    """Every plan (calls / fts / tags, and the one auto picks) gives the same top n on both backends."""

    def key(hits):
        return [(h.call_id, h.utterance_idx, round(h.rank, 9)) for h in hits]

    full = search(store, "您", limit=100, plan=plan)
    assert [h.rank for h in full] == sorted(h.rank for h in full)
    assert key(search(store, "您", limit=3, plan=plan)) == key(full)[:3]
    assert key(full) == key(search(store, "您", limit=100, plan="fts"))
    f = dict(agent="张伟", speaker="agent")
    assert key(search(store, "您", limit=2, plan=plan, **f)) == key(search(store, "您", limit=100, plan="fts", **f))[:2]
    # filters the date / team / speaker tags (FTS5) or filter lexemes (PostgreSQL) express, alone and with others
    for f in (
        dict(date_from="2026-11-03", date_to="2026-11-05"),
        dict(date_from="2026-11-03", date_to="2026-11-05", speaker="customer"),
        dict(team="一组", speaker="agent"),
        dict(team="二组"),
        dict(speaker="customer"),
        dict(date_from="2026-11-01", date_to="2026-11-30", team="一组", min_score=70),
        dict(date_to="2026-11-04", speaker="agent", check="greeting", status="pass"),
        dict(team="三组"),  # no such team
        dict(date_from="2026-12-01", date_to="2026-12-31"),  # no calls in the range
    ):
        for q in ("您", "稍等 OR 话费") if plan != "auto" else ("我不知道", "我 NOT 宽带"):
            want = key(search(store, q, limit=100, plan="fts", **f))
            assert key(search(store, q, limit=100, plan=plan, **f)) == want, (q, f)
            assert key(search(store, q, limit=2, plan=plan, **f)) == want[:2], (q, f)


def test_dead_single_word_alternative_is_dropped(store):
    sqlite_only(store, "fts5vocab")
    from qa_pipeline.store.backends.sqlite import to_fts5
    from qa_pipeline.store.query import short_term_words

    tree = parse_query("我不知道 服务态度")
    assert short_term_words(tree) == {"我不知道"}
    with store.engine.connect() as conn:
        counts = store.fts.doc_counts(conn, short_term_words(tree) | {"服务态度"})
    assert counts == {"我不知道": 0, "服务态度": 1}
    assert to_fts5(tree, False, lambda t: counts.get(t, 0), grams=False) == '(seg : "我 不 知道" AND seg : "服务态度")'
    assert ids(search(store, "我不知道")) == ["c2", "c3", "c8"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_substrings_across_jieba_words(request, tmp_path_factory, backend):
    """jieba stores 这不归/我们/管: the words of 不归我们管 are not all there, the characters are."""
    s = open_store(backend_db(request, tmp_path_factory, "substr", backend))
    texts = ["这不归我们管", "我们管不了这个", "不归", "您好，请问有什么可以帮您", "归属地查询"]
    s.upsert_call(make_result("s1", "A001", "2026-11-05T10:00:00+08:00", 80.0, {}, utterances=[
        ("agent" if i % 2 else "customer", float(i), float(i) + 1, t) for i, t in enumerate(texts)
    ]))  # fmt: skip
    try:
        assert [h.text for h in search(s, "不归我们管")] == ["这不归我们管"]
        assert {h.text for h in search(s, "归我")} == {"这不归我们管"}
        assert {h.text for h in search(s, "归")} == {"这不归我们管", "不归", "归属地查询"}  # one character
        assert {h.text for h in search(s, "们管")} == {"这不归我们管", "我们管不了这个"}
        assert search(s, '"不归我们管" NOT 这')[0:] == []
        hit = search(s, "不归我们管")[0]
        assert hit.highlighted == "这【不归我们管】"
        # a word match ranks before a substring-only match of the same query
        assert [h.text for h in search(s, "不归")][0] == "不归"
    finally:
        s.close()


def test_highlighter_built_once_marks_as_highlight():
    from qa_pipeline.store.query import highlight, highlighter, positive_terms

    texts = ["这个我不知道，你自己去营业厅问吧。", "我不清楚，这不归我们管", "ＡＢＣ套餐 5G 流量包", "没有"]
    for q, pinyin in (
        ("我不知道 OR 营业厅", False),
        ("不归我们管 NOT 取消", False),
        ('"5g" 流量', False),
        ("wo bu zhi dao", True),
    ):
        terms = positive_terms(parse_query(q))
        mark = highlighter(terms, pinyin)
        assert [mark(t) for t in texts] == [highlight(t, terms, pinyin) for t in texts]
    assert highlighter(positive_terms(parse_query("不归我们管")))(texts[1]) == "我不清楚，这【不归我们管】"


def test_vocabulary_words_found_are_remembered_missing_ones_asked_again(store):
    """The joined single-word alternative (我不知道) is asked of fts5vocab only until it is found: a word once in
    the index is remembered; a missing one is asked again once the index has changed (an import may add it)."""
    sqlite_only(store, "fts5vocab")
    asked: list[set[str]] = []
    present = {"我不知道": 0}
    store.fts.doc_counts = lambda conn, tokens: asked.append(set(tokens)) or {t: present.get(t, 0) for t in tokens}

    def write() -> None:  # a write to the index (taken out again: the shared archive stays as it was)
        store.upsert_call(make_result("vocab-w", "A001", "2026-11-05T10:00:00+08:00", 80.0, {}, utterances=[GREET]))
        store.delete_call("vocab-w")

    without = [(h.call_id, h.rank) for h in search(store, "我不知道")]
    search(store, "我不知道")
    assert asked == [{"我不知道"}]  # not in the index, the index unchanged: asked once
    write()
    search(store, "我不知道")
    assert asked == [{"我不知道"}, {"我不知道"}]  # the index changed: asked again
    present["我不知道"] = 3  # as after an import that brought the word
    write()
    search(store, "我不知道")
    search(store, "我不知道 OR 营业厅")
    assert len(asked) == 3  # found once: remembered
    # a remembered word whose utterances are gone matches nothing: the same hits and ranks as without it
    assert [(h.call_id, h.rank) for h in search(store, "我不知道")] == without
