"""Chinese-aware full-text search: the only SQLite-specific part of the store.

* Index side: every utterance is segmented with jieba (the space-joined words are stored in the
  FTS5 table, column ``seg``) and transliterated to tone-less pinyin, one syllable per Han
  character (column ``py``), for homophone-tolerant search of what ASR mis-heard.
* Query side: the user's query is parsed here (terms, "phrases", AND / OR / NOT, parentheses)
  and re-emitted as an FTS5 expression in which every term is a double-quoted phrase built only
  from our own tokens, so no user text can reach FTS5 syntax. The expression is passed to
  ``MATCH`` as a bound parameter.

A PostgreSQL port would replace `SqliteFts` (tsvector column over the same ``seg``/``py`` text,
GIN index, ``to_tsquery`` built from the same `Query` tree); `parse_query` is reusable as is.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa

FTS_TABLE = "utterance_fts"
fts_table = sa.table(FTS_TABLE, sa.column("rowid"), sa.column("seg"), sa.column("py"), sa.column("rank"))
fts_tagged = sa.table(FTS_TABLE, sa.column("rowid"), sa.column("seg"), sa.column("py"), sa.column("tags"))

_jieba = None


def _get_jieba():
    global _jieba
    if _jieba is None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        _jieba = jieba
    return _jieba


def _is_word(tok: str) -> bool:
    return any(ch.isalnum() for ch in tok)


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0002fa1f"


def normalize(text: str) -> str:
    """NFKC (full-width letters/digits → ASCII) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


@lru_cache(maxsize=200_000)
def segment(text: str) -> tuple[str, ...]:
    """jieba words of `text` (normalised), without whitespace and punctuation."""
    return tuple(t for t in _get_jieba().lcut(normalize(text), HMM=True) if _is_word(t))


@lru_cache(maxsize=50_000)
def _char_pinyin(ch: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(ch, style=Style.NORMAL)[0]


@lru_cache(maxsize=200_000)
def pinyin_tokens(text: str) -> tuple[str, ...]:
    """Tone-less pinyin, one syllable per Han character; other word characters kept as runs."""
    from pypinyin import Style, lazy_pinyin

    out: list[str] = []
    for chunk in lazy_pinyin(normalize(text), style=Style.NORMAL, errors=lambda s: [s]):
        # non-Han runs come back unchanged (may hold punctuation/spaces): split to words
        out.extend(w for w in re.split(r"[^0-9a-zA-Z\u00C0-\u024F]+", chunk) if w)
    return tuple(out)


def index_columns(text: str) -> tuple[str, str]:
    return " ".join(segment(text)), " ".join(pinyin_tokens(text))


# ---------------------------------------------------------------- filter tags (schema version 4)
#
# Column ``tags`` holds one token per utterance, ``d<YYYYMMDD>s<speaker hash>`` (call date and
# speaker), then filler tokens ``z`` so that the column has exactly as many tokens as ``seg`` and
# ``py`` together.
# bm25 divides each row's length D (all columns) by the average length: with the tags every D and
# the average are exactly doubled, so bm25 is bit-for-bit the value of the untagged index (×2 is
# exact in floating point), and tag phrases, weighted 0, add exactly 0. Tags are built only here,
# from stored values, and are matched only in the ``tags`` column; user terms never reach it.

_SAFE_TOKENS = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fef ]*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_counter = None


def _fts5_token_count(text: str) -> int:
    """Tokens that FTS5 unicode61 makes of `text`, asked of SQLite itself (slow path, rare text)."""
    global _counter
    import sqlite3
    import threading

    if _counter is None:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, row)")
        _counter = (db, threading.Lock())
    db, lock = _counter
    with lock:
        db.execute("INSERT INTO t(rowid, x) VALUES (1, ?)", (text,))
        n = db.execute("SELECT coalesce(sum(cnt), 0) FROM v").fetchone()[0]
        db.execute("DELETE FROM t")
    return int(n)


