"""Accuracy metrics: one CER, precision/recall/F1 tallies, absolute errors, and the diarization error rate."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cn2an
import numpy as np
from rapidfuzz.distance import Levenshtein

from ..text import normalize


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance (substitutions + deletions + insertions) between two sequences."""
    return Levenshtein.distance(ref, hyp)


def cer_text(text: str) -> str:
    """The form CER compares: normalised (`text.normalize`), numbers spelt out as words."""
    # Whisper writes numbers as digits (58元), scripts and people as words (五十八元): compare words
    return normalize(cn2an.transform(normalize(text), "an2cn"))


def cer(ref: str, hyp: str) -> tuple[int, int]:
    """(edits, reference length) on normalised text, numbers spelt out; CER = edits / length."""
    r, h = cer_text(ref), cer_text(hyp)
    return edit_distance(r, h), len(r)


def character_error_rate(ref: str, hyp: str) -> float:
    """CER on normalised text (Simplified, no punctuation)."""
    edits, n = cer(ref, hyp)
    return edits / max(n, 1)


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, tp: int, fp: int, fn: int) -> None:
        self.tp += tp
        self.fp += fp
        self.fn += fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        """F1; 1.0 when there was nothing to find and nothing was found (no errors at all)."""
        if self.tp + self.fp + self.fn == 0:
            return 1.0
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn)

    def to_json(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": rounded(self.precision),
            "recall": rounded(self.recall),
            "f1": rounded(self.f1),
        }


@dataclass
class Errors:
    """Absolute errors (seconds, or any unit) of matched items."""

    values: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        v = [abs(x) for x in self.values]
        return {
            "n": len(v),
            "mean_abs": rounded(statistics.fmean(v)) if v else None,
            "max_abs": rounded(max(v)) if v else None,
        }


def rounded(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


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
    correct = float(sum(overlap[i, j] for i, j in zip(ri, hi, strict=True)))
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
