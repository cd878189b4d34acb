"""Portable table definitions (SQLAlchemy Core). Nothing here is SQLite-specific.

The full-text index is dialect-specific and lives in `fts.py`.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
    sa.Column("asr", sa.Text),
    sa.Column("model", sa.Text),
    sa.Column("compute_type", sa.Text),
    sa.Column("rubric", sa.Text),
    sa.Column("rubric_version", sa.Text),
    sa.Column("package_version", sa.Text),
    sa.Column("vad", sa.Text),
    sa.Column("options_json", sa.Text),
    sa.Column("first_seen", sa.Text),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("agent_id", sa.String(64), primary_key=True),
    sa.Column("agent_name", sa.Text),
    sa.Column("team", sa.Text),
)

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("call_id", sa.String(128), primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.run_id"), nullable=True),
    sa.Column("agent_id", sa.String(64), sa.ForeignKey("agents.agent_id"), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("agent_name", sa.Text),  # as recorded on the call (names change; agents holds the latest)
    sa.Column("team", sa.Text),  # team at the time of the call
    sa.Column("queue", sa.Text),
    sa.Column("started_at", sa.Text),  # ISO datetime as recorded (local time of the centre)
    sa.Column("call_date", sa.String(10)),  # YYYY-MM-DD from started_at, for range filters
    sa.Column("call_hour", sa.Integer),
    sa.Column("transferred_at", sa.Float),
    sa.Column("duration_s", sa.Float),
    sa.Column("audio_path", sa.Text),
    sa.Column("audio_sha256", sa.String(64)),
    sa.Column("sample_rate", sa.Integer),
    sa.Column("channels", sa.Integer),
    sa.Column("layout", sa.String(8)),
    sa.Column("codec", sa.Text),
    sa.Column("score_total", sa.Float),
    sa.Column("score_max", sa.Float),
    sa.Column("fatal", sa.Boolean),
    sa.Column("needs_review", sa.Boolean),
    sa.Column("metadata_json", sa.Text),
    sa.Column("timings_json", sa.Text),
    sa.Column("source_sha256", sa.String(64)),  # hash of the result JSON: re-import of an unchanged file is a no-op
    sa.Column("imported_at", sa.Text),
)
sa.Index("ix_calls_date_agent", calls.c.call_date, calls.c.agent_id)
sa.Index("ix_calls_agent_date", calls.c.agent_id, calls.c.call_date)
sa.Index("ix_calls_team_date", calls.c.team, calls.c.call_date)
sa.Index("ix_calls_score", calls.c.score_total)
sa.Index("ix_calls_run", calls.c.run_id)


utterances = sa.Table(
    "utterances",
    metadata,
    sa.Column("utterance_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(128), sa.ForeignKey("calls.call_id", ondelete="CASCADE"), nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("speaker", sa.String(16), nullable=False),
    sa.Column("start", sa.Float, nullable=False),
    sa.Column("end", sa.Float, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("words_json", sa.Text),
    sa.UniqueConstraint("call_id", "idx", name="uq_utterances_call_idx"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(128), sa.ForeignKey("calls.call_id", ondelete="CASCADE"), nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("start", sa.Float),
    sa.Column("end", sa.Float),
    sa.Column("speaker", sa.String(16)),
)
sa.Index("ix_events_call", events.c.call_id)

checks = sa.Table(
    "checks",
    metadata,
    sa.Column("check_row_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(128), sa.ForeignKey("calls.call_id", ondelete="CASCADE"), nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("check", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start", sa.Float),
    sa.Column("end", sa.Float),
    sa.Column("speaker", sa.String(16)),
    sa.Column("evidence", sa.Text),
    sa.Column("detail_json", sa.Text),
)
sa.Index("ix_checks_call", checks.c.call_id)
sa.Index("ix_checks_check_status_call", checks.c.check, checks.c.status, checks.c.call_id)

item_scores = sa.Table(
    "item_scores",
    metadata,
    sa.Column("item_row_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(128), sa.ForeignKey("calls.call_id", ondelete="CASCADE"), nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("item_id", sa.String(64), nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("points", sa.Float),
    sa.Column("deduction", sa.Float),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("fatal", sa.Boolean),
    sa.Column("reasons_json", sa.Text),
)
sa.Index("ix_item_scores_call", item_scores.c.call_id)
sa.Index("ix_item_scores_item_status", item_scores.c.item_id, item_scores.c.status)

# Version 7 (rules, issue 12): what judging needs besides the transcript, the tags rules put on calls, and
# which rubric version produced which score (rescoring appends; calls.score_* is always the latest).
call_timelines = sa.Table(
    "call_timelines",
    metadata,
    sa.Column("call_id", sa.String(128), sa.ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("timeline_json", sa.Text, nullable=False),
)

call_tags = sa.Table(
    "call_tags",
    metadata,
    sa.Column("tag_row_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(128), sa.ForeignKey("calls.call_id", ondelete="CASCADE"), nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("tag", sa.Text, nullable=False),
    sa.Column("rule", sa.Text),
    sa.Column("start", sa.Float),
    sa.Column("speaker", sa.String(16)),
    sa.Column("evidence", sa.Text),
)
sa.Index("ix_call_tags_tag_call", call_tags.c.tag, call_tags.c.call_id)
sa.Index("ix_call_tags_call", call_tags.c.call_id)

score_history = sa.Table(
    "score_history",
    metadata,
    sa.Column("history_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(128), nullable=False),  # no FK: history outlives a re-import of the call
    sa.Column("rubric", sa.Text),
    sa.Column("rubric_version", sa.Text),
    sa.Column("rubric_sha256", sa.String(64)),
    sa.Column("score_total", sa.Float),
    sa.Column("score_max", sa.Float),
    sa.Column("fatal", sa.Boolean),
    sa.Column("needs_review", sa.Boolean),
    sa.Column("source", sa.String(16)),  # "score" (pipeline/import) | "rescore"
    sa.Column("scored_at", sa.Text),
)
sa.Index("ix_score_history_call", score_history.c.call_id, score_history.c.history_id)

V7_TABLES = [call_timelines, call_tags, score_history]
V7_CHILD_TABLES = [call_timelines, call_tags]
"""Replaced with the call on re-import (score_history is kept)."""

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("applied_at", sa.Text, nullable=False),
)

CORE_TABLES = [runs, agents, calls, utterances, events, checks, item_scores]
CHILD_TABLES = [utterances, events, checks, item_scores]