def token_count(text: str) -> int:
    """Number of FTS5 (unicode61) tokens in an index column built by `index_columns`."""
    if _SAFE_TOKENS.fullmatch(text):  # our own space-joined tokens of plain CJK / ASCII: one each
        return len(text.split())
    return _fts5_token_count(text)


def speaker_key(speaker: str) -> str:
    import hashlib

    return hashlib.blake2s(str(speaker).encode("utf-8"), digest_size=4).hexdigest()


def day_key(call_date: str | None) -> str | None:
    """``20261122`` for a regular YYYY-MM-DD call date, else None (such calls get tag ``dx``)."""
    if call_date and _DATE.fullmatch(call_date):
        return call_date.replace("-", "")
    return None


def tag_token(call_date: str | None, speaker: str) -> str:
    day = day_key(call_date)
    return f"d{day}s{speaker_key(speaker)}" if day else "dx"


def tags_column(seg: str, py: str, call_date: str | None, speaker: str) -> str:
    """The ``tags`` value: the row's tag, padded with ``z`` to as many tokens as ``seg`` + ``py`` hold."""
    n = token_count(seg) + token_count(py)
    if n == 0:
        return ""  # a row without tokens can match no query
    return " ".join([tag_token(call_date, speaker)] + ["z"] * (n - 1))  # 1-char filler: small content


def tags_match(days, speaker: str | None) -> str:
    """FTS5 expression over the tags column: any of `days` (YYYY-MM-DD, regular), for `speaker` if given."""
    keys = {day_key(d) for d in days}
    if not keys or None in keys:
        raise ValueError("tags_match needs regular call dates")
    keys = sorted(keys)
    if speaker is None:
        alts = [f"tags : d{k}*" for k in keys]  # prefix: every speaker of that day
    else:
        sk = speaker_key(speaker)
        alts = [f"tags : d{k}s{sk}" for k in keys]
    return alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")"


# ---------------------------------------------------------------- query parsing


class QueryError(ValueError):
    pass


@dataclass(frozen=True)
class Term:
    text: str
    phrase: bool  # written in double quotes


@dataclass(frozen=True)
class Op:
    op: str  # AND | OR | NOT
    left: object
    right: object


_OPS = {"AND", "OR", "NOT"}


def _lex(query: str) -> list[tuple[str, str]]:
    toks: list[tuple[str, str]] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()（）":
            toks.append(("(" if ch in "(（" else ")", ch))
            i += 1
        elif ch in '"“”':
            j = i + 1
            while j < n and query[j] not in '"“”':
                j += 1
            toks.append(("PHRASE", query[i + 1 : j]))  # an unbalanced quote runs to the end
            i = j + 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in '()（）"“”':
                j += 1
            word = query[i:j]
            toks.append(("OP", word) if word in _OPS else ("WORD", word))
            i = j
    return toks


def parse_query(query: str):
    """Parse into a tree of `Term` / `Op`. Unbalanced quotes and parentheses are tolerated."""
    toks = _lex(query)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def primary():
        nonlocal pos
        t = peek()
        if t is None:
            return None
        pos += 1
        if t[0] == "(":
            node = or_expr()
            if peek() and peek()[0] == ")":
                pos += 1
            return node
        if t[0] == ")":  # stray closing parenthesis
            return primary()
        if t[0] == "OP":  # operator where a term is expected: treat as nothing
            return primary()
        return Term(t[1], t[0] == "PHRASE")

    def and_expr():
        nonlocal pos
        left = primary()
        while True:
            t = peek()
            if t is None or t[0] == ")" or (t[0] == "OP" and t[1] == "OR"):
                return left
            op = "AND"
            if t[0] == "OP":
                op = t[1]
                pos += 1
            right = primary()
            if right is None:
                return left
            if left is None:
                left = right if op != "NOT" else None
                continue
            left = Op(op, left, right)

    def or_expr():
        nonlocal pos
        left = and_expr()
        while peek() and peek()[0] == "OP" and peek()[1] == "OR":
            pos += 1
            right = and_expr()
            if right is None:
                continue
            left = right if left is None else Op("OR", left, right)
        return left

    node = or_expr()
    while pos < len(toks):  # tokens left after a stray ')': AND them on
        pos += 1
        rest = or_expr()
        if rest is not None:
            node = rest if node is None else Op("AND", node, rest)
    return node


