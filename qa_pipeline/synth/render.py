"""Render a DialogueSpec to a stereo 8 kHz telephone recording + exact ground truth.

Channel 0 = agent, channel 1 = customer. Pipeline per channel: speech turns (trimmed to
their energy on/offsets so the truth times are the audible times, levelled to a nominal
active-speech level + ``volume_db``) + hold music (agent channel only) + white line noise at
``snr_db`` below the nominal speech level, then a zero-phase 300-3400 Hz band-pass.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from .spec import (
    DEFAULT_GAP,
    DEFAULT_HOLD_GAP,
    DEFAULT_TRANSFER_GAP,
    DialogueSpec,
    HoldSpec,
    SilenceSpec,
    TransferSpec,
    TurnSpec,
    load_spec,
)
from .voices import DEFAULT_VOICES, OUT_RATE, SIMILAR_CUSTOMER, Voice, render_utterance

SR = OUT_RATE
CHANNEL = {"agent": 0, "customer": 1}
NOMINAL_DBFS = {"agent": -20.0, "customer": -22.0}
MUSIC_DBFS = -26.0
TRIM_DB = 35.0  # trim leading/trailing audio quieter than peak frame - TRIM_DB


@dataclass
class PlacedTurn:
    speaker: str
    text: str
    start: float
    end: float
    tags: list[str]
    tag_values: dict[str, list[str]]
    volume_db: float
    source: str
    audio: np.ndarray = field(repr=False)


@dataclass
class Layout:
    turns: list[PlacedTurn]
    holds: list[tuple[float, float]]
    transfer: dict | None
    duration: float


def _frames_db(y: np.ndarray, frame: int = 80) -> np.ndarray:
    n = len(y) // frame
    if n == 0:
        return np.full(1, -120.0)
    f = y[: n * frame].reshape(n, frame)
    return 10 * np.log10(np.mean(f.astype(np.float64) ** 2, axis=1) + 1e-12)


def trim_and_level(y: np.ndarray, level_dbfs: float, frame: int = 80) -> np.ndarray:
    """Trim to the first/last frame within TRIM_DB of the loudest, scale active RMS to level."""
    db = _frames_db(y, frame)
    active = np.nonzero(db > db.max() - TRIM_DB)[0]
    if len(active) == 0:
        raise ValueError("silent utterance")
    y = y[active[0] * frame : (active[-1] + 1) * frame].astype(np.float64)
    db = _frames_db(y, frame)
    act = db > db.max() - 25.0
    rms = np.sqrt(np.mean(10 ** (db[act] / 10)))
    y = y * (10 ** (level_dbfs / 20) / max(rms, 1e-9))
    fade = min(40, len(y) // 4)  # 5 ms fades
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        y[:fade] *= ramp
        y[-fade:] *= ramp[::-1]
    return y.astype(np.float32)


def _load_clip(path: Path) -> np.ndarray:
    import soxr

    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    return soxr.resample(y, sr, SR).astype(np.float32) if sr != SR else y


def similar_voices(spec: DialogueSpec, customer: Voice = SIMILAR_CUSTOMER) -> DialogueSpec:
    """The same call spoken by two similar voices: agent and customer both derive from the agent's voice, the
    customer with a small pitch/formant shift (a mono mixdown of it is the hard case for diarization)."""
    agent = Voice.from_dict(spec.voices.get("agent"), DEFAULT_VOICES["agent"])
    cust = {"pitch": agent.pitch * customer.pitch, "formant": agent.formant * customer.formant, "speed": agent.speed}
    return replace(spec, voices={**spec.voices, "customer": cust})


def _voice(spec: DialogueSpec, name: str) -> Voice:
    base = DEFAULT_VOICES.get(name, DEFAULT_VOICES["agent"])
    return Voice.from_dict(spec.voices.get(name), base)


def layout(spec: DialogueSpec, clips_dir: Path | None = None) -> Layout:
    """Place every item on the timeline (sample-exact) and synthesise the turn audio."""
    turns: list[PlacedTurn] = []
    holds: list[tuple[float, float]] = []
    transfer = None
    free = spec.lead_in  # time when everything so far has ended
    pending_silence = 0.0
    first = True
    for item in spec.items:
        if isinstance(item, SilenceSpec):
            pending_silence += item.seconds
            continue
        if isinstance(item, HoldSpec):
            start = free + (DEFAULT_HOLD_GAP if item.gap is None else item.gap) + pending_silence
            start = round(start * SR) / SR
            end = round((start + item.seconds) * SR) / SR
            holds.append((start, end))
            free, pending_silence = end, 0.0
            continue
        if isinstance(item, TransferSpec):
            t = round((free + (DEFAULT_TRANSFER_GAP if item.gap is None else item.gap) + pending_silence) * SR) / SR
            phrase = next((x for x in reversed(turns) if x.speaker == "agent"), None)
            transfer = {
                "time": round(t, 3),
                "target": item.target,
                "phrase_end": round(phrase.end, 3) if phrase else None,
                "pause": round(t - phrase.end, 3) if phrase else None,
            }
            free, pending_silence = t, 0.0
            continue
        assert isinstance(item, TurnSpec)
        voice_name = item.voice or item.speaker
        level = NOMINAL_DBFS[item.speaker] + item.volume_db
        if item.clip:
            if clips_dir is None:
                raise ValueError(f"turn uses clip {item.clip!r}: pass customer_clips_dir")
            raw = _load_clip(Path(clips_dir) / item.clip)
            source = f"clip:{item.clip}"
        else:
            v = _voice(spec, voice_name)
            v = Voice(v.pitch, v.formant, v.speed * item.speed)
            raw = render_utterance(item.text, v)
            source = f"tts:{voice_name}"
        audio = trim_and_level(raw, level)
        prev = turns[-1] if turns else None
        if item.overlap is not None and prev is not None:
            start = prev.end - item.overlap
        elif item.offset is not None and prev is not None:
            start = prev.start + item.offset
        else:
            gap = 0.0 if first else (DEFAULT_GAP if item.gap is None else item.gap)
            start = free + gap + pending_silence
        pending_silence = 0.0
        first = False
        s0 = int(round(start * SR))
        start = s0 / SR
        end = (s0 + len(audio)) / SR
        turns.append(
            PlacedTurn(item.speaker, item.text, start, end, item.tags, item.tag_values, item.volume_db, source, audio)
        )
        free = max(free, end)
    duration = round((free + pending_silence + spec.tail) * SR) / SR
    return Layout(turns, holds, transfer, duration)


def hold_music(n: int, seed: int = 0) -> np.ndarray:
    """Tonal hold music: I-vi-IV-V arpeggio (sine + 2 harmonics, plucked envelopes) over a soft
    sustained chord pad. Stationary harmonic tones, no formant transitions -> not speech."""
    t_note = 0.25
    chords = [[72, 76, 79, 84], [69, 72, 76, 81], [65, 69, 72, 77], [67, 71, 74, 79]]  # C Am F G
    out = np.zeros(n, np.float64)
    note_len = int(t_note * SR)
    env = np.exp(-np.arange(note_len) / (0.12 * SR))
    env[:40] *= np.linspace(0, 1, 40)
    tt = np.arange(note_len) / SR
    k = 0
    pos = 0
    while pos < n:
        chord = chords[(k // 8) % 4]
        midi = chord[[0, 1, 2, 3, 2, 1, 0, 1][k % 8]]
        f = 440.0 * 2 ** ((midi - 69) / 12)
        tone = np.sin(2 * np.pi * f * tt) + 0.3 * np.sin(4 * np.pi * f * tt) + 0.1 * np.sin(6 * np.pi * f * tt)
        seg = (tone * env)[: n - pos]
        out[pos : pos + len(seg)] += seg
        pos += note_len
        k += 1
    # pad: chord root + fifth an octave lower, per 2 s bar
    bar = 8 * note_len
    tb = np.arange(n) / SR
    for b0 in range(0, n, bar):
        chord = chords[(b0 // bar) % 4]
        b1 = min(n, b0 + bar)
        for midi in (chord[0] - 12, chord[2] - 12):
            f = 440.0 * 2 ** ((midi - 69) / 12)
            out[b0:b1] += 0.25 * np.sin(2 * np.pi * f * tb[b0:b1])
    rms = np.sqrt(np.mean(out**2)) + 1e-12
    out *= 10 ** (MUSIC_DBFS / 20) / rms
    fade = min(int(0.05 * SR), n // 4)
    if fade:
        out[:fade] *= np.linspace(0, 1, fade)
        out[-fade:] *= np.linspace(1, 0, fade)
    return out.astype(np.float32)


def telephone_bandpass(y: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [300, 3400], btype="bandpass", fs=SR, output="sos")
    return sosfiltfilt(sos, y).astype(np.float32)


def mix(lay: Layout, snr_db: float, seed: int) -> np.ndarray:
    n = int(round(lay.duration * SR))
    chans = np.zeros((2, n), np.float32)
    for t in lay.turns:
        c = CHANNEL[t.speaker]
        s0 = int(round(t.start * SR))
        seg = t.audio[: max(0, n - s0)]
        chans[c, s0 : s0 + len(seg)] += seg
    for i, (a, b) in enumerate(lay.holds):
        s0, s1 = int(round(a * SR)), int(round(b * SR))
        chans[0, s0:s1] += hold_music(s1 - s0, seed + i)
    rng = np.random.default_rng(seed)
    for spk, c in CHANNEL.items():
        noise = rng.standard_normal(n).astype(np.float32)
        noise *= 10 ** ((NOMINAL_DBFS[spk] - snr_db) / 20)
        chans[c] = telephone_bandpass(chans[c] + noise)
    peak = np.abs(chans).max()
    if peak > 0.99:
        chans *= 0.99 / peak
    return chans.T  # (n, 2)


def spec_seed(spec: DialogueSpec, seed: int) -> int:
    h = hashlib.sha256(f"{spec.id}|{spec.seed}|{seed}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def render(
    spec: DialogueSpec,
    out_dir: Path,
    *,
    mono: bool = False,
    seed: int = 0,
    customer_clips_dir: Path | None = None,
    similar: bool = False,
) -> Path:
    from .truth import build_truth

    if similar:
        spec = similar_voices(spec)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lay = layout(spec, customer_clips_dir)
    audio = mix(lay, spec.snr_db, spec_seed(spec, seed))
    stem = spec.id
    path = out_dir / f"{stem}.flac"
    sf.write(str(path), audio, SR, subtype="PCM_16", format="FLAC")
    if mono:
        m = audio.sum(axis=1)
        peak = np.abs(m).max()
        if peak > 0.99:
            m *= 0.99 / peak
        sf.write(str(out_dir / f"{stem}.mono.flac"), m, SR, subtype="PCM_16", format="FLAC")
    truth = build_truth(spec, lay)
    truth["audio"] = {
        "file": path.name,
        "mono_file": f"{stem}.mono.flac" if mono else None,
        "sample_rate": SR,
        "channels": {"0": "agent", "1": "customer"},
        "duration": round(lay.duration, 3),
        "snr_db": spec.snr_db,
        "seed": seed,
    }
    _write_json(out_dir / f"{stem}.truth.json", truth)
    _write_json(
        out_dir / f"{stem}.transcript.json",
        {
            "utterances": [
                {"speaker": t.speaker, "start": round(t.start, 3), "end": round(t.end, 3), "text": t.text}
                for t in sorted(lay.turns, key=lambda t: t.start)
            ]
        },
    )
    return path


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def render_spec(
    spec_path: Path,
    out_dir: Path,
    *,
    mono: bool = False,
    seed: int = 0,
    customer_clips_dir: Path | None = None,
    similar: bool = False,
) -> Path:
    """`similar`: the customer speaks with the agent's voice slightly shifted (`similar_voices`)."""
    return render(
        load_spec(spec_path), out_dir, mono=mono, seed=seed, customer_clips_dir=customer_clips_dir, similar=similar
    )
