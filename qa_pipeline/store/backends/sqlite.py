"""SQLite FTS5 backend of the search index (rowid = utterances.utterance_id).

Columns (by schema version): ``seg`` jieba words and ``py`` pinyin (v2), ``tags`` date/speaker filter
tokens (v4; team and agent tokens and a prefix index from v11), ``grams`` character bigrams for substring
search (v6), ``sh``/``tri`` word pairs and character trigrams for faster phrases (v13); see `tokens.py`. A parsed query
(`query.py`) is emitted as an FTS5 expression in which every term is a column-filtered, double-quoted
phrase built only from our own tokens, passed to ``MATCH`` as a bound parameter: no user text reaches
FTS5 syntax. Ranking is FTS5's bm25 (lower is better), evaluated after the call filters.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from functools import lru_cache
from itertools import pairwise
from typing import Any

import sqlalchemy as sa

from .. import schema as S
from ..bulk import insert_rows
from ..filters import CallFilter
from ..query import (
    Node,
    Term,
    joined_alternative,
    parse_query,
    render_query,
    short_term_words,
    term_tokens,
)
from ..tokens import grams_column, index_columns, query_grams

FTS_TABLE = "utterance_fts"
fts_table = sa.table(FTS_TABLE, sa.column("rowid"), sa.column("seg"), sa.column("py"), sa.column("rank"))

# at most this many filtered calls: drive the search from their utterances (plan "calls")
SELECTIVE_CALLS = 3000
# a date filter spanning at most this many call days is intersected inside FTS5 (plan "tags")
TAG_DAYS = 62
# with only date filters (+ speaker) and a tags plan possible, "calls" is chosen below this many calls
TAGS_ONLY_CALLS = 300
# parallel ranking (see `SqliteFts.top`): at most this many rowid ranges, and only for indexes spanning at
# least this many utterance ids (below that every query takes a few ms: threads would cost more than they save)
MAX_PARTS = 4
SPLIT_MIN_ROWS = 100_000
# FTS5's structure record (%_data id 10): rewritten by every transaction that changes the index
_FTS_STRUCTURE = f"SELECT block FROM {FTS_TABLE}_data WHERE id = 10"


# ---------------------------------------------------------------- filter tags (schema version ≥ 4)
#
# Column ``tags`` holds one token per utterance, ``d<YYYYMMDD>s<speaker hash>`` (call date and
# speaker), then filler tokens ``z`` so that the column has exactly as many tokens as the searchable
# columns (seg, py and, from version 6, grams) together.
# bm25 divides each row's length D (all columns) by the average length: with the tags every D and
# the average are exactly doubled, so bm25 is bit-for-bit the value of an untagged index (×2 is
# exact in floating point), and tag phrases, weighted 0, add exactly 0. Tags are built only here,
# from stored values, and are matched only in the ``tags`` column; user terms never reach it.

_SAFE_TOKENS = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fef ]*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_counter: tuple[sqlite3.Connection, threading.Lock] | None = None


def _scratch() -> tuple[sqlite3.Connection, threading.Lock]:
    """An in-memory FTS5 table with the index's tokenizer, to ask SQLite how it tokenizes rare text."""
    global _counter
    if _counter is None:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, row)")
        db.execute("CREATE VIRTUAL TABLE vi USING fts5vocab(t, instance)")
        _counter = (db, threading.Lock())
    return _counter


def _fts5_token_count(text: str) -> int:
    """Tokens that FTS5 unicode61 makes of `text`, asked of SQLite itself (slow path, rare text)."""
    db, lock = _scratch()
    with lock:
        db.execute("INSERT INTO t(rowid, x) VALUES (1, ?)", (text,))
        n = db.execute("SELECT coalesce(sum(cnt), 0) FROM v").fetchone()[0]
        db.execute("DELETE FROM t")
    return int(n)


def fts5_tokens(text: str) -> list[str]:
    """The tokens FTS5 unicode61 stores for `text`, in position order (folded as FTS5 folds them)."""
    if _SAFE_TOKENS.fullmatch(text):  # our own space-joined tokens of plain CJK / ASCII: stored as they are
        return text.split()
    db, lock = _scratch()
    with lock:
        db.execute("INSERT INTO t(rowid, x) VALUES (1, ?)", (text,))
        toks = [r[0] for r in db.execute('SELECT term FROM vi ORDER BY "offset"')]
        db.execute("DELETE FROM t")
    return toks


