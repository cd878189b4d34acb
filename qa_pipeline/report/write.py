"""Write a scorecard in the format a supervisor asked for (the writers import the scorecard, not the reverse)."""

from __future__ import annotations

from pathlib import Path

from .scorecard import Scorecard


def write_scorecard(card: Scorecard, fmt: str, out: Path) -> list[Path]:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        from .xlsx import write_xlsx

        return write_xlsx(card, out)
    if fmt == "csv":
        from .csv_out import write_csv

        return write_csv(card, out)
    if fmt == "html":
        from .html import write_html

        return write_html(card, out)
    raise ValueError(f"unknown format {fmt!r} (xlsx, csv, html)")
