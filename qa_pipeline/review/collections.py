"""Trainer collections (案例集): transcript moments collected from search into named collections, a note per
example, shared read-only with colleagues, exported for a lesson as a zip of audio clips with an index CSV
(call, agent, time, rule, transcript line, note). Every change is audited (``service.audit``).

Clips are cut by the store's clip code (``store.clip.clip_call``); where the call's result recorded masked personal
data (privacy's ``pii_masked`` findings), the clip is masked the same way (``privacy.mask_audio``) before it
leaves the server.
"""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import numpy as np
import soundfile as sf
import sqlalchemy as sa

from ..i18n import t
from ..safe import first_line
from ..store import schema as S
from ..store.clip import ClipError, clip_call
from ..store.db import Store
from . import loop_tables as L
from . import service as R
from . import tables as T
from .access import User, may_change_collection, may_read_collection
from .describe import check_label, clock

CLIP_PAD_S = 1.0  # seconds of audio kept before and after the collected line


class CollectionError(ValueError):
    """A collection action that cannot be done; the message (from the catalog) says why."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def create_collection(store: Store, user: User, name: str, shared: bool = False) -> int:
    name = (name or "").strip()
    if not name:
        raise CollectionError(t("loop.coll.error.no_name"))
    if not may_change_collection(user, user.user_id):
        raise CollectionError(t("loop.coll.error.cannot"))
    with store.engine.begin() as conn:
        cid = T.inserted_id(
            conn.execute(
                L.collections.insert().values(
                    name=name[:200], owner_id=user.user_id, shared=bool(shared), created_at=_now()
                )
            )
        )
        R.audit(
            conn,
            user,
            "collection_create",
            object_type="collection",
            object_id=str(cid),
            after={"name": name, "shared": bool(shared)},
        )
    return int(cid)


def get_collection(store: Store, cid: int) -> dict[str, Any] | None:
    co, it, u, c = L.collections, L.collection_items, T.users, S.calls
    with store.read() as conn:
        row = conn.execute(
            sa.select(co, u.c.username.label("owner"))
            .select_from(co.join(u, u.c.user_id == co.c.owner_id))
            .where(co.c.collection_id == cid)
        ).first()
        if row is None:
            return None
        out = dict(row._mapping)
        out["examples"] = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(it, c.c.agent_id, c.c.agent_name, c.c.started_at)
                .select_from(it.outerjoin(c, c.c.call_id == it.c.call_id))
                .where(it.c.collection_id == cid)
                .order_by(it.c.example_id)
            ).all()
        ]
    return out


def list_collections(store: Store, user: User) -> list[dict[str, Any]]:
    """The user's own collections and those others shared (read-only)."""
    co, it, u = L.collections, L.collection_items, T.users
    n = sa.select(sa.func.count()).where(it.c.collection_id == co.c.collection_id).scalar_subquery()
    with store.read() as conn:
        rows = conn.execute(
            sa.select(co, u.c.username.label("owner"), n.label("examples"))
            .select_from(co.join(u, u.c.user_id == co.c.owner_id))
            .order_by(co.c.collection_id.desc())
        ).all()
    return [dict(r._mapping) for r in rows if may_read_collection(user, r.owner_id, bool(r.shared))]


def _owned(store: Store, user: User, cid: int) -> dict[str, Any]:
    col = get_collection(store, cid)
    if col is None or not may_read_collection(user, col["owner_id"], bool(col["shared"])):
        raise CollectionError(t("loop.coll.error.not_found"))
    if not may_change_collection(user, col["owner_id"]):
        raise CollectionError(t("loop.coll.error.read_only"))
    return col


def add_example(
    store: Store,
    user: User,
    cid: int,
    call_id: str,
    *,
    start: float,
    end: float,
    speaker: str | None = None,
    text: str | None = None,
    rule: str | None = None,
    note: str = "",
) -> int:
    _owned(store, user, cid)
    exists, _agent = R.call_agent(store, call_id)
    if not exists:
        raise CollectionError(t("loop.coll.error.no_call"))
    if not (0 <= start <= end) or end - start > 600:
        raise CollectionError(t("loop.coll.error.bad_span"))
    with store.engine.begin() as conn:
        eid = T.inserted_id(
            conn.execute(
                L.collection_items.insert().values(
                    collection_id=cid,
                    call_id=call_id,
                    start=float(start),
                    end=float(end),
                    speaker=speaker,
                    text=(text or "")[:2000] or None,
                    rule=(rule or "").strip()[:64] or None,
                    note=(note or "").strip()[:2000] or None,
                    added_by=user.user_id,
                    added_at=_now(),
                )
            )
        )
        R.audit(
            conn,
            user,
            "collection_add",
            call_id=call_id,
            object_type="collection",
            object_id=str(cid),
            after={"example": int(eid), "start": start, "end": end, "rule": rule, "note": note},
            comment=note,
        )
    return int(eid)


def set_note(store: Store, user: User, cid: int, eid: int, note: str) -> None:
    _owned(store, user, cid)
    it = L.collection_items
    with store.engine.begin() as conn:
        old = conn.execute(sa.select(it).where(it.c.example_id == eid, it.c.collection_id == cid)).first()
        if old is None:
            raise CollectionError(t("loop.coll.error.no_example"))
        conn.execute(it.update().where(it.c.example_id == eid).values(note=(note or "").strip()[:2000] or None))
        R.audit(
            conn,
            user,
            "collection_note",
            call_id=old.call_id,
            object_type="collection",
            object_id=str(cid),
            before={"note": old.note},
            after={"note": note},
        )


