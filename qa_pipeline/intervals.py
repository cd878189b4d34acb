"""Interval arithmetic on (start, end) pairs in seconds: the one merge used by the timeline, diarization and
the ground truth."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise


def merge_intervals(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted union: overlapping or touching intervals become one."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def gaps_between(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The uncovered stretches between the intervals (not before the first or after the last)."""
    merged = merge_intervals(intervals)
    return [(end, start) for (_, end), (start, _) in pairwise(merged)]
