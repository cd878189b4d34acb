"""Which calls a person should listen to: 必检 (must), 抽检 (sample), 免检 (skip).

必检 reasons: a fatal (红线) item failed, the machine marked something needs_review, a low-confidence phrase hit
(matched by sound or fuzzily, below `low_confidence_score`), uncertain roles on a mono call (speech left
"unknown"), or the automatic part under `score_threshold_pct` of judged points.
抽检: of the remaining calls, per agent per day, `sample_n` calls or `sample_pct` % (at least one), chosen by a
seeded hash of the call id, so the same settings always pick the same calls whatever order the calls come in.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Bucket = Literal["must", "sample", "skip"]
BUCKETS: tuple[Bucket, ...] = ("must", "sample", "skip")
REASONS = ("fatal", "needs_review", "low_confidence", "uncertain_roles", "low_score", "low_precision")


@dataclass(frozen=True)
class TriageConfig:
    score_threshold_pct: float = 80.0
    sample_n: int = 2
    sample_pct: float | None = None  # when set, used instead of sample_n
    seed: str = "callqa"
    low_confidence_score: float = 0.95
    # a hit of a check whose precision learned from reviews is under this goes to 必检 (None: off); only checks
    # with at least `min_decisions` reviewed hits count (see review/machine_accuracy.py)
    min_precision: float | None = 0.6
    min_decisions: int = 10

    @property
    def key(self) -> str:
        """Identifies the settings a stored triage was computed with."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TriageInput:
    call_id: str
    agent_id: str | None
    call_date: str | None
    fatal: bool = False
    needs_review: bool = False
    low_confidence: bool = False
    uncertain_roles: bool = False
    score_pct: float | None = None  # automatic part, % of judged points
    low_precision: bool = False  # a hit of a check reviewers often reject (machine_accuracy.low_precision_checks)


@dataclass(frozen=True)
class TriageResult:
    call_id: str
    bucket: Bucket
    reasons: tuple[str, ...]


def must_reasons(c: TriageInput, config: TriageConfig) -> tuple[str, ...]:
    reasons = []
    if c.fatal:
        reasons.append("fatal")
    if c.needs_review:
        reasons.append("needs_review")
    if c.low_confidence:
        reasons.append("low_confidence")
    if c.uncertain_roles:
        reasons.append("uncertain_roles")
    if c.score_pct is not None and c.score_pct < config.score_threshold_pct:
        reasons.append("low_score")
    if c.low_precision:
        reasons.append("low_precision")
    return tuple(reasons)


def sample_rank(seed: str, call_id: str) -> str:
    return hashlib.sha256(f"{seed}\x00{call_id}".encode()).hexdigest()


def sample_size(n: int, config: TriageConfig) -> int:
    if n <= 0:
        return 0
    if config.sample_pct is not None:
        return min(n, max(1, math.ceil(n * config.sample_pct / 100.0)))
    return min(n, max(0, config.sample_n))


def triage(calls: Iterable[TriageInput], config: TriageConfig) -> list[TriageResult]:
    """Bucket every call (results in input order)."""
    calls = list(calls)
    out: dict[str, TriageResult] = {}
    groups: dict[tuple[str | None, str | None], list[TriageInput]] = {}
    for c in calls:
        reasons = must_reasons(c, config)
        if reasons:
            out[c.call_id] = TriageResult(c.call_id, "must", reasons)
        else:
            groups.setdefault((c.agent_id, c.call_date), []).append(c)
    for group in groups.values():
        ranked = sorted(group, key=lambda c: sample_rank(config.seed, c.call_id))
        k = sample_size(len(ranked), config)
        for i, c in enumerate(ranked):
            out[c.call_id] = TriageResult(c.call_id, "sample" if i < k else "skip", ())
    return [out[c.call_id] for c in calls]


def low_confidence_hit(status: str, detail: dict[str, Any], config: TriageConfig) -> bool:
    """A failing phrase hit matched by sound or fuzzily with a match score under the threshold."""
    if status != "fail":
        return False
    method, score = detail.get("method"), detail.get("score")
    if method in (None, "exact"):
        return False
    return isinstance(score, (int, float)) and float(score) < config.low_confidence_score
