"""The outbox's due intents and people's unread notices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import IntentState, JobIntent, Notification


def due_intents(now: datetime, limit: int = 500) -> list[JobIntent]:
    """Pending outbox rows whose next attempt is due (lost by Redis, past their backoff, or
    left by a dead worker), oldest first; the (state, next_attempt_at) index finds them."""
    stmt = (
        select(JobIntent)
        .where(JobIntent.state == IntentState.PENDING, JobIntent.next_attempt_at <= now)
        .order_by(JobIntent.next_attempt_at, JobIntent.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def unread_notifications(user_id: int, limit: int = 20) -> list[Notification]:
    """The user's unread notices, newest first."""
    stmt = (select(Notification).where(Notification.user_id == user_id,
                                       Notification.read_at.is_(None))
            .options(selectinload(Notification.team))
            .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
    return list(db.session.scalars(stmt))


def unread_count(user_id: int) -> int:
    """How many unread notices the user has (uses the user/read_at index)."""
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)))
