"""质检工作台: the web workstation (FastAPI + Jinja2, server-rendered, assets in the package, no CDN).

The layer is thin: routes parse the request, ask ``review.access`` whether the user may, call ``review.service``,
render a template. ``create_app(settings)`` builds the app; ``callqa serve`` runs it with uvicorn.
"""

from .app import create_app
from .settings import WebSettings, load_settings

__all__ = ["create_app", "WebSettings", "load_settings"]
