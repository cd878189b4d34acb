"""SQLite (SQLAlchemy Core) store for call results: import, scorecards, transcript search, clips."""

from .db import Store, open_store
from .importer import ImportReport, import_results

__all__ = ["Store", "open_store", "ImportReport", "import_results"]
