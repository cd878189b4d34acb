"""The store on PostgreSQL (a real server, tests/pg_server.py) and database URLs that cannot be used."""

from __future__ import annotations

import json
import multiprocessing as mp
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from fixtures_store import fixture_results, make_result, write_results_dir
from sqlalchemy.dialects.postgresql import TSQUERY

from qa_pipeline.store import import_results, open_store
from qa_pipeline.store import schema as S
from qa_pipeline.store.backends import postgres as pg
from qa_pipeline.store.db import StoreURLError, database_url
from qa_pipeline.store.migrations import LATEST, MIGRATIONS
from qa_pipeline.store.query import parse_query
from qa_pipeline.store.search import search

# ---------------------------------------------------------------- URLs (no server needed)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:1/qa",  # nothing listens on port 1
        "mysql://root@localhost/qa",
        "postgresql://postgres@127.0.0.1:5432",  # no database name
        "sqlite://",
        "nonsense:x",
    ],
)
def test_an_unusable_url_is_an_error_never_a_file(tmp_path, monkeypatch, url):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreURLError) as e:
        open_store(url)
    assert url.split(":")[0] in str(e.value)
    assert list(tmp_path.iterdir()) == []  # no file, no folder named "postgresql:"
    # a URL that went through Path (typer options) is still a URL, not a folder
    with pytest.raises(StoreURLError):
        import_results(write_results_dir(tmp_path / "r"), Path(url))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_password_is_not_shown(tmp_path):
    with pytest.raises(StoreURLError) as e:
        open_store("postgresql://qa:s3cret@127.0.0.1:1/qa")
    assert "s3cret" not in str(e.value)


def test_url_forms():
    assert database_url("results/x.db").drivername == "sqlite"
    assert database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert database_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert database_url(Path("postgresql://u@h:5/db")).host == "h"


# ---------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_fresh_schema_same_migrations(pg_url):
    store = open_store(pg_url("fresh"))
    assert store.dialect == "postgresql" and store.version == LATEST
    with store.engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        assert {"calls", "utterances", "checks", "item_scores", "utterance_search", "schema_migrations"} <= names
        versions = conn.execute(sa.select(S.schema_migrations.c.version).order_by(S.schema_migrations.c.version))
        assert list(versions.scalars()) == [v for v, _, _ in MIGRATIONS]
        idx = {i["name"] for i in sa.inspect(conn).get_indexes("calls")}
        assert {"ix_calls_date_score", "ix_calls_team_score", "ix_calls_name_date"} <= idx
    store.close()
    open_store(store.engine.url.render_as_string(hide_password=False)).close()  # reopening is a no-op


@pytest.mark.postgres
def test_upgrade_from_version_1_backfills_search(pg_url):
    url = pg_url("up")
    old = open_store(url, migrate_to=1)
    assert old.fts is None
    for r in fixture_results():
        old.upsert_call(r)
    old.close()
    new = open_store(url)
    assert new.version == LATEST
    assert {h.call_id for h in search(new, "我不知道")} == {"c2", "c3", "c8"}
    assert {h.call_id for h in search(new, "知")} == {"c2", "c3", "c8"}  # grams added by migration 6
    new.close()


_RANK_QUERIES = [
    ("您", {}),
    ("我不知道", {}),
    ("稍等 OR 话费", dict(speaker="agent")),
    ("我 NOT 宽带", dict(date_from="2026-11-03", date_to="2026-11-05")),
    ("知", dict(team="一组")),
    ("wo bu zhi dao", dict(pinyin=True)),
]


def _ranked(store) -> list[list[tuple[str, int, float]]]:
    return [
        [(h.call_id, h.utterance_idx, h.rank) for h in search(store, q, limit=100, plan=p, **f)]
        for q, f in _RANK_QUERIES
        for p in ("fts", "calls", "tags")
    ]


def _docs(store) -> dict[tuple[str, int], str]:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT u.call_id, u.idx, s.doc::text FROM utterance_search s JOIN utterances u USING (utterance_id)"
        ).all()
    return {(r[0], r[1]): r[2] for r in rows}


