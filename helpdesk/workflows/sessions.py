"""Sign-in sessions: start, end, revoke, and restore from a remember-me cookie (rotating it).

A session is a `UserSession` row; the browser holds its random token (in Flask's session
cookie, through `User.get_id()`) and, when remembered, `<selector>.<validator>` in our own
cookie. Only SHA-256 digests reach the database. Deleting the row ends both at once, so
logout, "log out everywhere", a password, role or deactivation change all come down to one
DELETE — and re-activating an account revives nothing.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, update

from .. import presence, queries, rules
from ..extensions import db
from ..models import User, UserSession
from ..securitylog import security_event

#: last_seen_at is written at most this often per session (one short write, never per GET).
TOUCH_EVERY = timedelta(minutes=5)
#: A replaced validator presented within this long after its rotation is the browser's own
#: second request (tabs restored together) and is only refused; later it means a stolen copy.
REUSE_GRACE = timedelta(seconds=30)
USER_AGENT_MAX = 200


@dataclass(frozen=True)
class IssuedSession:
    """What the browser gets: the session token and, if remembered, the remember-me value."""

    token: str
    remember: str | None
    expires_at: datetime


def _new_remember() -> tuple[str, str]:
    """A (selector, validator) pair; neither contains the "." that joins them."""
    return secrets.token_urlsafe(12), secrets.token_urlsafe(32)


def start_session(user: User, *, remember: bool, user_agent: str,
                  now: datetime | None = None) -> IssuedSession:
    """A new session for `user` (after a password check); also clears their expired rows."""
    now = now or rules.utcnow()
    expires = now + timedelta(days=current_app.config["HELPDESK_REMEMBER_DAYS"])
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                                 UserSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    row = UserSession(user_id=user.id, token_hash=queries.digest(token), created_at=now,
                      last_seen_at=now, expires_at=expires,
                      user_agent=(user_agent or "")[:USER_AGENT_MAX])
    cookie = None
    if remember:
        selector, validator = _new_remember()
        row.remember_selector, row.remember_hash = selector, queries.digest(validator)
        cookie = f"{selector}.{validator}"
    db.session.add(row)
    db.session.flush()
    return IssuedSession(token, cookie, expires)


def end_session(token: str) -> bool:
    """End the session this token opens (logout), its remember-me cookie with it."""
    result = db.session.execute(
        delete(UserSession).where(UserSession.token_hash == queries.digest(token)))
    return result.rowcount > 0


def _end_all(user_id: int) -> int:
    presence.end_passes(user_id=user_id)  # every live pass issued until now stops working
    return db.session.execute(
        delete(UserSession).where(UserSession.user_id == user_id)).rowcount


def log_out_everywhere(user: User) -> int:
    """End every session of `user`, this one included (their own request)."""
    count = _end_all(user.id)
    security_event("logout_everywhere", user_id=user.id, sessions=count)
    return count


def revoke_sessions(user: User, *, reason: str, actor: User | None) -> int:
    """End every session and remember-me cookie of `user` because `reason` (password, role,
    deactivated) changed; called by the workflows that change those, never by views."""
    count = _end_all(user.id)
    security_event("sessions_revoked", actor_id=actor.id if actor else None,
                   target_id=user.id, reason=reason, sessions=count)
    return count


def touch_session(session_id: int, now: datetime) -> None:
    """Record activity, unless it was recorded less than TOUCH_EVERY ago."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.last_seen_at <= now - TOUCH_EVERY)
        .values(last_seen_at=now).execution_options(synchronize_session=False))


@dataclass(frozen=True)
class Restored:
    user: User
    session: IssuedSession
    session_id: int


def use_remember_token(cookie: str, *, user_agent: str,
                       now: datetime | None = None) -> Restored | None:
    """A remember-me cookie's session, rotated: a new validator and a new session token, the
    old ones dead. None if the cookie opens nothing. A validator that matches neither the
    current one nor (within REUSE_GRACE) the one just replaced means a copy is in someone
    else's hands: every session of the user ends, and `remember_token_reuse` is logged."""
    now = now or rules.utcnow()
    selector, _dot, validator = cookie.partition(".")
    if not (selector and validator and len(selector) <= 32 and len(validator) <= 64):
        return None
    row = queries.remembered_session(selector)
    if row is None:
        return None
    user = db.session.get(User, row.user_id)
    if row.expires_at <= now or not user.active:
        db.session.delete(row)
        return None
    presented = queries.digest(validator)
    if not hmac.compare_digest(presented, row.remember_hash):
        if _just_rotated(row, presented, now):
            return None
        count = _end_all(user.id)
        security_event("remember_token_reuse", user_id=user.id, sessions=count)
        return None
    token, (_selector, fresh) = secrets.token_urlsafe(32), _new_remember()
    rotated = db.session.execute(
        update(UserSession)
        .where(UserSession.id == row.id, UserSession.remember_hash == row.remember_hash)
        .values(token_hash=queries.digest(token), remember_hash=queries.digest(fresh),
                previous_remember_hash=row.remember_hash, rotated_at=now, last_seen_at=now)
        .execution_options(synchronize_session=False))
    if rotated.rowcount != 1:  # a concurrent request of the same browser rotated it first
        return None
    return Restored(user, IssuedSession(token, f"{selector}.{fresh}", row.expires_at), row.id)


def _just_rotated(row: UserSession, presented: str, now: datetime) -> bool:
    return (row.previous_remember_hash is not None and row.rotated_at is not None
            and hmac.compare_digest(presented, row.previous_remember_hash)
            and now - row.rotated_at < REUSE_GRACE)
