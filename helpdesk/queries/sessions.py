"""Sessions: the one indexed lookup each request makes to know who is signed in."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..models import User, UserSession


def digest(secret: str) -> str:
    """SHA-256 of a session token or remember-me validator: what the database keeps. The
    secrets are 256 random bits, so a fast hash is enough (nothing to guess from)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def live_session(token: str, now: datetime) -> tuple[UserSession, User] | None:
    """The session row this token opens and its user, if it is unexpired and the user active."""
    row = db.session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == digest(token))).first()
    if row is None or row[0].expires_at <= now or not row[1].active:
        return None
    return row[0], row[1]


def remembered_session(selector: str) -> UserSession | None:
    """The session a remember-me cookie's selector names (expired or not)."""
    return db.session.scalar(
        select(UserSession).where(UserSession.remember_selector == selector))
