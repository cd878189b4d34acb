"""The store: one small data layer over SQLAlchemy Core, on SQLite (default, a file) or PostgreSQL (a URL).

`--db` takes a file path (SQLite) or a URL: ``sqlite:///path`` or ``postgresql://user@host:port/dbname``
(driven by psycopg 3). Anything else that looks like a URL is an error (`StoreURLError`), never a file.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..safe import first_line
from . import schema
from .backends import backend_for
from .bulk import insert_rows, next_values, upsert_rows
from .migrations import LATEST, current_version, migrate
from .tokens import carried_forms

S = schema


READ_ONLY = "callqa_read_only"


class StoreURLError(ValueError):
    """A --db value that names a database callqa cannot use (unknown scheme, malformed URL, unreachable).
    The text comes from the message catalog (``store.url.*``)."""

    def __init__(self, key: str, **values: object):
        from ..i18n import t

        self.key, self.values = key, values
        super().__init__(t(key, **values))


# "scheme:" with a scheme of two characters or more (a Windows drive letter "C:" is a path)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):")
_PG_DRIVERS = {"postgresql", "postgres", "postgresql+psycopg"}


def _as_text(db: str | Path) -> str:
    """`db` as text. A URL that went through `Path` lost a slash ("postgresql://h/db" → "postgresql:/h/db"):
    it is restored, so that such a value is still read as the URL it was and never as a folder name."""
    text = str(db)
    if isinstance(db, Path) and _SCHEME.match(text):
        text = re.sub(r"^([A-Za-z][A-Za-z0-9+.\-]+):/(?!/)", r"\1://", text)
    return text


def is_url(db: str | Path) -> bool:
    return bool(_SCHEME.match(str(db)))


def safe_url(db: str | Path) -> str:
    """`db` for messages: a URL without its password."""
    if not is_url(db):
        return str(db)
    try:
        return sa.engine.make_url(_as_text(db)).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as its scheme only
        m = _SCHEME.match(str(db))
        return f"{m.group(1)}:…" if m else "…"


def database_url(db: str | Path) -> sa.URL:
    """The SQLAlchemy URL for a --db value; raises `StoreURLError` for a URL callqa cannot use."""
    if not is_url(db):
        return sa.engine.make_url(f"sqlite:///{db}")
    text = _as_text(db)
    try:
        url = sa.engine.make_url(text)
    except Exception:  # noqa: BLE001
        raise StoreURLError("store.url.malformed", url=safe_url(db)) from None
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        if not url.database:
            raise StoreURLError("store.url.sqlite_no_path", url=safe_url(db))
        return url
    if url.drivername in _PG_DRIVERS:
        if not url.database:
            raise StoreURLError("store.url.pg_no_db", url=safe_url(db))
        return url.set(drivername="postgresql+psycopg")
    raise StoreURLError("store.url.unsupported", url=safe_url(db))


def make_engine(url_or_path: str | Path) -> sa.Engine:
    url = database_url(url_or_path)
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    if url.drivername == "postgresql+psycopg":
        # pool_pre_ping: a long batch survives a server restart between calls
        return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _rec):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (transactional DDL too)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.execute("PRAGMA cache_size = -65536")
            cur.execute("PRAGMA mmap_size = 2147483648")  # reads straight from the page cache (search, reports)
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn):
            # writers take the write lock up front; readers (Store.read) use a deferred BEGIN, so in WAL
            # mode a search or report never waits for an import batch (and vice versa)
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


def _j(x: Any) -> str | None:
    if x is None:
        return None
    if not x and isinstance(x, (dict, list)):  # the common empty detail / reasons: what json.dumps writes
        return "{}" if isinstance(x, dict) else "[]"
    return json.dumps(x, ensure_ascii=False, sort_keys=True)


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def result_hash(result: dict) -> str:
    return hashlib.sha256(json.dumps(result, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def check_rows(call_id: str, checks: Iterable[dict]) -> list[dict]:
    """`checks` table rows from a result JSON's `checks` (also used by rescoring)."""
    return [
        {
            "call_id": call_id,
            "idx": i,
            "check": c["check"],
            "status": c["status"],
            "start": _f(c.get("start")),
            "end": _f(c.get("end")),
            "speaker": c.get("speaker"),
            "evidence": c.get("evidence") or "",
            # key order kept (not sorted): rescoring rebuilds findings from these rows, and a finding's reason
            # text lists its detail in order
            "detail_json": json.dumps(c["detail"], ensure_ascii=False) if c.get("detail") else "{}",
        }
        for i, c in enumerate(checks)
    ]


