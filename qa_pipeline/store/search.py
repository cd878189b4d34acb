"""Transcript search over the FTS index, with call-level filters and context turns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from ..i18n import t
from . import schema as S
from .backends.sqlite import SqliteFts
from .db import Store
from .filters import CallFilter, resolve
from .query import QueryError, highlighter, parse_query, positive_terms

__all__ = ["Hit", "search", "QueryError", "CallFilter"]


@dataclass
class Hit:
    call_id: str
    utterance_idx: int
    speaker: str
    start: float
    end: float
    text: str
    highlighted: str
    rank: float
    agent_id: str | None
    agent_name: str | None
    team: str | None
    started_at: str | None
    score_total: float | None
    audio_path: str | None
    before: list[dict] = field(default_factory=list)  # [{speaker, start, text}]
    after: list[dict] = field(default_factory=list)
    score_pct: float | None = None  # the one scale: automatic part as % of the judged points

    def as_dict(self) -> dict:
        return asdict(self)


MAX_LIMIT = 1000
MAX_CONTEXT = 20


def search(
    store: Store,
    query: str,
    where: CallFilter | None = None,
    *,
    limit: int = 20,
    pinyin: bool = False,
    context: int = 1,
    plan: str = "auto",
    parts: int | None = None,
    **filters: Any,
) -> list[Hit]:
    """Ranked hits (best first: `Hit.rank` ascending) of `query` among the calls `where` selects.

    `where` (a `CallFilter`) or its fields as keyword arguments (``team="一组", speaker="agent"``;
    ``status`` means the check status, as on the command line). A term matches its jieba words as a
    phrase or, from schema version 6, the same characters anywhere in an utterance.

    Ranking is the backend's over *every* match that satisfies the filters (the true top `limit`):
    FTS5 bm25 on SQLite (see `backends/sqlite.py` for its plans), ``ts_rank_cd`` on PostgreSQL
    (negated, so lower is better there too; see `backends/postgres.py`).

    `parts` (SQLite): rank in that many utterance-id ranges at once, on as many connections (the same hits,
    order and values; see `SqliteFts.top`); None: as many as there are idle CPUs, for a large index."""
    where = resolve(where, **filters)
    if store.fts is None:
        raise RuntimeError("the database has no search index (schema too old)")
    tree = parse_query(query)
    if tree is None:
        raise QueryError(t("search.error.no_words"))
    terms = positive_terms(tree)
    u, c = S.utterances, S.calls
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(t("search.error.limit", limit=MAX_LIMIT, value=limit))
    if not 0 <= context <= MAX_CONTEXT:
        raise QueryError(t("search.error.context", limit=MAX_CONTEXT, value=context))
    limit = int(limit)

    with store.read() as conn:
        cols = (
            u.c.call_id,
            u.c.idx,
            u.c.speaker,
            u.c.start,
            u.c.end,
            u.c.text,
            c.c.agent_id,
            c.c.agent_name,
            c.c.team,
            c.c.started_at,
            c.c.score_total,
            c.c.score_max,
            c.c.audio_path,
        )
        rows: list[tuple[float, Any]]  # (bm25 / rank, the hit's row)
        split = store.fts.parts(conn, parts) if isinstance(store.fts, SqliteFts) else (1, 0, 0)
        if split[0] > 1 and isinstance(store.fts, SqliteFts):
            # ranked in id ranges on several connections, then the rows of the merged top `limit`
            stmt = store.fts.ranked(conn, tree, pinyin, where, limit, plan, split=True)
            top = dict(store.fts.top(conn, store.read, stmt, split, limit))
            found = conn.execute(
                sa.select(u.c.utterance_id, *cols)
                .select_from(u.join(c, c.c.call_id == u.c.call_id))
                .where(u.c.utterance_id.in_(sa.bindparam("top_ids", sorted(top), expanding=True)))
            ).all()
            rows = [(top[r.utterance_id], r) for r in found] if top else []
        else:
            ranked = store.fts.ranked(conn, tree, pinyin, where, limit, plan).subquery("r")
            stmt = sa.select(*cols, ranked.c.brank.label("rank")).select_from(
                ranked.join(u, u.c.utterance_id == ranked.c.uid).join(c, c.c.call_id == u.c.call_id)
            )
            rows = [(r.rank, r) for r in conn.execute(stmt).all()]
        rows.sort(key=lambda x: (x[0], x[1].call_id, x[1].idx))
        mark = highlighter(terms, pinyin)
        hits = [
            Hit(
                call_id=r.call_id,
                utterance_idx=r.idx,
                speaker=r.speaker,
                start=r.start,
                end=r.end,
                text=r.text,
                highlighted=mark(r.text),
                rank=float(rank),
                agent_id=r.agent_id,
                agent_name=r.agent_name,
                team=r.team,
                started_at=r.started_at,
                score_total=r.score_total,
                audio_path=r.audio_path,
                score_pct=None if not r.score_max else round(100.0 * float(r.score_total or 0.0) / r.score_max, 1),
            )
            for rank, r in rows
        ]
        if hits and context > 0:
            keys = set(
                (h.call_id, i)
                for h in hits
                for i in range(h.utterance_idx - context, h.utterance_idx + context + 1)
                if i != h.utterance_idx
            )
            # the hits' calls (≤ limit, index on (call_id, idx)); the wanted turns are picked here
            ctx = (
                [
                    r
                    for r in conn.execute(
                        sa.select(u.c.call_id, u.c.idx, u.c.speaker, u.c.start, u.c.text).where(
                            u.c.call_id.in_(sa.bindparam("ctx_calls", sorted({k[0] for k in keys}), expanding=True))
                        )
                    ).all()
                    if (r.call_id, r.idx) in keys
                ]
                if keys
                else []
            )
            by_call: dict[str, dict[int, dict]] = {}
            for r in ctx:
                by_call.setdefault(r.call_id, {})[r.idx] = {"speaker": r.speaker, "start": r.start, "text": r.text}
            for h in hits:
                turns = by_call.get(h.call_id, {})
                h.before = [turns[i] for i in range(h.utterance_idx - context, h.utterance_idx) if i in turns]
                h.after = [turns[i] for i in range(h.utterance_idx + 1, h.utterance_idx + context + 1) if i in turns]
    return hits
