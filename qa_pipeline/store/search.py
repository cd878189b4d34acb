"""Transcript search over the FTS index, with call-level filters and context turns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

import sqlalchemy as sa

from . import schema as S
from .db import Store
from .fts import QueryError, build_match, highlight, parse_query, positive_terms

__all__ = ["Hit", "search", "QueryError"]


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

    def as_dict(self) -> dict:
        return asdict(self)


def _d(x) -> str | None:
    if x is None:
        return None
    return x.isoformat() if isinstance(x, date) else str(x)


def search(
    store: Store,
    query: str,
    *,
    speaker: str | None = None,
    agent: str | None = None,
    team: str | None = None,
    check: str | None = None,
    status: str | None = None,
    date_from=None,
    date_to=None,
    min_score: float | None = None,
    max_score: float | None = None,
    limit: int = 20,
    pinyin: bool = False,
    context: int = 1,
    exact_rank: bool = False,
    rank_window: int = 200,
) -> list[Hit]:
    """Ranked hits (best first). `check` restricts to calls where that check has `status`
    (default "fail"); `status` alone: calls with any check of that status.

    Ranking: bm25 over the `rank_window` most recently indexed matching utterances (exact when
    fewer match the filters); `exact_rank=True` ranks every match (slow for very common words)."""
    if store.fts is None:
        raise RuntimeError("the database has no search index (schema too old)")
    fts = store.fts
    match = build_match(query, pinyin)
    terms = positive_terms(parse_query(query))
    u, c = S.utterances, S.calls
    stmt = (
        sa.select(
            u.c.call_id, u.c.idx, u.c.speaker, u.c.start, u.c.end, u.c.text, fts.rank.label("rank"),
            c.c.agent_id, c.c.agent_name, c.c.team, c.c.started_at, c.c.score_total, c.c.audio_path,
        )
        .select_from(fts.table.join(u, u.c.utterance_id == fts.rowid).join(c, c.c.call_id == u.c.call_id))
        .where(fts.match(match))
    )
    if speaker:
        stmt = stmt.where(u.c.speaker == speaker)
    if agent:
        stmt = stmt.where(sa.or_(c.c.agent_id == agent, c.c.agent_name == agent))
    if team:
        stmt = stmt.where(c.c.team == team)
    if date_from:
        stmt = stmt.where(c.c.call_date >= _d(date_from)[:10])
    if date_to:
        stmt = stmt.where(c.c.call_date <= _d(date_to)[:10])
    if min_score is not None:
        stmt = stmt.where(c.c.score_total >= float(min_score))
    if max_score is not None:
        stmt = stmt.where(c.c.score_total <= float(max_score))
    if check or status:
        ch = S.checks
        cond = [ch.c.call_id == c.c.call_id, ch.c.status == (status or "fail")]
        if check:
            cond.append(ch.c.check == check)
        stmt = stmt.where(sa.exists(sa.select(ch.c.check_row_id).where(*cond)))
    limit = max(1, int(limit))
    if exact_rank:
        stmt = stmt.order_by(fts.rank, u.c.call_id, u.c.idx).limit(limit)
    else:  # bm25 is computed only for the rows returned: newest window first, then rank in Python
        stmt = stmt.order_by(fts.rowid.desc()).limit(max(rank_window, limit))

    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
        if not exact_rank:
            rows = sorted(rows, key=lambda r: (r.rank, r.call_id, r.idx))[:limit]
        hits = [
            Hit(call_id=r.call_id, utterance_idx=r.idx, speaker=r.speaker, start=r.start, end=r.end, text=r.text,
                highlighted=highlight(r.text, terms, pinyin), rank=float(r.rank), agent_id=r.agent_id,
                agent_name=r.agent_name, team=r.team, started_at=r.started_at, score_total=r.score_total,
                audio_path=r.audio_path)
            for r in rows
        ]
        if hits and context > 0:
            conds = [sa.and_(u.c.call_id == h.call_id, u.c.idx.between(h.utterance_idx - context, h.utterance_idx + context))
                     for h in hits]
            ctx = conn.execute(
                sa.select(u.c.call_id, u.c.idx, u.c.speaker, u.c.start, u.c.text).where(sa.or_(*conds))
            ).all()
            by_call: dict[str, dict[int, dict]] = {}
            for r in ctx:
                by_call.setdefault(r.call_id, {})[r.idx] = {"speaker": r.speaker, "start": r.start, "text": r.text}
            for h in hits:
                turns = by_call.get(h.call_id, {})
                h.before = [turns[i] for i in range(h.utterance_idx - context, h.utterance_idx) if i in turns]
                h.after = [turns[i] for i in range(h.utterance_idx + 1, h.utterance_idx + context + 1) if i in turns]
    return hits
