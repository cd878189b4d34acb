"""Average handling time from stored calls: per queue (manifest) or topic tag, over a window of days before
the call (10086 item 四(二) 办理时长: "超过平均办理时间 25–50 % −5, > 50 % −8, > 70 % −10").

Daily sums and counts per key are read once; the average for a call is the mean duration of the stored calls
of its key in the `window_days` days before its date (the call's own day excluded, so a call never sets its
own yardstick). Fewer than `min_calls` such calls → no average (the check says needs_review).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from .store import schema as S


@dataclass(frozen=True)
class BaselineConfig:
    by: str = "queue"  # "queue" | "topic"
    window_days: int = 30
    min_calls: int = 20


class Baselines:
    """Prefix sums of (call count, total duration) per key and day."""

    def __init__(self, daily: dict[str, list[tuple[str, int, float]]]):
        self._days: dict[str, list[str]] = {}
        self._cum: dict[str, list[tuple[int, float]]] = {}
        for key, rows in daily.items():
            rows = sorted(rows)
            self._days[key] = [d for d, _, _ in rows]
            cum, n, s = [(0, 0.0)], 0, 0.0
            for _, k, total in rows:
                n, s = n + k, s + total
                cum.append((n, s))
            self._cum[key] = cum

    def average(self, key: str | None, day: str | None, window_days: int) -> tuple[float | None, int]:
        """(mean duration, number of calls) of `key`'s calls in the `window_days` days before `day`."""
        if key is None or day is None or key not in self._days:
            return None, 0
        try:
            d = date.fromisoformat(day[:10])
        except ValueError:
            return None, 0
        lo_day = (d - timedelta(days=window_days)).isoformat()
        days, cum = self._days[key], self._cum[key]
        lo, hi = bisect.bisect_left(days, lo_day), bisect.bisect_left(days, d.isoformat())
        n, s = cum[hi][0] - cum[lo][0], cum[hi][1] - cum[lo][1]
        return (s / n if n else None), n

    @classmethod
    def from_store(cls, conn: sa.Connection, by: str) -> Baselines:
        c = S.calls
        if by == "topic":
            t = S.call_tags
            q = (
                sa.select(t.c.tag, c.c.call_date, sa.func.count(), sa.func.sum(c.c.duration_s))
                .select_from(t.join(c, c.c.call_id == t.c.call_id))
                .where(c.c.status == "ok", c.c.call_date.is_not(None), c.c.duration_s.is_not(None))
                .group_by(t.c.tag, c.c.call_date)
            )
        else:
            q = (
                sa.select(c.c.queue, c.c.call_date, sa.func.count(), sa.func.sum(c.c.duration_s))
                .where(c.c.status == "ok", c.c.call_date.is_not(None), c.c.duration_s.is_not(None))
                .group_by(c.c.queue, c.c.call_date)
            )
        daily: dict[str, list[tuple[str, int, float]]] = {}
        for key, day, n, total in conn.execute(q):
            daily.setdefault(str(key or ""), []).append((day, int(n), float(total or 0.0)))
        return cls(daily)