@pytest.mark.postgres
def test_filter_lexemes_change_no_rank_and_match_a_fresh_write(pg_url):
    """Migration 12 adds the filter lexemes to every document: every hit keeps its rank bit for bit (ranking uses
    the document without them), and a migrated document is the one a write at version 12 makes."""
    url = pg_url("lex")
    old = open_store(url, migrate_to=10)
    for r in fixture_results():
        old.upsert_call(r)
    before, docs_before = _ranked(old), _docs(old)
    old.close()
    new = open_store(url)
    assert new.version == LATEST and new.fts.filter_tags
    assert _ranked(new) == before
    migrated = _docs(new)
    assert migrated.keys() == docs_before.keys()
    assert all('"2026-11-' in d or "c8" in k[0] or "c7" in k[0] for k, d in migrated.items())  # day lexemes
    fresh = open_store(pg_url("lex_fresh"))
    for r in fixture_results():
        fresh.upsert_call(r)
    assert _docs(fresh) == migrated
    assert _ranked(fresh) == before
    with new.engine.connect() as conn:  # without its D positions a document is the version-10 one
        stripped = conn.exec_driver_sql(
            "SELECT u.call_id, u.idx, ts_filter(s.doc, '{a,b,c}')::text FROM utterance_search s"
            " JOIN utterances u USING (utterance_id)"
        ).all()
    assert {(r[0], r[1]): r[2] for r in stripped} == docs_before
    # a filter lexeme is never matched by words, whatever the text says
    w = make_result("lex1", "A001", "2026-11-03T09:00:00+08:00", 80.0, {}, utterances=[("agent", 0, 1, '#d["x"] 一组')])
    new.upsert_call(w)
    assert [h.call_id for h in search(new, '#d["2026-11-03"]')] == []
    assert [h.call_id for h in search(new, "一组", team="一组", plan="tags")] == ["lex1"]
    new.close()
    fresh.close()


# turns that repeat (equal ranks, decided by uid), hold a phrase twice or its words apart (several covers, noise)
_PRUNE_TEXTS = [
    "我不知道",
    "我不知道，我真的不知道",
    "知道我不知道吗",
    "不知道我不想说",
    "宽带宽带，流量包",
    "流量包不取消",
    "我要取消宽带",
    "这个我不知道，您去营业厅问吧。",
    "我不清楚，这个不归我们管。",
    "贵不贵，太贵了",
]
_PRUNE_QUERIES = [
    ("我不知道", {}),
    ('"我不知道"', dict(speaker="agent")),
    ("宽带 OR 流量包 NOT 取消", {}),
    ("不归我们管 OR 知道", dict(date_from="2026-11-02", date_to="2026-11-04")),
    ("贵", dict(speaker="customer")),
    ("我不知道", dict(pinyin=True)),
    ("我不知道", dict(agent="A001", min_score=50)),
]


def test_bound_is_few_items():
    """The bound's cost is ts_rank_cd's per query item: one token serves the leaves of several weights as one item,
    a joined word in no document is left out, and a (token, weight) never serves two leaves (an OR counts a
    position once)."""
    tree = parse_query("我不知道")
    assert pg.bound_tsquery(tree, absent={"我不知道"}) == "'知道':AC"  # words phrase (A) + bigram phrase (C)
    assert pg.bound_tsquery(tree) == "'我不知道':A | '知道':AC"
    assert pg.bound_tsquery(parse_query("宽带 OR 流量包 NOT 取消"), absent={"流量包"}) == "'宽带':AC | '流量':AC"
    assert pg.bound_tsquery(parse_query("贵")) == "'贵':A | '贵':*C"  # a prefix item stays apart
    assert pg.bound_tsquery(parse_query("我不知道"), pinyin=True) == "'zhi':B"  # one token of the syllable phrase
    # 我 不 知道 and 不 知道 (A), 我不 不知 知道 and 不知 知道 (C): 知道 serves one of each weight, others the rest
    both = pg.bound_tsquery(parse_query("我不知道 OR 不知道"), absent={"我不知道", "不知道"})
    assert both == "'不':A | '不知':C | '知道':AC"