def token_count(text: str) -> int:
    """Number of FTS5 (unicode61) tokens in an index column built by `tokens.py`."""
    if _SAFE_TOKENS.fullmatch(text):  # our own space-joined tokens of plain CJK / ASCII: one each
        return len(text.split())
    return _fts5_token_count(text)


@lru_cache(maxsize=4096)  # a handful of speakers, teams and agents: hashed once, not once per utterance
def speaker_key(speaker: str) -> str:
    return hashlib.blake2s(str(speaker).encode("utf-8"), digest_size=4).hexdigest()


def day_key(call_date: str | None) -> str | None:
    """``20261122`` for a regular YYYY-MM-DD call date, else None (such calls get tag ``dx``)."""
    if call_date and _DATE.fullmatch(call_date):
        return call_date.replace("-", "")
    return None


def tag_token(call_date: str | None, speaker: str) -> str:
    day = day_key(call_date)
    return f"d{day}s{speaker_key(speaker)}" if day else "dx"


def tags_column(call_date: str | None, speaker: str, *columns: str) -> str:
    """The ``tags`` value: the row's tag, padded with ``z`` to as many tokens as `columns` hold."""
    n = sum(token_count(c) for c in columns)
    if n == 0:
        return ""  # a row without tokens can match no query
    return " ".join([tag_token(call_date, speaker)] + ["z"] * (n - 1))  # 1-char filler: small content


# ---------------------------------------------------------------- team and agent tags (schema version ≥ 11)
#
# From version 11 the ``tags`` column also carries the call's team and agent, so that MATCH intersects them
# inside FTS5 (before bm25 is computed, and without joining every match to its utterance):
# ``d<YYYYMMDD>s<speaker>`` (as in v4), ``t<team hash>s<speaker>``, ``a<agent hash>``, then the filler ``z``
# up to the same total as before (so bm25 stays exact). The table has an FTS5 prefix index of
# `PREFIX_CHARS` characters, which is exactly ``d<YYYYMMDD>`` and ``t<team hash>``: "any speaker of that day /
# team" is one prefix-index lookup instead of a merge of every speaker's doclist.
# A row with fewer index tokens than tags (only a single non-Han, non-Latin character: 2 tokens) keeps its
# date tag and gets ``x`` ("team/agent tags missing") in its second slot; team and agent clauses also match
# ``x``. Team and agent clauses only narrow the match: the call filters are still checked on ``calls`` for
# every match that survives them (hash collisions and ``x`` rows are dropped there).

PREFIX_CHARS = 9
INCOMPLETE = "x"
# at most this many agent tokens in one agent clause (an id or a name names one or a few agents)
MAX_AGENT_TOKENS = 20


@lru_cache(maxsize=4096)
def _key(value: object) -> str:
    return hashlib.blake2s(str(value).encode("utf-8"), digest_size=4).hexdigest()


def team_token(team: str, speaker: str) -> str:
    return f"t{_key(team)}s{speaker_key(speaker)}"


def agent_token(agent_id: str | None, agent_name: str | None) -> str | None:
    """The agent's tag: its id, or (calls without an id) its name as recorded on the call."""
    if agent_id:
        return f"a{_key(agent_id)}"
    if agent_name:
        return f"a{_key(chr(0) + str(agent_name))}"  # NUL: a name is hashed apart from an equal id
    return None


def tags_column_v11(
    call_date: str | None, speaker: str, team: str | None, agent_id: str | None, agent_name: str | None, *columns: str
) -> str:
    """The version-11 ``tags`` value: date/speaker, team/speaker and agent tags, padded with ``z``."""
    return fit_tags(tag_tokens(call_date, speaker, team, agent_id, agent_name), sum(token_count(c) for c in columns))


def tag_tokens(
    call_date: str | None, speaker: str, team: str | None, agent_id: str | None, agent_name: str | None
) -> list[str]:
    toks = [tag_token(call_date, speaker)]
    if team:
        toks.append(team_token(team, speaker))
    agent = agent_token(agent_id, agent_name)
    if agent:
        toks.append(agent)
    return toks


def fit_tags(toks: list[str], n: int) -> str:
    """Tag tokens `toks` (date tag first) in exactly `n` slots, padded with ``z``."""
    if n <= 0:
        return ""
    if len(toks) > n:  # too few slots: the date tag, then the "incomplete" marker (n ≥ 2 for any text we index)
        toks = toks[: max(n - 1, 1)] + ([INCOMPLETE] if n >= 2 else [])
    return " ".join(toks + ["z"] * (n - len(toks)))


