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

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR

from .. import schema as S
from ..bulk import insert_rows
from ..filters import CallFilter
from ..query import (
    Node,
    Term,
    joined_alternative,
    positive_terms,
    render_query,
    short_term_words,
    term_tokens,
)
from ..tokens import char_grams, pinyin_tokens, query_grams, segment
from .sqlite import call_days

SEARCH_TABLE = "utterance_search"
_GIN_INDEX = "ix_utterance_search_doc"
_md = sa.MetaData()
search_table = sa.Table(
    SEARCH_TABLE,
    _md,
    sa.Column(
        "utterance_id", sa.Integer, sa.ForeignKey(S.utterances.c.utterance_id, ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("doc", TSVECTOR, nullable=False),
)
sa.Index(_GIN_INDEX, search_table.c.doc, postgresql_using="gin")

MAX_POS = 16383  # PostgreSQL's largest tsvector position
_WEIGHTS = "{0,1,1,1}"  # D, C (bigrams), B (pinyin), A (words)
_MAX_LEXEME = 500  # bytes; PostgreSQL refuses lexemes over 2047
# at most this many filtered calls: test their utterances' tsvectors by key instead of the GIN scan (plan "calls")
SELECTIVE_CALLS = 1500
# with filter lexemes expressing every call filter (plan "tags"), "calls" only below this many calls
TAGS_ONLY_CALLS = 300
# schema ≥ 12: at most this many filtered calls are ORed into the tsquery as call lexemes (plan "calls")
CALL_LEXEMES = 300
# a date filter spanning at most this many call days is expressed by day lexemes (plan "tags")
TAG_DAYS = 62
# ranking in two steps (`PgFts._prune`): the best PRUNE_K matches by the bound are ranked exactly first, then
# PRUNE_GROWTH times as many while the bound does not prove the top (then every match)
PRUNE = True
PRUNE_K = 200
PRUNE_GROWTH = 16


def _lit(token: str) -> str:
    """A lexeme quoted for a tsvector / tsquery literal."""
    if "'" in token or "\\" in token:
        token = token.replace("\\", "\\\\").replace("'", "''")
    return "'" + token + "'"


def _ok(token: str) -> bool:
    # ≤ 125 characters are ≤ 500 bytes in UTF-8 whatever they are: encode only the rare long token
    return bool(token) and (len(token) <= _MAX_LEXEME // 4 or len(token.encode("utf-8")) <= _MAX_LEXEME)


def doc_literal(forms: Sequence[tuple[str, Sequence[str]]]) -> str:
    """The tsvector literal of (weight, tokens) forms, positions running on from form to form."""
    parts: list[str] = []
    pos = 0
    for weight, toks in forms:
        for tok in toks:
            pos += 1
            if _ok(tok):
                parts.append(f"{_lit(tok)}:{pos if pos < MAX_POS else MAX_POS}{weight}")
        pos += 1  # a gap: no phrase runs from one form into the next (weights differ anyway)
    return " ".join(parts)


@lru_cache(maxsize=100_000)
def _text_literal(text: str, grams: bool) -> str:
    """The searchable part of an utterance's document (cached: short turns repeat, 好的 / 嗯 / 谢谢 …)."""
    forms: list[tuple[str, Sequence[str]]] = [("A", segment(text)), ("B", pinyin_tokens(text))]
    if grams:
        forms.append(("C", char_grams(text)))
    return doc_literal(forms)


@lru_cache(maxsize=100_000)
def _carried_literal(text: str, seg: str, py: str, grams: bool) -> str:
    """`_text_literal` from the (seg, py) forms carried by the result (space-joined `segment` / `pinyin_tokens`,
    `tokens.carried_forms`): the same literal, without jieba and pypinyin."""
    forms: list[tuple[str, Sequence[str]]] = [("A", seg.split(" ") if seg else ()), ("B", py.split(" ") if py else ())]
    if grams:
        forms.append(("C", char_grams(text)))
    return doc_literal(forms)


# ---------------------------------------------------------------- filter lexemes (schema version ≥ 12)
#
# Each document also holds lexemes naming its call's date and team and the utterance's speaker, alone and
# combined (`tag_lexemes`), all under weight D at the last position. A search with those filters ANDs them
# into the tsquery (`filter_tsquery`), so the GIN index intersects the filters with the words before any
# document is rechecked or ranked. They never change a rank: ranking uses ``ts_filter(doc, '{a,b,c}')``,
# the document without its D positions, which is exactly the document as written before version 12 (same
# lexemes, positions and length, so ``ts_rank_cd`` is bit-identical). User terms always carry weight A, B
# or C, so they cannot match a filter lexeme, and a filter lexeme (``'…':D``) cannot match a word.
# Values are written verbatim (JSON-encoded, so that no two value combinations give the same lexeme);
# a value too long for a lexeme gets no tag, and a search filtering on it joins the calls instead.

TAG_POS = MAX_POS  # one fixed position: `doc || tags` in migration 12 clamps to the same one


_PLAIN = re.compile(r'[^"\\\x00-\x1f\x7f\u2028\u2029]*')


def _tag(kind: str, *values: str) -> str:
    """``#`` + kind + the values as a JSON array (plain strings without json.dumps: same text, faster)."""
    if all(_PLAIN.fullmatch(v) for v in values):
        return "#" + kind + "[" + ",".join(f'"{v}"' for v in values) + "]"
    return "#" + kind + json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def tag_lexemes(call_id: str | None, call_date: str | None, speaker: str, team: str | None) -> list[str]:
    """The filter lexemes of an utterance (see above); only the usable ones."""
    out = [_tag("s", speaker)]
    if call_id:
        out.append(_tag("c", call_id))
    if call_date:
        out += [_tag("d", call_date), _tag("ds", call_date, speaker)]
    if team:
        out += [_tag("t", team), _tag("ts", team, speaker)]
    return [x for x in out if _ok(x)]


@lru_cache(maxsize=4096)
def tags_literal(call_id: str | None, call_date: str | None, speaker: str, team: str | None) -> str:
    return " ".join(f"{_lit(x)}:{TAG_POS}D" for x in tag_lexemes(call_id, call_date, speaker, team))


# One alternative of a term: a phrase of tokens under one weight (``'a':A <-> 'b':A``), one token, or one
# token as a prefix (``'贵':*C``). `to_tsquery` renders them; `bound_tsquery` picks one token of each.
_Leaf = tuple[tuple[str, ...], str, bool, bool]  # tokens, weight, prefix, written as a phrase (in parentheses)


def _phrase_leaf(tokens: Sequence[str], weight: str) -> _Leaf | None:
    toks = tuple(t for t in tokens if _ok(t))
    return (toks, weight, False, True) if toks else None


def _term_leaves(n: Term, pinyin: bool, grams: bool) -> list[_Leaf]:
    """The alternatives of a term (see the module doc): words phrase | joined word | bigram phrase or prefix."""
    if pinyin:
        leaf = _phrase_leaf(term_tokens(n, True), "B")
        return [leaf] if leaf else []
    alts: list[_Leaf] = []
    words = _phrase_leaf(term_tokens(n, False), "A")
    if words:
        alts.append(words)
        joined = joined_alternative(n)
        if joined and _ok(joined):
            alts.append(((joined,), "A", False, False))
    if grams:
        gt, prefix = query_grams(n.text)
        if gt and prefix and _ok(gt[0]):
            alts.append(((gt[0],), "C", True, False))
        elif gt:
            g = _phrase_leaf(gt, "C")
            if g:
                alts.append(g)
    return alts


def _render_leaf(leaf: _Leaf) -> str:
    toks, weight, prefix, phrase = leaf
    if prefix:
        return f"{_lit(toks[0])}:*{weight}"
    if phrase:
        return "(" + " <-> ".join(f"{_lit(t)}:{weight}" for t in toks) + ")"
    return f"{_lit(toks[0])}:{weight}"


def to_tsquery(node: Node | None, pinyin: bool = False, grams: bool = True) -> str:
    """tsquery literal for a parsed query (see the module doc)."""

    def term(n: Term) -> str | None:
        alts = [_render_leaf(leaf) for leaf in _term_leaves(n, pinyin, grams)]
        if not alts:
            return None
        return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"

    def combine(op: str, left: str, right: str) -> str:
        if op == "NOT":
            return f"({left} & !{right})"
        return f"({left} {'&' if op == 'AND' else '|'} {right})"

    return render_query(node, term, combine)


def _has_and(node: Node) -> bool:
    """An AND among the terms that are not excluded: its covers may share matches (b a b: two covers, one a), so
    the bound is the sum over both sides, loose by the other side's matches (measured: 4 against 1.5 for
    服务态度 太差, which prunes nothing); such queries rank every match."""
    if isinstance(node, Term):
        return False
    if node.op == "AND":
        return True
    return _has_and(node.left) or (node.op == "OR" and _has_and(node.right))


def bound_tsquery(
    node: Node | None, pinyin: bool = False, grams: bool = True, absent: frozenset[str] | set[str] = frozenset()
) -> str | None:
    """A tsquery whose ``ts_rank_cd`` bounds the rank of `to_tsquery`'s from above, document by document, at a
    fraction of its cost; None where no such query is built (the caller then ranks every match).

    Why it bounds (PostgreSQL's ``calc_rank_cd``, weights {0,1,1,1}, normalisation 1): the rank is
    W / ln(1 + L), L the document's number of positions, W the sum over the covers found of
    ``Cpos / (1 + noise)``, where Cpos = 1 (every matched position weighs 1: user terms are A, B or C) and
    noise ≥ 0, so W ≤ the number of covers. Each cover begins strictly after the previous one's beginning,
    and its beginning is the first position of a match of a leaf of the query that is not under a NOT (the
    backward scan stops at the first position where the query becomes true). A phrase ``a <-> b <-> c``
    matches at most as often as any one of its tokens occurs with that weight. So W ≤ Σ over those leaves of
    the count of one (token, weight) of each, all distinct — the number of covers of an OR of those tokens
    (each occurrence is a cover worth exactly 1), with the same L: its ``ts_rank_cd`` is float4(Σ / ln(1 + L))
    ≥ float4(W / ln(1 + L)), the same computation in the same order. A (token, weight) may serve one leaf only
    (an OR counts a position once), else None.

    Its cost is ``ts_rank_cd``'s per query item (a 32 KB buffer zeroed for every item and document), so the
    tokens are chosen to give as few items as possible: one token serves leaves of different weights as one
    item with several weights (``'知道':AC`` for the words phrase ``我 不 知道`` (A) and the bigram phrase
    ``我不 不知 知道`` (C): its occurrences with A or C are exactly those of ``'知道':A | '知道':C``, one item
    instead of three). `absent`: tokens found in no document (`PgFts` asks the index for the joined single-word
    alternatives); a leaf holding one matches nothing, adds no cover, and is left out."""
    if node is None or _has_and(node):
        return None
    leaves = [
        (toks, weight, prefix)
        for term in positive_terms(node)
        for toks, weight, prefix, _ in _term_leaves(term, pinyin, grams)
        if prefix or not absent.intersection(toks)
    ]
    items: dict[tuple[str, bool], set[str]] = {}  # (token, prefix) → the weights it counts
    left = list(leaves)
    while left:
        # the (token, prefix) that serves most of the leaves left, one leaf per weight it does not count yet;
        # then one already chosen (no new item), then the longest (usually the rarest: the tightest bound)
        best: tuple[tuple[int, bool, int, str], tuple[str, bool], dict[str, int]] | None = None
        for tok, prefix in sorted({(t, p) for toks, _, p in left for t in toks}):
            used = items.get((tok, prefix), set())
            takes: dict[str, int] = {}
            for i, (toks, weight, p) in enumerate(left):
                if p == prefix and tok in toks and weight not in used and weight not in takes:
                    takes[weight] = i
            if not takes:
                continue
            key = (len(takes), (tok, prefix) in items, len(tok), tok)
            if best is None or key > best[0]:
                best = (key, (tok, prefix), takes)
        if best is None:
            return None  # a leaf whose every token is taken in its weight
        _, item, takes = best
        items.setdefault(item, set()).update(takes)
        gone = set(takes.values())
        left = [leaf for i, leaf in enumerate(left) if i not in gone]
    # a prefix also matches the other chosen tokens it begins: one position would then be counted once
    for (tok, prefix), weights in items.items():
        if prefix and any(o != (tok, prefix) and o[0].startswith(tok) and weights & w for o, w in items.items()):
            return None
    return (
        " | ".join(
            f"{_lit(tok)}:{'*' if prefix else ''}{''.join(sorted(weights))}"
            for (tok, prefix), weights in sorted(items.items())
        )
        or None
    )


class PgFts:
    """DDL, maintenance and ranked matching for the PostgreSQL search table at schema `version`."""

    name = "postgresql"
    tags = False  # the FTS5 tags column (SQLite plan "tags"); PostgreSQL's filter lexemes are `filter_tags`

    def __init__(self, version: int):
        self.version = version
        self.grams = version >= 6
        self.filter_tags = version >= 12
        # joined single words found in the index (`absent_words`): once there, not asked again (a word whose
        # documents are deleted later only makes the bound count a token that no longer occurs: still a bound)
        self._present: set[str] = set()

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

    @staticmethod
    def upgrade_v12(conn: sa.Connection) -> None:
        """Migration 12: every document gets its filter lexemes (`tag_lexemes`).

        The table is copied rather than updated in place (an UPDATE of every row would leave a dead copy of
        each and maintain the GIN index row by row): the old table is renamed, the new one created without
        its GIN index, filled with ``doc || tags`` (`tsvector ||` keeps the left side as it is and puts the
        tags at the fixed last position, as a write does), then indexed and analysed. The tags are computed
        once per (call, speaker) in Python, like a write, into a temporary table."""
        old = f"{SEARCH_TABLE}_v11"
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {_GIN_INDEX}")
        conn.exec_driver_sql(f"ALTER TABLE {SEARCH_TABLE} RENAME TO {old}")
        for con in conn.execute(
            sa.text("SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass)"), {"t": old}
        ).scalars():
            conn.exec_driver_sql(f'ALTER TABLE {old} RENAME CONSTRAINT "{con}" TO "{con}_v11"')
        conn.execute(sa.schema.CreateTable(search_table))
        conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE callqa_v12_tags (call_id text, speaker text, tags tsvector) ON COMMIT DROP"
        )
        combos = conn.exec_driver_sql(
            "SELECT DISTINCT c.call_id, c.call_date, u.speaker, c.team"
            " FROM utterances u JOIN calls c ON c.call_id = u.call_id"
        ).all()
        tag_rows = [(ci, sp, tags_literal(ci, d, sp, tm)) for ci, d, sp, tm in combos]
        if tag_rows:
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                with cur.copy("COPY callqa_v12_tags (call_id, speaker, tags) FROM STDIN") as copy:
                    for row in tag_rows:
                        copy.write_row(row)
            finally:
                cur.close()
        conn.exec_driver_sql(
            f"INSERT INTO {SEARCH_TABLE} (utterance_id, doc)"
            f" SELECT s.utterance_id, s.doc || coalesce(t.tags, ''::tsvector) FROM {old} s"
            " JOIN utterances u ON u.utterance_id = s.utterance_id JOIN calls c ON c.call_id = u.call_id"
            " LEFT JOIN callqa_v12_tags t ON t.call_id = u.call_id AND t.speaker = u.speaker"
        )
        conn.exec_driver_sql(f"DROP TABLE {old}")
        for ix in search_table.indexes:
            conn.execute(sa.schema.CreateIndex(ix))
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
        call_id: str | None = None,
        forms: tuple[str, str] | None = None,
    ) -> dict[str, str]:
        """The document of one utterance (a tsvector literal); from version 12 with its filter lexemes (the
        call's id, date and team, the utterance's speaker; agent filters go through the call lexemes). `forms`:
        the text's (seg, py) carried by its result (`tokens.carried_forms`), else they are computed here."""
        del agent_id, agent_name
        doc = _text_literal(text, self.grams) if forms is None else _carried_literal(text, *forms, self.grams)
        if self.filter_tags:
            tags = tags_literal(call_id, call_date, speaker, None if team is None else str(team))
            doc = f"{doc} {tags}" if doc and tags else doc or tags
        return {"doc": doc}

    def insert(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
        """rows: {"rowid": utterance_id, "doc": tsvector literal}."""
        if not rows:
            return
        # COPY parses each literal with tsvector's input function: the same value as the cast ``'…'::tsvector``
        insert_rows(conn, search_table, [{"utterance_id": r["rowid"], "doc": r["doc"]} for r in rows])

    @staticmethod
    def merge_pending(engine: sa.Engine) -> None:
        """Move the GIN index's pending list into the index (``gin_clean_pending_list``), after an import.

        Writes go to the pending list (``fastupdate``, the default: measured 2.8 ms of server CPU per imported
        call with it, 4.9 without); every search scans that list linearly until it is merged, which a later
        insert does when it passes ``gin_pending_list_limit`` (4 MB) or autovacuum does in its time: right after
        a 4,000-call import that cost a one-agent search ≈ 100 ms. Only the index's owner may merge; for
        another user this is skipped (autovacuum still does it)."""
        try:
            with engine.begin() as conn:
                conn.execute(sa.select(sa.func.gin_clean_pending_list(sa.text(f"'{_GIN_INDEX}'::regclass"))))
        except sa.exc.DBAPIError:
            return

    def delete_calls(self, conn: sa.Connection, utterance_ids_select: Any, params: dict | None = None) -> None:
        conn.execute(search_table.delete().where(search_table.c.utterance_id.in_(utterance_ids_select)), params or {})

    # ------------------------------------------------------------ searching

    def doc_counts(self, conn: sa.Connection, tokens: Iterable[str]) -> dict[str, int]:
        del conn
        return {t: 1 for t in tokens}  # not needed: the GIN index skips an absent lexeme at no cost

    def absent_words(self, conn: sa.Connection, tree: Node | None, pinyin: bool) -> frozenset[str]:
        """The query's joined single-word alternatives (`short_term_words`, e.g. 我不知道 of ``我 不 知道``) that no
        document holds, for `bound_tsquery`. One GIN lookup each, for a lexeme with no weight (exact, no heap
        recheck: an absent lexeme has no posting at all); a word found is remembered."""
        out = set()
        for word in sorted(short_term_words(tree, pinyin) - self._present):
            if not _ok(word):
                continue
            probe = sa.select(search_table.c.utterance_id).where(
                search_table.c.doc.op("@@")(sa.cast(sa.bindparam("tsq_w", _lit(word), type_=sa.Text), TSQUERY))
            )
            if conn.execute(sa.select(probe.exists())).scalar():
                self._present.add(word)
            else:
                out.add(word)
        return frozenset(out)

    def filter_query(self, conn: sa.Connection, where: CallFilter) -> tuple[str | None, bool, bool]:
        """(tsquery literal of the filters the filter lexemes express, whether they express every call
        condition, whether they express the speaker). None when none applies (or before version 12).

        Dates: the distinct call dates in the range (an index range on calls), when there are at most
        `TAG_DAYS`; the speaker goes with the date, else with the team, else alone."""
        if not self.filter_tags:
            return None, False, False
        parts: list[str] = []
        covered = 0  # call conditions expressed
        spk = where.speaker
        spk_done = False
        n_date = len(where.date_conditions())
        if n_date:
            # one index seek per call day (`call_days`), not a DISTINCT over every call of the range (a week of
            # 14k calls: 13 → 0.3 ms under load)
            days = call_days(conn, where, TAG_DAYS + 1)
            if 0 < len(days) <= TAG_DAYS:
                lex = [_tag("ds", d, spk) if spk else _tag("d", d) for d in sorted(days)]
                if all(_ok(x) for x in lex):
                    parts.append("(" + " | ".join(f"{_lit(x)}:D" for x in lex) + ")")
                    covered += n_date
                    spk_done = bool(spk)
        if where.team:
            lex1 = _tag("ts", where.team, spk) if spk and not spk_done else _tag("t", where.team)
            if _ok(lex1):
                parts.append(f"{_lit(lex1)}:D")
                covered += 1
                spk_done = spk_done or bool(spk)
        if spk and not spk_done and _ok(_tag("s", spk)):
            parts.append(f"{_lit(_tag('s', spk))}:D")
            spk_done = True
        if not parts:
            return None, False, False
        return " & ".join(parts), covered == len(where.conditions()), spk_done

    def ranked(
        self, conn: sa.Connection, tree: Node | None, pinyin: bool, where: CallFilter, limit: int, plan: str = "auto"
    ) -> sa.Select[Any]:
        """(uid, brank) of the true top `limit` matches that satisfy `where`, best first (brank ascending:
        the negated ts_rank_cd). Three plans, the same rows and ranks:

        * ``fts``: the GIN index finds the matches (a bitmap scan that rechecks each match's tsvector on the
          heap), the filters are joined to them;
        * ``tags`` (schema ≥ 12, a date range of ≤ `TAG_DAYS` call days, a team or a speaker): the filter
          lexemes are a second condition on the same GIN index, so one index scan intersects those filters
          with the words; the other call filters (agent, score, check, rule tag) are joined to the survivors;
        * ``calls`` (selective call filters): the filtered calls' utterance ids are materialised first and
          each one's tsvector is tested by primary key with ``ts_match_vq`` (the function behind ``@@``, which
          the planner does not hand to the GIN index). PostgreSQL's estimate for a phrase tsquery is far too
          low for common words (1.2k estimated, 20k found for 我不知道 on 20k calls), so left alone it scans
          and ranks every match even when the filters leave a few thousand utterances.

        ``auto`` counts the filtered calls (``LIMIT`` on the calls indexes): ``calls`` for at most
        `SELECTIVE_CALLS` (`TAGS_ONLY_CALLS` when the filter lexemes express every call filter), else
        ``tags`` where it applies, else ``fts``.

        Whatever the plan, the matches are ranked in two steps when `bound_tsquery` gives a bound
        (`_prune`): a cheap upper bound of every match's rank first, the exact rank of the best by that bound
        only, as long as the bound proves that no other match can enter the top `limit`."""
        if plan not in ("auto", "calls", "fts", "tags"):
            raise ValueError(f"plan must be auto, calls, fts or tags, not {plan!r}")
        # JIT compilation (on by default where PostgreSQL is built with LLVM) costs 30–50 ms per statement
        # whose estimate passes jit_above_cost, as the by-key plan's does; searches are short statements
        conn.exec_driver_sql("SET LOCAL jit = off")
        user_q = to_tsquery(tree, pinyin, self.grams)
        q = sa.cast(sa.bindparam("tsq", user_q, type_=sa.Text), TSQUERY)
        s, u, c = search_table, S.utterances, S.calls

        def searchable(doc: Any) -> Any:
            if self.filter_tags:  # the document without its filter lexemes: the rank of the words alone
                return sa.func.ts_filter(doc, sa.literal_column("'{a,b,c}'::\"char\"[]"))
            return doc

        def rank_of(doc: Any) -> Any:
            return (-sa.func.ts_rank_cd(sa.cast(sa.literal(_WEIGHTS), sa.ARRAY(sa.REAL)), searchable(doc), q, 1)).label(
                "brank"
            )

        def finish(stmt: sa.Select[Any], doc: Any, uid: Any) -> sa.Select[Any]:
            if PRUNE and (bq := bound_tsquery(tree, pinyin, self.grams, self.absent_words(conn, tree, pinyin))):
                top = self._prune(conn, stmt, searchable(doc), rank_of(s.c.doc), bq, limit)
                if top is not None:
                    if not top:
                        return sa.select(s.c.utterance_id.label("uid"), rank_of(s.c.doc)).where(sa.false())
                    # the few winners are ranked once more by key: the same values, in a statement of their own
                    return (
                        sa.select(s.c.utterance_id.label("uid"), rank_of(s.c.doc))
                        .where(s.c.utterance_id.in_(top))
                        .order_by(sa.literal_column("brank"), s.c.utterance_id)
                        .limit(limit)
                    )
            return stmt.add_columns(rank_of(doc)).order_by(sa.literal_column("brank"), uid).limit(limit)

        conds = where.conditions()
        call_ids: list[str] | None = None  # the filtered calls, when few enough for call lexemes (schema ≥ 12)
        n_calls: int | None = None
        over = 0  # the filtered calls are known to be more than this many
        if self.filter_tags and conds and plan in ("auto", "calls"):
            ids = conn.execute(sa.select(c.c.call_id).where(*conds).limit(CALL_LEXEMES + 1)).scalars().all()
            over = CALL_LEXEMES if len(ids) > CALL_LEXEMES else 0
            if len(ids) <= CALL_LEXEMES:
                n_calls = len(ids)
                if all(_ok(_tag("c", i)) for i in ids):
                    call_ids = sorted(ids)
                    plan = "calls"
        tag_q, tags_all, tags_speaker = (None, False, False)
        if plan in ("auto", "tags"):
            tag_q, tags_all, tags_speaker = self.filter_query(conn, where)
            if tag_q is None:
                plan = "fts" if plan == "tags" else plan
        if plan == "auto":
            plan = "tags" if tag_q else "fts"
            if conds:
                cap = TAGS_ONLY_CALLS if tag_q and tags_all else SELECTIVE_CALLS
                if n_calls is None and cap > over:  # (counted again only when the first look did not decide)
                    n_calls = conn.execute(
                        sa.select(sa.func.count()).select_from(
                            sa.select(c.c.call_id).where(*conds).limit(cap + 1).subquery()
                        )
                    ).scalar()
                if n_calls is not None and n_calls <= cap:
                    plan = "calls"
        uid_col = s.c.utterance_id.label("uid")
        if plan == "calls" and call_ids is not None:
            if not call_ids:
                return sa.select(uid_col, rank_of(s.c.doc)).where(sa.false()).limit(limit)
            # the words AND any of the calls' lexemes (AND the speaker's): two conditions on the GIN index,
            # one index scan (each its own scan key: the words' required entries skip through the calls')
            lex = " | ".join(f"{_lit(_tag('c', i))}:D" for i in call_ids)
            spk = f" & {_lit(_tag('s', where.speaker))}:D" if where.speaker and _ok(_tag("s", where.speaker)) else ""
            calls_q = sa.cast(sa.bindparam("tsq_c", f"({lex}){spk}", type_=sa.Text), TSQUERY)
            stmt = sa.select(uid_col).where(s.c.doc.op("@@")(q), s.c.doc.op("@@")(calls_q))
            if where.speaker and not spk:
                stmt = stmt.select_from(s.join(u, u.c.utterance_id == s.c.utterance_id)).where(
                    u.c.speaker == where.speaker
                )
            return finish(stmt, s.c.doc, s.c.utterance_id)
        if plan == "calls" and conds:
            cand = sa.select(u.c.utterance_id).select_from(c.join(u, u.c.call_id == c.c.call_id)).where(*conds)
            if where.speaker:
                cand = cand.where(u.c.speaker == where.speaker)
            cte = cand.cte("cand").prefix_with("MATERIALIZED")
            # one primary-key lookup per candidate (OFFSET 0 keeps the lateral subquery from being flattened
            # into a join the planner would run as a scan of the whole table)
            doc = sa.select(s.c.doc).where(s.c.utterance_id == cte.c.utterance_id).offset(0).lateral("d")
            stmt = (
                sa.select(cte.c.utterance_id.label("uid"))
                .select_from(cte.join(doc, sa.true()))
                .where(sa.func.ts_match_vq(doc.c.doc, q))
            )
            return finish(stmt, doc.c.doc, cte.c.utterance_id)
        if plan == "tags" and tag_q:
            # the words AND the filter lexemes: two conditions on the GIN index, one index scan (two scan keys:
            # the filter lexemes' required entries skip through the words' posting lists), measured 30 against
            # 48 ms for 我不知道 + a week, 50 against 125 ms for the three-day OR query, as one ANDed tsquery
            filt = sa.cast(sa.bindparam("tsq_f", tag_q, type_=sa.Text), TSQUERY)
            stmt = sa.select(uid_col).where(s.c.doc.op("@@")(q), s.c.doc.op("@@")(filt))
            speaker = None if tags_speaker else where.speaker
            rest = [] if tags_all else conds
        else:
            stmt = sa.select(uid_col).where(s.c.doc.op("@@")(q))
            speaker, rest = where.speaker, conds
        if not (rest or speaker):
            return finish(stmt, s.c.doc, s.c.utterance_id)
        # the GIN matches first, then the joined filters: left to itself the planner, whose estimate for the
        # tsquery is far too low (lower still for two @@ conditions), may drive from the filters instead (a scan
        # of every utterance of the calls, each one's document fetched by key: 2× slower for the 3-day OR query)
        g = stmt.add_columns(s.c.doc).cte("g").prefix_with("MATERIALIZED")
        # each match's utterance by key (a LATERAL … OFFSET 0 subquery, which the planner cannot turn into a hash
        # of every utterance of the filtered calls), the filtered calls as a hashed set
        utt = sa.select(u.c.call_id, u.c.speaker).where(u.c.utterance_id == g.c.uid).offset(0).lateral("uu")
        joined = sa.select(g.c.uid).select_from(g.join(utt, sa.true()))
        if speaker:
            joined = joined.where(utt.c.speaker == speaker)
        if rest:
            joined = joined.where(utt.c.call_id.in_(sa.select(c.c.call_id).where(*rest)))
        return finish(joined, g.c.doc, g.c.uid)

    @staticmethod
    def _prune(
        conn: sa.Connection, matches: sa.Select[Any], doc: Any, rank: Any, bound_q: str, limit: int
    ) -> list[int] | None:
        """The utterance ids of the true top `limit` of `matches` (a select of their ``uid``; `doc` their
        searchable document, `rank` its brank), found without ranking most of them; None where the bound could
        not prove it with `PRUNE_K` · `PRUNE_GROWTH`² candidates (the caller then ranks every match, as before).

        ``ts_rank_cd`` allocates and zeroes 32 KB per item of its tsquery for every document it ranks (its
        per-operand position buffers): ≈ 17 µs for 我不知道's 13 items, most of a large search's time. The bound
        (`bound_tsquery`, an OR of a few single tokens) costs ≈ 1–2 µs. Step 1 computes every match's bound
        (``ub``, negated like brank: brank ≥ ub) and keeps the `k` best by (ub, uid); step 2 ranks those
        exactly. With (r, u) the `limit`-th of them by (brank, uid) and (ub', u') the first match left out:
        every match left out has brank ≥ its ub ≥ ub', so none comes before (r, u) when ub' > r, or when
        ub' = r and u' > u (equal ranks are ordered by uid, and the left-out ones with ub = ub' all have a
        uid ≥ u'). Otherwise `k` grows."""
        bq = sa.cast(sa.bindparam("tsq_b", bound_q, type_=sa.Text), TSQUERY)
        ub = (-sa.func.ts_rank_cd(sa.cast(sa.literal(_WEIGHTS), sa.ARRAY(sa.REAL)), doc, bq, 1)).label("ub")
        m = matches.add_columns(ub).cte("m").prefix_with("MATERIALIZED")
        s = search_table
        k = max(PRUNE_K, 4 * limit)
        for _ in range(3):
            best = sa.select(m.c.uid).order_by(m.c.ub, m.c.uid).limit(k).cte("k").prefix_with("MATERIALIZED")
            exact = sa.select(best.c.uid, rank.label("brank"), sa.literal(0).label("part")).select_from(
                best.join(s, s.c.utterance_id == best.c.uid)
            )
            first_out = (
                sa.select(m.c.uid, m.c.ub.label("brank"), sa.literal(1).label("part"))
                .order_by(m.c.ub, m.c.uid)
                .offset(k)
                .limit(1)
                .subquery("o")
            )
            rows = conn.execute(sa.union_all(exact, sa.select(first_out))).all()
            top = sorted((r.brank, r.uid) for r in rows if r.part == 0)[:limit]
            out = [(r.brank, r.uid) for r in rows if r.part == 1]
            if not out:  # every match was ranked
                return [uid for _, uid in top]
            if len(top) == limit and out[0] > top[-1]:  # (ub', u') after (r, u)
                return [uid for _, uid in top]
            k *= PRUNE_GROWTH
        return None
