"""Trainer pages: transcript search (the `callqa search` query language and filters, through the store's search
function), hits played in place, collections with a note per example, read-only sharing, zip export."""

from __future__ import annotations

import io
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape

from ..checks.registry import check_names
from ..i18n import t
from ..review import collections as K
from ..review.access import may_change_collection, may_read_collection
from ..review.describe import check_label
from ..store.filters import CallFilter
from ..store.search import QueryError, search
from .loop import Web
from .routes_accuracy import iso_or_none

SEARCH_LIMIT = 50


def marked(highlighted: str) -> Markup:
    """The search highlight (【term】, from the store's highlighter) as HTML: escaped first, then <mark>."""
    return Markup(str(escape(highlighted)).replace("【", "<mark>").replace("】", "</mark>"))


def _num(s: str) -> float | None:
    try:
        return float(s) if s.strip() else None
    except ValueError:
        return None


def register(app: FastAPI, web: Web) -> None:
    store = web.store

    @app.get("/search", response_class=HTMLResponse)
    def search_page(
        request: Request,
        q: str = "",
        date_from: str = "",
        date_to: str = "",
        team: str = "",
        agent: str = "",
        speaker: str = "",
        check: str = "",
        min_score: str = "",
        max_score: str = "",
        pinyin: str = "",
    ) -> HTMLResponse:
        user = web.require(request, "collect")
        hits: list[Any] = []
        error = None
        if q.strip():
            where = CallFilter(
                date_from=iso_or_none(date_from),
                date_to=iso_or_none(date_to),
                team=team or None,
                agent=agent.strip() or None,
                min_score=_num(min_score),
                max_score=_num(max_score),
                check=check or None,
                speaker=speaker if speaker in ("agent", "customer") else None,
            )
            try:
                # the page shows the hit line only: no context turns to fetch
                hits = search(store, q.strip()[:500], where, limit=SEARCH_LIMIT, pinyin=bool(pinyin), context=0)
            except QueryError as exc:  # a sentence from the catalog saying what is wrong with the query
                error = str(exc)
            except ValueError:
                error = t("loop.search.bad_query")
        return web.render(
            request,
            "loop_search.html",
            {
                "user": user,
                "marked": marked,
                "q": q,
                "hits": hits,
                "error": error,
                "p": dict(
                    date_from=date_from,
                    date_to=date_to,
                    team=team,
                    agent=agent,
                    speaker=speaker,
                    check=check,
                    min_score=min_score,
                    max_score=max_score,
                    pinyin=pinyin,
                ),
                "checks": [(c, check_label(c)) for c in check_names()],
                "collections": [
                    c for c in K.list_collections(store, user) if may_change_collection(user, c["owner_id"])
                ],
            },
        )

    @app.get("/collections", response_class=HTMLResponse)
    def collections_page(request: Request) -> HTMLResponse:
        user = web.require(request, "collect")
        return web.render(
            request, "loop_collections.html", {"user": user, "collections": K.list_collections(store, user)}
        )

    @app.post("/collections")
    def create(request: Request, name: str = Form(""), shared: str = Form("")) -> Response:
        user = web.require(request, "collect")
        try:
            cid = K.create_collection(store, user, name, bool(shared))
        except K.CollectionError as exc:
            raise web.bad(str(exc)) from None
        return RedirectResponse(f"/collections/{cid}", status_code=303)

    def _readable(request: Request, cid: int) -> tuple[Any, dict[str, Any]]:
        user = web.require(request, "collect")
        col = K.get_collection(store, cid)
        if col is None or not may_read_collection(user, col["owner_id"], bool(col["shared"])):
            raise web.not_found()
        return user, col

    def _writable(request: Request, cid: int) -> Any:
        user, col = _readable(request, cid)
        if not may_change_collection(user, col["owner_id"]):
            raise web.not_found()  # shared = read-only: writing routes do not exist for readers
        return user

    @app.get("/collections/{cid}", response_class=HTMLResponse)
    def collection_page(request: Request, cid: int) -> HTMLResponse:
        user, col = _readable(request, cid)
        return web.render(
            request,
            "loop_collection.html",
            {"user": user, "c": col, "owner": may_change_collection(user, col["owner_id"])},
        )

    @app.post("/collections/{cid}/examples")
    def add(
        request: Request,
        cid: int,
        call_id: str = Form(...),
        start: float = Form(...),
        end: float = Form(...),
        speaker: str = Form(""),
        text: str = Form(""),
        rule: str = Form(""),
        note: str = Form(""),
        back: str = Form(""),
    ) -> Response:
        user = _writable(request, cid)
        web.require_call(request, call_id, "view_call")  # a call the user may not see: 404
        try:
            K.add_example(
                store,
                user,
                cid,
                call_id,
                start=start,
                end=end,
                speaker=speaker or None,
                text=text,
                rule=rule,
                note=note,
            )
        except K.CollectionError as exc:
            raise web.bad(str(exc)) from None
        web.flash(request, t("loop.coll.added"))
        target = back if back.startswith("/search") else f"/collections/{cid}"
        return RedirectResponse(target, status_code=303)

    @app.post("/collections/{cid}/examples/{eid}/note")
    def note(request: Request, cid: int, eid: int, note: str = Form("")) -> Response:
        user = _writable(request, cid)
        try:
            K.set_note(store, user, cid, eid, note)
        except K.CollectionError as exc:
            raise web.bad(str(exc)) from None
        return RedirectResponse(f"/collections/{cid}#e{eid}", status_code=303)

    @app.post("/collections/{cid}/examples/{eid}/remove")
    def remove(request: Request, cid: int, eid: int) -> Response:
        user = _writable(request, cid)
        try:
            K.remove_example(store, user, cid, eid)
        except K.CollectionError as exc:
            raise web.bad(str(exc)) from None
        return RedirectResponse(f"/collections/{cid}", status_code=303)

    @app.post("/collections/{cid}/share")
    def share(request: Request, cid: int, shared: str = Form("")) -> Response:
        user = _writable(request, cid)
        K.set_shared(store, user, cid, bool(shared))
        return RedirectResponse(f"/collections/{cid}", status_code=303)

    @app.get("/collections/{cid}/export.zip")
    def export(request: Request, cid: int) -> Response:
        user, col = _readable(request, cid)
        buf = io.BytesIO()
        K.export_zip(store, user, cid, buf)
        return Response(
            buf.getvalue(),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="collection-{cid}.zip"'},
        )
