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


def configure_logging(app) -> None:
    """Let the "helpdesk" loggers' INFO lines out (Python drops them by default): at LOG_LEVEL,
    through gunicorn's handlers under gunicorn, else one stderr handler — unless the host
    (pytest, a logging config) already routes the root logger, then through that."""
    logger = logging.getLogger("helpdesk")
    logger.setLevel(app.config["LOG_LEVEL"])
    if logging.getLogger().handlers or getattr(logger, "_helpdesk_handlers", False):
        return
    handlers = logging.getLogger("gunicorn.error").handlers
    if not handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handlers = [handler]
    for handler in handlers:
        logger.addHandler(handler)
    logger._helpdesk_handlers = True
