"""Security events as one structured log line each, on the logger "helpdesk.security"."""

from __future__ import annotations

import logging

from flask import has_request_context, request
from flask_login import current_user

log = logging.getLogger("helpdesk.security")


def _value(value) -> str:
    """Numbers as they are; anything else repr-quoted, so a newline stays the two characters \\n."""
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    return '"' + repr(str(value))[1:-1].replace('"', '\\"') + '"'


def security_event(event: str, **fields) -> None:
    """Log `security event=<event> k="v" …`, plus the acting user and client address when a
    request is active. Never pass passwords, tokens or cookies: whatever is passed is logged."""
    if has_request_context():
        if "actor_id" not in fields and current_user and current_user.is_authenticated:
            fields.setdefault("user_id", current_user.id)
        fields.setdefault("ip", request.remote_addr or "")
    parts = [f"event={event}"] + [f"{key}={_value(value)}" for key, value in fields.items()]
    log.info("security %s", " ".join(parts))


#: Requests the development server does not log: static files (a page pulls a dozen) and the
#: ticket page's live poll (every few seconds per open page): one line per page a person asked for.
QUIET_PATHS = ("/static/", "/admin/static/", "/favicon", "/live/")
#: The development server's own start-up lines: `make run` prints the address itself, and
#: running it is what `make run` is for (its "do not use in production" is not news there).
_SERVER_NOISE = ("This is a development server", "Running on ", "Press CTRL+C to quit")


class QuietRequests(logging.Filter):
    """Drop werkzeug's lines for QUIET_PATHS and its start-up banner; keep every other
    request and every error."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        message = record.getMessage()
        if any(noise in message for noise in _SERVER_NOISE):
            return False
        request = message.split('"', 2)[1] if message.count('"') >= 2 else ""
        path = request.split(" ")[1] if request.count(" ") >= 1 else ""
        return not path.startswith(QUIET_PATHS)


def configure_logging(app) -> None:
    """Let the "helpdesk" loggers' INFO lines out (Python drops them by default): at LOG_LEVEL,
    through gunicorn's handlers under gunicorn, else one stderr handler — unless the host
    (pytest, a logging config) already routes the root logger, then through that."""
    logger = logging.getLogger("helpdesk")
    logger.setLevel(app.config["LOG_LEVEL"])
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, QuietRequests) for f in werkzeug.filters):
        werkzeug.addFilter(QuietRequests())
    if logging.getLogger().handlers or getattr(logger, "_helpdesk_handlers", False):
        return
    handlers = logging.getLogger("gunicorn.error").handlers
    if not handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                               datefmt="%Y-%m-%d %H:%M:%S"))
        handlers = [handler]
    for handler in handlers:
        logger.addHandler(handler)
    logger._helpdesk_handlers = True
