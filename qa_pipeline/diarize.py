"""Speaker diarization of a mono call (audio → speaker turns), the first stage of a mono call's transcription.

`pipeline.score_call` runs, for a mono recording (see docs/diarization.md):

    VAD timeline (all "unknown")
      → `diarize` (here): speaker embeddings (resemblyzer VoiceEncoder, weights inside the wheel, CPU) on 1.6 s
        windows sliding over every VAD segment → agglomerative clustering (scikit-learn, cosine, average
        linkage, number of speakers from a distance threshold, 1–3) → resegmentation: every 10 ms frame of
        speech takes the cluster its covering windows are closest to, runs shorter than `min_run_s` are
        absorbed, VAD segments are split where the speaker changes → provisional labels spk0, spk1, …
      → the ASR engine transcribes `provisional_timeline(...)`: each provisional speaker's segments
      → `roles.assign_roles` / `roles.apply_roles`: agent / customer from what each speaker says, or "unknown".

Overlapped speech cannot be separated in a mono mix: windows whose embedding sits between two clusters are
reported as suspected overlap (`Diarization.overlap_suspects`), which `detect.qualify_mono_findings` uses so
that a mono call's interruption finding is never a silent pass.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from .intervals import merge_intervals
from .types import SAMPLE_RATE, SpeechSegment, Timeline

__all__ = ["DIARIZER_VERSION", "DiarizeOptions", "Diarization", "diarize", "provisional_timeline"]

FRAME_S = 0.01  # mel hop of the voice encoder (10 ms)
WIN_FRAMES = 160  # 1.6 s partials, what the encoder was trained on


DIARIZER_VERSION = "resemblyzer-0.1.4+agglomerative/3"
"""Recorded in results: calls diarized by another version are re-scored on resume."""


FORCED_SPLIT_METHOD = "resemblyzer+agglomerative+two-speaker-default"
"""The voices formed one cluster, but a 2-way split of the speech separates and alternates like two parties."""
ONE_CLUSTER_METHOD = "resemblyzer+agglomerative+one-cluster"
"""The voices formed one cluster and no audio split stands out: whether there are two parties is decided from
turn-taking and the text after ASR (`turntaking.resolve_speakers`)."""


@dataclass(frozen=True)
class DiarizeOptions:
    hop_s: float = 0.4
    """Step between embedding windows inside a VAD segment."""
    min_window_s: float = 0.5
    """Segments shorter than this get no embedding of their own (they take the nearest neighbour's label)."""
    cluster_threshold: float = 0.35
    """Cosine distance (average linkage) above which window clusters are different speakers."""
    max_speakers: int = 3
    min_speaker_s: float = 4.0
    """A cluster with less speech than this (and < `min_speaker_share`) is merged into its nearest one."""
    min_speaker_share: float = 0.08
    min_run_s: float = 1.0
    """Speaker runs shorter than this inside a VAD segment are absorbed by their neighbours."""
    two_speakers_default: bool = True
    """A telephone call has two parties: when the voice clusters merge into one (two similar voices), split the
    speech in two anyway unless the split is indistinguishable from splitting a single voice (see `_split_two`)."""
    one_speaker_similarity: float = 0.9
    """A forced split whose halves are at least this similar (cosine of the centroids) and that does not alternate
    more than chance is one voice (IVR, one party only)."""
    alternation_margin: float = 0.15
    """A forced split is two speakers when consecutive speech segments change side this much more often than a
    random split with the same proportions would (turn-taking)."""
    overlap_margin: float = 0.04
    """A window whose similarities to its best two clusters differ by less than this is a suspected overlap."""
    role_min_confidence: float = 0.5
    """Below this role confidence the speakers stay "unknown" (role-dependent checks → needs_review)."""
    opening_s: float = 30.0
    """The greeting is looked for in the first utterances that start within this many seconds."""
    # --- one-cluster calls (similar voices): the turn-taking decoder (`turntaking.decode_turns`)
    turn_switch_prob: float = 0.65
    """Prior probability that the next speech unit is the other party (conversation = turn-taking); overlapping
    units switch with 0.9, units after a long pause (> 1.5 s) with 0.5."""
    turn_agent_first_prob: float = 0.7
    """Prior probability that the agent speaks first (the agent answers the call)."""
    turn_text_weight: float = 1.0
    """Log-odds per point of a unit's text role score (`roles.TextCues.score`)."""
    turn_model_weight: float = 1.0
    """Weight of the text role model's log-odds (`roles.role_model`) in a unit's text evidence. Both weights were
    chosen on the hand-written tuning dialogues (benchmarks/data/role_tuning_dialogues*.yaml, docs/diarization.md
    step 6): the largest with no wrong agent on either set, one step down for margin."""
    turn_strong_evidence: float = 2.0
    """Role-model log-odds beyond which a unit counts as strongly customer-like (−2.0: P(customer) ≥ 0.88)."""
    turn_customer_units: int = 2
    """Units of strong customer-like text that, with an agent cue word elsewhere, show a one-voice call has two
    parties."""
    turn_iterations: int = 5
    """Rounds of decode → refit the two voices' centroids from the posteriors → decode."""
    turn_min_confidence: float = 0.75
    """Roles of a decoded call need this mean posterior (speech-weighted), else "unknown" → needs_review."""
    turn_max_wrong_risk: float = 0.15
    """Roles of a decoded call also need `turntaking.wrong_side_risk` of the agent side (the chance, from the unit
    posteriors, that ≥ 1/3 of its units are customer turns, errors by whole decoded turns) at most this, else
    "unknown" → needs_review. Chosen on the tuning dialogues (docs/diarization.md, step 7)."""
    turn_unit_review_posterior: float = 0.7
    """Units whose decoded label has a posterior below this are listed in the decoder evidence
    (`uncertain_units`: start, end, posterior) for a reviewer to check, even in a call whose roles are kept."""


@dataclass(frozen=True)
class Diarization:
    """Speaker-labelled speech of a mono call; labels are provisional ("spk0", "spk1", …) until roles are set."""

    segments: tuple[SpeechSegment, ...]
    n_speakers: int
    speaker_seconds: dict[str, float]
    centroid_similarity: float | None
    """Highest cosine similarity between two speaker centroids (lower = better separated)."""
    overlap_suspects: tuple[tuple[float, float], ...] = ()
    method: str = "resemblyzer+agglomerative"
    """"…+two-speaker-default" / "…+one-cluster" when the voices formed one cluster (see the constants)."""
    units: tuple[SpeechSegment, ...] = ()
    """One-cluster calls only: the VAD speech segments, the units `turntaking` labels."""
    unit_embeddings: np.ndarray | None = field(default=None, compare=False, repr=False)
    """One-cluster calls only: (len(units), 256) mean voice embedding per unit (zeros: too short to embed)."""

    @property
    def labels(self) -> list[str]:
        return sorted(self.speaker_seconds)


# --------------------------------------------------------------------------------------------- embeddings


@lru_cache(maxsize=1)
def _encoder() -> Any:
    import torch  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # webrtcvad (imported by resemblyzer) warns about pkg_resources
        from resemblyzer.voice_encoder import VoiceEncoder

    enc = VoiceEncoder(device="cpu", verbose=False)
    enc.eval()
    return enc


def _mel(samples: np.ndarray) -> np.ndarray:
    """Power mel spectrogram (frames × 40) exactly as resemblyzer computes it."""
    import librosa

    m = librosa.feature.melspectrogram(
        y=samples.astype(np.float32, copy=False), sr=SAMPLE_RATE, n_fft=400, hop_length=160, n_mels=40
    )
    return m.astype(np.float32).T


def _embed(mels: list[np.ndarray]) -> np.ndarray:
    """L2-normalised embeddings of variable-length mel windows (packed LSTM batch)."""
    import torch
    from torch.nn.utils.rnn import pack_sequence

    enc = _encoder()
    out = np.zeros((len(mels), 256), np.float32)
    batch = 256
    with torch.inference_mode():
        for i in range(0, len(mels), batch):
            chunk = [torch.from_numpy(m) for m in mels[i : i + batch]]
            packed = pack_sequence(chunk, enforce_sorted=False)
            _, (hidden, _) = enc.lstm(packed)
            raw = enc.relu(enc.linear(hidden[-1]))
            out[i : i + len(chunk)] = (raw / torch.clamp(torch.norm(raw, dim=1, keepdim=True), min=1e-8)).numpy()
    return out


@dataclass(frozen=True)
class _Windows:
    frames: np.ndarray  # (n, 2) start/end frame of each window
    seg: np.ndarray  # (n,) index of the VAD segment
    emb: np.ndarray  # (n, 256)


def _windows(samples: np.ndarray, speech: Sequence[SpeechSegment], o: DiarizeOptions) -> _Windows:
    mel = _mel(samples)
    hop = max(1, int(round(o.hop_s / FRAME_S)))
    min_len = int(round(o.min_window_s / FRAME_S))
    spans: list[tuple[int, int, int]] = []
    mels: list[np.ndarray] = []
    for i, s in enumerate(speech):
        a, b = int(s.start / FRAME_S), min(int(np.ceil(s.end / FRAME_S)), len(mel))
        if b - a < min_len:
            continue
        # volume-normalise each segment to -30 dBFS like resemblyzer's preprocessing (mel is power ∝ gain²)
        seg = samples[int(s.start * SAMPLE_RATE) : int(s.end * SAMPLE_RATE)]
        rms = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64)))) if seg.size else 0.0
        gain2 = (10 ** (-30 / 20) / rms) ** 2 if rms > 0 else 1.0
        if b - a <= WIN_FRAMES:
            starts = [a]
        else:
            starts = list(range(a, b - WIN_FRAMES + 1, hop))
            if starts[-1] != b - WIN_FRAMES:
                starts.append(b - WIN_FRAMES)
        for st in starts:
            en = min(st + WIN_FRAMES, b)
            spans.append((st, en, i))
            mels.append(np.ascontiguousarray(mel[st:en] * gain2))
    if not spans:
        return _Windows(np.zeros((0, 2), int), np.zeros(0, int), np.zeros((0, 256), np.float32))
    arr = np.array(spans)
    return _Windows(arr[:, :2], arr[:, 2], _embed(mels))