def _term_tokens(term: Term, pinyin: bool) -> tuple[str, ...]:
    if pinyin:
        # Chinese → syllables; Latin input is taken as pinyin already ("bu zhi dao")
        return pinyin_tokens(term.text)
    return segment(term.text)


def _quote(tokens: Sequence[str]) -> str:
    return '"' + " ".join(t.replace('"', '""') for t in tokens) + '"'


def to_fts5(node, pinyin: bool = False, doc_count=None) -> str:
    """FTS5 MATCH expression for a parsed query (terms become column-filtered quoted phrases).

    `doc_count(token) -> int` (optional, from the index vocabulary): the single-word alternative of a
    short term is left out when no utterance holds that word; it could match nothing, so the hits and
    their bm25 are unchanged, but FTS5 evaluates one phrase instead of two."""
    col = "py" if pinyin else "seg"

    def emit(n) -> str | None:
        if n is None:
            return None
        if isinstance(n, Term):
            toks = _term_tokens(n, pinyin)
            if not toks:
                return None
            expr = f"{col} : {_quote(toks)}"
            joined = "".join(toks)
            if (
                not pinyin
                and len(toks) > 1
                and len(joined) <= 4
                and all(_is_han(ch) for ch in joined)
                and (doc_count is None or doc_count(joined) > 0)
            ):
                # jieba may keep a short query split ("太 差") that it joins in context ("太差")
                expr = f"({expr} OR {col} : {_quote([joined])})"
            return expr
        left, right = emit(n.left), emit(n.right)
        if left is None:
            return None if n.op == "NOT" else right
        if right is None:
            return left
        return f"({left} {n.op} {right})"

    expr = emit(node)
    if not expr:
        raise QueryError("the query has no searchable words")
    return expr


def build_match(query: str, pinyin: bool = False, doc_count=None) -> str:
    return to_fts5(parse_query(query), pinyin, doc_count)


def short_term_words(node, pinyin: bool = False) -> set[str]:
    """The single-word alternatives `to_fts5` adds for short all-Han terms (checked against the
    vocabulary before searching: a word no utterance holds is left out)."""
    if node is None or pinyin:
        return set()
    if isinstance(node, Term):
        toks = _term_tokens(node, False)
        joined = "".join(toks)
        return {joined} if len(toks) > 1 and len(joined) <= 4 and all(_is_han(ch) for ch in joined) else set()
    return short_term_words(node.left) | short_term_words(node.right)


def positive_terms(node) -> list[Term]:
    """Terms that are not under the right side of a NOT (what to highlight)."""
    if node is None:
        return []
    if isinstance(node, Term):
        return [node]
    if node.op == "NOT":
        return positive_terms(node.left)
    return positive_terms(node.left) + positive_terms(node.right)


def highlight(text: str, terms: Iterable[Term], pinyin: bool = False, mark=("【", "】")) -> str:
    """Mark every occurrence of the query terms in the original text."""
    spans: list[tuple[int, int]] = []
    norm = normalize(text)
    if len(norm) != len(text):
        norm = text.lower()
    for term in terms:
        if pinyin:
            want = list(_term_tokens(term, True))
            units = [(i, _char_pinyin(ch)) for i, ch in enumerate(text) if _is_han(ch)]
            k = len(want)
            for s in range(0, len(units) - k + 1) if k else ():
                if [u[1] for u in units[s : s + k]] == want:
                    spans.append((units[s][0], units[s + k - 1][0] + 1))
        else:
            toks = segment(term.text)
            if not toks:
                continue
            pat = r"[\s\W_]*".join(re.escape(t) for t in toks)
            spans.extend(m.span() for m in re.finditer(pat, norm))
    if not spans:
        return text
    spans.sort()
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out, last = [], 0
    for s, e in merged:
        out += [text[last:s], mark[0], text[s:e], mark[1]]
        last = e
    out.append(text[last:])
    return "".join(out)