# ---------------------------------------------------------------- shingles (schema version ≥ 13)
#
# FTS5 evaluates a phrase by walking the position lists of all its tokens; for ``我 不 知道`` those are some of
# the longest in the index. From version 13 two more columns hold each pair of adjacent tokens as ONE token:
# ``sh``: word pairs of ``seg`` (``我ǂ不 不ǂ知道``), ``tri``: character trigrams made of two adjacent ``grams``
# bigrams (``我不知 不知道``). Position k of ``sh`` is the pair of ``seg`` tokens k and k+1 (same for ``tri`` and
# ``grams``), so the phrase ``sh : "我ǂ不 不ǂ知道"`` matches exactly the rows, and as many times, as
# ``seg : "我 不 知道"``. A pair token is built only from two tokens of plain CJK/ASCII (which cannot hold the joiner
# ǂ, so the pair names its two tokens); any other pair is the lone joiner, which no query asks for. Queries are
# rewritten only when all their tokens are plain. The two columns weigh 1 in bm25 and replace the ``seg``/``grams``
# phrase, and the ``tags`` padding shrinks by as many tokens as they add: every row's length D, the average
# length, each phrase's document count (IDF) and per-row frequency are unchanged, so bm25 is bit-identical.

JOINER = "\u01c2"  # ǂ: a letter (Lo) for unicode61, so a pair stays one token
_PAIR_PART = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fef]+")


def _plain(tok: str) -> bool:
    return _PAIR_PART.fullmatch(tok) is not None


def word_pairs(tokens: Sequence[str]) -> list[str]:
    """``sh`` tokens for FTS5 tokens `tokens` of ``seg`` (trailing unmatchable pairs dropped)."""
    out = [a + JOINER + b if _plain(a) and _plain(b) else JOINER for a, b in pairwise(tokens)]
    while out and out[-1] == JOINER:
        out.pop()
    return out


def _trigram(a: str, b: str) -> str | None:
    """The trigram of adjacent bigrams ``ab``, ``bc``, or None."""
    if len(a) == 2 and len(b) == 2 and a[1] == b[0] and _plain(a) and _plain(b):
        return a + b[1]
    return None


def gram_triples(tokens: Sequence[str]) -> list[str]:
    """``tri`` tokens for FTS5 tokens `tokens` of ``grams`` (trailing unmatchable pairs dropped)."""
    out = [_trigram(a, b) or JOINER for a, b in pairwise(tokens)]
    while out and out[-1] == JOINER:
        out.pop()
    return out


def shingle_columns(seg: str, grams: str) -> tuple[str, str]:
    """(sh, tri) column values for the ``seg`` and ``grams`` values of one row."""
    return " ".join(word_pairs(fts5_tokens(seg))), " ".join(gram_triples(fts5_tokens(grams)))


def words_phrase(tokens: Sequence[str]) -> list[str] | None:
    """The ``sh`` phrase equivalent to the ``seg`` phrase `tokens`, or None (one token, or not plain)."""
    if len(tokens) < 2 or not all(_plain(t) for t in tokens):
        return None
    return [a + JOINER + b for a, b in pairwise(tokens)]


def grams_phrase(tokens: Sequence[str]) -> list[str] | None:
    """The ``tri`` phrase equivalent to the ``grams`` phrase `tokens` (adjacent bigrams), or None."""
    if len(tokens) < 2:
        return None
    out = [_trigram(a, b) for a, b in pairwise(tokens)]
    return None if any(t is None for t in out) else [t for t in out if t]


def tags_column_v13(
    call_date: str | None,
    speaker: str,
    team: str | None,
    agent_id: str | None,
    agent_name: str | None,
    seg: str,
    py: str,
    grams: str,
    sh: str,
    tri: str,
) -> str:
    """The version-13 ``tags`` value: the version-11 tags in as many slots as seg+py+grams hold minus the
    sh and tri tokens (so D is still twice the searchable tokens)."""
    n = sum(token_count(c) for c in (seg, py, grams)) - len(sh.split()) - len(tri.split())
    return fit_tags(tag_tokens(call_date, speaker, team, agent_id, agent_name), n)


def retag_v13(tags: str, seg: str, py: str, grams: str, sh: str, tri: str) -> str:
    """A version-11 ``tags`` value moved to version 13 (its tag tokens in the fewer slots left)."""
    n = sum(token_count(c) for c in (seg, py, grams)) - len(sh.split()) - len(tri.split())
    return fit_tags([t for t in tags.split() if t != "z"], n)


def team_match(team: str, speaker: str | None) -> str:
    tok = team_token(team, speaker) if speaker is not None else f"t{_key(team)}*"
    return f"(tags : {tok} OR tags : {INCOMPLETE})"


