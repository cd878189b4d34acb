"""Routes of the workstation. Each one: parse, authorise (``review.access``), call ``review.service``, render."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from ..i18n import LANGUAGES, language, t, using_language
from ..review import service as R
from ..review.access import Action, User, allowed, home_path
from ..review.describe import check_label, clock, describe_finding
from ..review.final import FinalScore, ScoreScale, machine_scale, scale_text
from ..review.users import authenticate, get_user, list_users
from ..rubric import score_findings
from ..store import schema as S
from ..store.clip import pii_intervals
from ..store.db import Store, open_store
from .audio import BROWSER_TYPES, AudioUnavailable, ChannelCache, ranged
from .security import CSRF_FIELD, LoginThrottle, csrf_protect, csrf_token
from .settings import WebSettings

HERE = Path(__file__).resolve().parent


class LoginRequired(Exception):
    pass


def _num(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.1f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


score_text = scale_text


LANG_COOKIE = "callqa_lang"


def create_app(settings: WebSettings, store: Store | None = None) -> FastAPI:
    store = store or open_store(settings.db)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    throttle = LoginThrottle(settings.login_max_failures, settings.login_window_s)
    channels = ChannelCache()
    app = FastAPI(title="callqa", docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(csrf_protect)])
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="callqa_session",
        max_age=int(settings.session_hours * 3600),
        same_site="strict",
        https_only=settings.secure_cookies,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.state.store = store
    app.state.settings = settings
    env = templates.env
    env.globals.update(
        t=t,
        clock=clock,
        num=_num,
        check_label=check_label,
        CSRF_FIELD=CSRF_FIELD,
        language=language,
        LANGUAGES=LANGUAGES,
    )

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # each user's language (a cookie set by /lang/…) for this request only; without one, the server's language
        with using_language(request.cookies.get(LANG_COOKIE)):
            resp = await call_next(request)
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        )
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": nxt}), status_code=303)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if "text/html" in request.headers.get("accept", "") or request.method == "POST":
            return render(
                request, "error.html", {"status": exc.status_code, "message": exc.detail}, status=exc.status_code
            )
        return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain; charset=utf-8")

    def current_user(request: Request) -> User | None:
        uid = request.session.get("uid")
        if not isinstance(uid, int):
            return None
        return get_user(store, uid)

    def require(request: Request, action: Action) -> User:
        user = current_user(request)
        if user is None:
            raise LoginRequired()
        if not allowed(user, action):
            raise HTTPException(404, t("web.error.not_found"))
        return user

    def require_call(request: Request, call_id: str, action: Action) -> User:
        """The object check: a call the user may not see does not exist for them (404)."""
        user = require(request, "view_call")
        exists, agent_id = R.call_agent(store, call_id)
        if (
            not exists
            or not allowed(user, "view_call", agent_id, on_call=True)
            or not allowed(user, action, agent_id, on_call=True)
        ):
            raise HTTPException(404, t("web.error.not_found"))
        return user

    def render(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
        user = ctx.get("user") or current_user(request)
        base = {"user": user, "csrf": csrf_token(request), "flash": request.session.pop("flash", None)}
        return templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status)

    def back(call_id: str, msg: str | None = None, anchor: str = "") -> RedirectResponse:
        return RedirectResponse(f"/calls/{call_id}{anchor}", status_code=303)

    # -------------------------------------------------------------------------------------------- login

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        user = current_user(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse(home_path(user), status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "") -> HTMLResponse:
        return render(request, "login.html", {"user": None, "next": next, "error": None})

    @app.post("/login")
    def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("")) -> Response:
        client = request.client.host if request.client else "-"
        if throttle.blocked(username, client):
            return render(
                request, "login.html", {"user": None, "next": next, "error": t("web.login.throttled")}, status=429
            )
        user = authenticate(store, username, password)
        if user is None:
            throttle.failed(username, client)
            return render(
                request, "login.html", {"user": None, "next": next, "error": t("web.login.failed")}, status=401
            )
        throttle.succeeded(username)
        request.session.clear()  # a fresh session (and CSRF token) after login
        request.session["uid"] = user.user_id
        target = next if next.startswith("/") and not next.startswith("//") else home_path(user)
        return RedirectResponse(target, status_code=303)

    @app.get("/lang/{code}", include_in_schema=False)
    def choose_language(code: str, next: str = "/") -> Response:
        """The user's interface language, kept in a cookie (a preference, not a credential: no session needed)."""
        if code not in LANGUAGES:
            raise HTTPException(404, t("web.error.not_found"))
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="strict", secure=settings.secure_cookies)
        return resp

    @app.post("/logout")
    def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # -------------------------------------------------------------------------------------------- queue

    team_cache: dict[str, Any] = {"at": -1e9, "teams": []}

    def teams() -> list[str]:
        if time.monotonic() - team_cache["at"] > 60:
            team_cache.update(at=time.monotonic(), teams=R.teams(store))
        return team_cache["teams"]

    def _default_date() -> str:
        yesterday = (date.today() - timedelta(days=1)).isoformat()
        with store.read() as conn:
            if conn.execute(sa.select(S.calls.c.call_id).where(S.calls.c.call_date == yesterday).limit(1)).first():
                return yesterday
        return R.latest_date(store) or yesterday

    @app.get("/queue", response_class=HTMLResponse)
    def queue_page(
        request: Request,
        date_from: str = "",
        date_to: str = "",
        team: str = "",
        agent: str = "",
        bucket: str = "",
        state: str = "",
        mine: str = "",
        page: int = 1,
    ) -> HTMLResponse:
        user = require(request, "view_queue")
        d0 = _iso_date(date_from) or _default_date()
        d1 = _iso_date(date_to) or d0
        if d1 < d0:
            d0, d1 = d1, d0
        f = R.QueueFilter(
            d0,
            d1,
            team or None,
            agent.strip() or None,
            bucket if bucket in ("must", "sample", "skip") else None,
            state if state in ("pending", "reviewed") else None,
            user.user_id if mine else None,
            page=max(page, 1),
            per_page=settings.page_size,
        )
        rows, total, counts = R.queue(store, f, settings.triage, fresh_within_s=settings.triage_recheck_s)
        manual_points = _manual_points()
        for r in rows:
            sc = stored_scale(r, manual_points)
            r["machine"] = score_text(sc)
            r["reason_text"] = "、".join(t(f"web.reason.{x}") for x in (r["reasons"] or "").split(",") if x)
        params = {
            k: v
            for k, v in dict(
                date_from=d0, date_to=d1, team=team, agent=agent, bucket=bucket, state=state, mine=mine
            ).items()
            if v
        }
        pages = max(1, -(-total // settings.page_size))
        reviewers = list_users(store) if allowed(user, "assign") else []
        return render(
            request,
            "queue.html",
            {
                "user": user,
                "rows": rows,
                "total": total,
                "counts": counts,
                "f": f,
                "params": params,
                "teams": teams(),
                "page": f.page,
                "pages": pages,
                "mine": mine,
                "reviewers": [u for u in reviewers if u.role in ("reviewer", "supervisor", "admin")],
                "can_assign": allowed(user, "assign"),
                "qs": lambda **kw: urlencode({**params, **kw}),
            },
        )

    @app.post("/queue/assign")
    async def assign(request: Request) -> Response:
        user = require(request, "assign")
        form = await request.form()
        ids = [str(x) for x in form.getlist("call_id")]
        try:
            reviewer = int(str(form.get("reviewer_id", "")))
        except ValueError:
            raise HTTPException(400, t("web.error.bad_input")) from None
        try:
            n = R.assign(store, user, ids, reviewer)
        except R.ReviewError as exc:
            raise HTTPException(400, str(exc)) from None
        request.session["flash"] = t("web.queue.assigned", n=n)
        ret = str(form.get("return", "/queue"))
        return RedirectResponse(ret if ret.startswith("/queue") else "/queue", status_code=303)

    # -------------------------------------------------------------------------------------------- call page

    @app.get("/calls/{call_id}", response_class=HTMLResponse)
    def call_page(request: Request, call_id: str) -> HTMLResponse:
        user = require_call(request, call_id, "view_call")
        data = R.load_call(store, call_id)
        if data is None:
            raise HTTPException(404, t("web.error.not_found"))
        fs = data.final(settings.pass_mark)
        can_review = allowed(user, "review", data.call.get("agent_id"), on_call=True)
        return render(
            request,
            "call.html",
            {
                "user": user,
                **call_context(data, fs),
                "can_review": can_review,
                "audit": R.audit_for_call(store, call_id) if allowed(user, "view_audit") else [],
            },
        )

    def call_context(data: R.CallData, fs: FinalScore) -> dict[str, Any]:
        call = data.call
        duration = float(call.get("duration_s") or 0.0) or max([u["end"] for u in data.utterances] + [1.0])
        att_by_finding = {a.finding_index: a for a in fs.attachments if a.finding_index is not None}
        reviewable: list[dict[str, Any]] = []
        for i, sf_ in enumerate(data.findings):
            f = sf_.finding
            if f.status not in ("fail", "needs_review"):
                continue
            a = att_by_finding.get(i)
            reviewable.append(
                {
                    "row_id": sf_.row_id,
                    "check": f.check,
                    "status": f.status,
                    "start": f.start,
                    "end": f.end,
                    "sentence": describe_finding(f.check, f.start, f.end, f.evidence, f.detail),
                    "decision": None if a is None else a.decision.decision,
                    "comment": "" if a is None else a.decision.comment,
                    "conflict": None if a is None else a.conflict,
                    "finding": f,
                }
            )
        items: list[dict[str, Any]] = []
        for item, fi in zip(data.rubric.items, fs.items, strict=True):
            mine = [r for r in reviewable if any(b.selects(r["finding"]) for b in item.bindings)]
            added = [a for a in data.added if a.item_id == item.id]
            manual = next((m for m in data.manual if m.item_id == item.id), None)
            items.append({"item": item, "score": fi, "findings": mine, "added": added, "manual": manual})
        timeline = _timeline(data, duration, reviewable)
        orphans = [a for a in fs.attachments if a.conflict == "orphan"]
        # the rubric's own verdict (合格/不合格) and worst severity on the machine's findings (issue 9)
        judged = score_findings([f.finding for f in data.findings], data.rubric)
        return {
            "judged": judged,
            "call": call,
            "data": data,
            "final": fs,
            "final_text": score_text(fs.scale),
            "machine_text": score_text(fs.machine),
            "items": items,
            "duration": duration,
            "timeline": timeline,
            "conflicts": fs.conflicts,
            "orphans": orphans,
            "review": data.review,
            "auto_items": [i for i in data.rubric.items if not i.manual],
            "manual_items": [x for x in items if x["item"].manual],
            "finding_count": len(reviewable),
        }

    def _timeline(data: R.CallData, duration: float, reviewable: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows: dict[str, list[dict[str, Any]]] = {
            "agent": [],
            "customer": [],
            "silence": [],
            "overlap": [],
            "finding": [],
        }

        def span(kind: str, start: float | None, end: float | None, title: str) -> None:
            if start is None:
                return
            end = start if end is None else end
            rows[kind].append(
                {
                    "start": start,
                    "left": round(100 * start / duration, 3),
                    "width": round(max(100 * (end - start) / duration, 0.4), 3),
                    "title": title,
                }
            )

        events = data.events
        speech = [e for e in events if e["type"] == "speech"]
        if not speech:  # no stored timeline: the utterances' spans
            speech = [
                {"type": "speech", "start": u["start"], "end": u["end"], "speaker": u["speaker"]}
                for u in data.utterances
            ]
        for e in speech:
            kind = "agent" if e["speaker"] == "agent" else "customer"
            span(kind, e["start"], e["end"], f"{t('speaker.' + (e['speaker'] or 'unknown'))} {clock(e['start'])}")
        for e in events:
            if e["type"] in ("silence", "hold"):
                span(
                    "silence",
                    e["start"],
                    e["end"],
                    f"{t('web.timeline.' + e['type'])} {(e['end'] or 0) - (e['start'] or 0):.1f}s {clock(e['start'])}",
                )
            elif e["type"] in ("overlap", "transfer"):
                span("overlap", e["start"], e["end"], f"{t('web.timeline.' + e['type'])} {clock(e['start'])}")
        for r in reviewable:
            span("finding", r["start"], r["end"], r["sentence"])
        return [{"kind": k, "label": t(f"web.timeline.row.{k}"), "spans": v} for k, v in rows.items()]

    def _review_action(request: Request, call_id: str) -> User:
        return require_call(request, call_id, "review")

    @app.post("/calls/{call_id}/decide")
    def decide(
        request: Request, call_id: str, row_id: int = Form(...), decision: str = Form(...), comment: str = Form("")
    ) -> Response:
        user = _review_action(request, call_id)
        try:
            R.decide(store, user, call_id, row_id, decision, comment.strip()[:2000])
        except R.ReviewError as exc:
            raise HTTPException(400, str(exc)) from None
        return back(call_id, anchor=f"#f{row_id}")

    @app.post("/calls/{call_id}/add")
    def add(
        request: Request,
        call_id: str,
        item_id: str = Form(...),
        start: str = Form(""),
        deduction: str = Form(""),
        comment: str = Form(""),
    ) -> Response:
        user = _review_action(request, call_id)
        try:
            at = _float(start, allow_clock=True)
            ded = _float(deduction)
            R.add_finding(store, user, call_id, item_id, start=at, deduction=ded, comment=comment.strip()[:2000])
        except (R.ReviewError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        return back(call_id, anchor="#items")

    @app.post("/calls/{call_id}/added/{added_id}/remove")
    def remove_added(request: Request, call_id: str, added_id: int) -> Response:
        user = _review_action(request, call_id)
        try:
            R.remove_added(store, user, call_id, added_id)
        except R.ReviewError as exc:
            raise HTTPException(400, str(exc)) from None
        return back(call_id, anchor="#items")

    @app.post("/calls/{call_id}/manual")
    async def manual(request: Request, call_id: str) -> Response:
        user = _review_action(request, call_id)
        form = await request.form()
        try:
            for key in form:
                if not key.startswith("deduction__"):
                    continue
                item_id = key.split("__", 1)[1]
                raw = str(form.get(key, "")).strip()
                if raw == "":
                    continue
                ded = _float(raw)
                note = str(form.get(f"comment__{item_id}", "")).strip()[:2000]
                data = R.load_call(store, call_id, transcript=False)
                cur = next((m for m in data.manual if m.item_id == item_id), None) if data else None
                if cur is not None and cur.deduction == ded and cur.comment == note:
                    continue  # unchanged: no audit noise
                R.set_manual(store, user, call_id, item_id, ded if ded is not None else 0.0, note)
        except (R.ReviewError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        return back(call_id, anchor="#manual")

    @app.post("/calls/{call_id}/submit")
    def submit(request: Request, call_id: str, comment: str = Form("")) -> Response:
        user = _review_action(request, call_id)
        try:
            R.submit(store, user, call_id, comment.strip()[:4000], settings.pass_mark)
        except R.ReviewError as exc:
            raise HTTPException(400, str(exc)) from None
        request.session["flash"] = t("web.call.submitted")
        return back(call_id)

    @app.get("/calls/{call_id}/audio")
    def audio(request: Request, call_id: str, channel: str = "both") -> Response:
        require_call(request, call_id, "view_call")
        if channel not in ("both", "agent", "customer"):
            raise HTTPException(404, t("web.error.not_found"))
        with store.read() as conn:
            row = conn.execute(
                sa.select(S.calls.c.audio_path, S.runs.c.options_json)
                .select_from(S.calls.outerjoin(S.runs, S.runs.c.run_id == S.calls.c.run_id))
                .where(S.calls.c.call_id == call_id)
            ).first()
        path = _audio_path(row.audio_path if row else None)
        if path is None:
            raise HTTPException(404, t("web.error.no_audio"))
        options = (row.options_json if row is not None else None) or "{}"
        agent_channel = int((json.loads(options) or {}).get("agent_channel", 0) or 0)
        # redacted personal data is masked in what we serve too; only a call with nothing masked streams as stored
        masked = tuple(pii_intervals(store, call_id))
        if channel == "both" and not masked and path.suffix.lower() in BROWSER_TYPES:
            return ranged(request, None, path, BROWSER_TYPES[path.suffix.lower()])
        try:
            data = channels.get(path, channel, agent_channel, masked)
        except AudioUnavailable:
            raise HTTPException(404, t("web.error.mono_channel")) from None
        except Exception:  # noqa: BLE001 - a file we cannot decode: say so, do not leak a traceback
            raise HTTPException(404, t("web.error.no_audio")) from None
        return ranged(request, data, None, "audio/wav")

    def _audio_path(p: str | None) -> Path | None:
        if not p:
            return None
        path = Path(p)
        if not path.is_absolute() and settings.audio_root:
            path = Path(settings.audio_root) / path
        return path if path.is_file() else None

    # -------------------------------------------------------------------------------------------- agent view

    @app.get("/my", response_class=HTMLResponse)
    def my_calls(request: Request) -> HTMLResponse:
        user = current_user(request)
        if user is None:
            raise LoginRequired()
        if user.role != "agent" or not user.agent_id:
            return RedirectResponse(home_path(user), status_code=303)  # type: ignore[return-value]
        rows = R.agent_calls(store, user.agent_id)
        manual_points = _manual_points()
        for r in rows:
            r["machine"] = score_text(stored_scale(r, manual_points))
        return render(request, "my.html", {"user": user, "rows": rows})

    def _manual_points() -> float:
        return R.rubric_named(R.DEFAULT_RUBRIC).max_points

    def stored_scale(r: dict[str, Any], rubric_max: float) -> ScoreScale:
        """The scale from a call row: what the machine did not judge (rubric points − judged) is pending."""
        judged = float(r["score_max"] or 0.0)
        return machine_scale(
            rubric_max,
            r["score_total"],
            judged,
            r["fatal"],
            max(rubric_max - judged, 0.0),
            settings.pass_mark,
        )

    # part 2 (issue 11): appeals, calibration, dashboard, machine accuracy, collections — their own routers
    # the route modules import `Web` from .loop; registering them here keeps loop ← routes one-way
    from . import routes_accuracy, routes_appeals, routes_calibration, routes_collections, routes_dashboard
    from .loop import Web

    web = Web(store, settings, render, require, require_call, current_user)
    for module in (routes_appeals, routes_accuracy, routes_calibration, routes_dashboard, routes_collections):
        module.register(app, web)
    env.globals.update(allowed=allowed)
    # Everything loaded so far (modules, the message catalog, jieba's dictionary: ~400,000 objects) lives as long
    # as the server. Left to the collector, every full collection walks all of it: a 130–140 ms pause on about one
    # request in twelve (measured on the dashboard). Frozen objects are skipped by collections (gc.freeze).
    gc.collect()
    gc.freeze()
    return app


def _iso_date(s: str) -> str | None:
    try:
        return date.fromisoformat(s.strip()).isoformat() if s and s.strip() else None
    except ValueError:
        return None


def _float(s: str, allow_clock: bool = False) -> float | None:
    s = (s or "").strip()
    if not s:
        return None
    if allow_clock and ":" in s:
        parts = s.split(":")
        try:
            secs = 0.0
            for p in parts:
                secs = secs * 60 + float(p)
            return secs
        except ValueError:
            raise ValueError(t("web.error.bad_time", value=s)) from None
    try:
        return float(s)
    except ValueError:
        raise ValueError(t("web.error.bad_number", value=s)) from None
