"""Friendly, translated error pages; no traceback ever reaches a user."""

from __future__ import annotations

import codecs
import io
import logging
import re
import uuid
from urllib.parse import parse_qsl

from flask import Flask, Request, current_app, g, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.formparser import FormDataParser, MultiPartParser

from .errors import is_lock_timeout
from .extensions import db, login_manager

log = logging.getLogger(__name__)

#: A UTF-8 codec that stays strict whatever `errors` its caller asks for: Werkzeug decodes
#: multipart fields with errors="replace", which would store U+FFFD instead of refusing.
STRICT_UTF8 = "helpdesk_strict_utf_8"


def _strict_utf8(name: str) -> codecs.CodecInfo | None:
    if name != STRICT_UTF8:
        return None
    return codecs.CodecInfo(name=STRICT_UTF8, encode=codecs.utf_8_encode,
                            decode=lambda data, errors="strict": codecs.utf_8_decode(
                                data, "strict", True))


codecs.register(_strict_utf8)


class UnreadableText(BadRequest):
    """A form whose text is not valid UTF-8 (or holds NUL characters): refused, never guessed."""

    def __init__(self):
        super().__init__(description=_(
            "No se pudo leer el texto enviado: no es UTF-8 válido. Vuelve a escribirlo o "
            "pégalo desde otra aplicación y envíalo de nuevo."))


def _check_text(values) -> None:
    if any("\x00" in value for value in values):
        raise UnreadableText()


class _StrictMultiPartParser(MultiPartParser):
    def get_part_charset(self, headers) -> str:
        return STRICT_UTF8


class StrictFormDataParser(FormDataParser):
    """Werkzeug's form parser, refusing text it cannot decode (Werkzeug would drop an
    urlencoded body silently, keep %FF as text, or put U+FFFD in multipart fields)."""

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        data = stream.read()
        try:
            pairs = parse_qsl(data.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise UnreadableText() from None
        _check_text(text for pair in pairs for text in pair)
        return super()._parse_urlencoded(io.BytesIO(data), mimetype, content_length, options)

    def _parse_multipart(self, stream, mimetype, content_length, options):
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        parser = _StrictMultiPartParser(
            stream_factory=self.stream_factory, max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts, cls=self.cls)
        try:
            form, files = parser.parse(stream, boundary, content_length)
        except UnicodeDecodeError:
            raise UnreadableText() from None
        _check_text(text for pair in form.items(multi=True) for text in pair)
        return stream, form, files


class StrictRequest(Request):
    """Flask's request with StrictFormDataParser: unreadable form text is a 400."""

    form_data_parser_class = StrictFormDataParser


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
    """Register the handlers, and the request class that refuses unreadable form text."""
    app.request_class = StrictRequest

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
            429: _("Demasiados intentos"),
        }
        messages = {
            403: _("Tu rol no permite ver o cambiar esta página."),
            404: _("La página o el registro que buscas no existe."),
            429: _("Demasiados intentos fallidos de inicio de sesión. Espera unos minutos y "
                   "vuelve a intentarlo."),
        }
        title = titles.get(exc.code, exc.name)
        own = exc.description if exc.description != type(exc).description else None
        response = make_response(_page(exc.code or 500, title,
                                       own or messages.get(exc.code, exc.description or "")))
        # The exception's own headers (Retry-After of a 429, Allow of a 405) stay.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(OperationalError)
    def database_busy(exc: OperationalError):
        if not is_lock_timeout(exc):
            return unexpected(exc)
        db.session.rollback()
        if "_login_user" not in g:  # loading the user is what timed out: do not wait again
            g._login_user = login_manager.anonymous_user()
        log.warning("503 on %s: database busy (%s)", request.path, type(exc.orig).__name__)
        response = make_response(_page(503, _("Inténtalo de nuevo"), busy_message()))
        response.headers["Retry-After"] = retry_after()
        return response

    @app.errorhandler(Exception)
    def unexpected(exc):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        reference = request_id()
        log.exception("unhandled error on %s (request %s)", request.path, reference)
        return _page(500, _("Error interno"),
                     _("Algo falló de nuestro lado. El error quedó registrado con la referencia "
                       "%(ref)s: indícala si contactas con soporte técnico.", ref=reference))


def busy_message() -> str:
    """What a user is told when the database gave up waiting for a lock (nothing was saved)."""
    return _("La base de datos está ocupada con otra operación y no se ha guardado nada. "
             "Inténtalo de nuevo en unos segundos.")


def retry_after() -> str:
    """The Retry-After header of a 503 for a busy database, in seconds."""
    return str(current_app.config["HELPDESK_RETRY_AFTER_SECONDS"])


def retry_later(response):
    """After-request hook: this response is a 503 with Retry-After (the form shown again)."""
    response.status_code = 503
    response.headers["Retry-After"] = retry_after()
    return response


#: A request id a proxy may pass in (X-Request-Id), when it is plain enough to log as is.
_PLAIN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id() -> str:
    """This request's id: the proxy's X-Request-Id if plain, else a new one (12 hex digits)."""
    given = request.headers.get("X-Request-Id", "")
    return given if _PLAIN_ID.fullmatch(given) else uuid.uuid4().hex[:12]
