"""机器准确率: precision of each machine check and rubric item learned from reviews (QA lead, reviewers)."""

from __future__ import annotations

from datetime import date

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from ..review import service as R
from ..review.describe import check_label
from ..review.machine_accuracy import low_precision_checks, machine_accuracy
from .loop import Web


def iso_or_none(s: str) -> str | None:
    try:
        return date.fromisoformat(s.strip()).isoformat() if s and s.strip() else None
    except ValueError:
        return None


def register(app: FastAPI, web: Web) -> None:
    store, settings = web.store, web.settings

    @app.get("/accuracy", response_class=HTMLResponse)
    def accuracy_page(request: Request, date_from: str = "", date_to: str = "", team: str = "") -> HTMLResponse:
        user = web.require(request, "view_accuracy")
        rep = machine_accuracy(
            store,
            R.rubric_named(R.DEFAULT_RUBRIC),
            date_from=iso_or_none(date_from),
            date_to=iso_or_none(date_to),
            team=team or None,
            check_label=check_label,
        )
        tri = settings.triage
        return web.render(
            request,
            "loop_accuracy.html",
            {
                "user": user,
                "rep": rep,
                "teams": R.teams(store),
                "team": team,
                "date_from": rep.date_from or "",
                "date_to": rep.date_to or "",
                "threshold": tri.min_precision,
                "min_decisions": tri.min_decisions,
                "weak": low_precision_checks(store, tri.min_precision, tri.min_decisions),
            },
        )