# --------------------------------------------------------------------------------------------- clustering


def _cluster(emb: np.ndarray, weights: np.ndarray, o: DiarizeOptions) -> np.ndarray:
    """Cluster labels 0..k-1 (largest first) for window embeddings."""
    n = len(emb)
    if n < 2:
        return np.zeros(n, int)
    from sklearn.cluster import AgglomerativeClustering

    labels = AgglomerativeClustering(
        n_clusters=None, distance_threshold=o.cluster_threshold, metric="cosine", linkage="average"
    ).fit_predict(emb)
    total = float(weights.sum())
    while True:
        ids = np.unique(labels)
        if len(ids) == 1:
            break
        mass = np.array([weights[labels == c].sum() for c in ids])
        small = [c for c, m in zip(ids, mass, strict=True) if m < o.min_speaker_s or m / total < o.min_speaker_share]
        if len(ids) > o.max_speakers and not small:
            small = [ids[int(np.argmin(mass))]]
        if not small:
            break
        victim = min(small, key=lambda c: weights[labels == c].sum())
        cents = {c: _unit(emb[labels == c].mean(0)) for c in ids if c != victim}
        for i in np.where(labels == victim)[0]:
            labels[i] = max(cents, key=lambda c: float(emb[i] @ cents[c]))
    ids, counts = np.unique(labels, return_counts=True)
    order = [c for _, c in sorted((-weights[labels == c].sum(), c) for c in ids)]
    remap = {c: k for k, c in enumerate(order)}
    return np.array([remap[c] for c in labels])


