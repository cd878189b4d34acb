"""Transcript search over the FTS index, with call-level filters and context turns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

import sqlalchemy as sa

from . import schema as S
from .db import Store
from .fts import (
    QueryError,
    build_match,
    day_key,
    highlight,
    parse_query,
    positive_terms,
    short_term_words,
    tags_match,
    to_fts5,
)

__all__ = ["Hit", "search", "QueryError"]

# at most this many filtered calls: drive the search from their utterances (plan "calls")
SELECTIVE_CALLS = 3000
# a date filter spanning at most this many call days is intersected inside FTS5 (plan "tags")
TAG_DAYS = 62
# with only date filters (+ speaker) and a tags plan possible, "calls" is chosen below this many calls
TAGS_ONLY_CALLS = 300


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
    exact_rank: bool = True,
    rank_window: int = 200,
    plan: str = "auto",
) -> list[Hit]:
    """Ranked hits (best first). `check` restricts to calls where that check has `status`
    (default "fail"); `status` alone: calls with any check of that status.

    Ranking is FTS5 bm25 over *every* match that satisfies the filters (the true top `limit`).
    bm25 is evaluated as an expression, after the filters, so it is computed only for matches
    that survive them (``ORDER BY rank`` would let FTS5 rank every match first). Two plans give
    the same rows:

    * ``calls`` (selective filters): the filtered calls' utterance ids are materialised once and
      the FTS scan keeps only rowids in that set;
    * ``fts`` (broad or no call filters): the FTS scan joins each match to its utterance and
      probes the materialised set of filtered call ids.

    ``plan="auto"`` counts the filtered calls (an index range) and picks ``calls`` when they are
    few. `exact_rank` / `rank_window` are accepted for compatibility and ignored (ranking is
    always exact)."""
    del exact_rank, rank_window
    if plan not in ("auto", "calls", "fts", "tags"):
        raise ValueError(f"plan must be auto, calls, fts or tags, not {plan!r}")
    if store.fts is None:
        raise RuntimeError("the database has no search index (schema too old)")
    fts = store.fts
    tree = parse_query(query)
    build_match(query, pinyin)  # raises QueryError for a query without searchable words
    terms = positive_terms(tree)
    u, c = S.utterances, S.calls
    conds, date_conds = [], []
    if date_from:
        date_conds.append(c.c.call_date >= _d(date_from)[:10])
    if date_to:
        date_conds.append(c.c.call_date <= _d(date_to)[:10])
    conds = list(date_conds)
    if agent:
        conds.append(sa.or_(c.c.agent_id == agent, c.c.agent_name == agent))
    if team:
        conds.append(c.c.team == team)
    if min_score is not None:
        conds.append(c.c.score_total >= float(min_score))
    if max_score is not None:
        conds.append(c.c.score_total <= float(max_score))
    if check or status:
        ch = S.checks
        cc = [ch.c.status == (status or "fail")]
        if check:
            cc.append(ch.c.check == check)
        conds.append(c.c.call_id.in_(sa.select(ch.c.call_id).where(*cc)))
    limit = max(1, int(limit))
    bm25 = fts.bm25().label("brank")

    with store.read() as conn:
        counts = fts.doc_counts(conn, short_term_words(tree, pinyin))
        match = to_fts5(tree, pinyin, lambda t: counts.get(t, 0))
        tag_expr = None
        if plan in ("auto", "tags") and fts.tags and date_conds:
            # the call days in the range (index range on calls.call_date); tags need regular dates
            days = (
                conn.execute(sa.select(c.c.call_date).where(*date_conds).distinct().limit(TAG_DAYS + 1)).scalars().all()
            )
            if 0 < len(days) <= TAG_DAYS and all(day_key(d) for d in days):
                tag_expr = tags_match(days, speaker)
        if plan == "tags" and tag_expr is None:
            plan = "fts"
        if plan == "auto":
            plan = "tags" if tag_expr else "fts"
            if conds:
                # only date filters left for the tags plan to intersect: it wins unless the calls are very few
                cap = TAGS_ONLY_CALLS if tag_expr and len(conds) == len(date_conds) else SELECTIVE_CALLS
                n_calls = conn.execute(
                    sa.select(sa.func.count()).select_from(
                        sa.select(c.c.call_id).where(*conds).limit(cap + 1).subquery()
                    )
                ).scalar()
                if n_calls <= cap:
                    plan = "calls"
        if plan == "calls":
            cand = sa.select(u.c.utterance_id).select_from(c.join(u, u.c.call_id == c.c.call_id)).where(*conds)
            if speaker:
                cand = cand.where(u.c.speaker == speaker)
            cand = cand.cte("cand").prefix_with("MATERIALIZED")
            ranked = (
                sa.select(fts.rowid.label("uid"), bm25)
                .select_from(fts.table)
                .where(fts.match(match), (fts.rowid + 0).in_(sa.select(cand.c.utterance_id)))
            )
        elif plan == "tags":
            # FTS5 intersects the phrase with the date (+ speaker) tags; other call filters probe the
            # filtered calls (tag phrases weigh 0 in bm25: same values, see fts.py)
            ranked = sa.select(fts.rowid.label("uid"), bm25).where(fts.match(f"({match}) AND {tag_expr}"))
            other = [x for x in conds if not any(x is d for d in date_conds)]
            if other:
                fc = sa.select(c.c.call_id).where(*conds).cte("fc").prefix_with("MATERIALIZED")
                ranked = ranked.select_from(fts.table.join(u, u.c.utterance_id == fts.rowid)).where(
                    u.c.call_id.in_(sa.select(fc.c.call_id))
                )
            else:
                ranked = ranked.select_from(fts.table)
        else:
            ranked = (
                sa.select(fts.rowid.label("uid"), bm25)
                .select_from(fts.table.join(u, u.c.utterance_id == fts.rowid))
                .where(fts.match(match))
            )
            if speaker:
                ranked = ranked.where(u.c.speaker == speaker)
            if conds:
                fc = sa.select(c.c.call_id).where(*conds).cte("fc").prefix_with("MATERIALIZED")
                ranked = ranked.where(u.c.call_id.in_(sa.select(fc.c.call_id)))
        ranked = ranked.order_by(sa.literal_column("brank"), fts.rowid).limit(limit).subquery("r")
        stmt = sa.select(
            u.c.call_id,
            u.c.idx,
            u.c.speaker,
            u.c.start,
            u.c.end,
            u.c.text,
            ranked.c.brank.label("rank"),
            c.c.agent_id,
            c.c.agent_name,
            c.c.team,
            c.c.started_at,
            c.c.score_total,
            c.c.audio_path,
        ).select_from(ranked.join(u, u.c.utterance_id == ranked.c.uid).join(c, c.c.call_id == u.c.call_id))
        rows = sorted(conn.execute(stmt).all(), key=lambda r: (r.rank, r.call_id, r.idx))
        hits = [
            Hit(
                call_id=r.call_id,
                utterance_idx=r.idx,
                speaker=r.speaker,
                start=r.start,
                end=r.end,
                text=r.text,
                highlighted=highlight(r.text, terms, pinyin),
                rank=float(r.rank),
                agent_id=r.agent_id,
                agent_name=r.agent_name,
                team=r.team,
                started_at=r.started_at,
                score_total=r.score_total,
                audio_path=r.audio_path,
            )
            for r in rows
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
