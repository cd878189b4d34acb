"""XLSX scorecard (xlsxwriter): one sheet per view, frozen headers, number formats, low scores coloured.

xlsxwriter streams whole columns with one format each (no per-cell style objects), which keeps a month's
scorecard for hundreds of agents well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from ..i18n import t
from .scorecard import LOW_SCORE, Scorecard, column, date_range, score_column_titles, sheet_title, views

HEADER = {
    "bold": True,
    "font_color": "#FFFFFF",
    "bg_color": "#1F4E79",
    "pattern": 1,
    "align": "center",
    "valign": "vcenter",
    "text_wrap": True,
}
RED = {"bg_color": "#FFC7CE", "font_color": "#9C0006"}


def _clean(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for x in values:
        if x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and math.isnan(x)):
            out.append(None)
        elif isinstance(x, pd.Timestamp):
            out.append(x.to_pydatetime().replace(tzinfo=None))
        elif hasattr(x, "item"):  # numpy scalar
            out.append(x.item())
        else:
            out.append(x)
    return out


def _write_sheet(wb, fmts: dict, sheet: str, df: pd.DataFrame, freeze_cols: int = 2):
    ws = wb.add_worksheet(sheet_title(sheet))
    scores, offset, started = score_column_titles(), column("offset_s"), column("started_at")
    ws.set_row(0, 32)
    ws.write_row(0, 0, [str(c) for c in df.columns], fmts["header"])
    n = len(df)
    for j, col in enumerate(df.columns):
        values = _clean(df[col].tolist())
        fmt, cond = None, None
        if col in scores:
            fmt, cond = fmts["0.0"], "low"
        elif sheet == "items" and j > 1:
            fmt, cond = fmts["0.0%"], "scale"
        elif col == offset:
            fmt = fmts["0.0"]
        elif col == started:
            fmt = fmts["datetime"]
        elif pd.api.types.is_integer_dtype(df[col].dtype):
            fmt = fmts["0"]
        width = max([len(str(col)) * 2] + [len(str(v)) * 2 for v in values[:200]])
        ws.set_column(j, j, min(max(10, width), 60))
        for i, v in enumerate(values, start=1):
            if v is None:
                if fmt is not None:
                    ws.write_blank(i, j, None, fmt)
            elif isinstance(v, str):
                ws.write_string(i, j, v, fmt)  # text stays text: never a formula or a link
            else:
                ws.write(i, j, v, fmt)
        if n and cond == "low":
            ws.conditional_format(
                1, j, n, j, {"type": "cell", "criteria": "<", "value": LOW_SCORE, "format": fmts["red"]}
            )
        elif n and cond == "scale":
            ws.conditional_format(
                1,
                j,
                n,
                j,
                {
                    "type": "3_color_scale",
                    "min_type": "num",
                    "min_value": 0,
                    "min_color": "#F8696B",
                    "mid_type": "num",
                    "mid_value": 0.8,
                    "mid_color": "#FFEB84",
                    "max_type": "num",
                    "max_value": 1,
                    "max_color": "#63BE7B",
                },
            )
    ws.freeze_panes(1, freeze_cols)
    if len(df.columns):
        ws.autofilter(0, 0, n, len(df.columns) - 1)
    return ws


def write_xlsx(card: Scorecard, out: Path) -> list[Path]:
    # names, teams and ids are data: never let a cell become a formula or a link (OWASP CSV/formula injection)
    wb = xlsxwriter.Workbook(
        str(out),
        {
            "nan_inf_to_errors": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    fmts = {
        "header": wb.add_format({**HEADER, "font_name": t("scorecard.font")}),
        "red": wb.add_format(RED),
        "0.0": wb.add_format({"num_format": "0.0"}),
        "0.0%": wb.add_format({"num_format": "0.0%"}),
        "0": wb.add_format({"num_format": "0"}),
        "datetime": wb.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
    }
    for sheet, df in views(card).items():
        freeze = 3 if sheet in ("summary", "trend") else 2
        _write_sheet(wb, fmts, sheet, df, freeze_cols=freeze)
    info = wb.add_worksheet(sheet_title("about"))
    every = t("scorecard.about.all")
    rows = [
        (t("scorecard.about.item"), t("scorecard.about.value")),
        (t("scorecard.about.range"), date_range(card)),
        (column("team"), card.team or every),
        (column("agent_name"), card.agent or every),
        (column("calls"), card.overall.get("calls", 0)),
        (t("scorecard.about.pass_rate"), t("scorecard.about.pass_rate_rule")),
        (t("scorecard.about.low"), t("scorecard.about.low_rule", low=f"{LOW_SCORE:g}")),
        (t("judge.col.verdict"), t("judge.verdict_rule")),
    ]
    for i, row in enumerate(rows):
        info.write_row(i, 0, list(row))
    info.freeze_panes(1, 0)
    info.set_column(0, 0, 14)
    info.set_column(1, 1, 60)
    wb.close()
    return [out]
