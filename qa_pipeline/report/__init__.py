"""Agent scorecards (xlsx / csv / html) computed from the QA database."""

from .scorecard import Scorecard, build_scorecard
from .write import write_scorecard

__all__ = ["Scorecard", "build_scorecard", "write_scorecard"]
