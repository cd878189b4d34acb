"""Part 2 of the workstation (issue 11): appeals, calibration, dashboard, machine accuracy, trainer collections.

Each area is a router module (``routes_*.py``) that `app.create_app` registers; they share the app's
rendering, login and object checks through ``Web`` (so authorisation stays in ``review.access`` and the
app's ``require``/``require_call``, never re-implemented here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from ..i18n import t
from ..review.access import Action, User
from ..store.db import Store
from .settings import WebSettings


@dataclass(frozen=True)
class Web:
    store: Store
    settings: WebSettings
    render: Callable[..., HTMLResponse]
    require: Callable[[Request, Action], User]
    require_call: Callable[[Request, str, Action], User]
    current_user: Callable[[Request], User | None]

    def not_found(self) -> HTTPException:
        return HTTPException(404, t("web.error.not_found"))

    def bad(self, message: str) -> HTTPException:
        return HTTPException(400, message)

    def flash(self, request: Request, message: str) -> None:
        request.session["flash"] = message

    def ctx(self, user: User, **kw: Any) -> dict[str, Any]:
        return {"user": user, **kw}
