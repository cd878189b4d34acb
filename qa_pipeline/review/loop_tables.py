"""Tables of the workstation's second part (migration 10): appeals, calibration sessions and their calls,
trainer collections and their examples. SQLAlchemy Core, portable (SQLite and PostgreSQL).

Calibration reuses migration 8's tables: each calibration reviewer gets an assignment and a review of their own
(``purpose = 'calibration'``, ``session_id``), so their decisions live in ``review_decisions`` beside the official
ones and never touch the official review. As in migration 8, nothing references ``calls`` (re-scoring replaces
a call's rows; human work must survive it): an appeal on a machine finding keeps the check and its times.
"""

from __future__ import annotations

import sqlalchemy as sa

from .tables import metadata

appeals = sa.Table(
    "appeals",
    metadata,
    sa.Column("appeal_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(128), nullable=False),
    sa.Column("review_id", sa.Integer, sa.ForeignKey("reviews.review_id"), nullable=False),
    # what is appealed: a machine finding (check + times), a reviewer-added finding, or a manual item
    sa.Column("target_kind", sa.String(16), nullable=False),  # finding | added | item
    sa.Column("target_key", sa.String(160), nullable=False),  # one appeal per target per call
    sa.Column("check", sa.String(64)),
    sa.Column("finding_start", sa.Float),
    sa.Column("finding_end", sa.Float),
    sa.Column("added_id", sa.Integer),
    sa.Column("item_id", sa.String(64)),
    sa.Column("deduction", sa.Float),  # the deduction appealed against, as it was when opened
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("opened_by", sa.Integer, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("opened_at", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # open | upheld (维持) | overturned (改判)
    sa.Column("ruled_by", sa.Integer, sa.ForeignKey("users.user_id")),
    sa.Column("ruled_at", sa.Text),
    sa.Column("ruling_comment", sa.Text),
    sa.Column("new_deduction", sa.Float),  # 改判 of a manual item: the deduction it gets
    sa.UniqueConstraint("call_id", "target_key", name="uq_appeal_target"),
)
sa.Index("ix_appeals_state", appeals.c.state, appeals.c.opened_at)
sa.Index("ix_appeals_opened_by", appeals.c.opened_by)

calibration_sessions = sa.Table(
    "calibration_sessions",
    metadata,
    sa.Column("session_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # open | closed
    sa.Column("created_by", sa.Integer, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("closed_at", sa.Text),
)

calibration_calls = sa.Table(
    "calibration_calls",
    metadata,
    sa.Column("session_id", sa.Integer, sa.ForeignKey("calibration_sessions.session_id"), primary_key=True),
    sa.Column("call_id", sa.String(128), primary_key=True),
)

collections = sa.Table(
    "collections",
    metadata,
    sa.Column("collection_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("shared", sa.Boolean, nullable=False, default=False),  # others may read, never change
    sa.Column("created_at", sa.Text, nullable=False),
)

collection_items = sa.Table(
    "collection_items",
    metadata,
    sa.Column("example_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.collection_id"), nullable=False),
    sa.Column("call_id", sa.String(128), nullable=False),
    sa.Column("start", sa.Float, nullable=False),
    sa.Column("end", sa.Float, nullable=False),
    sa.Column("speaker", sa.String(16)),
    sa.Column("text", sa.Text),  # the transcript line as collected (re-scoring may change the stored one)
    sa.Column("rule", sa.String(64)),  # a check or rubric item this example illustrates (optional)
    sa.Column("note", sa.Text),
    sa.Column("added_by", sa.Integer, sa.ForeignKey("users.user_id")),
    sa.Column("added_at", sa.Text, nullable=False),
)
sa.Index("ix_collection_items_coll", collection_items.c.collection_id, collection_items.c.example_id)

ALL = [appeals, calibration_sessions, calibration_calls, collections, collection_items]


def create(conn: sa.Connection) -> None:
    """Migration 10's body (these definitions are version 10's; a later change is a new migration)."""
    metadata.create_all(conn, tables=ALL)
    # the dashboard's cache stamp reads max(calls.imported_at): an index makes it a lookup (frozen stub table,
    # as migrations 3 and 5 do, so the core schema is not touched)
    calls = sa.Table("calls", sa.MetaData(), sa.Column("imported_at"))
    sa.Index("ix_calls_imported", calls.c.imported_at).create(conn, checkfirst=True)
