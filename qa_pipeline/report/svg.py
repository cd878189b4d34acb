"""Tiny dependency-free SVG charts (inline in the HTML report, render offline)."""

from __future__ import annotations

from html import escape

FONT = "'Noto Sans CJK SC','Source Han Sans SC','WenQuanYi Micro Hei','Microsoft YaHei','PingFang SC',sans-serif"


def _svg(w: int, h: int, body: list[str], title: str, cls: str) -> str:
    return (
        f'<svg class="chart {cls}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}" font-family="{FONT}" font-size="12">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def bar_chart(
    labels: list[str],
    values: list[float],
    title: str,
    cls: str = "bar",
    w: int = 520,
    h: int = 260,
    colors: list[str] | None = None,
) -> str:
    pad_l, pad_b, pad_t = 40, 40, 30
    n = max(len(values), 1)
    vmax = max([v for v in values if v is not None] + [1])
    bw = (w - pad_l - 10) / n
    body = [
        f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{pad_l}" y1="{h - pad_b}" x2="{w - 5}" y2="{h - pad_b}" stroke="#555"/>',
    ]
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        v = v or 0
        bh = (h - pad_b - pad_t) * v / vmax
        x = pad_l + i * bw + bw * 0.15
        color = (colors or ["#2f6db5"] * n)[i]
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{h - pad_b - bh:.1f}" width="{bw * 0.7:.1f}" height="{bh:.1f}" '
            f'fill="{color}"><title>{escape(lab)}: {v:g}</title></rect>'
        )
        body.append(f'<text x="{x + bw * 0.35:.1f}" y="{h - pad_b - bh - 4:.1f}" text-anchor="middle">{v:g}</text>')
        body.append(f'<text x="{x + bw * 0.35:.1f}" y="{h - pad_b + 16}" text-anchor="middle">{escape(lab)}</text>')
    return _svg(w, h, body, title, cls)


def hbar_chart(
    labels: list[str],
    values: list[float | None],
    title: str,
    cls: str = "hbar",
    w: int = 620,
    percent: bool = True,
    threshold: float = 0.8,
) -> str:
    row, pad_t, pad_l = 24, 34, 200
    h = pad_t + row * max(len(values), 1) + 10
    span = w - pad_l - 60
    body = [f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{escape(title)}</text>']
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = pad_t + i * row
        body.append(f'<text x="{pad_l - 6}" y="{y + 15}" text-anchor="end">{escape(lab)}</text>')
        if v is None:
            body.append(f'<text x="{pad_l + 4}" y="{y + 15}" fill="#888">—</text>')
            continue
        color = "#c0392b" if v < threshold else "#2e8b57"
        body.append(
            f'<rect class="bar" x="{pad_l}" y="{y + 3}" width="{max(span * v, 1):.1f}" height="{row - 8}" '
            f'fill="{color}">'
            f"<title>{escape(lab)}: {v:.1%}</title></rect>"
        )
        body.append(f'<text x="{pad_l + span * v + 4:.1f}" y="{y + 15}">{v:.0%}</text>' if percent else "")
    return _svg(w, h, body, title, cls)


def line_chart(
    labels: list[str],
    values: list[float],
    title: str,
    cls: str = "line",
    w: int = 620,
    h: int = 260,
    ymin: float = 0,
    ymax: float = 100,
) -> str:
    pad_l, pad_b, pad_t, pad_r = 40, 50, 30, 20
    n = len(values)
    body = [
        f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{pad_l}" y1="{h - pad_b}" x2="{w - pad_r}" y2="{h - pad_b}" stroke="#555"/>',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{h - pad_b}" stroke="#555"/>',
    ]
    for t in (ymin, (ymin + ymax) / 2, ymax):
        y = h - pad_b - (h - pad_b - pad_t) * (t - ymin) / (ymax - ymin)
        body.append(f'<text x="{pad_l - 4}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')
    pts = []
    for i, v in enumerate(values):
        x = pad_l + ((w - pad_l - pad_r) * (i / (n - 1) if n > 1 else 0.5))
        y = h - pad_b - (h - pad_b - pad_t) * (min(max(v, ymin), ymax) - ymin) / (ymax - ymin)
        pts.append((x, y))
        body.append(
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#2f6db5">'
            f"<title>{escape(labels[i])}: {v:.1f}</title></circle>"
        )
        if n <= 31 and (n <= 10 or i % max(1, n // 10) == 0):
            body.append(
                f'<text x="{x:.1f}" y="{h - pad_b + 16}" text-anchor="middle" font-size="10">'
                f"{escape(labels[i][5:])}</text>"
            )
    if len(pts) > 1:
        body.insert(
            3,
            '<polyline class="trend" fill="none" stroke="#2f6db5" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            + '"/>',
        )
    return _svg(w, h, body, title, cls)
