"""Response headers for the panel: a nonce-based Content-Security-Policy, no framing, no
sniffing, no caching of dynamic pages; the Bootstrap swatch served without its web font."""

from __future__ import annotations

import re
import secrets
from functools import cache
from pathlib import Path

from flask import Flask, Response, abort, current_app, g, request

from .securitylog import security_event

#: Script sources: our own files and Flask-Admin's, plus inline scripts carrying this request's
#: nonce. Styles keep 'unsafe-inline': Flask-Admin's templates and widgets (select2, its
#: tooltips) write `style="…"` attributes. Nothing external: the swatch's Google Fonts @import
#: is removed (swatch_css), so pages use the system fonts cosmo lists after "Source Sans Pro".
CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")

HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

STATIC_ENDPOINTS = ("static", "admin.static")
SWATCH = "bootstrap/bootstrap4/swatch/{name}/bootstrap.min.css"
_IMPORT = re.compile(r"@import url\([^)]*\);?")


def csp_nonce() -> str:
    """This request's script nonce (Flask-Admin's `csp_nonce_generator`, our templates')."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


@cache
def _swatch_text(path: str) -> str:
    return _IMPORT.sub("", Path(path).read_text(encoding="utf-8"))


def swatch_css(name: str) -> Response:
    """Flask-Admin's Bootswatch CSS without its `@import` of Google Fonts (no third party)."""
    if name != current_app.config["FLASK_ADMIN_SWATCH"]:
        abort(404)
    admin_static = current_app.blueprints["admin"].static_folder
    path = Path(admin_static) / SWATCH.format(name=name)
    response = Response(_swatch_text(str(path)), mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


def _secure_headers(response: Response) -> Response:
    """Every response: CSP and friends; dynamic ones are never stored by a cache."""
    response.headers["Content-Security-Policy"] = CSP.format(nonce=csp_nonce())
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint not in (*STATIC_ENDPOINTS, "swatch_css"):
        response.headers["Cache-Control"] = "no-store"
    if response.status_code == 403:
        security_event("forbidden", method=request.method, path=request.path)
    return response


def init_app(app: Flask) -> None:
    """Attach the header hook, the swatch route and `csp_nonce()` for templates."""
    app.after_request(_secure_headers)
    app.add_url_rule("/swatch/<name>.css", "swatch_css", swatch_css)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
