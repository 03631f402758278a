"""Friendly, translated error pages; no traceback ever reaches a user."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def _page(status: int, title: str, message: str):
    if request.accept_mimetypes.best == "application/json" or request.path == "/healthz":
        return {"error": title, "message": message}, status
    try:
        return render_template("helpdesk/error.html", status=status, title=title,
                               message=message), status
    except Exception:  # the error page itself must never fail with a traceback
        log.exception("error page failed")
        return f"{status} {title}", status, {"Content-Type": "text/plain; charset=utf-8"}


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _page(400, _("Formulario caducado"),
                     _("El formulario no llevaba un token de seguridad válido. Recarga la página "
                       "y vuelve a enviarlo."))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        titles = {
            400: _("Petición no válida"),
            403: _("Acceso denegado"),
            404: _("No encontrado"),
            405: _("Método no permitido"),
            413: _("Demasiado grande"),
        }
        messages = {
            403: _("Tu rol no permite ver o cambiar esta página."),
            404: _("La página o el registro que buscas no existe."),
        }
        title = titles.get(exc.code, exc.name)
        own = exc.description if exc.description != type(exc).description else None
        return _page(exc.code or 500, title,
                     own or messages.get(exc.code, exc.description or ""))

    @app.errorhandler(Exception)
    def unexpected(exc):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error on %s", request.path)
        return _page(500, _("Error interno"),
                     _("Algo falló de nuestro lado. El error quedó registrado."))
