"""CSV scorecard: UTF-8 with BOM (Excel opens Chinese correctly).

FILE holds the per-agent summary joined with the distribution, item pass rates and violation
counts (one wide row per agent); FILE's siblings `<stem>_trend.csv` and `<stem>_worst.csv`
hold the daily trend and the worst calls.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..i18n import t
from ..safe import spreadsheet_cell
from .scorecard import Scorecard, column, views


def write_csv(card: Scorecard, out: Path) -> list[Path]:
    v = views(card)
    wide = v["summary"]
    ids = [column("agent_id"), column("agent_name")]
    for sheet, suffix in (("distribution", ""), ("items", ""), ("violations", t("scorecard.violation_suffix"))):
        part = v[sheet].drop(columns=ids)
        if suffix:
            part.columns = [f"{c}{suffix}" for c in part.columns]
        if sheet == "items":
            part = part.round(4)
        wide = wide.join(part)
    paths = [out, out.with_name(f"{out.stem}_trend.csv"), out.with_name(f"{out.stem}_worst.csv")]
    wide = wide.round({column(c): 2 for c in ("mean", "median", "min", "max")})
    _safe(wide).to_csv(paths[0], index=False, encoding="utf-8-sig")
    _safe(v["trend"].round(2)).to_csv(paths[1], index=False, encoding="utf-8-sig")
    _safe(v["worst"]).to_csv(paths[2], index=False, encoding="utf-8-sig")
    return paths


def _safe(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as formulas (=, +, -, @…) are neutralised (OWASP CSV injection)."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col].dtype) or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(spreadsheet_cell)
    out.columns = [spreadsheet_cell(str(c)) for c in out.columns]
    return out
