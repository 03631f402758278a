"""Server-side sessions for the web: who is signed in, the remember-me cookie, log in/out.

Flask's session cookie carries the session's random token (`User.get_id()`), which
`load_user` accepts only while its `user_sessions` row exists, is unexpired and the user
active. Flask-Login's own remember cookie (a fixed `id|HMAC`) is never set: ours,
`helpdesk_remember`, is `<selector>.<validator>`, rotated on every use (workflows.sessions).
Each request makes one indexed lookup; writes (the remember-me restore, last_seen_at at most
every few minutes) run in short transactions of their own before the view starts.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app, g, request, session
from flask_login import current_user, login_user, logout_user

from . import presence, queries, rules, workflows
from .extensions import db, login_manager
from .models import User
from .security import STATIC_ENDPOINTS
from .securitylog import security_event
from .workflows.sessions import TOUCH_EVERY

COOKIE = "helpdesk_remember"
#: What Flask-Login keeps in Flask's session about the signed-in user.
LOGIN_KEYS = ("_user_id", "_fresh", "_id")


@dataclass(frozen=True)
class Current:
    """This request's session row, as the lookup found it."""

    id: int
    remembered: bool
    last_seen_at: datetime


def load_user(token: str) -> User | None:
    """Flask-Login's user_loader: the user behind a live session token, or None."""
    found = queries.live_session(token, rules.utcnow())
    if found is None:
        return None
    row, user = found
    user.session_token = token
    g.helpdesk_session = Current(row.id, row.remembered, row.last_seen_at)
    return user


@contextmanager
def _own_transaction():
    """A write of its own: close the request's read transaction, then one short one."""
    db.session.commit()  # only the session lookup has run in this request so far
    with workflows.atomic():
        yield


def _resolve_session() -> None:
    """Before each request: load the user (touching last_seen_at now and then), or restore
    a session from the remember-me cookie; forget a dead session token."""
    if request.endpoint in (*STATIC_ENDPOINTS, "swatch_css", *presence.SESSIONLESS):
        return  # the live polls carry their own signed pass and read no session
    now = rules.utcnow()
    if current_user.is_authenticated:
        seen = g.get("helpdesk_session")
        if seen and now - seen.last_seen_at >= TOUCH_EVERY:
            with _own_transaction():
                workflows.touch_session(seen.id, now)
        return
    for key in LOGIN_KEYS:  # a revoked or pre-upgrade token: no second lookup next time
        session.pop(key, None)
    if current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies:
        session["_remember"] = "clear"  # Flask-Login deletes its old id|HMAC cookie
    if cookie := request.cookies.get(COOKIE):
        _restore(cookie, now)


def _restore(cookie: str, now: datetime) -> None:
    with _own_transaction():
        restored = workflows.use_remember_token(cookie, user_agent=_user_agent(), now=now)
    if restored is None:
        g.remember_cookie = None
        return
    _adopt(restored.user, restored.session, fresh=False)
    g.helpdesk_session = Current(restored.session_id, True, now)
    security_event("login_remembered", user_id=restored.user.id)


def _user_agent() -> str:
    return request.user_agent.string or ""


def _adopt(user: User, issued: workflows.IssuedSession, *, fresh: bool = True) -> None:
    """This browser now holds `issued`: the token in Flask's session, the remember cookie."""
    user.session_token = issued.token
    login_user(user, remember=False, fresh=fresh)  # never Flask-Login's own remember cookie
    if issued.remember:
        g.remember_cookie = (issued.remember, issued.expires_at)


def log_in(user: User, *, remember: bool) -> None:
    """After the password check: a new server-side session, remembered if asked."""
    with workflows.atomic():
        issued = workflows.start_session(user, remember=remember, user_agent=_user_agent())
    _adopt(user, issued)


def log_out() -> None:
    """End this browser's session and its remember-me cookie."""
    token = session.get("_user_id")
    if token:
        with workflows.atomic():
            workflows.end_session(token)
    current = g.get("helpdesk_session")
    if current is not None:
        presence.end_passes(session_id=current.id)  # its pages' live passes stop working
    logout_user()
    g.remember_cookie = None


def log_out_everywhere(user: User) -> int:
    """End every session of `user`, this browser's too; how many."""
    with workflows.atomic():
        count = workflows.log_out_everywhere(user)
    logout_user()
    g.remember_cookie = None
    return count


def keep_signed_in(user: User) -> None:
    """After a change that ended every session of `user` (their own password), this browser
    gets a fresh one — remembered if its old one was — instead of the login page."""
    token = session.get("_user_id")
    current = g.get("helpdesk_session")
    if not user.active or (token and queries.live_session(token, rules.utcnow())):
        return
    log_in(user, remember=bool(current and current.remembered))


def _remember_cookie(response):
    """After each request: set or delete our remember-me cookie if this request said so."""
    if "remember_cookie" not in g:
        return response
    config = current_app.config
    flags = {"path": "/", "secure": config["REMEMBER_COOKIE_SECURE"],
             "httponly": config["REMEMBER_COOKIE_HTTPONLY"],
             "samesite": config["REMEMBER_COOKIE_SAMESITE"]}
    if g.remember_cookie is None:
        if COOKIE in request.cookies:
            response.delete_cookie(COOKIE, **flags)
        return response
    value, expires_at = g.remember_cookie
    response.set_cookie(COOKIE, value, expires=expires_at,
                        max_age=int((expires_at - rules.utcnow()).total_seconds()), **flags)
    return response


def init_app(app: Flask) -> None:
    """Register the user loader and the two hooks."""
    login_manager.user_loader(load_user)
    app.before_request(_resolve_session)
    app.after_request(_remember_cookie)
