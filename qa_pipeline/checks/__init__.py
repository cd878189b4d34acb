"""Checks: the catalogue and registry (`registry`), and the implementations that register into it.

Importing this package registers every built-in check (the modules below), so `qa_pipeline.checks.registry`
— which Python imports only after this package — always sees them.
"""

from __future__ import annotations

from . import phrases, timing, waits  # noqa: F401  (modules register their checks on import)
from .registry import (
    CATALOG,
    CheckContext,
    CheckInfo,
    CheckSpec,
    all_checks,
    check_info,
    check_label,
    check_names,
    get_check,
    run_check,
)

__all__ = [
    "CATALOG",
    "CheckContext",
    "CheckInfo",
    "CheckSpec",
    "all_checks",
    "check_info",
    "check_label",
    "check_names",
    "get_check",
    "run_check",
]