def item_rows(call_id: str, items: Iterable[dict]) -> list[dict]:
    """`item_scores` rows from a result JSON's `score.items`."""
    return [
        {
            "call_id": call_id,
            "idx": i,
            "item_id": str(it["id"]),
            "title": it.get("title"),
            "points": _f(it.get("points")),
            "deduction": _f(it.get("deduction")),
            "status": it["status"],
            "fatal": bool(it.get("fatal")),
            "reasons_json": _j(list(it.get("reasons") or [])),
        }
        for i, it in enumerate(items)
    ]


def tag_rows(call_id: str, tags: Iterable[dict]) -> list[dict]:
    """`call_tags` rows from a result JSON's `tags`."""
    return [
        {
            "call_id": call_id,
            "idx": i,
            "tag": str(t["tag"]),
            "rule": t.get("rule"),
            "start": _f(t.get("start")),
            "speaker": t.get("speaker"),
            "evidence": t.get("evidence") or "",
        }
        for i, t in enumerate(tags)
    ]


_CID: sa.BindParameter[str] = sa.bindparam("cid", type_=sa.String())
_EXISTS = sa.select(S.calls.c.call_id).where(S.calls.c.call_id == _CID)
_DELETES = [t.delete().where(t.c.call_id == _CID) for t in (*S.CHILD_TABLES, S.calls)]
_UTT_IDS = sa.select(S.utterances.c.utterance_id).where(S.utterances.c.call_id == _CID)


def _pg_ids(name: str) -> sa.BindParameter[Any]:
    """PostgreSQL: a list of string keys as one ``VARCHAR[]`` parameter (``col = ANY(%(name)s)``)."""
    from sqlalchemy.dialects.postgresql import ARRAY

    return sa.bindparam(name, type_=ARRAY(sa.String()))


_PG_UTT_IDS = sa.select(S.utterances.c.utterance_id).where(S.utterances.c.call_id == sa.any_(_pg_ids("ids")))
_PG_DELETES = [t.delete().where(t.c.call_id == sa.any_(_pg_ids("ids"))) for t in (*S.CHILD_TABLES, *S.V7_CHILD_TABLES)]
_PG_HASHES = sa.select(S.calls.c.call_id, S.calls.c.source_sha256).where(S.calls.c.call_id == sa.any_(_pg_ids("ids")))


