"""Cut audio around a search hit (soundfile for WAV/FLAC/OGG, PyAV for MP3 and the rest)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import soundfile as sf
import sqlalchemy as sa

from ..atomic import atomic_path
from ..i18n import t
from ..privacy import PII_CHECK, mask_audio, masked_intervals
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


CLIP_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}
MAX_SPAN_S = 600.0
"""At most this much audio before/after the moment (a clip is an excerpt, not an export of the call)."""


def _duration(path: Path) -> float | None:
    try:
        return float(sf.info(str(path)).duration)
    except sf.LibsndfileError:
        pass
    try:
        import av

        with av.open(str(path)) as container:
            return float(container.duration) / 1_000_000 if container.duration else None
    except Exception:  # noqa: BLE001 - unknown length: the read below decides
        return None


def _check_request(out: Path, at: float, before: float, after: float) -> str:
    """The soundfile format for `out`; ClipError (a sentence) for any request that cannot give a proper clip."""
    for name, value in (("--at", at), ("--before", before), ("--after", after)):
        if not math.isfinite(value):
            raise ClipError(t("clip.error.seconds", option=name, value=value))
    if at < 0:
        raise ClipError(t("clip.error.negative", at=f"{at:g}"))
    if not (0 <= before <= MAX_SPAN_S and 0 <= after <= MAX_SPAN_S) or before + after <= 0:
        raise ClipError(t("clip.error.span", limit=f"{MAX_SPAN_S:g}"))
    if out.is_dir():
        raise ClipError(t("clip.error.folder", file=out, example=out / "clip.wav"))
    fmt = CLIP_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ClipError(t("clip.error.format", file=out, suffix=out.suffix or "—", formats=", ".join(CLIP_FORMATS)))
    return fmt


def cut_clip(
    audio_path: Path,
    out: Path,
    at: float,
    before: float = 5.0,
    after: float = 10.0,
    channel: str = "both",
    agent_channel: int = 0,
    *,
    mask: list[tuple[float, float]] | None = None,
) -> Path:
    """Write [at-before, at+after] of `audio_path` to `out` (.wav, .flac or .ogg), with the `mask` intervals
    (call time: personal data found in the transcript) replaced by a tone. The original is only read.
    channel: both | agent | customer (stereo files: agent on `agent_channel`, customer on the other)."""
    if channel not in ("both", "agent", "customer"):
        raise ClipError(t("clip.error.channel", value=channel))
    out = Path(out)
    fmt = _check_request(out, at, before, after)
    audio_path = Path(audio_path)
    if not audio_path.is_file():
        raise ClipError(t("clip.error.no_audio", file=audio_path))
    duration_s = _duration(audio_path)
    if duration_s is not None and at > duration_s:
        raise ClipError(t("clip.error.after_call", at=f"{at:g}", duration=f"{duration_s:.1f}"))
    t0 = max(0.0, at - before)
    data, sr = _read_span(audio_path, t0, at + after)
    if len(data) == 0:
        raise ClipError(t("clip.error.after_recording", at=f"{at:g}", file=audio_path))
    if channel != "both" and data.shape[1] == 2:
        idx = agent_channel if channel == "agent" else 1 - agent_channel
        data = data[:, idx : idx + 1]
    if mask:
        data = mask_audio(data, sr, mask, offset_s=t0)
    with atomic_path(out) as tmp:
        sf.write(str(tmp), data, sr, format=fmt)
    return out


def pii_intervals(store: Store, call_id: str) -> list[tuple[float, float]]:
    """Call-time spans to mask in any audio served or written for `call_id` (its `pii_masked` findings)."""
    k = S.checks
    with store.read() as conn:
        rows = conn.execute(sa.select(k.c.start, k.c.end).where(k.c.call_id == call_id, k.c.check == PII_CHECK)).all()
    return masked_intervals({"checks": [{"check": PII_CHECK, "start": a, "end": b} for a, b in rows]})


def masked_audio(
    store: Store, call_id: str, path: Path, t0: float = 0.0, t1: float | None = None
) -> tuple[np.ndarray, int]:
    """The call's audio [t0, t1) (frames × channels, float32) with personal data masked: what the workstation
    should serve instead of the original file."""
    data, sr = _read_span(Path(path), max(0.0, t0), t1 if t1 is not None else 1e9)
    return mask_audio(data, sr, pii_intervals(store, call_id), offset_s=max(0.0, t0)), sr


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
    _check_request(Path(out), at, before, after)
    with store.read() as conn:
        row = conn.execute(
            sa.select(c.c.audio_path, r.c.options_json)
            .select_from(c.outerjoin(r, r.c.run_id == c.c.run_id))
            .where(c.c.call_id == call_id)
        ).first()
    if row is None:
        raise ClipError(t("clip.error.no_call", call_id=call_id))
    if not row.audio_path:
        raise ClipError(t("clip.error.no_audio_path", call_id=call_id))
    opts = json.loads(row.options_json or "{}")
    return cut_clip(
        resolve_audio(store, row.audio_path),
        out,
        at,
        before,
        after,
        channel,
        int(opts.get("agent_channel", 0)),
        mask=pii_intervals(store, call_id),
    )