def _split_two(emb: np.ndarray, weights: np.ndarray, seg: np.ndarray, o: DiarizeOptions) -> np.ndarray | None:
    """Window labels 0/1 when the speech of a one-cluster call splits into two turn-taking voices, else None.

    Two similar voices (same sex and age, a mono mixdown) can sit inside one cluster. The split is made per VAD
    segment (a turn between pauses is one speaker) with 2-means on the segment embeddings, and kept when either
    the halves are distinguishable (centroid similarity < `one_speaker_similarity`) or the segments alternate
    between the halves clearly more than a random split would (conversation = turn-taking); a single voice
    (IVR, one party) split in two gives near-identical halves in no particular order.
    """
    ids = np.unique(seg)
    if len(ids) < 4:
        return None
    from sklearn.cluster import KMeans

    seg_emb = np.stack([_unit(emb[seg == i].mean(0)) for i in ids])
    seg_w = np.array([weights[seg == i].sum() for i in ids])
    lab = KMeans(n_clusters=2, n_init=10, random_state=0).fit_predict(seg_emb, sample_weight=seg_w)
    mass = np.array([seg_w[lab == c].sum() for c in (0, 1)])
    total = float(mass.sum())
    if mass.min() < o.min_speaker_s or mass.min() / total < o.min_speaker_share:
        return None
    p = float(np.mean(lab == 0))
    alternation = float(np.mean(lab[1:] != lab[:-1]))
    cents = [_unit(seg_emb[lab == c].mean(0)) for c in (0, 1)]
    similarity = float(cents[0] @ cents[1])
    if similarity >= o.one_speaker_similarity and alternation < 2 * p * (1 - p) + o.alternation_margin:
        return None
    by_id = dict(zip(ids.tolist(), lab.tolist(), strict=True))
    out = np.array([by_id[int(i)] for i in seg])
    # largest first, as `_cluster` numbers them
    return out if weights[out == 0].sum() >= weights[out == 1].sum() else 1 - out


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