class Store:
    def __init__(self, engine: sa.Engine, path: Path | None = None, migrate_to: int | None = None):
        self.engine = engine
        self.path = path
        try:
            migrate(engine, migrate_to)
            with engine.connect() as conn:
                self.version = current_version(conn)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
            raise StoreURLError(
                "store.url.cannot_open",
                url=engine.url.render_as_string(hide_password=True),
                reason=reason[0] if reason else type(exc).__name__,
            ) from None
        self.dialect = engine.dialect.name
        self.fts = backend_for(self.dialect, self.version) if self.version >= 2 else None
        self._run_cache: dict[str, int] = {}
        self._agent_cache: dict[str, dict] = {}
        self._utt_seq: str | None = None

    _AGENT = sa.select(S.agents.c.agent_name, S.agents.c.team).where(S.agents.c.agent_id == sa.bindparam("aid"))

    # ------------------------------------------------------------ write

    def upsert_call(self, result: dict, *, source_sha256: str | None = None) -> None:
        """Insert or replace one call and all its rows, atomically (one transaction)."""
        if source_sha256 is None:
            source_sha256 = result_hash(result)
        prepared = [self._prepare(result, source_sha256)]

        def write() -> None:
            with self.engine.begin() as conn:
                self._guarded(self._write_prepared, conn, prepared)

        self._retrying(write)

    def upsert_many(self, results: Iterable[dict]) -> int:
        """Bulk load (benchmarks, backfills): all calls in one transaction."""
        prepared = [self._prepare(r, None) for r in results]

        def write() -> None:
            with self.engine.begin() as conn:
                self._guarded(self._write_prepared, conn, prepared)

        self._retrying(write)
        return len(prepared)

    def upsert_batch(self, items: Iterable[tuple[str, dict, str | None]]) -> list[tuple[str, str]]:
        """Write (name, result, source_sha256) items in one transaction; each call is stored completely
        or not at all, and a call that fails is returned as (name, error) while the others commit.

        Rows are prepared (validated, segmented) in Python first, then the whole batch is written
        with one executemany per table inside a SAVEPOINT; if that fails, the batch is retried one
        call per SAVEPOINT so only the bad call is rolled back. A conflict with a concurrent writer
        (deadlock, serialisation failure, lock timeout) is not a bad call: the whole transaction is
        retried (`_retrying`)."""
        failed: list[tuple[str, str]] = []
        prepared: list[tuple[str, _Prepared]] = []
        for name, r, h in items:
            try:
                prepared.append((name, self._prepare(r, h)))
            except Exception as exc:  # noqa: BLE001
                failed.append((name, import_reason(exc)))
        if not prepared:
            return failed
        bad: list[tuple[str, str]] = []

        def write() -> None:
            bad.clear()
            with self.engine.begin() as conn:
                try:
                    with conn.begin_nested():
                        self._guarded(self._write_prepared, conn, [p for _, p in prepared])
                except Exception as exc:  # noqa: BLE001 - find the bad call(s)
                    if _transient(exc):
                        raise
                    for name, p in prepared:
                        try:
                            with conn.begin_nested():
                                self._guarded(self._write_prepared, conn, [p])
                        except Exception as exc2:  # noqa: BLE001
                            if _transient(exc2):
                                raise
                            bad.append((name, import_reason(exc2)))

        self._retrying(write)
        return failed + bad

    def _retrying(self, write: Any, attempts: int = 8) -> None:
        """Run a write transaction, again after a conflict with a concurrent writer (with back-off)."""
        for attempt in range(attempts):
            try:
                write()
                return
            except Exception as exc:
                if attempt == attempts - 1 or not _transient(exc):
                    raise
                time.sleep(min(2.0, 0.05 * 2**attempt))

    def read(self) -> sa.Connection:
        """A connection for queries only (deferred BEGIN: does not take the write lock)."""
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    def source_hashes(self, call_ids: Iterable[str] | None = None) -> dict[str, str | None]:
        """call id → hash of the stored result JSON; of the given calls only (those stored) if `call_ids`."""
        c = S.calls
        with self.read() as conn:
            if call_ids is None:
                return dict(conn.execute(sa.select(c.c.call_id, c.c.source_sha256)).all())
            ids = sorted(set(call_ids))
            if self.dialect == "postgresql":  # one array parameter (see _write_prepared_pg)
                return dict(conn.execute(_PG_HASHES, {"ids": ids}).all())
            out: dict[str, str | None] = {}
            for i in range(0, len(ids), 500):
                q = sa.select(c.c.call_id, c.c.source_sha256).where(c.c.call_id.in_(ids[i : i + 500]))
                out.update(conn.execute(q).all())
            return out

    def delete_call(self, call_id: str) -> None:
        with self.engine.begin() as conn:
            self._delete_call(conn, call_id)

    _EXISTS = _EXISTS
    _DELETES = _DELETES
    _UTT_IDS = _UTT_IDS

    def _delete_call(self, conn: sa.Connection, call_id: str) -> None:
        if conn.execute(self._EXISTS, {"cid": call_id}).first() is None:
            return
        if self.fts is not None:
            self.fts.delete_calls(conn, self._UTT_IDS, {"cid": call_id})
        for stmt in self._DELETES:
            conn.execute(stmt, {"cid": call_id})

    def _run_id(
        self, conn: sa.Connection, engine_info: dict | None, fingerprint: tuple[str, dict] | None = None
    ) -> int | None:
        if not engine_info:
            return None
        fp, row = fingerprint or _run_fingerprint(engine_info)
        if fp in self._run_cache:
            return self._run_cache[fp]
        rid = conn.execute(sa.select(S.runs.c.run_id).where(S.runs.c.fingerprint == fp)).scalar()
        if rid is None:
            if self.dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                # concurrent writers of the same run: the second waits for the first, then reads its id
                conn.execute(
                    pg_insert(S.runs)
                    .values(fingerprint=fp, first_seen=_now(), **row)
                    .on_conflict_do_nothing(index_elements=["fingerprint"])
                )
                rid = conn.execute(sa.select(S.runs.c.run_id).where(S.runs.c.fingerprint == fp)).scalar_one()
            else:
                rid = conn.execute(
                    S.runs.insert().values(fingerprint=fp, first_seen=_now(), **row).returning(S.runs.c.run_id)
                ).scalar_one()
        # cached ids are only trusted after commit; a rollback clears the cache (see _guarded)
        self._run_cache[fp] = rid
        return rid

    def _guarded(self, fn, *args):
        """Run a write; on any error forget cached run/agent ids (they may have been rolled back)."""
        try:
            return fn(*args)
        except BaseException:
            self._run_cache.clear()
            self._agent_cache.clear()
            raise

    def _write_call(self, conn: sa.Connection, r: dict, source_sha256: str | None) -> None:
        self._guarded(self._write_prepared, conn, [self._prepare(r, source_sha256)])

    def _prepare(self, r: dict, source_sha256: str | None) -> _Prepared:
        """All rows of one call as plain dicts (raises on a malformed result before anything is written)."""
        call_id = r.get("call_id")
        if not call_id or not isinstance(call_id, str):
            raise ValueError("result has no call_id")
        if source_sha256 is None:
            source_sha256 = result_hash(r)
        md = dict(r.get("metadata") or {})
        audio = r.get("audio") or {}
        score = r.get("score") or {}
        agent_id = r.get("agent_id") or md.get("agent_id")
        started = md.get("started_at")
        started = None if started is None else str(started)
        call_date = started[:10] if started and len(started) >= 10 else None
        call_hour = int(started[11:13]) if started and len(started) >= 13 and started[11:13].isdigit() else None
        extra_md = {
            k: v for k, v in md.items() if k not in ("agent_name", "team", "started_at", "queue", "transferred_at")
        }
        call = dict(
            call_id=call_id,
            agent_id=agent_id,
            status=str(r.get("status") or "failed"),
            error=r.get("error"),
            agent_name=md.get("agent_name"),
            team=md.get("team"),
            queue=md.get("queue"),
            started_at=started,
            call_date=call_date,
            call_hour=call_hour,
            transferred_at=_f(md.get("transferred_at")),
            duration_s=_f(audio.get("duration_s")),
            audio_path=audio.get("path"),
            audio_sha256=audio.get("sha256"),
            sample_rate=audio.get("sample_rate"),
            channels=audio.get("channels"),
            layout=audio.get("layout"),
            codec=audio.get("codec"),
            score_total=_f(score.get("total")),
            score_max=_f(score.get("max")),
            fatal=None if not score else bool(score.get("fatal")),
            needs_review=None if not score else bool(score.get("needs_review")),
            metadata_json=_j(extra_md),
            timings_json=_j(r.get("timings") or {}),
            source_sha256=source_sha256,
        )
        utts = [
            {
                "call_id": call_id,
                "idx": i,
                "speaker": u.get("speaker") or "unknown",
                "start": float(u["start"]),
                "end": float(u["end"]),
                "text": u.get("text") or "",
                "words_json": _j(u.get("words")) if u.get("words") else None,
            }
            for i, u in enumerate(r.get("utterances") or [])
        ]
        fts_cols = []
        if self.fts:
            # the search forms the pipeline computed when it wrote the result, when they are of these texts and
            # this tokenizer (else None: tokenised here)
            carried = carried_forms(r)
            fts_cols = [
                self.fts.index_values(
                    str(u["text"]),
                    call_date,
                    str(u["speaker"]),
                    team=md.get("team"),
                    agent_id=agent_id,
                    agent_name=md.get("agent_name"),
                    call_id=call_id,
                    forms=None if carried is None else carried[i],
                )
                for i, u in enumerate(utts)
            ]
        events = [
            {
                "call_id": call_id,
                "idx": i,
                "type": e["type"],
                "start": _f(e.get("start")),
                "end": _f(e.get("end")),
                "speaker": e.get("speaker"),
            }
            for i, e in enumerate(r.get("events") or [])
        ]
        checks = check_rows(call_id, r.get("checks") or [])
        items = item_rows(call_id, score.get("items") or [])
        agent = (agent_id, {"agent_name": md.get("agent_name"), "team": md.get("team")}) if agent_id else None
        prepared = _Prepared(call, agent, r.get("engine"), utts, fts_cols, events, checks, items)
        if self.version >= 7:  # stored timeline, tags, score history (rules, issue 12)
            tl = r.get("timeline")
            prepared.timelines = [{"call_id": call_id, "timeline_json": _j(tl)}] if tl else []
            prepared.tags = tag_rows(call_id, r.get("tags") or [])
            eng = r.get("engine") or {}
            prepared.history = (
                [
                    {
                        "call_id": call_id,
                        "rubric": eng.get("rubric"),
                        "rubric_version": eng.get("rubric_version"),
                        "rubric_sha256": eng.get("rubric_sha256"),
                        "score_total": call["score_total"],
                        "score_max": call["score_max"],
                        "fatal": call["fatal"],
                        "needs_review": call["needs_review"],
                        "source": "score",
                        "scored_at": _now(),
                    }
                ]
                if score
                else []
            )
        return prepared

    def _write_prepared(self, conn: sa.Connection, calls: list[_Prepared]) -> None:
        """Replace the given calls: one DELETE per table for those already stored, one executemany per
        table for the new rows. The caller owns the transaction / SAVEPOINT."""
        if not calls:
            return
        calls = list({p.call["call_id"]: p for p in calls}.values())  # a call id given twice: the later wins
        if self.dialect == "postgresql":
            self._write_prepared_pg(conn, calls)
            return
        ids = [p.call["call_id"] for p in calls]
        c = S.calls
        existing: list[str] = []
        for i in range(0, len(ids), 500):
            existing += conn.execute(sa.select(c.c.call_id).where(c.c.call_id.in_(ids[i : i + 500]))).scalars().all()
        for i in range(0, len(existing), 500):
            chunk = existing[i : i + 500]
            if self.fts is not None:
                self.fts.delete_calls(
                    conn, sa.select(S.utterances.c.utterance_id).where(S.utterances.c.call_id.in_(chunk))
                )
            for t in (*S.CHILD_TABLES, *(S.V7_CHILD_TABLES if self.version >= 7 else ()), c):
                conn.execute(t.delete().where(t.c.call_id.in_(chunk)))
        now = _now()
        call_rows = []
        for p in calls:
            if p.agent is not None:
                self._upsert_agent(conn, *p.agent)
            call_rows.append({**p.call, "run_id": self._run_id(conn, p.engine), "imported_at": now})
        insert_rows(conn, c, call_rows)
        utts = [u for p in calls for u in p.utterances]
        if utts:
            # ids assigned here (the transaction holds the write lock): no RETURNING round trip
            base = int(
                conn.execute(sa.select(sa.func.coalesce(sa.func.max(S.utterances.c.utterance_id), 0))).scalar() or 0
            )
            for k, u in enumerate(utts, start=base + 1):
                u["utterance_id"] = k
            insert_rows(conn, S.utterances, utts)
            if self.fts is not None:
                cols = [col for p in calls for col in p.fts_cols]
                self.fts.insert(conn, [{"rowid": u["utterance_id"], **col} for u, col in zip(utts, cols, strict=True)])
        self._insert_children(conn, calls)

    def _insert_children(self, conn: sa.Connection, calls: list[_Prepared]) -> None:
        for table, attr in (
            (S.events, "events"),
            (S.checks, "checks"),
            (S.item_scores, "items"),
            (S.call_timelines, "timelines"),
            (S.call_tags, "tags"),
            (S.score_history, "history"),
        ):
            rows = [x for p in calls for x in getattr(p, attr)]
            if rows:
                insert_rows(conn, table, rows)

    def _write_prepared_pg(self, conn: sa.Connection, calls: list[_Prepared]) -> None:
        """PostgreSQL: many writers at once, row-level locking instead of SQLite's one write lock.

        Each call row is upserted (``INSERT … ON CONFLICT (call_id) DO UPDATE``), which locks it: a second
        writer of the same call waits for the first to commit and then replaces its rows (READ COMMITTED:
        its DELETEs see them), so a call is never lost or stored twice. Locks are taken in one global
        order (runs, agents, calls, each sorted by key) so that concurrent batches do not deadlock;
        utterance ids come from the sequence (RETURNING) rather than max()+1."""

        c, u = S.calls, S.utterances
        calls = sorted(calls, key=lambda p: p.call["call_id"])
        runs = {}
        fps = {id(p): _run_fingerprint(p.engine) for p in calls if p.engine}  # once per call (a JSON dump + hash)
        for p in sorted(calls, key=lambda p: fps[id(p)][0] if p.engine else ""):
            if p.engine:
                runs[id(p)] = self._run_id(conn, p.engine, fps[id(p)])
        self._upsert_agents_pg(conn, {p.agent[0]: p.agent[1] for p in calls if p.agent})
        now = _now()
        call_rows = [{**p.call, "run_id": runs.get(id(p)), "imported_at": now} for p in calls]
        upsert_rows(conn, c, call_rows, "call_id")
        # the batch's call ids as ONE array parameter (``call_id = ANY(%(ids)s)``): constant statement text, so
        # psycopg converts it once and the server prepares it; an ``IN`` list of 200 placeholders was parsed
        # again on both sides for every batch and table
        ids = {"ids": [p.call["call_id"] for p in calls]}
        if self.fts is not None:
            self.fts.delete_calls(conn, _PG_UTT_IDS, ids)
        for stmt in _PG_DELETES[: len(S.CHILD_TABLES) + (len(S.V7_CHILD_TABLES) if self.version >= 7 else 0)]:
            conn.execute(stmt, ids)
        utts = [x for p in calls for x in p.utterances]
        if utts:
            # ids drawn from the column's sequence in one round trip, then the rows COPied (no RETURNING); the
            # sequence is looked up once (pg_get_serial_sequence in the select list ran once per row)
            new_ids = next_values(conn, self._utterance_sequence(conn), len(utts))
            utts = [{**x, "utterance_id": k} for x, k in zip(utts, new_ids, strict=True)]
            insert_rows(conn, u, utts)
            if self.fts is not None:
                cols = [col for p in calls for col in p.fts_cols]
                self.fts.insert(conn, [{"rowid": k, **col} for k, col in zip(new_ids, cols, strict=True)])
        self._insert_children(conn, calls)

    def _utterance_sequence(self, conn: sa.Connection) -> str:
        """PostgreSQL: the name of the sequence behind ``utterances.utterance_id`` (looked up once)."""
        if self._utt_seq is None:
            self._utt_seq = conn.execute(
                sa.text("SELECT pg_get_serial_sequence('utterances', 'utterance_id')")
            ).scalar_one()
        return self._utt_seq

    def _upsert_agents_pg(self, conn: sa.Connection, agents: dict[str, dict]) -> None:
        """PostgreSQL: a batch's agents with one SELECT and one INSERT (an importer meets each agent once,
        and ~300 agents cost a round trip each otherwise); then `_upsert_agent`'s rules, in key order."""
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        todo = {a: r for a, r in sorted(agents.items()) if self._agent_cache.get(a) != r}
        if not todo:
            return
        a = S.agents
        existing = {
            r.agent_id: r
            for r in conn.execute(
                sa.select(a.c.agent_id, a.c.agent_name, a.c.team).where(a.c.agent_id == sa.any_(_pg_ids("ids"))),
                {"ids": list(todo)},
            )
        }
        new = [{"agent_id": k, **r} for k, r in todo.items() if k not in existing]
        if new:
            # another writer may insert the same agent concurrently: wait for it instead of failing
            conn.execute(pg_insert(a).on_conflict_do_nothing(), new)
        for k, r in todo.items():
            old = existing.get(k)
            if old is not None:
                # only values that differ: an UPDATE row-locks the agent until commit (serialising writers)
                upd = {f: v for f, v in r.items() if v is not None and old._mapping[f] != v}
                if upd:
                    conn.execute(a.update().where(a.c.agent_id == k).values(**upd))
            self._agent_cache[k] = r

    def _upsert_agent(self, conn: sa.Connection, agent_id: str, agent_row: dict) -> None:
        if self._agent_cache.get(agent_id) == agent_row:
            return
        existing = conn.execute(self._AGENT, {"aid": agent_id}).first()
        if existing is None:
            if self.dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                # another writer may insert the same agent concurrently: wait for it instead of failing
                conn.execute(pg_insert(S.agents).on_conflict_do_nothing(), {"agent_id": agent_id, **agent_row})
            else:
                conn.execute(S.agents.insert(), {"agent_id": agent_id, **agent_row})
        else:
            # only values that differ: an UPDATE row-locks the agent until commit (serialising writers)
            upd = {k: v for k, v in agent_row.items() if v is not None and existing._mapping[k] != v}
            if upd:
                conn.execute(S.agents.update().where(S.agents.c.agent_id == agent_id).values(**upd))
        self._agent_cache[agent_id] = agent_row

    # ------------------------------------------------------------ misc

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class _Prepared:
    call: dict
    agent: tuple[str, dict] | None
    engine: dict | None
    utterances: list[dict]
    fts_cols: list[dict[str, str]]  # the search index's columns per utterance (backend.index_values)
    events: list[dict]
    checks: list[dict]
    items: list[dict]
    timelines: list[dict] = field(default_factory=list)
    tags: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)


