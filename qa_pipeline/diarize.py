"""Speaker diarization and role assignment for mono calls (issue #5).

Flow inside `score_call` for a mono recording (see docs/diarization.md):

    VAD timeline (all "unknown")
      → `diarize`: speaker embeddings (resemblyzer VoiceEncoder, weights inside the wheel, CPU) on 1.6 s
        windows sliding over every VAD segment → agglomerative clustering (scikit-learn, cosine, average
        linkage, number of speakers from a distance threshold, 1–3) → resegmentation: every 10 ms frame of
        speech takes the cluster its covering windows are closest to, runs shorter than `min_run_s` are
        absorbed, VAD segments are split where the speaker changes → provisional labels spk0, spk1, …
      → ASR per provisional speaker (the engines transcribe `timeline.segments(label)` of the mono mix)
      → `assign_roles`: agent = the speaker who opens with the greeting/service phrasing and whose text
        matches the agent-side lexicons (greeting, closing, polite, hold_notice); customer = the other
      → `apply_roles`: Timeline and Transcript relabelled agent/customer, or left "unknown" when the
        assignment is not confident, so that role-dependent checks say `needs_review` (never a guess).

A third speaker (a second agent after a transfer) is labelled agent too when its own text carries agent
phrasing; otherwise the call stays unattributed. Overlapped speech cannot be separated in a mono mix:
windows whose embedding sits between two clusters are reported as suspected overlap, and
`qualify_mono_findings` turns the interruption finding of a mono call into `needs_review` (or adds its
confidence), never a silent pass.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from .types import SAMPLE_RATE, Finding, SpeechSegment, Timeline, Transcript, Utterance

__all__ = [
    "DiarizeOptions",
    "Diarization",
    "RoleAssignment",
    "diarize",
    "assign_roles",
    "apply_roles",
    "qualify_mono_findings",
    "diarization_error_rate",
    "diarize_and_transcribe",
]

FRAME_S = 0.01  # mel hop of the voice encoder (10 ms)
WIN_FRAMES = 160  # 1.6 s partials, what the encoder was trained on
AGENT_LEXICONS = ("greeting", "closing", "polite", "hold_notice")


DIARIZER_VERSION = "resemblyzer-0.1.4+agglomerative/1"
"""Recorded in results: calls diarized by another version are re-scored on resume."""


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
    overlap_margin: float = 0.04
    """A window whose similarities to its best two clusters differ by less than this is a suspected overlap."""
    role_min_confidence: float = 0.5
    """Below this role confidence the speakers stay "unknown" (role-dependent checks → needs_review)."""
    opening_s: float = 30.0
    """The greeting is looked for in the first utterances that start within this many seconds."""


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

    @property
    def labels(self) -> list[str]:
        return sorted(self.speaker_seconds)


@dataclass(frozen=True)
class RoleAssignment:
    roles: dict[str, str]
    """provisional label → "agent" | "customer" | "unknown"."""
    confidence: float
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str = ""

    @property
    def confident(self) -> bool:
        return all(r != "unknown" for r in self.roles.values())


# --------------------------------------------------------------------------------------------- embeddings


@lru_cache(maxsize=1)
def _encoder():  # type: ignore[no-untyped-def]
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
        small = [c for c, m in zip(ids, mass) if m < o.min_speaker_s or m / total < o.min_speaker_share]
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
        for (a, b), (s2, s1) in zip(win.frames, top2):
            if s1 - s2 < o.overlap_margin:
                suspects.append((round(a * FRAME_S, 2), round(b * FRAME_S, 2)))
    suspects = _merge_intervals(suspects)

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
    return Diarization(tuple(out), len(secs), secs, centroid_sim, tuple(suspects))


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


def _merge_intervals(iv: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(iv):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


# --------------------------------------------------------------------------------------------- roles


AGENT_CATEGORIES = {
    # lexicon → categories only an agent says (customers say 你好 / 谢谢 / 再见 too, so those do not count)
    "closing": {"anything_else"},
    "polite": {"please_wait", "please", "welcome", "sorry"},
    "hold_notice": None,  # every category
}
CUSTOMER_CUES = ("你们", "我想", "我要", "投诉", "我的号码", "我这个", "帮我")
"""Customer-side wording: the company addressed as 你们, requests in the first person, complaints."""


def _lex_hits(text: str) -> dict[str, list[str]]:
    from .lexicon import load_lexicon

    hits: dict[str, list[str]] = {}
    for name in AGENT_LEXICONS:
        ms = load_lexicon(name).find(text)
        if ms:
            hits[name] = sorted({m.category for m in ms})
    return hits


def assign_roles(
    utterances: Iterable[Utterance], diar: Diarization, options: DiarizeOptions = DiarizeOptions()
) -> RoleAssignment:
    """Agent/customer for each provisional label, from who opens with the greeting and who talks like an agent.

    Evidence per speaker (score = agent evidence − customer evidence):
    +3 when their first utterance (within `opening_s`) carries a greeting *service* phrase (很高兴为您服务,
    请问有什么可以帮您, 工号…为您服务; a bare 您好/你好 counts +1 only for whoever speaks first); +1 for the
    first speaker of the call (the agent answers); +1 per utterance with agent-only phrasing (closing
    "anything else", polite 请您稍等/麻烦您/不客气/抱歉, hold notices); +0.5 per utterance with 您;
    −1 per utterance with customer wording (你们, 我想, 我要, 投诉, …).
    The agent is the top speaker; confidence = (top − runner-up) / (|top| + |runner-up| + 2), and either the
    top score is positive or the runner-up's is negative (it talks like a customer). A third speaker is an agent too (second agent after a transfer) when both
    non-customer speakers have agent evidence of their own; otherwise confidence reflects the weaker one.
    """
    o = options
    labels = diar.labels
    utts = sorted((u for u in utterances if u.text.strip()), key=lambda u: u.start)
    ev: dict[str, dict[str, Any]] = {
        lab: {"score": 0.0, "opening": None, "agent_phrases": 0, "nin": 0, "customer_cues": 0, "utterances": 0}
        for lab in labels
    }
    first_seen: set[str] = set()
    for k, u in enumerate(u for u in utts if str(u.speaker) in ev):
        lab = str(u.speaker)
        e = ev[lab]
        e["utterances"] += 1
        hits = _lex_hits(u.text)
        if k == 0:
            e["score"] += 1
            e["opening"] = "first speaker"
        if lab not in first_seen and u.start <= o.opening_s:
            first_seen.add(lab)
            g = hits.get("greeting", [])
            if any(c in ("service", "vip") for c in g):
                e["score"] += 3
                e["opening"] = "service greeting"
            elif g and k == 0:
                e["score"] += 1
                e["opening"] = "first speaker, hello"
        if any(cats is None or set(hits.get(lex, ())) & cats for lex, cats in AGENT_CATEGORIES.items() if lex in hits):
            e["agent_phrases"] += 1
            e["score"] += 1
        if "您" in u.text:
            e["nin"] += 1
            e["score"] += 0.5
        if any(c in u.text for c in CUSTOMER_CUES):
            e["customer_cues"] += 1
            e["score"] -= 1
    if len(labels) < 2:
        return RoleAssignment({lab: "unknown" for lab in labels}, 0.0, ev, "only one speaker found")

    def conf_of(a: float, b: float) -> float:
        # evidence either way counts: agent phrasing on one side, or customer wording (complaints,
        # "你们") on the other side of a call whose agent never uses a service phrase
        return (a - b) / (abs(a) + abs(b) + 2) if (a > 0 or b < 0) else 0.0

    ranked = sorted(labels, key=lambda lab: -ev[lab]["score"])
    if len(labels) == 3:
        customer = ranked[-1]
        low = min(ev[a]["score"] for a in ranked[:2])
        conf = conf_of(low, ev[customer]["score"])
        roles = {lab: ("customer" if lab == customer else "agent") for lab in labels}
        reason = "three speakers: two with agent phrasing (agent + transferred agent), one customer"
    else:
        conf = conf_of(ev[ranked[0]]["score"], ev[ranked[1]]["score"])
        roles = {lab: "customer" for lab in labels}
        roles[ranked[0]] = "agent"
        reason = "agent = speaker with the greeting / agent phrasing"
    conf = round(max(0.0, conf), 3)
    if conf < o.role_min_confidence:
        return RoleAssignment(
            {lab: "unknown" for lab in labels},
            conf,
            ev,
            f"role evidence too weak (confidence {conf} < {o.role_min_confidence})",
        )
    return RoleAssignment(roles, conf, ev, reason)


def apply_roles(
    timeline: Timeline, diar: Diarization, transcript: Transcript, roles: RoleAssignment
) -> tuple[Timeline, Transcript]:
    """Relabel to agent/customer; when roles are not confident, return the VAD timeline and 'unknown' text."""
    from .timeline import timeline_from_segments

    if not roles.confident:
        utts = tuple(replace(u, speaker="unknown") for u in transcript.utterances)
        return timeline, replace(transcript, utterances=utts)
    segs = [replace(s, speaker=roles.roles[s.speaker]) for s in diar.segments]  # type: ignore[arg-type]
    new_tl = replace(timeline_from_segments(segs, timeline.duration, timeline.layout), vad=timeline.vad)
    utts = tuple(replace(u, speaker=roles.roles.get(u.speaker, "unknown")) for u in transcript.utterances)
    return new_tl, replace(transcript, utterances=utts)


def qualify_mono_findings(findings: Sequence[Finding], diar: Diarization) -> list[Finding]:
    """Interruptions cannot be judged from one diarized mono channel the way they are in stereo: overlap is
    invisible to VAD and only *suspected* from embeddings. A pass/fail interruption finding becomes
    needs_review when overlap is suspected, else keeps its status with the confidence attached."""
    out: list[Finding] = []
    for f in findings:
        if f.check == "interruption" and f.status in ("pass", "fail"):
            detail = {**f.detail, "mono": True, "overlap_suspects": [list(x) for x in diar.overlap_suspects[:20]]}
            if diar.overlap_suspects:
                detail["reason"] = "mono call: overlapped speech suspected, interruptions not judged"
                f = replace(f, status="needs_review", detail=detail)
            else:
                detail["confidence"] = "low (mono: overlap inferred from speaker embeddings, none found)"
                f = replace(f, detail=detail)
        out.append(f)
    return out


# --------------------------------------------------------------------------------------------- pipeline step


def diarize_and_transcribe(
    audio: Any, timeline: Timeline, asr: Any, options: DiarizeOptions = DiarizeOptions()
) -> tuple[Timeline, Transcript, dict[str, Any]]:
    """Mono call: diarize → ASR per provisional speaker → roles → relabelled (timeline, transcript, info)."""
    import time

    samples = next(iter(audio.parties.values()))
    t0 = time.perf_counter()
    diar = diarize(samples, timeline, options)
    t1 = time.perf_counter()
    from .timeline import timeline_from_segments

    prov = replace(timeline_from_segments(list(diar.segments), timeline.duration, timeline.layout), vad=timeline.vad)
    transcript = asr.transcribe(audio, prov)
    t2 = time.perf_counter()
    roles = assign_roles(transcript.utterances, diar, options)
    new_tl, new_tr = apply_roles(timeline, diar, transcript, roles)
    info = {
        "method": diar.method,
        "n_speakers": diar.n_speakers,
        "speaker_seconds": diar.speaker_seconds,
        "centroid_similarity": None if diar.centroid_similarity is None else round(diar.centroid_similarity, 3),
        "roles": roles.roles,
        "role_confidence": roles.confidence,
        "role_reason": roles.reason,
        "role_evidence": roles.evidence,
        "overlap_suspects": [list(x) for x in diar.overlap_suspects],
        "timings": {"diarize": round(t1 - t0, 3), "asr": round(t2 - t1, 3)},
    }
    new_tr = replace(new_tr, options={**new_tr.options, "diarization": info})
    return new_tl, new_tr, {"diarization": diar, "roles": roles, "info": info}


# --------------------------------------------------------------------------------------------- evaluation


def diarization_error_rate(
    reference: Sequence[tuple[str, float, float]],
    hypothesis: Sequence[tuple[str, float, float]],
    collar: float = 0.25,
    step: float = 0.01,
) -> dict[str, float]:
    """Frame-based DER (miss + false alarm + confusion) / reference speech, optimal 1:1 speaker mapping,
    ±`collar` s around every reference boundary not scored (NIST md-eval convention); overlap is scored."""
    from scipy.optimize import linear_sum_assignment

    end = max([e for _, _, e in (*reference, *hypothesis)] + [0.0])
    n = int(np.ceil(end / step)) + 1
    rs = sorted({r for r, _, _ in reference})
    hs = sorted({h for h, _, _ in hypothesis})
    R = np.zeros((len(rs), n), bool)
    H = np.zeros((len(hs), n), bool)
    for spk, a, b in reference:
        R[rs.index(spk), int(round(a / step)) : int(round(b / step))] = True
    for spk, a, b in hypothesis:
        H[hs.index(spk), int(round(a / step)) : int(round(b / step))] = True
    scored = np.ones(n, bool)
    c = int(round(collar / step))
    for _, a, b in reference:
        for t in (a, b):
            k = int(round(t / step))
            scored[max(0, k - c) : k + c] = False
    R, H = R[:, scored], H[:, scored]
    overlap = (R.astype(np.int32) @ H.T.astype(np.int32)) if len(rs) and len(hs) else np.zeros((len(rs), len(hs)))
    ri, hi = linear_sum_assignment(-overlap) if overlap.size else ([], [])
    correct = float(sum(overlap[i, j] for i, j in zip(ri, hi)))
    nr, nh = R.sum(0), H.sum(0)
    total = float(nr.sum())
    miss = float(np.maximum(nr - nh, 0).sum())
    fa = float(np.maximum(nh - nr, 0).sum())
    conf = float(np.minimum(nr, nh).sum()) - correct
    der = (miss + fa + conf) / total if total else 0.0
    return {
        "der": der,
        "miss": miss / max(total, 1),
        "false_alarm": fa / max(total, 1),
        "confusion": conf / max(total, 1),
        "scored_s": total * step,
    }
