"""Review tables (migration 8): users, assignments, reviews, per-finding decisions, added findings, manual item
scores, triage buckets and the append-only audit log. SQLAlchemy Core, portable (SQLite and PostgreSQL).

None of these tables has a foreign key to ``calls``: re-scoring replaces a call's rows (delete + insert), and human
work must survive that. Decisions carry the check name and the finding's times so that they can be re-attached to
the new findings (see ``final.attach``).

Part 2 (appeals, calibration) builds on ``reviews.purpose`` / ``reviews.session_id``: a calibration reviewer gets a
review of their own (purpose ``calibration``), the official one has purpose ``review``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),  # reviewer | supervisor | trainer | agent | admin
    sa.Column("team", sa.Text),
    sa.Column("agent_id", sa.String(64)),  # an agent's own calls: calls.agent_id
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.Text, nullable=False),
)

assignments = sa.Table(
    "review_assignments",
    metadata,
    sa.Column("assignment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(128), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False, default="review"),
    sa.Column("session_id", sa.Integer),  # calibration session (part 2)
    sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("users.user_id"), nullable=False),
    sa.Column("assigned_by", sa.Integer, sa.ForeignKey("users.user_id")),
    sa.Column("assigned_at", sa.Text, nullable=False),
    sa.UniqueConstraint("call_id", "purpose", "session_id", "reviewer_id", name="uq_assignment"),
)
sa.Index("ix_assignments_reviewer", assignments.c.reviewer_id, assignments.c.purpose)
sa.Index("ix_assignments_call", assignments.c.call_id)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("review_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(128), nullable=False),
    sa.Column("call_date", sa.String(10)),  # copied from calls for the queue's date filter
    sa.Column("purpose", sa.String(16), nullable=False, default="review"),
    sa.Column("session_id", sa.Integer),
    sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("users.user_id")),
    sa.Column("state", sa.String(16), nullable=False),  # draft | submitted
    sa.Column("comment", sa.Text),
    # the machine result the decisions were made against (calls.source_sha256): a different hash = re-scored
    sa.Column("machine_sha256", sa.String(64)),
    sa.Column("machine_total", sa.Float),
    sa.Column("machine_max", sa.Float),
    # final score at the last submit (recomputed on every view; stored for lists, scorecards and exports)
    sa.Column("final_total", sa.Float),  # None while the manual part is pending
    sa.Column("final_auto", sa.Float),
    sa.Column("final_auto_max", sa.Float),
    sa.Column("final_fatal", sa.Boolean),
    sa.Column("verdict", sa.String(16)),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Column("submitted_at", sa.Text),
)
sa.Index("ix_reviews_call", reviews.c.call_id, reviews.c.purpose, reviews.c.state)
sa.Index("ix_reviews_date", reviews.c.call_date, reviews.c.purpose, reviews.c.state)

decisions = sa.Table(
    "review_decisions",
    metadata,
    sa.Column("decision_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_id", sa.Integer, sa.ForeignKey("reviews.review_id"), nullable=False),
    # the machine finding as it was when decided (for re-attachment after re-scoring)
    sa.Column("check", sa.String(64), nullable=False),
    sa.Column("finding_start", sa.Float),
    sa.Column("finding_end", sa.Float),
    sa.Column("finding_status", sa.String(16)),
    sa.Column("evidence", sa.Text),
    sa.Column("decision", sa.String(16), nullable=False),  # confirm | reject
    sa.Column("comment", sa.Text),
    sa.Column("decided_by", sa.Integer, sa.ForeignKey("users.user_id")),
    sa.Column("decided_at", sa.Text, nullable=False),
)
sa.Index("ix_decisions_review", decisions.c.review_id)

added_findings = sa.Table(
    "review_added_findings",
    metadata,
    sa.Column("added_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_id", sa.Integer, sa.ForeignKey("reviews.review_id"), nullable=False),
    sa.Column("item_id", sa.String(64), nullable=False),
    sa.Column("check", sa.String(64)),  # optional: which machine check missed it (for machine accuracy, part 2)
    sa.Column("start", sa.Float),
    sa.Column("end", sa.Float),
    sa.Column("deduction", sa.Float, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("users.user_id")),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("removed_at", sa.Text),  # withdrawn (kept, never deleted)
)
sa.Index("ix_added_review", added_findings.c.review_id)

manual_scores = sa.Table(
    "review_manual_scores",
    metadata,
    sa.Column("review_id", sa.Integer, sa.ForeignKey("reviews.review_id"), primary_key=True),
    sa.Column("item_id", sa.String(64), primary_key=True),
    sa.Column("deduction", sa.Float, nullable=False),  # 0 = passed
    sa.Column("comment", sa.Text),
    sa.Column("entered_by", sa.Integer, sa.ForeignKey("users.user_id")),
    sa.Column("entered_at", sa.Text, nullable=False),
)

triage = sa.Table(
    "review_triage",
    metadata,
    sa.Column("call_id", sa.String(128), primary_key=True),
    sa.Column("call_date", sa.String(10)),
    sa.Column("bucket", sa.String(16), nullable=False),  # must | sample | skip
    sa.Column("reasons", sa.Text),  # comma-separated reason codes
    sa.Column("machine_sha256", sa.String(64)),
    sa.Column("config_key", sa.String(64)),
)
sa.Index("ix_triage_date_bucket", triage.c.call_date, triage.c.bucket)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("audit_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("user_id", sa.Integer),
    sa.Column("username", sa.String(64)),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("call_id", sa.String(128)),
    sa.Column("object_type", sa.String(32)),
    sa.Column("object_id", sa.String(128)),
    sa.Column("before_json", sa.Text),
    sa.Column("after_json", sa.Text),
    sa.Column("comment", sa.Text),
)
sa.Index("ix_audit_call", audit_log.c.call_id, audit_log.c.audit_id)

ALL = [users, assignments, reviews, decisions, added_findings, manual_scores, triage, audit_log]


def create(conn: sa.Connection) -> None:
    """Migration 8's body (these definitions are version 8's; a later change is a new migration)."""
    metadata.create_all(conn, tables=ALL)


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the row a single-row INSERT just wrote."""
    key = result.inserted_primary_key
    if key is None:  # only for executemany / INSERT … FROM SELECT, which no caller does
        raise RuntimeError("INSERT returned no primary key")
    return int(key[0])
