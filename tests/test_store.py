"""Schema, migrations, import idempotency and atomic replace."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from fixtures_store import build_fixture_db, fixture_results, make_result, write_results_dir
from pg_server import BACKENDS, backend_db

from qa_pipeline.store import ImportReport, import_results, open_store
from qa_pipeline.store import schema as S
from qa_pipeline.store.migrations import LATEST, MIGRATIONS, current_version
from qa_pipeline.store.search import search


def _count(store, table, **where):
    stmt = sa.select(sa.func.count()).select_from(table)
    for k, v in where.items():
        stmt = stmt.where(table.c[k] == v)
    with store.engine.connect() as conn:
        return conn.execute(stmt).scalar()


def test_fresh_schema(tmp_path):
    store = open_store(tmp_path / "x.db")
    insp = sa.inspect(store.engine)
    names = set(insp.get_table_names())
    assert {
        "runs",
        "agents",
        "calls",
        "utterances",
        "events",
        "checks",
        "item_scores",
        "schema_migrations",
        "utterance_fts",
    } <= names
    with store.engine.connect() as conn:
        assert current_version(conn) == LATEST == MIGRATIONS[-1][0]
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    idx = {i["name"] for i in insp.get_indexes("calls")}
    assert {"ix_calls_date_agent", "ix_calls_team_date", "ix_calls_score"} <= idx
    assert {i["name"] for i in insp.get_indexes("checks")} >= {"ix_checks_check_status_call"}
    store.close()
    # reopening is a no-op
    store = open_store(tmp_path / "x.db")
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(S.schema_migrations)).scalar() == len(MIGRATIONS)
    store.close()


def test_upgrade_from_version_1_backfills_search(tmp_path):
    db = tmp_path / "old.db"
    old = open_store(db, migrate_to=1)
    assert old.version == 1 and old.fts is None
    assert not sa.inspect(old.engine).has_table("utterance_fts")
    for r in fixture_results():
        old.upsert_call(r)
    old.close()
    new = open_store(db)
    assert new.version == LATEST
    hits = search(new, "我不知道", speaker="agent")
    assert {h.call_id for h in hits} == {"c3", "c8"}
    new.close()


def test_upgrade_from_version_2_adds_search_indexes(tmp_path):
    from qa_pipeline.store.migrations import V3_INDEXES

    db = tmp_path / "v2.db"
    old = open_store(db, migrate_to=2)
    assert old.version == 2
    for r in fixture_results():
        old.upsert_call(r)
    names = {n for n, _, _ in V3_INDEXES}
    insp = sa.inspect(old.engine)
    assert not names & {
        i["name"] for t in ("calls", "utterances", "checks", "item_scores") for i in insp.get_indexes(t)
    }
    old.close()
    new = open_store(db)
    assert new.version == LATEST >= 3
    insp = sa.inspect(new.engine)
    for name, table, cols in V3_INDEXES:
        (ix,) = [i for i in insp.get_indexes(table) if i["name"] == name]
        assert tuple(ix["column_names"]) == cols
    with new.engine.connect() as conn:  # planner statistics were gathered
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_stat1").scalar() > 0
    # both search plans agree with each other after the upgrade
    for plan in ("calls", "fts"):
        assert {h.call_id for h in search(new, "我不知道", speaker="agent", plan=plan)} == {"c3", "c8"}
    new.close()


def test_foreign_keys_enforced(tmp_path):
    store = open_store(tmp_path / "x.db")
    with pytest.raises(sa.exc.IntegrityError):
        with store.engine.begin() as conn:
            conn.execute(
                S.utterances.insert(),
                {"call_id": "nope", "idx": 0, "speaker": "agent", "start": 0, "end": 1, "text": "x"},
            )
    store.close()


def test_import_idempotent_and_reports_bad_files(tmp_path):
    root = write_results_dir(tmp_path / "results")
    (root / "calls" / "broken.json").write_text("{not json", encoding="utf-8")
    (root / "calls" / "nocall.json").write_text(json.dumps({"status": "ok"}), encoding="utf-8")
    db = tmp_path / "r.db"
    rep = import_results(root, db)
    assert isinstance(rep, ImportReport)
    assert rep.imported == 8 and rep.unchanged == 0
    assert sorted(name for name, _ in rep.failed) == ["broken.json", "nocall.json"]
    # said in words, no Python class names (they were "JSONDecodeError: …" / "ValueError: …")
    why = dict(rep.failed)
    assert "不是完整的 JSON（第 1 行第 2 列" in why["broken.json"] and "没有 call_id" in why["nocall.json"]
    assert not any("Error" in reason for reason in why.values())
    rep2 = import_results(root, db)
    assert (rep2.imported, rep2.unchanged, len(rep2.failed)) == (0, 8, 2)
    store = open_store(db)
    assert _count(store, S.calls) == 8
    assert _count(store, S.utterances) == 25
    assert _count(store, S.runs) == 1 and _count(store, S.agents) == 4
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM utterance_fts").scalar() == 25
        failed = conn.execute(
            sa.select(S.calls.c.status, S.calls.c.error, S.calls.c.score_total).where(S.calls.c.call_id == "c7")
        ).one()
    assert failed.status == "failed" and "cannot decode" in failed.error and failed.score_total is None
    store.close()
    # a changed file is re-imported and replaces the call
    r = fixture_results()[0]
    r["score"]["total"] = 42.0
    (root / "calls" / "c1.json").write_text(json.dumps(r, ensure_ascii=False), encoding="utf-8")
    rep3 = import_results(root, db)
    assert (rep3.imported, rep3.unchanged) == (1, 7)


def test_rescore_replaces_rows(tmp_path):
    store = open_store(tmp_path / "x.db")
    first = make_result(
        "r1",
        "A001",
        "2026-11-03T09:00:00+08:00",
        90.0,
        {},
        utterances=[("agent", 0, 2, "您好"), ("customer", 2, 4, "我要查话费"), ("agent", 4, 6, "请稍等")],
        checks=[("greeting", "pass", 0, 2, "您好")],
    )
    store.upsert_call(first)
    second = make_result(
        "r1",
        "A001",
        "2026-11-03T09:00:00+08:00",
        70.0,
        {"greeting": "fail"},
        utterances=[("agent", 0, 2, "喂")],
        checks=[("greeting", "fail", 0, 2, "喂")],
    )
    store.upsert_call(second)
    assert _count(store, S.calls) == 1
    assert _count(store, S.utterances, call_id="r1") == 1
    assert _count(store, S.checks, call_id="r1") == 1
    assert _count(store, S.item_scores, call_id="r1") == 4
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM utterance_fts").scalar() == 1
    assert search(store, "话费") == []
    store.close()


def test_crash_mid_write_keeps_previous_version(tmp_path):
    store = open_store(tmp_path / "x.db")
    good = fixture_results()[0]
    store.upsert_call(good)
    before = (_count(store, S.utterances), _count(store, S.checks), _count(store, S.item_scores))
    bad = json.loads(json.dumps(good))
    bad["score"]["total"] = 1.0
    bad["utterances"].append({"speaker": "agent", "start": 1.0, "end": 2.0, "text": "新的一行"})
    bad["score"]["items"].append({"title": "no id → KeyError after utterances/checks were written"})
    with pytest.raises(KeyError):
        store.upsert_call(bad)
    assert (_count(store, S.utterances), _count(store, S.checks), _count(store, S.item_scores)) == before
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(S.calls.c.score_total)).scalar() == 95.0
        assert conn.exec_driver_sql("SELECT count(*) FROM utterance_fts").scalar() == before[0]
    assert search(store, "新的一行") == []
    # a bad call inside an import batch is rolled back alone
    root = write_results_dir(tmp_path / "res", [bad, fixture_results()[1]])
    rep = import_results(root, tmp_path / "x.db")
    assert rep.imported == 1 and [n for n, _ in rep.failed] == ["c1.json"]
    assert _count(store, S.calls) == 2
    store.close()


def test_fixture_db_builds(tmp_path):
    db = build_fixture_db(tmp_path)
    assert db.exists()


def test_import_batch_isolates_a_call_that_fails_in_the_database(tmp_path):
    """A call that only fails at INSERT time (NOT NULL) is rolled back alone; the bulk batch falls back
    to one SAVEPOINT per call. A call id present twice in one batch: the later file wins."""
    root = write_results_dir(tmp_path / "results")
    bad = fixture_results()[1]
    bad["call_id"] = "zz_bad"
    bad["checks"][0]["status"] = None  # passes preparation, violates checks.status NOT NULL
    (root / "calls" / "zz_bad.json").write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    dup = fixture_results()[0]
    dup["score"]["total"] = 11.0
    (root / "calls" / "zz_dup_c1.json").write_text(json.dumps(dup, ensure_ascii=False), encoding="utf-8")
    db = tmp_path / "r.db"
    rep = import_results(root, db)
    assert [name for name, _ in rep.failed] == ["zz_bad.json"] and "数据库拒绝写入" in rep.failed[0][1]
    assert "NOT NULL" in rep.failed[0][1] and "IntegrityError" not in rep.failed[0][1]
    assert rep.imported == 9
    store = open_store(db)
    assert _count(store, S.calls, call_id="zz_bad") == 0 and _count(store, S.utterances, call_id="zz_bad") == 0
    assert _count(store, S.calls) == 8 and _count(store, S.utterances) == 25
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(S.calls.c.score_total).where(S.calls.c.call_id == "c1")).scalar() == 11.0
        assert conn.exec_driver_sql("SELECT count(*) FROM utterance_fts").scalar() == 25
    assert {h.call_id for h in search(store, "我不知道", speaker="agent")} == {"c3", "c8"}
    store.close()


def test_reads_do_not_wait_for_a_writer(tmp_path):
    """Searches, reports and the analyst API use deferred read transactions: in WAL mode they run
    while an import holds the write lock."""
    from qa_pipeline import dataframes as R

    store = open_store(tmp_path / "x.db")
    for r in fixture_results():
        store.upsert_call(r)
    with store.engine.begin() as writer:  # BEGIN IMMEDIATE: holds the write lock
        writer.execute(S.calls.update().where(S.calls.c.call_id == "c1").values(score_total=1.0))
        assert {h.call_id for h in search(store, "我不知道", speaker="agent")} == {"c3", "c8"}
        assert len(R.load_calls(store)) == 8
        assert store.source_hashes()["c1"]
    store.close()


def test_upsert_many_same_call_twice_keeps_the_later(tmp_path):
    store = open_store(tmp_path / "x.db")
    a, b = fixture_results()[0], fixture_results()[0]
    b["score"]["total"] = 12.0
    b["utterances"] = b["utterances"][:2]
    assert store.upsert_many([a, b]) == 2
    assert _count(store, S.calls) == 1 and _count(store, S.utterances) == 2
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(S.calls.c.score_total)).scalar() == 12.0
        assert conn.exec_driver_sql("SELECT count(*) FROM utterance_fts").scalar() == 2
    store.close()


def test_v5_score_indexes(tmp_path):
    from qa_pipeline.store.migrations import V5_INDEXES

    store = open_store(tmp_path / "v5.db")
    with store.engine.connect() as conn:
        names = {ix["name"] for ix in sa.inspect(conn).get_indexes("calls")}
    assert {n for n, _, _ in V5_INDEXES} <= names and store.version >= 5
    store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_bulk_insert_rows_same_as_core(request, tmp_path_factory, backend):
    """`insert_rows` (SQLite: tuples straight to the driver; PostgreSQL: COPY) stores what a Core insert stores,
    reserved-word columns ("check", "end"), quotes, tabs, backslashes and NULLs included."""
    from qa_pipeline.store.bulk import insert_rows

    store = open_store(backend_db(request, tmp_path_factory, "bulk", backend))
    store.upsert_call(fixture_results()[0])
    cid = fixture_results()[0]["call_id"]
    rows = [
        {
            "call_id": cid,
            "idx": 100 + i,
            "check": "greeting",
            "status": st,
            "start": 1.5 * i,
            "end": None,
            "speaker": "agent",
            "evidence": "您好\t'\"\\N\n第二行",
            "detail_json": '{"path": "C:\\\\calls"}',
        }
        for i, st in enumerate(["pass", "fail"])
    ]
    with store.engine.begin() as conn:
        insert_rows(conn, S.checks, rows)
    with store.read() as conn:
        got = conn.execute(sa.select(S.checks).where(S.checks.c.idx >= 100).order_by(S.checks.c.idx)).mappings().all()
    assert [{k: r[k] for k in rows[0]} for r in got] == rows
    store.close()


def _index_rows(store) -> list[tuple]:
    """The search index's rows in utterance order (SQLite: every FTS5 column; PostgreSQL: the tsvector's text)."""
    with store.read() as conn:
        if store.dialect == "sqlite":
            return [tuple(r) for r in conn.exec_driver_sql("SELECT rowid, * FROM utterance_fts ORDER BY rowid")]
        rows = conn.exec_driver_sql("SELECT utterance_id, doc::text FROM utterance_search ORDER BY 1")
        return [tuple(r) for r in rows]


def _hits(store, q: str, **kw) -> list[tuple]:
    return [(h.call_id, h.utterance_idx, h.rank) for h in search(store, q, limit=50, **kw)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_import_uses_the_search_tokens_a_result_carries(request, tmp_path_factory, tmp_path, backend):
    """Results written by the pipeline carry their search tokens (`tokens.with_search_tokens`): importing them
    stores the index rows a fresh tokenisation stores and finds the same hits; old results without tokens
    import and are found; tokens of another tokenizer version, or of a text changed since (here: redacted at
    import), are not used — the text is tokenised again; current tokens are used as they are."""
    import copy

    from qa_pipeline.privacy import RedactOptions, redaction_info
    from qa_pipeline.store.tokens import SEARCH_TOKENS, tokenizer_version, with_search_tokens

    results = fixture_results()
    plain = write_results_dir(tmp_path / "plain", results)
    carried = write_results_dir(tmp_path / "carried", [with_search_tokens(copy.deepcopy(r)) for r in results])
    stores = {}
    for name, root in (("plain", plain), ("carried", carried)):
        db = backend_db(request, tmp_path_factory, f"tok_{name}", backend)
        rep = import_results(root, db)
        assert (rep.imported, rep.failed) == (len(results), [])
        stores[name] = open_store(db)
    old, new = stores["plain"], stores["carried"]
    assert _index_rows(new) == _index_rows(old) and len(_index_rows(old)) == 25
    for q, kw in [("我不知道", {}), ("稍等", {"speaker": "agent"}), ("话费", {}), ("不归我们管", {}), ("贵", {})]:
        assert _hits(new, q, **kw) == _hits(old, q, **kw)
    assert _hits(new, "wo bu zhi dao", pinyin=True) == _hits(old, "wo bu zhi dao", pinyin=True) != []

    def forged(r: dict, version: str) -> dict:
        """`r` carrying the word 篡改 in front of its first turn's words, under `version`."""
        r = with_search_tokens(copy.deepcopy(r))
        r["engine"] = {**r["engine"], "options": {"redaction": redaction_info(RedactOptions())}}
        r[SEARCH_TOKENS]["version"] = version
        r[SEARCH_TOKENS]["seg"][0] = "篡改 " + r[SEARCH_TOKENS]["seg"][0]
        return r

    # another tokenizer's tokens: tokenised again (the forged word is not indexed)
    write_results_dir(carried, [forged(results[0], "callqa-tokens 0; jieba 0.39; pypinyin 0.1; unicode 9.0.0")])
    assert import_results(carried, store=new).imported == 1
    assert _hits(new, "篡改") == [] and _hits(new, "很高兴为您服务")[0][0] == results[0]["call_id"]
    # this tokenizer's tokens of these texts: stored as carried (nothing is segmented again)
    write_results_dir(carried, [forged(results[0], tokenizer_version())])
    assert import_results(carried, store=new).imported == 1
    assert [(c, i) for c, i, _ in _hits(new, "篡改")] == [(results[0]["call_id"], 0)]
    # a result written without redaction: the import redacts its text, so its tokens (of the unredacted text)
    # are not used; the phone number is neither in the text nor in the index
    leaky = copy.deepcopy(results[1])
    leaky["utterances"][1]["text"] = "我的号码是13812345678，帮我查一下"
    write_results_dir(carried, [with_search_tokens(leaky)])
    assert import_results(carried, store=new).imported == 1
    assert _hits(new, "13812345678") == [] and _hits(new, "5678") == [] and _hits(new, "帮我查一下") != []
    for s in stores.values():
        s.close()
