"""XLSX scorecard with openpyxl: the fallback when xlsxwriter is not installed (slower, same workbook)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.formatting.rule import CellIsRule, ColorScaleRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .scorecard import LOW_SCORE, Scorecard, views

HEADER_FILL = PatternFill("solid", start_color="FF1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFFFF", name="微软雅黑")
RED_FILL = PatternFill("solid", start_color="FFFFC7CE", end_color="FFFFC7CE")
RED_FONT = Font(color="FF9C0006")

SCORE_COLS = {"平均分", "中位数", "最低分", "最高分", "得分"}


def _write_sheet(wb: Workbook, title: str, df: pd.DataFrame, freeze_cols: int = 2):
    ws = wb.create_sheet(title)
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        ws.append(
            [
                None
                if (isinstance(x, float) and pd.isna(x)) or x is pd.NA
                else (x.to_pydatetime() if isinstance(x, pd.Timestamp) else (x.item() if hasattr(x, "item") else x))
                for x in row
            ]
        )
    for cell in ws[1]:
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[1].height = 32
    ws.freeze_panes = ws.cell(row=2, column=freeze_cols + 1).coordinate
    n = ws.max_row
    for j, col in enumerate(df.columns, start=1):
        letter = get_column_letter(j)
        width = max([len(str(col)) * 2] + [len(str(v)) * 2 for v in df[col].head(200).tolist()])
        ws.column_dimensions[letter].width = min(max(10, width), 60)
        fmt = None
        if col in SCORE_COLS:
            fmt = "0.0"
            if n > 1:
                ws.conditional_formatting.add(
                    f"{letter}2:{letter}{n}",
                    CellIsRule(operator="lessThan", formula=[str(LOW_SCORE)], fill=RED_FILL, font=RED_FONT),
                )
        elif title == "评分项通过率" and j > 2:
            fmt = "0.0%"
            if n > 1:
                ws.conditional_formatting.add(
                    f"{letter}2:{letter}{n}",
                    ColorScaleRule(
                        start_type="num",
                        start_value=0,
                        start_color="FFF8696B",
                        mid_type="num",
                        mid_value=0.8,
                        mid_color="FFFFEB84",
                        end_type="num",
                        end_value=1,
                        end_color="FF63BE7B",
                    ),
                )
        elif col == "时间点(秒)":
            fmt = "0.0"
        elif col == "通话时间":
            fmt = "yyyy-mm-dd hh:mm"
        elif pd.api.types.is_integer_dtype(df[col].dtype):
            fmt = "0"
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.number_format = fmt
    ws.auto_filter.ref = ws.dimensions
    return ws


def write_xlsx(card: Scorecard, out: Path) -> list[Path]:
    wb = Workbook()
    wb.remove(wb.active)
    for title, df in views(card).items():
        freeze = 3 if title in ("汇总", "每日趋势") else 2
        _write_sheet(wb, title, df, freeze_cols=freeze)
    info = wb.create_sheet("说明")
    info.append(["项目", "内容"])
    for row in (
        ("日期范围", f"{card.date_from or '—'} 至 {card.date_to or '—'}"),
        ("班组", card.team or "全部"),
        ("坐席", card.agent or "全部"),
        ("评分通话数", card.overall.get("calls", 0)),
        ("通过率口径", "通过 /（通过 + 不通过 + 待复核），不适用项不计"),
        ("低分标红", f"得分低于 {LOW_SCORE:g} 分"),
    ):
        info.append(list(row))
    info.freeze_panes = "A2"
    info.column_dimensions["A"].width, info.column_dimensions["B"].width = 14, 60
    wb.save(out)
    return [out]
