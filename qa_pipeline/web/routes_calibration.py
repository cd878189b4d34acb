"""校准 pages: supervisors create sessions and read the agreement once closed; reviewers judge blind."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..i18n import t
from ..review import calibration as C
from ..review import service as R
from ..review.access import User, allowed
from ..review.describe import check_label, describe_finding
from ..review.users import list_users
from .loop import Web


def register(app: FastAPI, web: Web) -> None:
    store, settings = web.store, web.settings
    # the configured pass mark, else the default rubric's (as the call page resolves it)
    pass_mark = (
        settings.pass_mark if settings.pass_mark is not None else 100.0 * R.rubric_named(R.DEFAULT_RUBRIC).pass_ratio
    )

    def _any(request: Request) -> User:
        user = web.current_user(request)
        if user is None:
            web.require(request, "calibrate")  # raises: login
        assert user is not None
        if not (allowed(user, "calibrate") or allowed(user, "calibration_review")):
            raise web.not_found()
        return user

    def _session(request: Request, sid: int) -> tuple[User, dict[str, Any]]:
        user = _any(request)
        s = C.get_session(store, sid)
        if s is None or not (allowed(user, "calibrate") or C.is_assigned(store, sid, user)):
            raise web.not_found()
        return user, s

    @app.get("/calibration", response_class=HTMLResponse)
    def sessions_page(request: Request, calls: str = "") -> HTMLResponse:
        user = _any(request)
        reviewers = (
            [u for u in list_users(store) if u.role in ("reviewer", "supervisor", "admin")]
            if allowed(user, "calibrate")
            else []
        )
        return web.render(
            request,
            "loop_calibrations.html",
            {
                "user": user,
                "sessions": C.list_sessions(store, user),
                "can_create": allowed(user, "calibrate"),
                "reviewers": reviewers,
                "calls_text": calls,
            },
        )

    @app.post("/calibration")
    async def create(request: Request) -> Response:
        user = web.require(request, "calibrate")
        form = await request.form()
        calls = str(form.get("calls", "")).replace(",", "\n").split()
        try:
            reviewer_ids = [int(str(x)) for x in form.getlist("reviewer_id")]
            sid = C.create_session(store, user, str(form.get("title", "")), calls, reviewer_ids)
        except ValueError as exc:  # CalibrationError, or a reviewer id that is not a number
            raise web.bad(str(exc) if isinstance(exc, C.CalibrationError) else t("web.error.bad_input")) from None
        web.flash(request, t("loop.cal.created", id=sid))
        return RedirectResponse(f"/calibration/{sid}", status_code=303)

    @app.get("/calibration/{sid}", response_class=HTMLResponse)
    def session_page(request: Request, sid: int) -> HTMLResponse:
        user, s = _session(request, sid)
        res = None
        if s["state"] == "closed":
            res = C.results(store, sid, pass_mark=pass_mark, check_label=check_label)
        return web.render(
            request,
            "loop_calibration.html",
            {
                "user": user,
                "s": s,
                "res": res,
                "supervisor": allowed(user, "calibrate"),
                "assigned": C.is_assigned(store, sid, user),
            },
        )

    @app.post("/calibration/{sid}/close")
    def close(request: Request, sid: int) -> Response:
        user = web.require(request, "calibrate")
        try:
            C.close_session(store, user, sid)
        except C.CalibrationError as exc:
            raise web.bad(str(exc)) from None
        return RedirectResponse(f"/calibration/{sid}", status_code=303)

    def _judge_access(request: Request, sid: int, call_id: str) -> tuple[User, dict[str, Any]]:
        user = web.require_call(request, call_id, "calibration_review")
        s = C.get_session(store, sid)
        if s is None or call_id not in s["calls"] or not C.is_assigned(store, sid, user, call_id):
            raise web.not_found()
        return user, s

    @app.get("/calibration/{sid}/calls/{call_id}", response_class=HTMLResponse)
    def judge_page(request: Request, sid: int, call_id: str) -> HTMLResponse:
        user, s = _judge_access(request, sid, call_id)
        data = R.load_call(store, call_id)
        if data is None:
            raise web.not_found()
        mine = C.own_judgement(store, sid, call_id, user)
        findings = [sf for sf in data.findings if sf.finding.status in ("fail", "needs_review")]
        from ..review.final import attach

        att = {
            a.finding_index: a.decision.decision
            for a in attach(mine.decisions, [sf.finding for sf in findings])
            if a.finding_index is not None
        }
        rows = [
            {
                "row_id": sf.row_id,
                "check": sf.finding.check,
                "start": sf.finding.start,
                "sentence": describe_finding(
                    sf.finding.check, sf.finding.start, sf.finding.end, sf.finding.evidence, sf.finding.detail
                ),
                "decision": att.get(i),
            }
            for i, sf in enumerate(findings)
        ]
        manual = {m.item_id: m.deduction for m in mine.manual}
        duration = float(data.call.get("duration_s") or 0.0) or max([u["end"] for u in data.utterances] + [1.0])
        return web.render(
            request,
            "loop_calibration_judge.html",
            {
                "user": user,
                "s": s,
                "call": data.call,
                "data": data,
                "rows": rows,
                "manual_items": [i for i in data.rubric.items if i.manual],
                "manual": manual,
                "mine": mine,
                "duration": duration,
                "editable": s["state"] == "open",
            },
        )

    @app.post("/calibration/{sid}/calls/{call_id}")
    async def judge(request: Request, sid: int, call_id: str) -> Response:
        user, _s = _judge_access(request, sid, call_id)
        form = await request.form()
        decisions: dict[int, str] = {}
        manual: dict[str, float] = {}
        try:
            for key in form:
                value = str(form.get(key, "")).strip()
                if key.startswith("d__") and value:
                    decisions[int(key[3:])] = value
                elif key.startswith("m__") and value:
                    manual[key[3:]] = float(value)
        except ValueError:
            raise web.bad(t("web.error.bad_input")) from None
        try:
            C.judge(store, user, sid, call_id, decisions, manual, str(form.get("comment", "")))
        except C.CalibrationError as exc:
            raise web.bad(str(exc)) from None
        web.flash(request, t("loop.cal.judged"))
        return RedirectResponse(f"/calibration/{sid}", status_code=303)
