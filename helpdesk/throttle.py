"""Login throttling: failed logins counted per account and per client address in Redis
(Flask-Limiter's rate limiter); over either budget, every login is refused until the window
passes. Redis down fails open: logins go on, a warning is logged."""

from __future__ import annotations

import hashlib
import logging
import math
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse

from .extensions import get_redis

log = logging.getLogger(__name__)

_KEY = "helpdesk.login_limiter"


def storage_uri(redis_url: str, instance: str) -> str:
    """The `limits` storage URI for the app's Redis: REDIS_URL, `unix://` spelled
    `redis+unix://`, or the embedded server's socket under `instance`."""
    if not redis_url:
        return f"redis+unix://{instance}/redis.sock"
    if redis_url.startswith("unix://"):
        return "redis+" + redis_url
    return redis_url


def init_app(app: Flask) -> None:
    """Give `app` its own limiter on its Redis (no limit applies to any route by itself)."""
    app.extensions[_KEY] = Limiter(
        lambda: request.remote_addr or "", app=app, key_prefix="helpdesk",
        storage_uri=storage_uri(app.config["REDIS_URL"], app.config["HELPDESK_INSTANCE"]),
        # A login must not hang on a Redis that is down: fail fast, then open.
        storage_options={"socket_connect_timeout": 2, "socket_timeout": 2},
        strategy="moving-window")


def _budgets(email: str) -> list[tuple[RateLimitItem, str, str]]:
    """(limit, scope, identifier) for this e-mail and this client address. The e-mail is
    hashed, so Redis keys never hold what was typed."""
    config = current_app.config
    account = hashlib.sha256(email.encode()).hexdigest()
    return [
        (parse(config["HELPDESK_LOGIN_LIMIT_ACCOUNT"]), "account", account),
        (parse(config["HELPDESK_LOGIN_LIMIT_ADDRESS"]), "address", request.remote_addr or ""),
    ]


def _limiter():
    if not current_app.config["REDIS_URL"]:
        get_redis()  # the embedded server: started on first use
    return current_app.extensions[_KEY].limiter


def throttled(email: str) -> tuple[str, int] | None:
    """(scope, seconds to wait) if this e-mail or this address has used its budget of failed
    logins, else None; None too when Redis cannot be reached (logged as a warning)."""
    try:
        limiter = _limiter()
        for item, scope, identifier in _budgets(email):
            if not limiter.test(item, "login", scope, identifier):
                reset = limiter.get_window_stats(item, "login", scope, identifier).reset_time
                return scope, max(1, math.ceil(reset - time.time()))
    except Exception as exc:  # any storage failure: fail open, never lock everyone out
        log.warning("login throttle unavailable, not checked: %s", type(exc).__name__)
    return None


def record_failure(email: str) -> None:
    """Count one failed login against this e-mail and this address."""
    try:
        limiter = _limiter()
        for item, scope, identifier in _budgets(email):
            limiter.hit(item, "login", scope, identifier)
    except Exception as exc:  # as in throttled(): fail open
        log.warning("login throttle unavailable, failure not counted: %s", type(exc).__name__)


def public_allowed() -> bool:
    """Count one request of this client address to the customers' pages (helpdesk.public)
    against HELPDESK_PUBLIC_LIMIT; False once over it. Redis down: allowed (logged)."""
    try:
        item = parse(current_app.config["HELPDESK_PUBLIC_LIMIT"])
        return _limiter().hit(item, "public", "address", request.remote_addr or "")
    except Exception as exc:  # as in throttled(): fail open
        log.warning("public throttle unavailable, not counted: %s", type(exc).__name__)
        return True