def agent_match(tokens: Iterable[str]) -> str:
    alts = [f"tags : {t}" for t in sorted(set(tokens))] + [f"tags : {INCOMPLETE}"]
    return "(" + " OR ".join(alts) + ")"


def tags_match(days: Iterable[str], speaker: str | None) -> str:
    """FTS5 expression over the tags column: any of `days` (YYYY-MM-DD, regular), for `speaker` if given."""
    keys = {day_key(d) for d in days}
    if not keys or None in keys:
        raise ValueError("tags_match needs regular call dates")
    ordered = sorted(k for k in keys if k)
    if speaker is None:
        alts = [f"tags : d{k}*" for k in ordered]  # prefix: every speaker of that day
    else:
        sk = speaker_key(speaker)
        alts = [f"tags : d{k}s{sk}" for k in ordered]
    return alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")"


# ---------------------------------------------------------------- query → FTS5 expression


def _quote(tokens: Sequence[str]) -> str:
    return '"' + " ".join(t.replace('"', '""') for t in tokens) + '"'


def to_fts5(
    node: Node | None,
    pinyin: bool = False,
    doc_count: Callable[[str], int] | None = None,
    grams: bool = True,
    shingles: bool = False,
) -> str:
    """FTS5 MATCH expression for a parsed query (terms become column-filtered quoted phrases).

    A word term matches its jieba words as a phrase, or (`grams`, schema ≥ 6) the same characters
    anywhere in the text (`tokens.query_grams`). `doc_count(token) -> int` (optional, from the index
    vocabulary): the joined single-word alternative of a short term is left out when no utterance holds
    that word; it could match nothing, so the hits and their bm25 are unchanged, but FTS5 evaluates one
    phrase fewer. `shingles` (schema ≥ 13): a phrase of several words / bigrams is asked of the ``sh`` / ``tri``
    column in its equivalent pair form (same rows, same frequencies, same bm25; see above)."""

    def term(n: Term) -> str | None:
        if pinyin:
            toks = term_tokens(n, True)
            return f"py : {_quote(toks)}" if toks else None
        alts = []
        toks = term_tokens(n, False)
        if toks:
            pairs = words_phrase(toks) if shingles else None
            alts.append(f"sh : {_quote(pairs)}" if pairs else f"seg : {_quote(toks)}")
            joined = joined_alternative(n)
            if joined and (doc_count is None or doc_count(joined) > 0):
                alts.append(f"seg : {_quote([joined])}")
        if grams:
            gt, prefix = query_grams(n.text)
            if gt:
                tri = grams_phrase(gt) if shingles and not prefix else None
                alts.append(f"tri : {_quote(tri)}" if tri else f"grams : {_quote(gt)}" + (" *" if prefix else ""))
        if not alts:
            return None
        return alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")"

    return render_query(node, term, lambda op, left, right: f"({left} {op} {right})")


def build_match(
    query: str, pinyin: bool = False, doc_count: Callable[[str], int] | None = None, shingles: bool = False
) -> str:
    return to_fts5(parse_query(query), pinyin, doc_count, shingles=shingles)


# ---------------------------------------------------------------- parallel ranking helpers

_UID_LO = sa.bindparam("uid_lo", type_=sa.Integer)
_UID_HI = sa.bindparam("uid_hi", type_=sa.Integer)
_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    """The process's threads for ranking parts (shared by every store: parts are short; idle threads cost
    nothing and are joined at exit). A forked child makes its own: it inherits the pool but not its threads."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(max_workers=MAX_PARTS - 1, thread_name_prefix="callqa-rank"))
        return _pool[1]


def idle_cpus() -> int:
    """CPUs of this process that nothing runs on right now besides the caller: the CPUs it may use minus the
    runnable tasks of the kernel's instantaneous count (Linux ``/proc/loadavg``, which counts the caller);
    0 where that count is not available."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, cpus - running)


def _file_database(conn: sa.Connection) -> bool:
    """Whether other connections of `conn`'s engine open the same database (not an in-memory one)."""
    name = conn.engine.url.database
    return bool(name) and name != ":memory:" and "mode=memory" not in str(conn.engine.url)


def call_days(conn: sa.Connection, where: CallFilter, limit: int) -> list[str]:
    """The distinct call days (``calls.call_date``) in `where`'s date range, in order, at most `limit` of them.

    One index seek per day (a recursive CTE stepping to the next call_date after the last one) instead of reading
    every call of the range: a week of ~1k calls a day 2.4 → 0.2 ms, a month 10 → 0.3 ms. Each step has a
    single lower bound (the previous day), so SQLite seeks straight to it."""
    params = {"day_lo": where.date_from, "day_hi": where.date_to, "day_n": limit}
    return list(conn.execute(_days_statement(bool(where.date_from), bool(where.date_to)), params).scalars())