def _run_fingerprint(engine_info: dict) -> tuple[str, dict]:
    keys = ("asr", "model", "compute_type", "rubric", "rubric_version", "package_version", "vad")
    row = {k: (None if engine_info.get(k) is None else str(engine_info.get(k))) for k in keys}
    row["options_json"] = _j(engine_info.get("options") or {})
    fp = hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return fp, row


def _transient(exc: BaseException) -> bool:
    """A write conflict that a retry of the whole transaction resolves (not a property of the call)."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None)
    if code in ("40P01", "40001", "55P03"):  # deadlock, serialization failure, lock not available
        return True
    return isinstance(exc, sa.exc.OperationalError) and "database is locked" in str(orig or exc)


class ResultFileError(ValueError):
    """A file in calls/ that is not a call result callqa can store; the text comes from the catalog."""


def import_reason(exc: BaseException) -> str:
    """Why a result file was not stored, in words a QA analyst can act on: no Python class names, the file
    itself is named beside it by the caller."""
    from ..i18n import t

    if isinstance(exc, ResultFileError):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return t("store.import.bad_json", line=exc.lineno, column=exc.colno)
    if isinstance(exc, UnicodeDecodeError):
        return t("store.import.not_utf8")
    if isinstance(exc, KeyError):
        return t("store.import.missing_field", field=exc.args[0] if exc.args else "")
    if isinstance(exc, sa.exc.DBAPIError):
        return t("store.import.rejected", reason=first_line(exc))
    return t("store.import.invalid", reason=first_line(exc))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_store(db_path: Path | str, *, migrate_to: int | None = None) -> Store:
    """Open (creating and migrating as needed) the store at `db_path`: a SQLite file path, or a URL
    (``sqlite:///…``, ``postgresql://…``). A URL callqa cannot use raises `StoreURLError`."""
    return Store(make_engine(db_path), None if is_url(db_path) else Path(db_path), migrate_to)


__all__ = ["Store", "StoreURLError", "open_store", "make_engine", "is_url", "safe_url", "result_hash", "LATEST"]
