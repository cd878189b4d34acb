"""PostgreSQL backend of the search index: a GIN-indexed ``tsvector`` per utterance, no extensions.

Table ``utterance_search(utterance_id → utterances, doc tsvector)``. ``doc`` holds the same token forms as
the SQLite index (`tokens.py`), each under its own weight label so that one GIN index serves all of them
and a query addresses one form only: jieba words weight A, pinyin B, character bigrams C (schema ≥ 6).
The tsvector is written from our own tokens as a tsvector literal (``'不归':1A '我们':2A …``) cast to
``tsvector``: that is exactly what ``to_tsvector('simple', …)`` makes of plain words (no stemming, no stop
words, one lexeme per token), minus the parser's own idea of where a Chinese word ends. Positions are kept,
so phrases work (``<->``).

Queries: the parsed tree (`query.py`) becomes a tsquery literal built from our tokens only (quoted, escaped)
and is passed as a bound parameter cast to ``tsquery``: term → ``(words phrase | joined word | bigram
phrase)``, AND → ``&``, OR → ``|``, ``a NOT b`` → ``a & !b``; a one-character term is a bigram prefix
(``'管':*C``).

Ranking: ``ts_rank_cd`` (cover density) with weights {D 0, C 1, B 1, A 1} and normalisation 1 (divide by
1 + log(document length)), negated so that, as with FTS5's bm25, lower is better. It differs from bm25:
there is no inverse document frequency (a rare word does not weigh more than a common one), proximity of
the matched lexemes counts (covers: shorter spans rank higher), and length normalisation is logarithmic
instead of bm25's k1/b saturation. Orders agree when the matches differ mainly in length and in how many
query words they hold; they may differ when one query word is much rarer than another.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR

from .. import schema as S
from ..bulk import insert_rows
from ..filters import CallFilter
from ..query import Node, Term, joined_alternative, render_query, term_tokens
from ..tokens import char_grams, pinyin_tokens, query_grams, segment

SEARCH_TABLE = "utterance_search"
_md = sa.MetaData()
search_table = sa.Table(
    SEARCH_TABLE,
    _md,
    sa.Column(
        "utterance_id", sa.Integer, sa.ForeignKey(S.utterances.c.utterance_id, ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("doc", TSVECTOR, nullable=False),
)
sa.Index("ix_utterance_search_doc", search_table.c.doc, postgresql_using="gin")

MAX_POS = 16383  # PostgreSQL's largest tsvector position
_WEIGHTS = "{0,1,1,1}"  # D, C (bigrams), B (pinyin), A (words)
_MAX_LEXEME = 500  # bytes; PostgreSQL refuses lexemes over 2047
# at most this many filtered calls: test their utterances' tsvectors by key instead of the GIN scan (plan "calls")
SELECTIVE_CALLS = 1500


def _lit(token: str) -> str:
    """A lexeme quoted for a tsvector / tsquery literal."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _ok(token: str) -> bool:
    return bool(token) and len(token.encode("utf-8")) <= _MAX_LEXEME


def doc_literal(forms: Sequence[tuple[str, Sequence[str]]]) -> str:
    """The tsvector literal of (weight, tokens) forms, positions running on from form to form."""
    parts: list[str] = []
    pos = 0
    for weight, toks in forms:
        for tok in toks:
            pos += 1
            if _ok(tok):
                parts.append(f"{_lit(tok)}:{min(pos, MAX_POS)}{weight}")
        pos += 1  # a gap: no phrase runs from one form into the next (weights differ anyway)
    return " ".join(parts)


def _phrase(tokens: Sequence[str], weight: str) -> str | None:
    toks = [t for t in tokens if _ok(t)]
    if not toks:
        return None
    return "(" + " <-> ".join(f"{_lit(t)}:{weight}" for t in toks) + ")"


def to_tsquery(node: Node | None, pinyin: bool = False, grams: bool = True) -> str:
    """tsquery literal for a parsed query (see the module doc)."""

    def term(n: Term) -> str | None:
        if pinyin:
            return _phrase(term_tokens(n, True), "B")
        alts = []
        words = _phrase(term_tokens(n, False), "A")
        if words:
            alts.append(words)
            joined = joined_alternative(n)
            if joined and _ok(joined):
                alts.append(f"{_lit(joined)}:A")
        if grams:
            gt, prefix = query_grams(n.text)
            if gt and prefix and _ok(gt[0]):
                alts.append(f"{_lit(gt[0])}:*C")
            elif gt:
                g = _phrase(gt, "C")
                if g:
                    alts.append(g)
        if not alts:
            return None
        return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"

    def combine(op: str, left: str, right: str) -> str:
        if op == "NOT":
            return f"({left} & !{right})"
        return f"({left} {'&' if op == 'AND' else '|'} {right})"

    return render_query(node, term, combine)