# --------------------------------------------------------------------------------------------- diarize


def diarize(samples: np.ndarray, timeline: Timeline, options: DiarizeOptions = DiarizeOptions()) -> Diarization:
    """Speaker-labelled segments ("spk0", "spk1", …; spk0 speaks most) for the mono mix `samples`."""
    o = options
    speech = [s for s in timeline.speech]
    win = _windows(samples, speech, o)
    if len(win.emb) == 0:
        segs = tuple(replace(s, speaker="spk0") for s in speech)  # type: ignore[arg-type]
        return Diarization(segs, 1, {"spk0": round(sum(s.duration for s in speech), 2)}, None)
    weights = (win.frames[:, 1] - win.frames[:, 0]) * FRAME_S * o.hop_s / 1.6
    labels = _cluster(win.emb, weights, o)
    method = "resemblyzer+agglomerative"
    if o.two_speakers_default and labels.max() == 0:
        two = _split_two(win.emb, weights, win.seg, o)
        if two is not None:
            labels, method = two, FORCED_SPLIT_METHOD
        else:
            method = ONE_CLUSTER_METHOD
    k = int(labels.max()) + 1
    cents = np.stack([_unit(win.emb[labels == c].mean(0)) for c in range(k)])
    sims = win.emb @ cents.T  # (n, k)
    centroid_sim = None
    if k > 1:
        cs = cents @ cents.T
        centroid_sim = float(np.max(cs[~np.eye(k, dtype=bool)]))

    # overlap suspects: windows close to two clusters at once
    suspects: list[tuple[float, float]] = []
    if k > 1:
        top2 = np.sort(sims, axis=1)[:, -2:]
        for (a, b), (s2, s1) in zip(win.frames, top2, strict=True):
            if s1 - s2 < o.overlap_margin:
                suspects.append((round(a * FRAME_S, 2), round(b * FRAME_S, 2)))
    suspects = merge_intervals(suspects)

    # resegmentation: frame-level scores = mean similarity of covering windows
    out: list[SpeechSegment] = []
    by_seg: dict[int, list[int]] = {}
    for w, si in enumerate(win.seg):
        by_seg.setdefault(int(si), []).append(w)
    seg_label: dict[int, int] = {}
    for i, s in enumerate(speech):
        ws = by_seg.get(i)
        if not ws:
            continue
        a = int(s.start / FRAME_S)
        n = max(1, int(np.ceil(s.end / FRAME_S)) - a)
        acc = np.zeros((n, k))
        cnt = np.zeros(n)
        for w in ws:
            fa, fb = win.frames[w] - a
            acc[max(fa, 0) : max(fb, 0)] += sims[w]
            cnt[max(fa, 0) : max(fb, 0)] += 1
        covered = cnt > 0
        # frames no window reaches (segment tail beyond the last window) take the nearest covered frame
        if not covered.all():
            idx = np.where(covered)[0]
            near = idx[np.clip(np.searchsorted(idx, np.arange(n)), 0, len(idx) - 1)]
            acc[~covered] = acc[near[~covered]]
            cnt[~covered] = cnt[near[~covered]]
        lab = np.argmax(acc / cnt[:, None], axis=1)
        runs = _absorb_short_runs(_runs(lab), int(round(o.min_run_s / FRAME_S)))
        seg_label[i] = max(runs, key=lambda r: r[2] - r[1])[0]
        for c, ra, rb in runs:
            t0 = s.start if ra == 0 else round((a + ra) * FRAME_S, 3)
            t1 = s.end if rb == n else round((a + rb) * FRAME_S, 3)
            if t1 > t0:
                out.append(SpeechSegment(f"spk{c}", t0, t1, s.loudness_dbfs))  # type: ignore[arg-type]
    # segments too short to embed: nearest embedded neighbour in time
    for i, s in enumerate(speech):
        if i in seg_label:
            continue
        if seg_label:
            j = min(seg_label, key=lambda j: min(abs(speech[j].end - s.start), abs(s.end - speech[j].start)))
            c = seg_label[j]
        else:
            c = 0
        out.append(SpeechSegment(f"spk{c}", s.start, s.end, s.loudness_dbfs))  # type: ignore[arg-type]
    out.sort(key=lambda s: (s.start, s.end))
    secs: dict[str, float] = {}
    for s in out:
        secs[s.speaker] = round(secs.get(s.speaker, 0.0) + s.duration, 2)
    units: tuple[SpeechSegment, ...] = ()
    unit_emb = None
    if method != "resemblyzer+agglomerative":
        units = tuple(speech)
        unit_emb = np.zeros((len(speech), win.emb.shape[1]), np.float32)
        for i in np.unique(win.seg):
            unit_emb[i] = _unit(win.emb[win.seg == i].mean(0))
    return Diarization(tuple(out), len(secs), secs, centroid_sim, tuple(suspects), method, units, unit_emb)