@pytest.mark.postgres
def test_ranking_in_two_steps_is_exact(pg_url, monkeypatch):
    """The bound (`bound_tsquery`) is ≥ the exact rank of every matching document, and ranking in two steps (the
    best candidates by the bound, then exactly) gives the hits and ranks of ranking every match: with candidates
    too few to prove the top (the next step, then the fallback) and among many equal ranks (ties go by uid)."""
    store = open_store(pg_url("prune"))
    for r in fixture_results():
        store.upsert_call(r)
    for i in range(40):
        turns = [
            ("agent" if j % 2 == 0 else "customer", j, j + 1, _PRUNE_TEXTS[(i + 3 * j) % len(_PRUNE_TEXTS)])
            for j in range(4)
        ]
        store.upsert_call(
            make_result(
                f"p{i:02d}", f"A00{1 + i % 4}", f"2026-11-0{1 + i % 5}T09:00:00+08:00", 40.0 + i, {}, utterances=turns
            )
        )
    absent_seen = set()
    with store.engine.connect() as conn:
        for q, f in _PRUNE_QUERIES:
            tree, py = parse_query(q), bool(f.get("pinyin"))
            exact = pg.to_tsquery(tree, py)
            # the joined words the index lacks: really in no document (then the bound leaves them out)
            absent = store.fts.absent_words(conn, tree, py)
            for w in absent:
                n_docs = conn.execute(
                    sa.select(sa.func.count()).where(
                        pg.search_table.c.doc.op("@@")(sa.cast(sa.literal(pg._lit(w)), TSQUERY))
                    )
                ).scalar()
                assert n_docs == 0, w
            absent_seen |= absent
            for bound in {pg.bound_tsquery(tree, py), pg.bound_tsquery(tree, py, absent=absent)}:
                assert bound, q
                n, below = conn.execute(
                    sa.text(
                        "SELECT count(*), count(*) FILTER (WHERE ts_rank_cd(w, d, CAST(:b AS tsquery), 1)"
                        " < ts_rank_cd(w, d, CAST(:q AS tsquery), 1)) FROM (SELECT CAST('{0,1,1,1}' AS real[]) AS w,"
                        " ts_filter(doc, '{a,b,c}') AS d FROM utterance_search WHERE doc @@ CAST(:q AS tsquery)) x"
                    ),
                    {"b": bound, "q": exact},
                ).one()
                assert n >= 10 and below == 0, (q, bound, n, below)
    assert "我不知道" in absent_seen  # jieba stores 我/不/知道: the joined word is in no document
    for q in ("服务态度 太差", "wo bu zhi dao"):  # an AND: every match is ranked
        assert pg.bound_tsquery(parse_query(q)) is None

    proved: list[bool] = []
    prune = pg.PgFts._prune

    def spy(*args, **kwargs):
        top = prune(*args, **kwargs)
        proved.append(top is not None)
        return top

    monkeypatch.setattr(pg.PgFts, "_prune", staticmethod(spy))
    monkeypatch.setattr(pg, "PRUNE_K", 1)  # candidates 4 × limit, then × 2, × 4: fewer than the matches
    monkeypatch.setattr(pg, "PRUNE_GROWTH", 2)
    for q, f in _PRUNE_QUERIES:
        for plan in ("fts", "tags", "calls"):
            monkeypatch.setattr(pg, "PRUNE", False)
            want = [(h.call_id, h.utterance_idx, h.rank) for h in search(store, q, limit=100, plan=plan, **f)]
            monkeypatch.setattr(pg, "PRUNE", True)
            for limit in (1, 3, 100):
                got = [(h.call_id, h.utterance_idx, h.rank) for h in search(store, q, limit=limit, plan=plan, **f)]
                assert got == want[:limit], (q, f, plan, limit)
    assert any(proved) and not all(proved)  # both paths ran: a top proven by few candidates, and the fallback
    store.close()


