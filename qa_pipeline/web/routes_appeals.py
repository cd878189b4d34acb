"""申诉 pages: an agent appeals a deduction of their own reviewed call and sees the ruling; a supervisor rules."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..i18n import t
from ..review import appeals as A
from ..review import service as R
from ..review.access import User, allowed, may_see_appeal
from .loop import Web


def register(app: FastAPI, web: Web) -> None:
    store, settings = web.store, web.settings

    @app.get("/calls/{call_id}/appeals", response_class=HTMLResponse)
    def call_appeals(request: Request, call_id: str) -> HTMLResponse:
        user = web.require_call(request, call_id, "view_call")
        data = R.load_call(store, call_id, transcript=False)
        if data is None:
            raise web.not_found()
        can_appeal = allowed(user, "appeal", data.call.get("agent_id"), on_call=True)
        existing = A.list_appeals(store, user, call_id=call_id)
        taken = A.taken_keys(store, call_id)
        due = A.deadline(data, settings.appeal_days)
        targets = A.targets(data, settings.pass_mark) if can_appeal else []
        return web.render(
            request,
            "loop_call_appeals.html",
            {
                "user": user,
                "call": data.call,
                "review": data.review,
                "targets": targets,
                "taken": taken,
                "appeals": existing,
                "can_appeal": can_appeal,
                "deadline": None if due is None else due.isoformat(timespec="minutes")[:16].replace("T", " "),
                "open_window": A.window_open(data, settings.appeal_days),
                "days": settings.appeal_days,
            },
        )

    @app.post("/calls/{call_id}/appeals")
    def open_appeal(request: Request, call_id: str, target: str = Form(...), reason: str = Form("")) -> Response:
        user = web.require_call(request, call_id, "appeal")
        try:
            appeal_id = A.open_appeal(store, user, call_id, target, reason, window_days=settings.appeal_days)
        except A.AppealError as exc:
            raise web.bad(str(exc)) from None
        web.flash(request, t("loop.appeal.opened", id=appeal_id))
        return RedirectResponse(f"/appeals/{appeal_id}", status_code=303)

    @app.get("/appeals", response_class=HTMLResponse)
    def appeals_page(request: Request, state: str = "") -> HTMLResponse:
        user = web.require(request, "view_appeals")
        rows = A.list_appeals(store, user, state=state or None)
        return web.render(
            request,
            "loop_appeals.html",
            {"user": user, "rows": rows, "state": state, "can_rule": allowed(user, "rule_appeal")},
        )

    def _visible(request: Request, appeal_id: int) -> tuple[User, dict[str, Any]]:
        user = web.require(request, "view_appeals")
        ap = A.get_appeal(store, appeal_id)
        if ap is None or not may_see_appeal(user, ap["agent_id"], ap["opened_by"]):
            raise web.not_found()
        return user, ap

    @app.get("/appeals/{appeal_id}", response_class=HTMLResponse)
    def appeal_page(request: Request, appeal_id: int) -> HTMLResponse:
        user, ap = _visible(request, appeal_id)
        data = R.load_call(store, ap["call_id"], transcript=False)
        fs = None if data is None else data.final(settings.pass_mark)
        item = None
        if data is not None:
            item = next((i for i in data.rubric.items if i.id == ap["item_id"]), None)
        return web.render(
            request,
            "loop_appeal.html",
            {
                "user": user,
                "a": ap,
                "item": item,
                "final": fs,
                "can_rule": allowed(user, "rule_appeal") and ap["state"] == "open",
            },
        )

    @app.post("/appeals/{appeal_id}/rule")
    def rule(
        request: Request,
        appeal_id: int,
        outcome: str = Form(...),
        comment: str = Form(""),
        new_deduction: str = Form(""),
    ) -> Response:
        user = web.require(request, "rule_appeal")
        if A.get_appeal(store, appeal_id) is None:
            raise web.not_found()
        try:
            ded = float(new_deduction) if new_deduction.strip() else None
        except ValueError:
            raise web.bad(t("web.error.bad_number", value=new_deduction)) from None
        try:
            A.rule(store, user, appeal_id, outcome, comment, new_deduction=ded, pass_mark=settings.pass_mark)  # type: ignore[arg-type]
        except A.AppealError as exc:
            raise web.bad(str(exc)) from None
        web.flash(request, t("loop.appeal.ruled." + ("overturn" if outcome == "overturn" else "uphold")))
        return RedirectResponse(f"/appeals/{appeal_id}", status_code=303)