def _runs(lab: np.ndarray) -> list[tuple[int, int, int]]:
    runs: list[tuple[int, int, int]] = []
    start = 0
    for j in range(1, len(lab) + 1):
        if j == len(lab) or lab[j] != lab[start]:
            runs.append((int(lab[start]), start, j))
            start = j
    return runs


def _absorb_short_runs(runs: list[tuple[int, int, int]], min_len: int) -> list[tuple[int, int, int]]:
    runs = list(runs)
    while len(runs) > 1:
        i = min(range(len(runs)), key=lambda j: runs[j][2] - runs[j][1])
        c, a, b = runs[i]
        if b - a >= min_len:
            break
        if i == 0:
            nb = 1
        elif i == len(runs) - 1:
            nb = i - 1
        else:
            nb = i - 1 if runs[i - 1][2] - runs[i - 1][1] >= runs[i + 1][2] - runs[i + 1][1] else i + 1
        nc = runs[nb][0]
        runs[i] = (nc, a, b)
        merged: list[tuple[int, int, int]] = []
        for r in runs:
            if merged and merged[-1][0] == r[0]:
                merged[-1] = (r[0], merged[-1][1], r[2])
            else:
                merged.append(r)
        runs = merged
    return runs


def provisional_timeline(timeline: Timeline, diar: Diarization) -> Timeline:
    """The call's timeline with speech labelled by provisional speaker (spk0, spk1, …): what the ASR
    transcribes per speaker before roles are known."""
    from .timeline import timeline_from_segments

    return replace(timeline_from_segments(list(diar.segments), timeline.duration, timeline.layout), vad=timeline.vad)
