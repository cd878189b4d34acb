"""Self-contained HTML scorecard: inline CSS + inline SVG charts, no network access needed."""

from __future__ import annotations

from html import escape
from pathlib import Path

import pandas as pd

from ..i18n import language, t
from .scorecard import (
    BIN_LABELS,
    LOW_SCORE,
    Scorecard,
    column,
    date_range,
    score_column_titles,
    sheet_title,
    views,
)
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
    v = views(card)
    o = card.overall
    rng = date_range(card)
    filt = t("scorecard.filter_sep").join(
        x
        for x in (
            t("scorecard.filter.team", team=card.team) if card.team else "",
            t("scorecard.filter.agent", agent=card.agent) if card.agent else "",
        )
        if x
    )
    meta = t(
        "scorecard.meta",
        range=rng,
        filters=filt,
        agents=o.get("agents", 0),
        calls=o.get("calls", 0),
        mean=_fmt(o.get("mean")),
        fatal=o.get("fatal", 0),
        review=o.get("review", 0),
        failed=o.get("failed", 0),
    )
    title = t("scorecard.title")
    lang = "zh-CN" if language() == "zh" else language()
    parts = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)} {escape(rng)}</title>'
        f"<style>{CSS}</style><script>{CHECK_JS}</script></head><body>",
        f"<h1>{escape(title)}</h1><p class='meta'>{escape(meta)}</p>",
    ]
    if card.empty:
        parts.append(f"<p>{escape(t('scorecard.empty'))}</p></body></html>")
        return "".join(parts)
    dist = o.get("distribution", {})
    colors = ["#c0392b", "#e67e22", "#f1c40f", "#7fb77e", "#2e8b57"]
    items = list(card.items.columns)
    rates = o.get("item_rates", {})
    days = sorted(o.get("day_means", {}))
    parts.append('<div class="charts">')
    parts.append(
        bar_chart(
            [t("scorecard.bin", bin=b) for b in BIN_LABELS],
            [dist.get(b, 0) for b in BIN_LABELS],
            t("scorecard.chart.distribution"),
            cls="dist",
            colors=colors,
        )
    )
    parts.append(
        hbar_chart(
            [card.item_titles.get(i, i) for i in items],
            [None if pd.isna(rates.get(i, float("nan"))) else rates.get(i) for i in items],
            t("scorecard.chart.items"),
            cls="items",
        )
    )
    parts.append(line_chart(days, [o["day_means"][d] for d in days], t("scorecard.chart.trend"), cls="trend"))
    parts.append("</div>")
    score_kinds = {c: "score" for c in score_column_titles()}

    def section(sheet: str, df: pd.DataFrame, kinds: dict[str, str] | None = None) -> str:
        heading = t("scorecard.heading.summary") if sheet == "summary" else sheet_title(sheet)
        return f"<h2>{escape(heading)}</h2>" + _table(df, sheet, kinds)

    parts.append(section("summary", v["summary"], score_kinds))
    parts.append(section("distribution", v["distribution"]))
    it = v["items"]
    parts.append(section("items", it, {c: "pct" for c in it.columns[2:]}))
    parts.append(section("violations", v["violations"]))
    parts.append(section("trend", v["trend"], score_kinds))
    w = v["worst"].copy()
    started = column("started_at")
    if started in w:
        w[started] = w[started].astype(str).str.slice(0, 16)
    parts.append(section("worst", w, score_kinds))
    parts.append("</body></html>")
    return "".join(parts)


def write_html(card: Scorecard, out: Path) -> list[Path]:
    Path(out).write_text(render_html(card), encoding="utf-8")
    return [Path(out)]