@pytest.mark.postgres
def test_import_idempotent_rescore_and_bad_call(pg_url, tmp_path):
    url = pg_url("imp")
    root = write_results_dir(tmp_path / "results")
    (root / "calls" / "broken.json").write_text("{not json", encoding="utf-8")
    rep = import_results(root, url)
    assert rep.imported == 8 and [n for n, _ in rep.failed] == ["broken.json"]
    rep = import_results(root, url)
    assert rep.imported == 0 and rep.unchanged == 8
    store = open_store(url)
    r = make_result("c1", "A001", "2026-11-03T09:00:00+08:00", 40.0, {}, utterances=[("agent", 0, 1, "新的内容")])
    store.upsert_call(r)
    with store.engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(S.utterances).where(S.utterances.c.call_id == "c1")
            ).scalar()
            == 1
        )
        assert (
            conn.exec_driver_sql("SELECT count(*) FROM utterance_search").scalar()
            == conn.execute(sa.select(sa.func.count()).select_from(S.utterances)).scalar()
        )
    assert [h.call_id for h in search(store, "新的内容")] == ["c1"]
    # a call the database refuses (speaker longer than the column) fails alone; the batch commits
    bad = make_result("bad", "A001", "2026-11-03T09:00:00+08:00", 40.0, {}, utterances=[("x" * 40, 0, 1, "坏")])
    good = make_result("good", "A002", "2026-11-03T09:00:00+08:00", 90.0, {}, utterances=[("agent", 0, 1, "好的")])
    failed = store.upsert_batch([("bad.json", bad, None), ("good.json", good, None)])
    assert [n for n, _ in failed] == ["bad.json"]
    with store.engine.connect() as conn:
        ids = set(conn.execute(sa.select(S.calls.c.call_id)).scalars())
    assert "good" in ids and "bad" not in ids
    store.close()


def _writer(url: str, results: list[dict], barrier) -> None:
    store = open_store(url)
    barrier.wait()
    for i in range(0, len(results), 10):
        failed = store.upsert_batch([(r["call_id"], r, None) for r in results[i : i + 10]])
        assert not failed, failed
    store.close()


def _calls(n: int, prefix: str, agents: tuple[str, ...] = ("A001", "A002", "A003", "A004")) -> list[dict]:
    out = []
    for k in range(n):
        out.append(
            make_result(
                f"{prefix}{k:04d}",
                agents[k % len(agents)],
                f"2026-11-{1 + k % 28:02d}T09:00:00+08:00",
                float(k % 100),
                {},
                utterances=[("agent", 0.0, 1.0, f"您好 第{k}通"), ("customer", 1.0, 2.0, "我的宽带连不上")],
                checks=[("greeting", "pass", 0.0, 1.0, "您好")],
            )
        )
    return out


@pytest.mark.postgres
def test_concurrent_writers_lose_nothing_duplicate_nothing(pg_url):
    """Four processes write overlapping batches (every call written by two of them) at the same time."""
    url = pg_url("conc")
    open_store(url).close()  # migrate once before the writers start
    calls = _calls(120, "k")
    parts = [calls[0:60], calls[30:90], calls[60:120], calls[0:30] + calls[90:120]]
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(parts))
    procs = [ctx.Process(target=_writer, args=(url, p, barrier)) for p in parts]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = open_store(url)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(S.calls)).scalar() == 120
        per_call = conn.execute(
            sa.select(S.utterances.c.call_id, sa.func.count()).group_by(S.utterances.c.call_id)
        ).all()
        assert len(per_call) == 120 and {n for _, n in per_call} == {2}
        assert conn.execute(sa.select(sa.func.count()).select_from(S.checks)).scalar() == 120
        assert conn.exec_driver_sql("SELECT count(*) FROM utterance_search").scalar() == 240
        assert conn.execute(sa.select(sa.func.count()).select_from(S.runs)).scalar() == 1
    assert len(search(store, "第7通")) == 1
    store.close()


@pytest.mark.postgres
def test_reader_and_writer_threads(pg_url):
    url = pg_url("rw")
    store = open_store(url)
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                search(store, "宽带", limit=5)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    t = threading.Thread(target=read)
    t.start()
    try:
        for r in _calls(40, "t"):
            store.upsert_call(r)
    finally:
        stop.set()
        t.join()
    assert not errors
    store.close()


def test_cli_refuses_an_unusable_url(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from qa_pipeline.cli import app

    monkeypatch.chdir(tmp_path)
    write_results_dir(tmp_path / "results")
    for args in (
        ["import", "results", "--db", "postgresql://postgres@127.0.0.1:1/qa"],
        ["search", "您好", "--db", "postgresql://postgres@127.0.0.1:1/qa"],
        ["scorecard", "--db", "mysql://x@h/qa"],
    ):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2, r.output
        assert "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no "postgresql:" folder


@pytest.mark.postgres
def test_cli_on_postgresql(pg_url, tmp_path):
    from typer.testing import CliRunner

    from qa_pipeline.cli import app

    url = pg_url("cli")
    root = write_results_dir(tmp_path / "results")
    r = CliRunner().invoke(app, ["import", str(root), "--db", url])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["search", "营业厅", "--db", url, "--format", "json"])
    assert r.exit_code == 0 and '"c3"' in r.stdout
    out = tmp_path / "sc.csv"
    r = CliRunner().invoke(app, ["scorecard", "--db", url, "--format", "csv", "-o", str(out), "--from", "2026-11-01"])
    assert r.exit_code == 0, r.output


