"""评分大盘: the supervisor dashboard, and the call list behind each of its numbers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from ..review import service as R
from ..review.dashboard import DashboardCache, DashFilter, Drill, dashboard, drill_calls
from .loop import Web
from .routes_accuracy import iso_or_none

DEFAULT_DAYS = 14  # this week and last week: the week-on-week change needs both


def register(app: FastAPI, web: Web) -> None:
    store, settings = web.store, web.settings
    # the configured pass mark, else the default rubric's (as the call page resolves it)
    pass_mark = (
        settings.pass_mark if settings.pass_mark is not None else 100.0 * R.rubric_named(R.DEFAULT_RUBRIC).pass_ratio
    )
    cache = DashboardCache()

    def _range(date_from: str, date_to: str) -> tuple[str, str]:
        d1 = iso_or_none(date_to) or R.latest_date(store) or date.today().isoformat()
        d0 = iso_or_none(date_from) or (date.fromisoformat(d1) - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        return (d0, d1) if d0 <= d1 else (d1, d0)

    @app.get("/dashboard", response_class=HTMLResponse)
    def dashboard_page(
        request: Request, date_from: str = "", date_to: str = "", team: str = "", agent: str = ""
    ) -> HTMLResponse:
        user = web.require(request, "view_dashboard")
        d0, d1 = _range(date_from, date_to)
        f = DashFilter(d0, d1, team or None, agent.strip() or None)
        rubric = R.rubric_named(R.DEFAULT_RUBRIC)
        dash = dashboard(store, f, [(i.id, i.title) for i in rubric.items], pass_mark, cache)
        base = {k: v for k, v in dict(date_from=d0, date_to=d1, team=team, agent=agent.strip()).items() if v}

        def drill(**kw: Any) -> str:
            q = {**base, **{k: v for k, v in kw.items() if v not in (None, "")}}
            return "/dashboard/calls?" + urlencode(q)

        # the agents × weeks table is the page's bulk (hundreds of rows): its cells are formatted here, once,
        # rather than through template macros, and each drill link is the week's encoded dates + the agent's part
        # (the same query drill(agent=…, date_from=…, date_to=…) builds, without 1,500 urlencode calls)
        week_parts = [urlencode({"date_from": w.start, "date_to": w.end}) for w in dash.weeks]
        trend: list[tuple[str, str, str, list[tuple[str, str, str] | None]]] = []
        for aid, name, tm, tallies in dash.agents:
            agent_part = urlencode({k: v for k, v in (("team", team), ("agent", aid)) if v})
            cells: list[tuple[str, str, str] | None] = []
            for week_part, x in zip(week_parts, tallies, strict=True):
                if not x.calls:
                    cells.append(None)
                    continue
                url = f"/dashboard/calls?{week_part}&{agent_part}" if agent_part else f"/dashboard/calls?{week_part}"
                sc = "—" if x.avg_score is None else f"{x.avg_score:.1f}"
                pr = "—" if x.pass_rate is None else f"{100 * x.pass_rate:.1f}%"
                cells.append((url, sc, f"{pr} · {x.calls}"))
            trend.append((aid, name, tm, cells))

        return web.render(
            request,
            "loop_dashboard.html",
            {
                "user": user,
                "d": dash,
                "teams": R.teams(store),
                "team": team,
                "agent": agent.strip(),
                "date_from": d0,
                "date_to": d1,
                "drill": drill,
                "trend": trend,
                "pass_mark": settings.pass_mark,
            },
        )

    @app.get("/dashboard/calls", response_class=HTMLResponse)
    def drill_page(
        request: Request,
        date_from: str = "",
        date_to: str = "",
        team: str = "",
        agent: str = "",
        outcome: str = "",
        reviewed: str = "",
        appealed: str = "",
        item: str = "",
        item_status: str = "",
    ) -> HTMLResponse:
        user = web.require(request, "view_dashboard")
        d0, d1 = _range(date_from, date_to)
        d = Drill(
            d0,
            d1,
            team or None,
            agent.strip() or None,
            outcome if outcome in ("pass", "nopass", "fatal") else None,
            bool(reviewed),
            bool(appealed),
            item or None,
            item_status if item_status in ("pass", "fail") else None,
        )
        rows, n = drill_calls(store, d, pass_mark)
        return web.render(request, "loop_drill.html", {"user": user, "rows": rows, "n": n, "d": d})
