"""CSV scorecard: UTF-8 with BOM (Excel opens Chinese correctly).

FILE holds the per-agent summary joined with the distribution, item pass rates and violation
counts (one wide row per agent); FILE's siblings `<stem>_trend.csv` and `<stem>_worst.csv`
hold the daily trend and the worst calls.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..safe import spreadsheet_cell
from .scorecard import Scorecard, views


def write_csv(card: Scorecard, out: Path) -> list[Path]:
    v = views(card)
    wide = v["汇总"]
    for name, suffix in (("分数分布", ""), ("评分项通过率", ""), ("违规次数", "·违规")):
        part = v[name].drop(columns=["坐席工号", "坐席姓名"])
        if suffix:
            part.columns = [f"{c}{suffix}" for c in part.columns]
        if name == "评分项通过率":
            part = part.round(4)
        wide = wide.join(part)
    paths = [out, out.with_name(f"{out.stem}_trend.csv"), out.with_name(f"{out.stem}_worst.csv")]
    wide = wide.round({c: 2 for c in ("平均分", "中位数", "最低分", "最高分")})
    _safe(wide).to_csv(paths[0], index=False, encoding="utf-8-sig")
    _safe(v["每日趋势"].round(2)).to_csv(paths[1], index=False, encoding="utf-8-sig")
    _safe(v["最差通话"]).to_csv(paths[2], index=False, encoding="utf-8-sig")
    return paths


def _safe(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as formulas (=, +, -, @…) are neutralised (OWASP CSV injection)."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col].dtype) or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(spreadsheet_cell)
    out.columns = [spreadsheet_cell(str(c)) for c in out.columns]
    return out