def _open_and_close(url: str, barrier) -> None:
    barrier.wait()
    open_store(url).close()


@pytest.mark.postgres
def test_processes_opening_a_new_database_at_once_migrate_it_once(pg_url):
    url = pg_url("mig")
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_open_and_close, args=(url, barrier)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = open_store(url)
    with store.engine.connect() as conn:
        versions = list(conn.execute(sa.select(S.schema_migrations.c.version)).scalars())
    assert sorted(versions) == [v for v, _, _ in MIGRATIONS]
    store.close()


# ---------------------------------------------------------------- the import's bulk statements (issue 13 import speed)


@pytest.mark.postgres
def test_upsert_rows_stores_what_a_core_insert_stores_and_replaces(pg_url):
    """`bulk.upsert_rows` (one single-row statement, executemany): every kind of value a call row
    holds (awkward text, None, ints, floats at the edges of their repr, booleans) comes back as a Core INSERT of
    the same row stores it, and a second upsert of the same keys replaces the other columns."""
    from qa_pipeline.store.bulk import upsert_rows

    store = open_store(pg_url("ups"))

    def row(cid: str, k: int) -> dict:
        return {
            "call_id": cid,
            "status": "ok",
            "error": ["it's", 'a "quote"', "back\\slash", "tab\tnew\nline", "", "{a,b}", "NULL", "中文 ✓ 😀"][k % 8],
            "agent_name": None if k % 3 == 0 else f"名{k}",
            "call_hour": [0, 23, None, 7][k % 4],
            "transferred_at": [0.1, 1e-300, 123456789.12345679, -2.5e17, None, 3.0][k % 6],
            "duration_s": [float(k) / 7, 5e-324, 1.7976931348623157e308][k % 3],
            "sample_rate": [8000, 2**31 - 1, None][k % 3],
            "fatal": [True, False, None][k % 3],
            "needs_review": k % 2 == 0,
            "metadata_json": json.dumps({"k": k, "s": "x'y"}, ensure_ascii=False),
        }

    core = [row(f"core{k}", k) for k in range(24)]
    mine = [row(f"bulk{k}", k) for k in range(24)]
    cols = [S.calls.c[c] for c in core[0] if c != "call_id"]
    with store.engine.begin() as conn:
        conn.execute(S.calls.insert(), core)
        upsert_rows(conn, S.calls, mine, "call_id")
    with store.engine.connect() as conn:
        got = {r[0]: tuple(r[1:]) for r in conn.execute(sa.select(S.calls.c.call_id, *cols))}
    assert len(got) == 48
    for k in range(24):
        assert got[f"bulk{k}"] == got[f"core{k}"], k
    # 23 of the keys again with other values: those replaced (not added), the 24th untouched
    again = [{**row(f"core{k + 1}", k + 1), "call_id": f"bulk{k}"} for k in range(23)]
    with store.engine.begin() as conn:
        upsert_rows(conn, S.calls, again, "call_id")
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(S.calls)).scalar() == 48
        got = {r[0]: tuple(r[1:]) for r in conn.execute(sa.select(S.calls.c.call_id, *cols))}
    for k in range(23):
        assert got[f"bulk{k}"] == got[f"core{k + 1}"], k
    assert got["bulk23"] == got["core23"]
    store.close()


