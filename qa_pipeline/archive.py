"""Stored calls as judge inputs: select calls in the database and rebuild their timeline + transcript + metadata
in batches (no audio, no ASR). Used by `callqa rescore` and `callqa rules test`."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .judging import JudgeInputs, metadata_from_stored, timeline_from_stored, transcript_from_stored
from .store import schema as S
from .store.filters import CallFilter
from .types import Finding

__all__ = ["CallFilter", "StoredCall", "load_calls", "select_call_ids"]


@dataclass(frozen=True)
class StoredCall:
    call_id: str
    agent_id: str | None
    agent_name: str | None
    team: str | None
    call_date: str | None
    inputs: JudgeInputs | None
    """None when the call was stored without a timeline (scored before timelines were kept)."""
    timeline: dict[str, Any] | None = None
    """The stored timeline JSON (with `judged_with`: which check parameters produced the stored findings)."""
    findings: dict[str, list[Finding]] | None = None
    """Stored findings per check (`load_calls(..., with_findings=True)`)."""


def select_call_ids(conn: sa.Connection, f: CallFilter) -> list[str]:
    """Call ids of the scored ("ok") calls that match the filter (store.filters: one filter everywhere), in id
    order."""
    c = S.calls
    q = f.apply(sa.select(c.c.call_id).where(c.c.status == "ok"))
    return list(conn.execute(q.order_by(c.c.call_id)).scalars())


_MD_COLS = ("agent_name", "team", "started_at", "queue", "transferred_at")


def load_calls(conn: sa.Connection, call_ids: Sequence[str], *, with_findings: bool = False) -> Iterator[StoredCall]:
    """Rebuild judge inputs for `call_ids` (one query per table for the whole batch)."""
    if not call_ids:
        return
    c, u, t = S.calls, S.utterances, S.call_timelines
    ids = list(call_ids)
    rows = {
        r.call_id: r
        for r in conn.execute(
            sa.select(
                c.c.call_id,
                c.c.agent_id,
                c.c.call_date,
                c.c.metadata_json,
                *(c.c[k] for k in _MD_COLS),
            ).where(c.c.call_id.in_(ids))
        )
    }
    timelines = dict(conn.execute(sa.select(t.c.call_id, t.c.timeline_json).where(t.c.call_id.in_(ids))).all())
    utts: dict[str, list[dict]] = {}
    for r in conn.execute(
        sa.select(u.c.call_id, u.c.speaker, u.c.start, u.c.end, u.c.text, u.c.words_json)
        .where(u.c.call_id.in_(ids))
        .order_by(u.c.call_id, u.c.idx)
    ):
        utts.setdefault(r.call_id, []).append(
            {
                "speaker": r.speaker,
                "start": r.start,
                "end": r.end,
                "text": r.text,
                "words": json.loads(r.words_json) if r.words_json else None,
            }
        )
    findings: dict[str, dict[str, list[Finding]]] = {}
    if with_findings:
        ch = S.checks
        for fr in conn.execute(
            sa.select(
                ch.c.call_id,
                ch.c.check,
                ch.c.status,
                ch.c.start,
                ch.c.end,
                ch.c.speaker,
                ch.c.evidence,
                ch.c.detail_json,
            )
            .where(ch.c.call_id.in_(ids))
            .order_by(ch.c.call_id, ch.c.idx)
        ):
            f = Finding(
                fr.check, fr.status, fr.start, fr.end, fr.speaker, fr.evidence or "", json.loads(fr.detail_json or "{}")
            )
            findings.setdefault(fr.call_id, {}).setdefault(fr.check, []).append(f)
    for cid in ids:
        row = rows.get(cid)
        if row is None:
            continue
        md = {k: getattr(row, k) for k in _MD_COLS if getattr(row, k) is not None}
        if row.metadata_json:
            md.update(json.loads(row.metadata_json))
        inputs = None
        data = None
        tl = timelines.get(cid)
        if tl:
            data = json.loads(tl)
            suspects = data.get("overlap_suspects")
            inputs = JudgeInputs(
                timeline_from_stored(data),
                transcript_from_stored(utts.get(cid, []), None),
                metadata_from_stored(cid, row.agent_id, md),
                None if suspects is None else tuple((float(a), float(b)) for a, b in suspects),
            )
        yield StoredCall(
            cid,
            row.agent_id,
            md.get("agent_name"),
            md.get("team"),
            row.call_date,
            inputs,
            data,
            findings.get(cid, {}) if with_findings else None,
        )
