"""Self-contained HTML scorecard: inline CSS + inline SVG charts, no network access needed."""

from __future__ import annotations

from html import escape
from pathlib import Path

import pandas as pd

from .scorecard import BIN_LABELS, LOW_SCORE, Scorecard
from .svg import FONT, bar_chart, hbar_chart, line_chart

CSS = f"""
body{{font-family:{FONT};margin:24px;color:#222}} h1{{font-size:22px}} h2{{font-size:18px;margin-top:28px}}
table{{border-collapse:collapse;font-size:13px;margin:8px 0}} th,td{{border:1px solid #ccc;padding:4px 8px}}
th{{background:#1f4e79;color:#fff;position:sticky;top:0}} td.num{{text-align:right}}
td.low{{background:#ffc7ce;color:#9c0006}} td.mid{{background:#ffeb9c}} .charts{{display:flex;flex-wrap:wrap;gap:24px}}
.meta{{color:#555}} .hl{{background:#ffe066}}
"""

# Marks each chart once the browser has laid it out (used by the headless-browser test).
CHECK_JS = """
document.addEventListener('DOMContentLoaded', function () {
  var svgs = document.querySelectorAll('svg.chart'), ok = 0;
  svgs.forEach(function (s) {
    var b = s.getBBox();
    if (b.width > 0 && b.height > 0) { s.setAttribute('data-rendered', '1'); ok++; }
  });
  document.body.setAttribute('data-charts-rendered', ok + '/' + svgs.length);
});
"""


def _fmt(v, kind: str = "") -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA:
        return ""
    if kind == "pct":
        return f"{v:.0%}"
    if isinstance(v, float):
        return f"{v:.1f}"
    return escape(str(v))


def _table(df: pd.DataFrame, cls: str, kinds: dict[str, str] | None = None) -> str:
    kinds = kinds or {}
    out = [
        f'<table class="{cls}"><thead><tr>'
        + "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
        + "</tr></thead><tbody>"
    ]
    for row in df.itertuples(index=False):
        tds = []
        for col, v in zip(df.columns, row, strict=True):
            kind = kinds.get(col, "")
            css = "num" if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
            if kind == "score" and v is not None and not pd.isna(v) and v < LOW_SCORE:
                css += " low"
            if kind == "pct" and v is not None and not pd.isna(v):
                css += " low" if v < 0.6 else (" mid" if v < 0.8 else "")
            tds.append(f'<td class="{css.strip()}">{_fmt(v, kind)}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_html(card: Scorecard) -> str:
    from .scorecard import views

    v = views(card)
    o = card.overall
    rng = f"{card.date_from or '—'} 至 {card.date_to or '—'}"
    filt = "，".join(
        x for x in (f"班组：{card.team}" if card.team else "", f"坐席：{card.agent}" if card.agent else "") if x
    )
    parts = [
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>坐席质检评分卡 {escape(rng)}</title>'
        f"<style>{CSS}</style><script>{CHECK_JS}</script></head><body>",
        f"<h1>坐席质检评分卡</h1><p class='meta'>日期：{escape(rng)} {escape(filt)}｜坐席 {o.get('agents', 0)} 人｜"
        f"评分通话 {o.get('calls', 0)} 通｜平均分 {_fmt(o.get('mean'))}｜致命差错 {o.get('fatal', 0)} 通｜"
        f"待复核 {o.get('review', 0)} 通｜处理失败 {o.get('failed', 0)} 通</p>",
    ]
    if card.empty:
        parts.append("<p>所选范围内没有通话。</p></body></html>")
        return "".join(parts)
    dist = o.get("distribution", {})
    colors = ["#c0392b", "#e67e22", "#f1c40f", "#7fb77e", "#2e8b57"]
    items = list(card.items.columns)
    rates = o.get("item_rates", {})
    days = sorted(o.get("day_means", {}))
    parts.append('<div class="charts">')
    parts.append(
        bar_chart(
            [f"{b}分" for b in BIN_LABELS],
            [dist.get(b, 0) for b in BIN_LABELS],
            "分数分布（通话数）",
            cls="dist",
            colors=colors,
        )
    )
    parts.append(
        hbar_chart(
            [card.item_titles.get(i, i) for i in items],
            [None if pd.isna(rates.get(i, float("nan"))) else rates.get(i) for i in items],
            "评分项通过率",
            cls="items",
        )
    )
    parts.append(line_chart(days, [o["day_means"][d] for d in days], "每日平均分趋势", cls="trend"))
    parts.append("</div>")
    score_kinds = {c: "score" for c in ("平均分", "中位数", "最低分", "最高分", "得分", "复核后平均分")}
    parts.append("<h2>坐席汇总</h2>" + _table(v["汇总"], "summary", score_kinds))
    parts.append("<h2>分数分布</h2>" + _table(v["分数分布"], "distribution"))
    it = v["评分项通过率"]
    parts.append("<h2>评分项通过率</h2>" + _table(it, "items", {c: "pct" for c in it.columns[2:]}))
    parts.append("<h2>违规次数</h2>" + _table(v["违规次数"], "violations"))
    parts.append("<h2>每日趋势</h2>" + _table(v["每日趋势"], "trend", score_kinds))
    w = v["最差通话"].copy()
    if "通话时间" in w:
        w["通话时间"] = w["通话时间"].astype(str).str.slice(0, 16)
    parts.append("<h2>最差通话</h2>" + _table(w, "worst", score_kinds))
    parts.append("</body></html>")
    return "".join(parts)


def write_html(card: Scorecard, out: Path) -> list[Path]:
    Path(out).write_text(render_html(card), encoding="utf-8")
    return [Path(out)]
