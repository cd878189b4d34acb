"""Call audio for the browser, with HTTP Range: the recording as stored (both parties), or a WAV made on the fly
(one party's channel, and/or with the call's personal-data spans masked), kept in a small cache."""

from __future__ import annotations

import io
import re
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi import Request
from fastapi.responses import Response

from ..privacy import mask_audio

BROWSER_TYPES = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".m4a": "audio/mp4",
    ".webm": "audio/webm",
}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
Masked = tuple[tuple[float, float], ...]


class AudioUnavailable(Exception):
    pass


class ChannelCache:
    def __init__(self, size: int = 8):
        self.size = size
        self._data: OrderedDict[tuple[str, str, float, Masked], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, channel: str, agent_channel: int = 0, masked: Masked = ()) -> bytes:
        """`masked`: call-time spans replaced by a tone (redacted personal data; see privacy.mask_audio)."""
        key = (str(path), channel, path.stat().st_mtime, masked)
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        data = _render(path, channel, agent_channel, masked)
        with self._lock:
            self._data[key] = data
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return data


def _decode(path: Path) -> tuple[np.ndarray, int]:
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        return data, int(rate)
    except Exception:  # noqa: BLE001 - formats libsndfile cannot read (mp3/m4a/amr on old libsndfile)
        from ..audio import _decode_av

        data, rate, _ = _decode_av(path, 6 * 3600)
        return data, rate


def _render(path: Path, channel: str, agent_channel: int, masked: Masked = ()) -> bytes:
    data, rate = _decode(path)
    if masked:
        data = mask_audio(data, rate, masked)
    if channel in ("agent", "customer"):
        if data.shape[1] < 2:
            raise AudioUnavailable("mono")
        idx = agent_channel if channel == "agent" else 1 - agent_channel
        data = data[:, idx : idx + 1]
    buf = io.BytesIO()
    sf.write(buf, data, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def ranged(request: Request, data: bytes | None, path: Path | None, media_type: str) -> Response:
    """200 with the whole body, or 206 with the requested byte range (one range), or 416."""
    size = len(data) if data is not None else path.stat().st_size  # type: ignore[union-attr]
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=300"}
    rng = request.headers.get("range")
    start, end = 0, size - 1
    status = 200
    if rng:
        m = _RANGE.match(rng.strip())
        if not m or (not m.group(1) and not m.group(2)):
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        if m.group(1):
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else size - 1
        else:  # suffix range: the last N bytes
            start = max(size - int(m.group(2)), 0)
        end = min(end, size - 1)
        if start > end or start >= size:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if data is not None:
        body = data[start : end + 1]
    else:
        with open(path, "rb") as fh:  # type: ignore[arg-type]
            fh.seek(start)
            body = fh.read(end - start + 1)
    headers["Content-Length"] = str(len(body))
    return Response(body, status_code=status, headers=headers, media_type=media_type)