@pytest.mark.postgres
def test_a_call_row_the_database_refuses_fails_alone(pg_url, tmp_path):
    """The batch's call rows go in as one statement: a call whose own row the database refuses (an audio sample
    rate that is not a number) makes the batch replay call by call, so it alone is reported and rolled back."""
    url = pg_url("badrow")
    calls = _calls(6, "r")
    calls[2]["audio"] = {**(calls[2].get("audio") or {}), "sample_rate": "eight thousand"}
    root = tmp_path / "results"
    (root / "calls").mkdir(parents=True)
    for c in calls:
        (root / "calls" / f"{c['call_id']}.json").write_text(json.dumps(c, ensure_ascii=False), encoding="utf-8")
    rep = import_results(root, url)
    assert rep.imported == 5 and [n for n, _ in rep.failed] == ["r0002.json"]
    assert "eight thousand" in rep.failed[0][1] or "integer" in rep.failed[0][1]
    store = open_store(url)
    with store.engine.connect() as conn:
        stored = sorted(conn.execute(sa.select(S.calls.c.call_id)).scalars())
        assert stored == ["r0000", "r0001", "r0003", "r0004", "r0005"]
        assert conn.execute(sa.select(sa.func.count()).select_from(S.utterances)).scalar() == 10
        assert conn.exec_driver_sql("SELECT count(*) FROM utterance_search").scalar() == 10
    store.close()
    # fixed, imported again: only that file is written; the others are unchanged
    calls[2]["audio"]["sample_rate"] = 8000
    (root / "calls" / "r0002.json").write_text(json.dumps(calls[2], ensure_ascii=False), encoding="utf-8")
    rep = import_results(root, url)
    assert (rep.imported, rep.unchanged, rep.failed) == (1, 5, [])


def _importer(folder: str, url: str, barrier, out) -> None:
    barrier.wait()
    rep = import_results(Path(folder), url, batch_size=7)
    out.put((rep.imported, rep.unchanged, rep.failed))


@pytest.mark.postgres
def test_concurrent_importers_replace_whole_calls(pg_url, tmp_path):
    """Four `import` processes at once, over folders that overlap: 40 calls are in two folders with DIFFERENT
    content (a re-scored version). Each call ends up stored once, entirely one version or the other (its
    utterances, checks and search documents agree with its score), nothing lost, nothing doubled; a re-import
    of every folder then writes nothing."""
    url = pg_url("imp4")
    open_store(url).close()
    base = _calls(160, "m")
    rescored = []
    for c in base[:40]:  # the second version: another score, three utterances instead of two
        r = json.loads(json.dumps(c))
        r["score"]["total"] = 999.0  # no base call has this score
        r["utterances"].append({"speaker": "agent", "start": 2.0, "end": 3.0, "text": f"重新评分 {c['call_id']}"})
        rescored.append(r)
    parts = [base[0:60], base[60:110] + rescored[0:20], base[110:160] + rescored[20:40], base[20:60] + base[100:120]]
    folders = []
    for w, part in enumerate(parts):
        d = tmp_path / f"w{w}" / "calls"
        d.mkdir(parents=True)
        for c in part:
            (d / f"{c['call_id']}.json").write_text(json.dumps(c, ensure_ascii=False), encoding="utf-8")
        folders.append(str(d.parent))
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(len(folders)), ctx.Queue()
    procs = [ctx.Process(target=_importer, args=(f, url, barrier, out)) for f in folders]
    for p in procs:
        p.start()
    reps = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert all(not failed for _, _, failed in reps), reps
    store = open_store(url)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(S.calls)).scalar() == 160
        score = dict(conn.execute(sa.select(S.calls.c.call_id, S.calls.c.score_total)).all())
        n_utt = dict(
            conn.execute(sa.select(S.utterances.c.call_id, sa.func.count()).group_by(S.utterances.c.call_id)).all()
        )
        n_doc = dict(
            conn.exec_driver_sql(
                "SELECT u.call_id, count(*) FROM utterance_search s JOIN utterances u USING (utterance_id)"
                " GROUP BY u.call_id"
            ).all()
        )
        n_chk = dict(conn.execute(sa.select(S.checks.c.call_id, sa.func.count()).group_by(S.checks.c.call_id)).all())
        assert conn.exec_driver_sql("SELECT count(*) FROM utterance_search").scalar() == sum(n_utt.values())
    for c in base:
        cid = c["call_id"]
        assert n_utt[cid] == n_doc[cid] == (3 if score[cid] == 999.0 else 2), cid  # one whole version
        assert n_chk[cid] == 1
    store.close()
    # a folder is imported again: what differs from it is written (its version of the 20 shared calls, if the
    # other version won the race), then a second time nothing
    rep = import_results(Path(folders[1]), url)
    assert rep.imported + rep.unchanged == 70 and rep.imported <= 20 and not rep.failed
    rep = import_results(Path(folders[1]), url)
    assert (rep.imported, rep.unchanged, rep.failed) == (0, 70, [])
