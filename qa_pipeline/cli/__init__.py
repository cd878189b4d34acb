"""`callqa`: the command line — every command lives in this package, one module per command group.

Thin: parse options, call the library, print through the one pair of consoles (`cli.console`) with text
from the message catalog (`qa_pipeline.i18n`, domain ``cli``). No module outside this package imports
typer or rich.

    score.py     score, check          (call_report.py renders `check`)
    rubric.py    rubric show / validate
    models.py    models, models install / convert
    evaluate.py  eval
    store.py     import, scorecard, search, clip
    synth.py     synth
    review.py    users, serve, review export / import (check --db renders through it)
    rules.py     rules test, rescore
"""

from __future__ import annotations

from . import evaluate, models, review, rubric, rules, score, store, synth  # noqa: F401  (modules register their commands)
from .app import app

__all__ = ["app"]
