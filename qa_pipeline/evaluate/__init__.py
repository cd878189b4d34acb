"""Accuracy of scored calls against labelled ground truth (`callqa eval`; docs/accuracy.md).

harness.py   evaluate(results_dir, truth_dir) → EvalReport; sample_jobs for the labelled samples
metrics.py   CER (the project's one), P/R/F1 tallies, absolute errors, diarization error rate
matching.py  one-to-one matching of findings/events with labelled occurrences
report.py    markdown rendering, accuracy.json + accuracy.md
"""

from __future__ import annotations

from .harness import (
    OCCURRENCE_CHECKS,
    PHRASE_CHECKS,
    QUALITY_ORDER,
    CallEval,
    EvalReport,
    evaluate,
    mono_diarization,
    predicted_status,
    sample_jobs,
)
from .matching import MIN_GAP_S, MIN_OVERLAP_S, Span, match_occurrences
from .metrics import PRF, Errors, cer, character_error_rate, diarization_error_rate, edit_distance
from .report import to_markdown, write_report

__all__ = [
    "MIN_GAP_S",
    "MIN_OVERLAP_S",
    "OCCURRENCE_CHECKS",
    "PHRASE_CHECKS",
    "PRF",
    "QUALITY_ORDER",
    "CallEval",
    "Errors",
    "EvalReport",
    "Span",
    "cer",
    "character_error_rate",
    "diarization_error_rate",
    "edit_distance",
    "evaluate",
    "match_occurrences",
    "mono_diarization",
    "predicted_status",
    "sample_jobs",
    "to_markdown",
    "write_report",
]