def remove_example(store: Store, user: User, cid: int, eid: int) -> None:
    _owned(store, user, cid)
    it = L.collection_items
    with store.engine.begin() as conn:
        old = conn.execute(sa.select(it).where(it.c.example_id == eid, it.c.collection_id == cid)).first()
        if old is None:
            raise CollectionError(t("loop.coll.error.no_example"))
        conn.execute(it.delete().where(it.c.example_id == eid))
        R.audit(
            conn,
            user,
            "collection_remove",
            call_id=old.call_id,
            object_type="collection",
            object_id=str(cid),
            before={"example": eid, "start": old.start, "end": old.end, "note": old.note},
        )


def set_shared(store: Store, user: User, cid: int, shared: bool) -> None:
    col = _owned(store, user, cid)
    with store.engine.begin() as conn:
        conn.execute(L.collections.update().where(L.collections.c.collection_id == cid).values(shared=bool(shared)))
        R.audit(
            conn,
            user,
            "collection_share",
            object_type="collection",
            object_id=str(cid),
            before={"shared": bool(col["shared"])},
            after={"shared": bool(shared)},
        )


# ------------------------------------------------------------------------------------------------ export

INDEX_COLUMNS = (
    "clip",
    "call_id",
    "agent_id",
    "agent_name",
    "call_started_at",
    "time",
    "start_s",
    "end_s",
    "speaker",
    "rule",
    "transcript",
    "note",
)


def _pii_spans(store: Store, call_id: str) -> list[tuple[float, float]]:
    from ..privacy import PII_CHECK, masked_intervals

    k = S.checks
    with store.read() as conn:
        rows = conn.execute(
            sa.select(k.c.check, k.c.start, k.c.end).where(k.c.call_id == call_id, k.c.check == PII_CHECK)
        ).all()
    return masked_intervals({"checks": [dict(r._mapping) for r in rows]})


def _mask_clip(path: Path, spans: list[tuple[float, float]], offset_s: float) -> None:
    from ..privacy import mask_audio

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    sf.write(str(path), np.asarray(mask_audio(data, sr, spans, offset_s=offset_s)), sr)


def export_zip(store: Store, user: User, cid: int, out: IO[bytes]) -> int:
    """Write the collection as a zip (clips/NNN_<call>_<mmss>.wav + index.csv) to `out`; returns the clip count.
    A clip that cannot be cut (audio missing) is listed in the index with the reason, never silently dropped."""
    col = get_collection(store, cid)
    if col is None or not may_read_collection(user, col["owner_id"], bool(col["shared"])):
        raise CollectionError(t("loop.coll.error.not_found"))
    rows = []
    n = 0
    with (
        tempfile.TemporaryDirectory(prefix="callqa_coll_") as tmp,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf,
    ):
        for i, ex in enumerate(col["examples"], 1):
            name = f"clips/{i:03d}_{ex['call_id']}_{clock(ex['start']).replace(':', '')}.wav"
            clip = Path(tmp) / f"{i:03d}.wav"
            t0 = max(0.0, ex["start"] - CLIP_PAD_S)
            try:
                clip_call(
                    store,
                    ex["call_id"],
                    clip,
                    at=ex["start"],
                    before=CLIP_PAD_S,
                    after=ex["end"] - ex["start"] + CLIP_PAD_S,
                )
                spans = _pii_spans(store, ex["call_id"])
                if spans:
                    _mask_clip(clip, spans, t0)
                zf.write(clip, name, compress_type=zipfile.ZIP_STORED)  # WAV barely compresses
                n += 1
                clip_name = name
            except (ClipError, OSError, RuntimeError) as exc:
                clip_name = t("loop.coll.export.no_clip", reason=first_line(exc, 200))
            rule = ex["rule"] or ""
            rows.append(
                {
                    "clip": clip_name,
                    "call_id": ex["call_id"],
                    "agent_id": ex["agent_id"] or "",
                    "agent_name": ex["agent_name"] or "",
                    "call_started_at": ex["started_at"] or "",
                    "time": f"{clock(ex['start'])}–{clock(ex['end'])}",
                    "start_s": f"{ex['start']:.2f}",
                    "end_s": f"{ex['end']:.2f}",
                    "speaker": t(f"speaker.{ex['speaker']}") if ex["speaker"] else "",
                    "rule": f"{check_label(rule)} ({rule})" if rule and check_label(rule) != rule else rule,
                    "transcript": ex["text"] or "",
                    "note": ex["note"] or "",
                }
            )
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(INDEX_COLUMNS), lineterminator="\n")
        w.writerow({k: t(f"loop.coll.col.{k}") for k in INDEX_COLUMNS})
        w.writerows(rows)
        zf.writestr("index.csv", "\ufeff" + buf.getvalue())  # BOM: Excel opens UTF-8 Chinese correctly
    with store.engine.begin() as conn:
        R.audit(conn, user, "collection_export", object_type="collection", object_id=str(cid), after={"clips": n})
    return n