# ---------------------------------------------------------------- SQLite FTS5 backend


class SqliteFts:
    """DDL, maintenance and MATCH for the SQLite FTS5 index (rowid = utterances.utterance_id).

    `tags`: the index has the ``tags`` column (schema version ≥ 4)."""

    def __init__(self, tags: bool = False):
        self.tags = tags

    def create(self, conn: sa.Connection) -> None:
        """The version-2 table (seg, py); frozen: migration 4 rebuilds it with `create_tagged`."""
        # Virtual-table DDL cannot be expressed in SQLAlchemy Core; it is a constant string.
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(seg, py, tokenize = 'unicode61')"
        )

    def create_tagged(self, conn: sa.Connection, name: str = FTS_TABLE) -> None:
        conn.exec_driver_sql(f"CREATE VIRTUAL TABLE {name} USING fts5(seg, py, tags, tokenize = 'unicode61')")

    def index(self, conn: sa.Connection, rows: Sequence[tuple[int, str]]) -> None:
        """rows: (utterance_id, text); version-2 table only (migration 2's backfill)."""
        if not rows:
            return
        params = []
        for uid, text in rows:
            seg, py = index_columns(text)
            params.append({"rowid": uid, "seg": seg, "py": py})
        conn.execute(fts_table.insert(), params)

    def doc_counts(self, conn: sa.Connection, tokens) -> dict[str, int]:
        """Number of utterances containing each token (fts5vocab over the index, in the temp schema:
        nothing is stored). It walks each token's whole doclist: use it for rare words only."""
        tokens = sorted({t for t in tokens if t})
        if not tokens:
            return {}
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{FTS_TABLE}_vocab USING fts5vocab(main, {FTS_TABLE}, row)"
        )
        vocab = sa.table(f"{FTS_TABLE}_vocab", sa.column("term"), sa.column("doc"), schema="temp")
        found = dict(conn.execute(sa.select(vocab.c.term, vocab.c.doc).where(vocab.c.term.in_(tokens))).all())
        return {t: int(found.get(t, 0)) for t in tokens}

    def index_columns_rows(self, conn: sa.Connection, rows: Sequence[tuple]) -> None:
        """rows: (utterance_id, seg, py, tags) already computed (`index_columns`, `tags_column`);
        tags is ignored on a version-2/3 index."""
        if not rows:
            return
        if self.tags:
            conn.execute(fts_tagged.insert(), [{"rowid": r[0], "seg": r[1], "py": r[2], "tags": r[3]} for r in rows])
        else:
            conn.execute(fts_table.insert(), [{"rowid": r[0], "seg": r[1], "py": r[2]} for r in rows])

    def delete_calls(self, conn: sa.Connection, utterance_ids_select, params: dict | None = None) -> None:
        conn.execute(fts_table.delete().where(fts_table.c.rowid.in_(utterance_ids_select)), params or {})

    def match(self, expr: str):
        return sa.literal_column(FTS_TABLE).op("MATCH")(sa.bindparam("fts_query", expr, type_=sa.Text))

    def bm25(self):
        """bm25 as an expression (lower is better, same value as the ``rank`` column of the untagged
        index; tag phrases in the MATCH expression weigh 0)."""
        if self.tags:
            return sa.func.bm25(sa.literal_column(FTS_TABLE), 1.0, 1.0, 0.0)
        return sa.func.bm25(sa.literal_column(FTS_TABLE))

    rowid = fts_table.c.rowid
    rank = fts_table.c.rank
    table = fts_table


def backend_for(engine: sa.Engine, tags: bool = False) -> SqliteFts:
    if engine.dialect.name != "sqlite":
        raise NotImplementedError(f"full-text search is implemented for SQLite only, not {engine.dialect.name}")
    return SqliteFts(tags)
