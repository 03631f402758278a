"""The outbox's stale intents and people's unread notices."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import IntentState, JobIntent, Notification


def stale_intents(now: datetime, retry_after: timedelta, limit: int = 500) -> list[JobIntent]:
    """Pending outbox rows not handed to Redis recently: lost or never enqueued."""
    cutoff = now - retry_after
    stmt = (
        select(JobIntent)
        .where(
            JobIntent.state == IntentState.PENDING,
            func.coalesce(JobIntent.enqueued_at, JobIntent.created_at) <= cutoff,
        )
        .order_by(JobIntent.id)
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