@lru_cache(maxsize=4)
def _days_statement(lower: bool, upper: bool) -> sa.Select[Any]:
    """`call_days`' statement for a range with / without each bound: built once (building the construct and its
    cache key again cost more than running it)."""
    c = S.calls
    hi = [c.c.call_date <= sa.bindparam("day_hi", type_=sa.String)] if upper else []
    lo = [c.c.call_date >= sa.bindparam("day_lo", type_=sa.String)] if lower else [c.c.call_date.is_not(None)]

    def first(*conds: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
        return sa.select(c.c.call_date).where(*conds, *hi).order_by(c.c.call_date).limit(1).scalar_subquery()

    days = sa.select(first(*lo).label("day")).cte("days", recursive=True)
    days = days.union_all(sa.select(first(c.c.call_date > days.c.day)).where(days.c.day.is_not(None)))
    return sa.select(days.c.day).where(days.c.day.is_not(None)).limit(sa.bindparam("day_n", type_=sa.Integer))


# ---------------------------------------------------------------- the backend


class SqliteFts:
    """DDL, maintenance and ranked matching for the SQLite FTS5 index at schema `version`."""

    name = "sqlite"
    rowid = fts_table.c.rowid
    table = fts_table

    def __init__(self, version: int):
        self.version = version
        self.tags = version >= 4
        self.grams = version >= 6
        self.filter_tags = version >= 11  # team and agent tags, prefix index (see above)
        self.shingles = version >= 13  # word pairs and character trigrams (see above)
        # words seen in the index vocabulary: a word once there is searched from then on without asking
        # fts5vocab again (if its utterances are deleted later, its phrase matches nothing: same hits, same
        # bm25); words not found are asked again once the index has changed (an import may add them)
        self._present: set[str] = set()
        # words found in no utterance, with the index state (FTS5 structure record) they were looked up in:
        # while that state holds they are still absent (any write to the index rewrites the record); one tuple,
        # replaced whole, so a thread never pairs a state with another state's words
        self._absent: tuple[Any, frozenset[str]] = (None, frozenset())

    # ------------------------------------------------------------ DDL (migrations)

    @staticmethod
    def create_v2(conn: sa.Connection) -> None:
        """The version-2 table (seg, py); frozen: migrations 4 and 6 rebuild it."""
        # Virtual-table DDL cannot be expressed in SQLAlchemy Core; it is a constant string.
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(seg, py, tokenize = 'unicode61')"
        )

    @staticmethod
    def create_v4(conn: sa.Connection, name: str = FTS_TABLE) -> None:
        conn.exec_driver_sql(f"CREATE VIRTUAL TABLE {name} USING fts5(seg, py, tags, tokenize = 'unicode61')")

    @staticmethod
    def create_v6(conn: sa.Connection, name: str = FTS_TABLE) -> None:
        conn.exec_driver_sql(f"CREATE VIRTUAL TABLE {name} USING fts5(seg, py, tags, grams, tokenize = 'unicode61')")

    @staticmethod
    def create_v11(conn: sa.Connection, name: str = FTS_TABLE) -> None:
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE {name} USING fts5(seg, py, tags, grams, tokenize = 'unicode61',"
            f" prefix = '{PREFIX_CHARS}')"
        )

    @staticmethod
    def create_v13(conn: sa.Connection, name: str = FTS_TABLE) -> None:
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE {name} USING fts5(seg, py, tags, grams, sh, tri, tokenize = 'unicode61',"
            f" prefix = '{PREFIX_CHARS}')"
        )

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
        """The index columns of one utterance at this schema version (computed before the write); `team`,
        `agent_id` and `agent_name` are the call's (tags from version 11); `call_id` is for PostgreSQL; `forms`:
        the text's (seg, py) carried by its result (`tokens.carried_forms`), else they are computed here."""
        del call_id
        seg, py = forms if forms is not None else index_columns(text)
        row = {"seg": seg, "py": py}
        if self.shingles:
            row["grams"] = grams_column(text)
            row["sh"], row["tri"] = shingle_columns(seg, row["grams"])
            row["tags"] = tags_column_v13(
                call_date, speaker, team, agent_id, agent_name, seg, py, row["grams"], row["sh"], row["tri"]
            )
        elif self.filter_tags:
            row["grams"] = grams_column(text)
            row["tags"] = tags_column_v11(call_date, speaker, team, agent_id, agent_name, seg, py, row["grams"])
        elif self.grams:
            row["grams"] = grams_column(text)
            row["tags"] = tags_column(call_date, speaker, seg, py, row["grams"])
        elif self.tags:
            row["tags"] = tags_column(call_date, speaker, seg, py)
        return row

    def insert(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
        """rows: {"rowid": utterance_id, **index_values}."""
        if not rows:
            return
        cols = ["rowid", *(k for k in rows[0] if k != "rowid")]
        insert_rows(conn, sa.table(FTS_TABLE, *(sa.column(c) for c in cols)), [{c: r[c] for c in cols} for r in rows])

    def delete_calls(self, conn: sa.Connection, utterance_ids_select: Any, params: dict | None = None) -> None:
        conn.execute(fts_table.delete().where(fts_table.c.rowid.in_(utterance_ids_select)), params or {})

    # ------------------------------------------------------------ searching

    def doc_counts(self, conn: sa.Connection, tokens: Iterable[str]) -> dict[str, int]:
        """Number of utterances containing each token (fts5vocab over the index, in the temp schema:
        nothing is stored). It walks each token's whole doclist: use it for rare words only."""
        wanted = sorted({t for t in tokens if t})
        if not wanted:
            return {}
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{FTS_TABLE}_vocab USING fts5vocab(main, {FTS_TABLE}, row)"
        )
        vocab = sa.table(f"{FTS_TABLE}_vocab", sa.column("term"), sa.column("doc"), schema="temp")
        found = dict(conn.execute(sa.select(vocab.c.term, vocab.c.doc).where(vocab.c.term.in_(wanted))).all())
        return {t: int(found.get(t, 0)) for t in wanted}

    def match(self, expr: str) -> sa.ColumnElement[bool]:
        return sa.literal_column(FTS_TABLE).op("MATCH")(sa.bindparam("fts_query", expr, type_=sa.Text))

    def bm25(self) -> sa.ColumnElement[float]:
        """bm25 as an expression (lower is better); the tags column weighs 0."""
        if self.shingles:
            return sa.func.bm25(sa.literal_column(FTS_TABLE), 1.0, 1.0, 0.0, 1.0, 1.0, 1.0)
        if self.grams:
            return sa.func.bm25(sa.literal_column(FTS_TABLE), 1.0, 1.0, 0.0, 1.0)
        if self.tags:
            return sa.func.bm25(sa.literal_column(FTS_TABLE), 1.0, 1.0, 0.0)
        return sa.func.bm25(sa.literal_column(FTS_TABLE))

    def _narrowing(self, conn: sa.Connection, where: CallFilter) -> list[str]:
        """FTS5 clauses over the version-11 team and agent tags for `where` (each a superset of its filter)."""
        out = []
        if where.team:
            out.append(team_match(where.team, where.speaker))
        if where.agent:
            c = S.calls
            # the value as an id, as the name of calls without an id, and the ids of calls recorded under that
            # name (index on agent_name; an id lookup finds no such call and reads no row)
            ids = (
                conn.execute(
                    sa.select(c.c.agent_id)
                    .where(c.c.agent_name == where.agent, c.c.agent_id.is_not(None))
                    .distinct()
                    .limit(MAX_AGENT_TOKENS + 1)
                )
                .scalars()
                .all()
            )
            if len(ids) <= MAX_AGENT_TOKENS:
                toks = {agent_token(where.agent, None), agent_token(None, where.agent)}
                toks.update(agent_token(i, None) for i in ids)
                out.append(agent_match(t for t in toks if t))
        return out

    def ranked(
        self,
        conn: sa.Connection,
        tree: Node | None,
        pinyin: bool,
        where: CallFilter,
        limit: int,
        plan: str = "auto",
        *,
        split: bool = False,
    ) -> sa.Select[Any]:
        """(uid, brank) of the true top `limit` matches that satisfy `where`, best (lowest bm25) first.

        bm25 is evaluated as an expression, after the filters, so it is computed only for matches that
        survive them (``ORDER BY rank`` would let FTS5 rank every match first). Plans (same rows):

        * ``calls`` (selective filters): the filtered calls' utterance ids are materialised once and
          the FTS scan keeps only rowids in that set;
        * ``tags`` (date range of ≤ 62 call days; from version 11 also a team or agent filter): FTS5
          intersects the query with the date (+ speaker), team and agent tags; other call filters (and
          team/agent exactly) probe the set of filtered calls;
        * ``fts`` (broad or no call filters): the FTS scan joins each match to its utterance and
          probes the materialised set of filtered call ids.

        ``auto`` takes ``tags`` when a team or agent is in the index; otherwise it counts the filtered
        calls (an index range) and picks ``calls`` when they are few.

        `split`: the statement takes parameters ``uid_lo``/``uid_hi`` and ranks only the utterances in that
        id range (FTS5 seeks to it; the calls plan materialises only that range), for `top`."""
        if plan not in ("auto", "calls", "fts", "tags"):
            raise ValueError(f"plan must be auto, calls, fts or tags, not {plan!r}")
        u, c = S.utterances, S.calls
        conds, date_conds = where.conditions(), where.date_conditions()
        speaker = where.speaker
        words = short_term_words(tree, pinyin)
        if words - self._present:
            state = conn.exec_driver_sql(_FTS_STRUCTURE).scalar()
            seen, absent = self._absent
            absent = absent if seen == state else frozenset()
            if words - self._present - absent:
                counts = self.doc_counts(conn, words - self._present - absent)
                self._present.update(t for t, n in counts.items() if n > 0)
                self._absent = (state, absent | {t for t, n in counts.items() if n == 0})
        match = to_fts5(tree, pinyin, lambda t: int(t in self._present), grams=self.grams, shingles=self.shingles)
        bm25 = self.bm25().label("brank")
        tag_expr = None
        if plan in ("auto", "tags") and self.tags and date_conds:
            # the call days in the range; tags need regular dates
            days = call_days(conn, where, TAG_DAYS + 1)
            if 0 < len(days) <= TAG_DAYS and all(day_key(d) for d in days):
                tag_expr = tags_match(days, speaker)
        # version 11: team / agent clauses narrow the match (supersets, the call filters are still checked)
        narrow = self._narrowing(conn, where) if plan in ("auto", "tags") and self.filter_tags else []
        clauses = ([tag_expr] if tag_expr else []) + narrow
        if plan == "tags" and not clauses:
            plan = "fts"
        if plan == "auto":
            plan = "tags" if clauses else "fts"
            if conds and not narrow:
                # only date filters left for the tags plan to intersect: it wins unless the calls are very few
                cap = TAGS_ONLY_CALLS if tag_expr and where.only_dates else SELECTIVE_CALLS
                n_calls = conn.execute(
                    sa.select(sa.func.count()).select_from(
                        sa.select(c.c.call_id).where(*conds).limit(cap + 1).subquery()
                    )
                ).scalar()
                if n_calls is not None and n_calls <= cap:
                    plan = "calls"
        if plan == "calls":
            cand = sa.select(u.c.utterance_id).select_from(c.join(u, u.c.call_id == c.c.call_id)).where(*conds)
            if speaker:
                cand = cand.where(u.c.speaker == speaker)
            if split:
                cand = cand.where(u.c.utterance_id.between(_UID_LO, _UID_HI))
            cte = cand.cte("cand").prefix_with("MATERIALIZED")
            ranked = (
                sa.select(self.rowid.label("uid"), bm25)
                .select_from(self.table)
                .where(self.match(match), (self.rowid + 0).in_(sa.select(cte.c.utterance_id)))
            )
        elif plan == "tags":
            # tag phrases weigh 0 in bm25: same values as without them (see above)
            ranked = sa.select(self.rowid.label("uid"), bm25).where(
                self.match(f"({match}) AND " + " AND ".join(clauses))
            )
            # the date tags carry the speaker exactly; without them it is checked on the utterance
            check_speaker = bool(speaker) and tag_expr is None
            if not where.only_dates or check_speaker:
                ranked = ranked.select_from(self.table.join(u, u.c.utterance_id == self.rowid))
                if check_speaker:
                    ranked = ranked.where(u.c.speaker == speaker)
                if not where.only_dates:
                    fc = sa.select(c.c.call_id).where(*conds).cte("fc").prefix_with("MATERIALIZED")
                    ranked = ranked.where(u.c.call_id.in_(sa.select(fc.c.call_id)))
            else:
                ranked = ranked.select_from(self.table)
        else:
            ranked = (
                sa.select(self.rowid.label("uid"), bm25)
                .select_from(self.table.join(u, u.c.utterance_id == self.rowid))
                .where(self.match(match))
            )
            if speaker:
                ranked = ranked.where(u.c.speaker == speaker)
            if conds:
                fc = sa.select(c.c.call_id).where(*conds).cte("fc").prefix_with("MATERIALIZED")
                ranked = ranked.where(u.c.call_id.in_(sa.select(fc.c.call_id)))
        if split:
            # FTS5 takes rowid >= / <= constraints as a seek range: each part reads only its share of the
            # doclists (bm25's statistics stay whole-index, see `top`)
            ranked = ranked.where(self.rowid.between(_UID_LO, _UID_HI))
        return ranked.order_by(sa.literal_column("brank"), self.rowid).limit(limit)

    # ------------------------------------------------------------ parallel exact ranking
    #
    # FTS5's bm25 for a row uses only that row (phrase frequencies, length) and whole-index statistics:
    # row count, average length, and each phrase's number of matching rows, which FTS5 computes per statement
    # by evaluating every phrase over the ENTIRE index, whatever else the statement's WHERE says (fts5_aux.c,
    # fts5Bm25GetData). A rowid range therefore narrows the rows, not the statistics: every row gets the same
    # bm25 in whichever range it is ranked, and the best `limit` of each range, merged by (bm25, rowid), is
    # exactly the statement's ORDER BY brank, rowid LIMIT `limit` over all of them. Python's sqlite3 releases
    # the GIL while SQLite steps, so ranges on separate connections run on separate cores. Each part pays the
    # statistics pass again (more CPU for less wall time), so a query is split only into as many parts as
    # there are idle CPUs at that moment.

    def parts(self, conn: sa.Connection, wanted: int | None = None) -> tuple[int, int, int]:
        """(number of parts, lowest, highest utterance id) for ranking over `conn`'s database: `wanted` parts
        (capped at `MAX_PARTS`), or with None as many as idle CPUs allow (1 + idle, for an index spanning at
        least `SPLIT_MIN_ROWS` ids). 1 part: rank in one statement (ids not read: 0, 0)."""
        if wanted == 1 or not _file_database(conn):
            return 1, 0, 0
        u = S.utterances
        # two scalar subqueries: SQLite answers a lone min() / max() from the primary key's ends (both in one
        # SELECT would scan the table)
        ends = [sa.select(f(u.c.utterance_id)).scalar_subquery() for f in (sa.func.min, sa.func.max)]
        lo, hi = conn.execute(sa.select(*ends)).one()
        if lo is None or hi is None:
            return 1, 0, 0
        if wanted is None:
            wanted = 1 + idle_cpus() if hi - lo + 1 >= SPLIT_MIN_ROWS else 1
        return max(1, min(wanted, MAX_PARTS, hi - lo + 1)), int(lo), int(hi)

    def top(
        self,
        conn: sa.Connection,
        read: Callable[[], sa.Connection],
        stmt: sa.Select[Any],
        parts: tuple[int, int, int],
        limit: int,
    ) -> list[tuple[int, float]]:
        """[(utterance id, bm25)] of `stmt` (from `ranked(..., limit, split=True)`) over all ids, best first, ranked in
        `parts` (from `parts`) id ranges at once: the first on `conn` in this thread, the others on connections
        from `read` in worker threads. Exact: the same rows, order and values as one statement over `conn`.

        Every part must read the index as `conn` sees it (the statistics are per snapshot): a part whose
        connection sees another index state (a write committed in between) gives way, and `conn` ranks the
        whole range alone. (Call filters on other tables are read in each part's own, committed snapshot.)"""
        n, lo, hi = parts
        ranges = [(lo + (hi - lo + 1) * i // n, lo + (hi - lo + 1) * (i + 1) // n - 1) for i in range(n)]
        if n == 1:
            return [(int(r[0]), float(r[1])) for r in conn.execute(stmt, {"uid_lo": lo, "uid_hi": hi})]
        state = conn.exec_driver_sql(_FTS_STRUCTURE).scalar()

        def part(r: tuple[int, int]) -> list[Any] | None:
            with read() as c:
                if c.exec_driver_sql(_FTS_STRUCTURE).scalar() != state:
                    return None
                return list(c.execute(stmt, {"uid_lo": r[0], "uid_hi": r[1]}))

        futures = [_workers().submit(part, r) for r in ranges[1:]]
        try:
            first = list(conn.execute(stmt, {"uid_lo": ranges[0][0], "uid_hi": ranges[0][1]}))
        finally:
            wait(futures)  # no part is left running after we return or raise
        others = [f.result() for f in futures]
        if any(o is None for o in others):
            return self.top(conn, read, stmt, (1, lo, hi), limit)
        rows = [(int(r[0]), float(r[1])) for part_rows in (first, *others) for r in part_rows or ()]
        rows.sort(key=lambda r: (r[1], r[0]))  # = ORDER BY brank, rowid
        return rows[:limit]
