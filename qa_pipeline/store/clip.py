"""Cut audio around a search hit (soundfile for WAV/FLAC/OGG, PyAV for MP3 and the rest)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
import sqlalchemy as sa

from . import schema as S
from .db import Store


class ClipError(RuntimeError):
    pass


def _read_span(path: Path, t0: float, t1: float) -> tuple[np.ndarray, int]:
    try:
        info = sf.info(str(path))
        sr = info.samplerate
        start, stop = max(0, int(t0 * sr)), min(info.frames, int(t1 * sr))
        data, sr = sf.read(str(path), start=start, stop=max(start, stop), dtype="float32", always_2d=True)
        return data, sr
    except sf.LibsndfileError:
        pass
    import av  # MP3/AAC/… fallback

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        sr = stream.rate
        chunks = []
        for frame in container.decode(stream):
            arr = frame.to_ndarray()
            if arr.ndim == 1 or frame.format.is_packed:
                arr = arr.reshape(-1, len(frame.layout.channels)).T
            chunks.append(arr.astype("float32") / (32768.0 if arr.dtype == np.int16 else 1.0))
        data = np.concatenate(chunks, axis=1).T if chunks else np.zeros((0, 1), "float32")
    start, stop = max(0, int(t0 * sr)), min(len(data), int(t1 * sr))
    return data[start : max(start, stop)], sr


def cut_clip(
    audio_path: Path,
    out: Path,
    at: float,
    before: float = 5.0,
    after: float = 10.0,
    channel: str = "both",
    agent_channel: int = 0,
) -> Path:
    """Write [at-before, at+after] of `audio_path` to `out` (WAV, or the format its suffix names).
    channel: both | agent | customer (stereo files: agent on `agent_channel`, customer on the other)."""
    if channel not in ("both", "agent", "customer"):
        raise ClipError(f"channel must be both, agent or customer, not {channel!r}")
    audio_path = Path(audio_path)
    if not audio_path.exists():
        raise ClipError(f"audio file not found: {audio_path}")
    data, sr = _read_span(audio_path, max(0.0, at - before), at + after)
    if channel != "both" and data.shape[1] == 2:
        idx = agent_channel if channel == "agent" else 1 - agent_channel
        data = data[:, idx : idx + 1]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), data, sr)
    return out


def resolve_audio(store: Store, stored: str) -> Path:
    p = Path(stored)
    if p.is_absolute() or p.exists() or store.path is None:
        return p
    for base in (store.path.parent, store.path.parent.parent):
        if (base / p).exists():
            return base / p
    return p


def clip_call(
    store: Store, call_id: str, out: Path, at: float, before: float = 5.0, after: float = 10.0, channel: str = "both"
) -> Path:
    c, r = S.calls, S.runs
    with store.read() as conn:
        row = conn.execute(
            sa.select(c.c.audio_path, r.c.options_json)
            .select_from(c.outerjoin(r, r.c.run_id == c.c.run_id))
            .where(c.c.call_id == call_id)
        ).first()
    if row is None:
        raise ClipError(f"no call {call_id!r} in the database")
    if not row.audio_path:
        raise ClipError(f"call {call_id!r} has no audio path")
    opts = json.loads(row.options_json or "{}")
    return cut_clip(
        resolve_audio(store, row.audio_path), out, at, before, after, channel, int(opts.get("agent_channel", 0))
    )