class PgFts:
    """DDL, maintenance and ranked matching for the PostgreSQL search table at schema `version`."""

    name = "postgresql"
    tags = False  # the FTS5 date/speaker tags are not needed: the planner combines the GIN match with filters

    def __init__(self, version: int):
        self.version = version
        self.grams = version >= 6

    # ------------------------------------------------------------ DDL (migrations)

    @staticmethod
    def create_v2(conn: sa.Connection) -> None:
        _md.create_all(conn, tables=[search_table])

    def upgrade_v6(self, conn: sa.Connection) -> None:
        """Migration 6: rewrite every row's tsvector with the character bigrams added."""
        u = S.utterances
        last = 0
        upd = (
            search_table.update()
            .where(search_table.c.utterance_id == sa.bindparam("uid"))
            .values(doc=sa.cast(sa.bindparam("d", type_=sa.Text), TSVECTOR))
        )
        while True:
            rows = conn.execute(
                sa.select(u.c.utterance_id, u.c.text)
                .where(u.c.utterance_id > last)
                .order_by(u.c.utterance_id)
                .limit(5000)
            ).all()
            if not rows:
                break
            conn.execute(upd, [{"uid": r.utterance_id, "d": self.index_values(r.text, None, "")["doc"]} for r in rows])
            last = rows[-1].utterance_id
        conn.exec_driver_sql(f"ANALYZE {SEARCH_TABLE}")

    # ------------------------------------------------------------ writing

    def index_values(
        self,
        text: str,
        call_date: str | None,
        speaker: str,
        *,
        team: str | None = None,
        agent_id: str | None = None,
        agent_name: str | None = None,
    ) -> dict[str, str]:
        del call_date, speaker, team, agent_id, agent_name  # filters are joined at query time on PostgreSQL
        forms: list[tuple[str, Sequence[str]]] = [("A", segment(text)), ("B", pinyin_tokens(text))]
        if self.grams:
            forms.append(("C", char_grams(text)))
        return {"doc": doc_literal(forms)}

    def insert(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
        """rows: {"rowid": utterance_id, "doc": tsvector literal}."""
        if not rows:
            return
        # COPY parses each literal with tsvector's input function: the same value as the cast ``'…'::tsvector``
        insert_rows(conn, search_table, [{"utterance_id": r["rowid"], "doc": r["doc"]} for r in rows])

    def delete_calls(self, conn: sa.Connection, utterance_ids_select: Any, params: dict | None = None) -> None:
        conn.execute(search_table.delete().where(search_table.c.utterance_id.in_(utterance_ids_select)), params or {})

    # ------------------------------------------------------------ searching

    def doc_counts(self, conn: sa.Connection, tokens: Iterable[str]) -> dict[str, int]:
        del conn
        return {t: 1 for t in tokens}  # not needed: the GIN index skips an absent lexeme at no cost

    def ranked(
        self, conn: sa.Connection, tree: Node | None, pinyin: bool, where: CallFilter, limit: int, plan: str = "auto"
    ) -> sa.Select[Any]:
        """(uid, brank) of the true top `limit` matches that satisfy `where`, best first (brank ascending:
        the negated ts_rank_cd). Two plans, the same rows and ranks:

        * ``fts``: the GIN index finds the matches (a bitmap scan that rechecks each match's tsvector on the
          heap), the filters are joined to them;
        * ``calls`` (selective call filters): the filtered calls' utterance ids are materialised first and
          each one's tsvector is tested by primary key with ``ts_match_vq`` (the function behind ``@@``, which
          the planner does not hand to the GIN index). PostgreSQL's estimate for a phrase tsquery is far too
          low for common words (1.2k estimated, 20k found for 我不知道 on 20k calls), so left alone it scans
          and ranks every match even when the filters leave a few thousand utterances.

        ``auto`` counts the filtered calls (``LIMIT`` on the calls indexes) and picks ``calls`` for at most
        `SELECTIVE_CALLS`; ``tags`` (an SQLite plan) is ``fts`` here."""
        if plan not in ("auto", "calls", "fts", "tags"):
            raise ValueError(f"plan must be auto, calls, fts or tags, not {plan!r}")
        q = sa.cast(sa.bindparam("tsq", to_tsquery(tree, pinyin, self.grams), type_=sa.Text), TSQUERY)
        s, u, c = search_table, S.utterances, S.calls

        def rank_of(doc: Any) -> Any:
            return (-sa.func.ts_rank_cd(sa.cast(sa.literal(_WEIGHTS), sa.ARRAY(sa.REAL)), doc, q, 1)).label("brank")

        rank = rank_of(s.c.doc)
        conds = where.conditions()
        if plan == "auto":
            plan = "fts"
            if conds:
                n_calls = conn.execute(
                    sa.select(sa.func.count()).select_from(
                        sa.select(c.c.call_id).where(*conds).limit(SELECTIVE_CALLS + 1).subquery()
                    )
                ).scalar()
                if n_calls is not None and n_calls <= SELECTIVE_CALLS:
                    plan = "calls"
        if plan == "calls" and conds:
            cand = sa.select(u.c.utterance_id).select_from(c.join(u, u.c.call_id == c.c.call_id)).where(*conds)
            if where.speaker:
                cand = cand.where(u.c.speaker == where.speaker)
            cte = cand.cte("cand").prefix_with("MATERIALIZED")
            # one primary-key lookup per candidate (OFFSET 0 keeps the lateral subquery from being flattened
            # into a join the planner would run as a scan of the whole table)
            doc = sa.select(s.c.doc).where(s.c.utterance_id == cte.c.utterance_id).offset(0).lateral("d")
            stmt = (
                sa.select(cte.c.utterance_id.label("uid"), rank_of(doc.c.doc))
                .select_from(cte.join(doc, sa.true()))
                .where(sa.func.ts_match_vq(doc.c.doc, q))
            )
            return stmt.order_by(sa.literal_column("brank"), cte.c.utterance_id).limit(limit)
        stmt = sa.select(s.c.utterance_id.label("uid"), rank).where(s.c.doc.op("@@")(q))
        if conds or where.speaker:
            stmt = stmt.select_from(s.join(u, u.c.utterance_id == s.c.utterance_id))
            if where.speaker:
                stmt = stmt.where(u.c.speaker == where.speaker)
            if conds:
                stmt = stmt.where(u.c.call_id.in_(sa.select(c.c.call_id).where(*conds)))
        return stmt.order_by(sa.literal_column("brank"), s.c.utterance_id).limit(limit)
