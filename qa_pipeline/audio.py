"""Ingest: decode a recording, validate it and split it into parties → CallAudio."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from .i18n import t
from .safe import first_line, readable
from .types import SAMPLE_RATE, AudioSource, CallAudio, CallMetadata, Layout, Speaker

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".wma", ".amr")


class AudioError(ValueError):
    """A recording that cannot be scored; the message says which file and why."""


@dataclass(frozen=True)
class IngestOptions:
    agent_channel: int = 0
    max_duration_s: float = 4 * 3600.0
    """Longer files are refused before decoding (a 4 h call is an export mistake, not a call)."""
    silence_peak_dbfs: float = -60.0
    """A recording whose loudest sample is below this is treated as empty (all-silent)."""
    duplicate_channel_corr: float = 0.95
    """Stereo files whose channels correlate above this (at the best lag within ±50 ms) are one party
    copied twice → mono."""
    spill_after_s: float = 1800.0
    """Recordings longer than this keep their 16 kHz parties in a temporary file mapped into memory rather than
    in the worker's memory (a 3 h stereo call is 1.4 GB of float32 samples)."""


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_call(path: Path, metadata: CallMetadata, options: IngestOptions = IngestOptions()) -> CallAudio:
    """Decode `path` into per-party 16 kHz float32 arrays; raise AudioError with a clear reason."""
    path = Path(path)
    if not path.exists():
        raise AudioError(t("audio.error.not_found", file=path))
    if path.is_dir():
        raise AudioError(t("audio.error.is_directory", file=path))
    if path.stat().st_size == 0:
        raise AudioError(t("audio.error.empty_file", file=path))

    with decoder_messages(path) as complaints:
        try:
            info = sf.info(str(path))
        except Exception:
            info = None
        if info is not None:
            decoded = _stream_sndfile(path, info, options)
        else:
            samples, rate, codec = _decode_av(path, options.max_duration_s)
            decoded = _split(path, samples, rate, codec, options)
    declared = int(info.frames) if info is not None and info.frames else 0
    if complaints and declared and decoded.frames < MIN_DECODED_SHARE * declared:
        # libmpg123 resyncs past damage and returns what it could read: scoring that as the whole call would judge
        # a fragment (a missed greeting, a "silent" gap) as if the agent had done it
        raise AudioError(
            t(
                "audio.error.truncated",
                file=path,
                decoded=f"{decoded.frames / decoded.rate:.1f}",
                declared=f"{declared / decoded.rate:.1f}",
            )
        )
    source = AudioSource(
        path=str(path),
        sha256=file_sha256(path),
        duration_s=round(decoded.frames / decoded.rate, 3),
        sample_rate=decoded.rate,
        channels=decoded.channels,
        layout=decoded.layout,
        codec=decoded.codec,
    )
    return CallAudio(metadata=metadata, source=source, parties=decoded.parties)


@dataclass(frozen=True)
class _Decoded:
    parties: dict[Speaker, np.ndarray]
    rate: int
    channels: int
    frames: int
    codec: str
    layout: Layout


def _check_shape(path: Path, frames: int, channels: int, options: IngestOptions) -> None:
    if frames == 0:
        raise AudioError(t("audio.error.no_samples", file=path))
    if channels not in (1, 2):
        raise AudioError(t("audio.error.channels", file=path, channels=channels))
    if options.agent_channel not in (0, 1):
        raise AudioError(t("audio.error.agent_channel", file=path, channel=options.agent_channel))


def _check_peak(path: Path, peak: float, options: IngestOptions) -> None:
    peak_dbfs = 20 * np.log10(peak) if peak > 0 else -np.inf
    if peak_dbfs < options.silence_peak_dbfs:
        raise AudioError(t("audio.error.silent", file=path, peak=f"{peak_dbfs:.0f}"))


def _split(path: Path, samples: np.ndarray, rate: int, codec: str, options: IngestOptions) -> _Decoded:
    """A whole decoded recording (what PyAV gives) → parties."""
    channels = samples.shape[1]
    _check_shape(path, samples.shape[0], channels, options)
    _check_peak(path, float(np.max(np.abs(samples))) if samples.size else 0.0, options)
    layout: Layout = "stereo" if channels == 2 else "mono"
    if channels == 2 and _channels_duplicate(samples, rate, options.duplicate_channel_corr):
        layout = "mono"
    resampled = _to_16k(samples, rate)
    parties: dict[Speaker, np.ndarray]
    if layout == "stereo":
        agent = options.agent_channel
        parties = {"agent": resampled[:, agent].copy(), "customer": resampled[:, 1 - agent].copy()}
    else:
        parties = {"unknown": np.ascontiguousarray(resampled.mean(axis=1))}
    return _Decoded(parties, rate, channels, samples.shape[0], codec, layout)


BLOCK_S = 60.0
"""libsndfile recordings are decoded and resampled this many seconds at a time (the first block is also the
excerpt `_channels_duplicate` looks at)."""


