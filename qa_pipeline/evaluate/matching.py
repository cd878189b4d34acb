"""Lining up predicted findings and events with labelled ones: one-to-one matching by time or by span."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .metrics import PRF, Errors

MIN_GAP_S = 0.5
"""An unmatched silence shorter than this counts neither as a false alarm nor as a miss: the truth lists only
gaps between turns (>= 0.5 s by construction), while the VAD also splits turns at comma pauses (0.3-0.5 s)."""
MIN_OVERLAP_S = 0.5
"""…and likewise unmatched overlaps (backchannels such as 嗯, which the truth does not list)."""


@dataclass(frozen=True)
class Span:
    start: float
    end: float


def match_occurrences(
    truth: Sequence[Span], pred: Sequence[Span], tolerance_s: float, mode: Literal["time", "span"] = "time"
) -> list[tuple[int, int]]:
    """One-to-one matching of predicted to true occurrences; returns (truth index, pred index) pairs.

    `time`: start and end must both be within `tolerance_s`. `span`: the predicted interval must overlap
    the true one widened by `tolerance_s` (a phrase inside a turn, a part of a stretch). Closest pairs
    (by |Δstart| + |Δend|) are matched first.
    """
    cands = []
    for i, t in enumerate(truth):
        for j, p in enumerate(pred):
            if mode == "time":
                ok = abs(p.start - t.start) <= tolerance_s and abs(p.end - t.end) <= tolerance_s
            else:
                ok = p.start <= t.end + tolerance_s and p.end >= t.start - tolerance_s
            if ok:
                cands.append((abs(p.start - t.start) + abs(p.end - t.end), i, j))
    used_t, used_p, pairs = set(), set(), []
    for _, i, j in sorted(cands):
        if i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def match_timeline(
    truth_items: list[dict[str, Any]] | None,
    events: list[dict[str, Any]],
    event_type: str,
    tolerance_s: float,
    min_s: float,
    prf: PRF,
    start_err: Errors,
    end_err: Errors,
) -> None:
    """Match truth spans to predicted events of one type; tally P/R/F1 and start/end errors."""
    truth = [Span(t["start"], t["end"]) for t in truth_items or []]
    pred = [Span(e["start"], e["end"]) for e in events if e["type"] == event_type]
    pairs = match_occurrences(truth, pred, tolerance_s)
    prf.add(*unmatched(truth, pred, pairs, min_s))
    for i, j in pairs:
        start_err.values.append(pred[j].start - truth[i].start)
        end_err.values.append(pred[j].end - truth[i].end)


def unmatched(
    truth: Sequence[Span], pred: Sequence[Span], pairs: list[tuple[int, int]], min_s: float
) -> tuple[int, int, int]:
    """(tp, fp, fn) where unmatched items shorter than `min_s` are neither false alarms nor misses."""
    mt, mp = {i for i, _ in pairs}, {j for _, j in pairs}
    fp = sum(1 for j, p in enumerate(pred) if j not in mp and p.end - p.start >= min_s)
    fn = sum(1 for i, t in enumerate(truth) if i not in mt and t.end - t.start >= min_s)
    return len(pairs), fp, fn