class _PartySink:
    """Where one party's 16 kHz samples go while a recording is streamed: memory, or for long recordings an
    anonymous temporary file mapped back read-only-shared (copy-on-write), so that hours of audio live in the
    page cache, which the kernel can reclaim, instead of in the worker's own memory."""

    def __init__(self, spill: bool, expected: int):
        # in memory: one buffer of the expected length (a list of blocks joined at the end held the audio twice)
        self._buf = np.empty(0 if spill else max(expected, 0), np.float32)
        self._file = tempfile.TemporaryFile(prefix="callqa-audio-") if spill else None
        self._n = 0

    def write(self, x: np.ndarray) -> None:
        if self._file is not None:
            np.ascontiguousarray(x, dtype=np.float32).tofile(self._file)
        else:
            if self._n + len(x) > len(self._buf):  # the header's length was short: grow by half
                grown = np.empty(max(self._n + len(x), len(self._buf) * 3 // 2), np.float32)
                grown[: self._n] = self._buf[: self._n]
                self._buf = grown
            self._buf[self._n : self._n + len(x)] = x
        self._n += len(x)

    def array(self) -> np.ndarray:
        if self._file is None:
            spare = len(self._buf) - self._n
            # a view keeps the few spare samples of the estimate; a header that promised far more is trimmed
            return self._buf[: self._n].copy() if spare > max(4096, self._n // 100) else self._buf[: self._n]
        try:
            self._file.flush()
            if self._n == 0:
                return np.zeros(0, np.float32)
            # the mapping keeps its own handle: the file (already unlinked) disappears with the array
            return np.memmap(self._file, dtype=np.float32, mode="c", shape=(self._n,))
        finally:
            self._file.close()

    def close(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()


def _stream_sndfile(path: Path, info: Any, options: IngestOptions) -> _Decoded:
    """Decode a libsndfile recording block by block and resample each block as it comes (soxr's stream gives
    the same samples as resampling the whole file at once): the native-rate file and the resampled stereo
    array are never held whole, and long recordings go to a temporary file (`IngestOptions.spill_after_s`)."""
    rate, channels = int(info.samplerate), int(info.channels)
    if info.frames and info.frames / rate > options.max_duration_s:
        raise AudioError(
            t(
                "audio.error.over_max_duration",
                file=path,
                hours=f"{info.frames / rate / 3600:.1f}",
                limit=f"{options.max_duration_s / 3600:.1f}",
            )
        )
    codec = f"{info.format}/{info.subtype}"
    block = max(1, int(BLOCK_S * rate))
    sinks: dict[Speaker, _PartySink] = {}
    try:
        with sf.SoundFile(str(path)) as fh:
            x = fh.read(block, dtype="float32", always_2d=True)
            _check_shape(path, x.shape[0], channels, options)
            layout: Layout = "stereo" if channels == 2 else "mono"
            if channels == 2 and _channels_duplicate(x, rate, options.duplicate_channel_corr):
                layout = "mono"
            spill = bool(info.frames) and info.frames / rate > options.spill_after_s
            names: tuple[Speaker, ...] = ("agent", "customer") if layout == "stereo" else ("unknown",)
            expected = int(np.ceil(info.frames * SAMPLE_RATE / rate)) + 64 if info.frames else 0
            sinks = {name: _PartySink(spill, expected) for name in names}
            agent = options.agent_channel
            stream = (
                None
                if rate == SAMPLE_RATE
                else soxr.ResampleStream(rate, SAMPLE_RATE, channels, dtype="float32", quality="HQ")
            )

            def put(y: np.ndarray) -> None:
                if layout == "stereo":
                    sinks["agent"].write(y[:, agent])
                    sinks["customer"].write(y[:, 1 - agent])
                else:
                    sinks["unknown"].write(y.mean(axis=1))

            frames, peak = 0, 0.0
            while x.shape[0]:
                frames += x.shape[0]
                peak = max(peak, float(np.max(np.abs(x))))
                put(x if stream is None else stream.resample_chunk(x))
                x = fh.read(block, dtype="float32", always_2d=True)
            if stream is not None:
                put(stream.resample_chunk(np.zeros((0, channels), np.float32), last=True))
        _check_peak(path, peak, options)
        parties = {name: sink.array() for name, sink in sinks.items()}
    except AudioError:
        raise
    except Exception as exc:
        raise AudioError(t("audio.error.cannot_decode", file=path, format=info.format, reason=_short(exc))) from None
    finally:
        for sink in sinks.values():
            sink.close()
    return _Decoded(parties, rate, channels, frames, codec, layout)


_NATIVE_STDERR = threading.Lock()
MAX_DECODER_MESSAGES = 20
"""Decoder messages re-emitted per file (a badly damaged MP3 makes libmpg123 write one per frame)."""


MIN_DECODED_SHARE = 0.9
"""A recording whose decoder complained and which decoded to less than this share of its declared length fails."""


@contextmanager
def decoder_messages(path: Path) -> Iterator[list[str]]:
    """Re-emit what native decoders write to standard error, each line prefixed with the file it is about.

    libmpg123 (inside libsndfile) and FFmpeg write warnings ("Note: Illegal Audio-MPEG-Header …") straight to
    file descriptor 2, where nobody can tell which of a batch's files they concern. During the decode call fd 2
    goes to a temporary file; Python's own `sys.stderr` (where the progress bar of an in-process batch writes) is
    pointed at the real standard error for that time, so only the native libraries' output is caught."""
    with _NATIVE_STDERR:
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        saved = os.dup(2)
        py_err = sys.stderr
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            passthrough = os.fdopen(
                os.dup(saved), "w", buffering=1, encoding=getattr(py_err, "encoding", None) or "utf-8", errors="replace"
            )
            sys.stderr = passthrough
            complaints: list[str] = []  # filled when the block ends: what the native decoders said
            try:
                yield complaints
            finally:
                sys.stderr = py_err
                passthrough.close()
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                lines = [x.strip() for x in capture.read(1 << 20).decode("utf-8", "replace").splitlines()]
                complaints.extend(x for x in lines if x)
                _report(path, complaints)


def _report(path: Path, lines: list[str]) -> None:
    if not lines:
        return
    name = readable(str(path))
    out = [t("audio.decoder_message", file=name, message=x) for x in lines[:MAX_DECODER_MESSAGES]]
    if len(lines) > MAX_DECODER_MESSAGES:
        out.append(t("audio.decoder_more", file=name, count=len(lines) - MAX_DECODER_MESSAGES))
    try:
        print("\n".join(out), file=sys.stderr, flush=True)
    except (AttributeError, OSError, ValueError):
        pass  # no standard error to speak to (a daemon): the decode result itself is unaffected


def _decode_av(path: Path, max_duration_s: float) -> tuple[np.ndarray, int, str]:
    import av

    try:
        container = av.open(str(path))
    except Exception as exc:
        raise AudioError(t("audio.error.unreadable", file=path, reason=_short(exc))) from None
    with container:
        streams = container.streams.audio
        if not streams:
            raise AudioError(t("audio.error.no_stream", file=path))
        stream = streams[0]
        length_s = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        if length_s > max_duration_s:
            raise AudioError(
                t(
                    "audio.error.over_max_duration",
                    file=path,
                    hours=f"{length_s / 3600:.1f}",
                    limit=f"{max_duration_s / 3600:.1f}",
                )
            )
        rate = stream.rate or stream.codec_context.sample_rate
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                arr = frame.to_ndarray()
                if frame.format.is_planar:
                    arr = arr.T
                else:
                    arr = arr.reshape(-1, len(frame.layout.channels))
                if arr.dtype.kind == "i":
                    arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
                chunks.append(arr.astype(np.float32, copy=False))
        except Exception as exc:
            raise AudioError(t("audio.error.corrupt", file=path, reason=_short(exc))) from None
        codec = stream.codec_context.name
    if not chunks:
        return np.zeros((0, 1), np.float32), int(rate or SAMPLE_RATE), codec
    return np.concatenate(chunks), int(rate), codec


def _short(exc: Exception) -> str:
    """The decoder's reason in a line a QA analyst can read: the message already names the file, so FFmpeg's
    "[Errno 1094995529] …: '<path>'" is cut to its text, and its commonest reason is said in the catalog's
    language."""
    import av

    if isinstance(exc, av.error.InvalidDataError):
        return t("audio.reason.invalid_data")
    strerror = getattr(exc, "strerror", None)
    if isinstance(strerror, str) and strerror:
        return strerror.splitlines()[0][:200]
    return first_line(exc, 200)


def _to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return np.ascontiguousarray(samples, dtype=np.float32)
    return soxr.resample(samples, rate, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)


def _channels_duplicate(
    samples: np.ndarray, rate: int, threshold: float, max_lag_s: float = 0.05, excerpt_s: float = 60.0
) -> bool:
    """One party copied to both channels (an export mistake), allowing for gain, noise and a small delay:
    the peak normalised cross-correlation within ±`max_lag_s` over the first `excerpt_s` seconds."""
    n = min(len(samples), int(excerpt_s * rate))
    frame = max(1, int(0.05 * rate))
    m = n // frame * frame
    if m >= 10 * frame:
        # cheap screen first: two parties take turns, so their 50 ms energy envelopes do not move together
        env = np.sqrt(np.mean(np.square(samples[:m], dtype=np.float64).reshape(-1, frame, 2), axis=1))
        if not (env[:, 0].any() and env[:, 1].any()) or np.corrcoef(env[:, 0], env[:, 1])[0, 1] < 0.8:
            return False
    from scipy.signal import correlate

    a = samples[:n, 0].astype(np.float64)
    b = samples[:n, 1].astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    norm = np.sqrt(np.dot(a, a) * np.dot(b, b))
    if norm == 0:
        return False
    xc = correlate(a, b, mode="full", method="fft")
    lag = int(max_lag_s * rate)
    mid = n - 1
    return bool(np.max(np.abs(xc[mid - lag : mid + lag + 1])) / norm >= threshold)
