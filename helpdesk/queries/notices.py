"""The outbox's due intents; people's notices, how they want them, and whom a note mentions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, exists, false, func, or_, select, true
from sqlalchemy.orm import selectinload

from .. import notice_rules, rules
from ..extensions import db
from ..models import (
    IntentState,
    JobIntent,
    Notification,
    NotificationPreference,
    Role,
    Ticket,
    User,
    team_members,
    team_supervisors,
)
from .base import contains
from .tickets import visible_to
from .txcache import cached


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


def notice_channels(user_id: int, kind: str) -> notice_rules.Channels:
    """Where a notice of `kind` goes for this person (their choice, else the default); read
    once per transaction (`txcache`: a run routing a thousand tickets tells a few agents)."""
    kind = notice_rules.PREFERENCE_OF[kind]
    return cached(db.session, _PREFERENCE_TABLES, ("notice_channels", user_id, kind),
                  lambda: _read_channels(user_id, kind))


_PREFERENCE_TABLES = frozenset({"notification_preferences"})


def _read_channels(user_id: int, kind: str) -> notice_rules.Channels:
    row = db.session.execute(select(NotificationPreference.panel, NotificationPreference.email)
                             .where(NotificationPreference.user_id == user_id,
                                    NotificationPreference.kind == kind)).first()
    return notice_rules.channels_of(kind, notice_rules.Channels(*row) if row else None)


def preferences_of(user_id: int) -> dict[str, notice_rules.Channels]:
    """Every kind's channels for this person, in NOTICE_KINDS order (one statement)."""
    chosen = {row.kind: notice_rules.Channels(row.panel, row.email) for row in db.session.execute(
        select(NotificationPreference).where(NotificationPreference.user_id == user_id)
    ).scalars()}
    return {kind: notice_rules.channels_of(kind, chosen.get(kind))
            for kind in notice_rules.NOTICE_KINDS}


def starts(column, term: str):
    """`column` starts with `term`, case-insensitive, `%`/`_`/`\\` taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"{escaped}%", escape="\\")


def _handle():
    """A user's handle in SQL: the lower-case local part of their e-mail."""
    if db.engine.dialect.name == "sqlite":
        return func.lower(func.substr(User.email, 1, func.instr(User.email, "@") - 1))
    return func.lower(func.split_part(User.email, "@", 1))


def _who_sees(ticket: Ticket):
    """Active staff who may open `ticket`: `visible_to` seen from the ticket's side (all
    supervisors and admins; agents when it is theirs, unrouted, or of a team they work in or
    supervise). tests/test_notifications.py checks the two agree."""
    team = ticket.team_id
    return and_(User.active.is_(True), or_(
        User.role >= Role.SUPERVISOR,
        User.id == ticket.assignee_id if ticket.assignee_id is not None else false(),
        true() if team is None else or_(
            exists().where(team_members.c.user_id == User.id, team_members.c.team_id == team),
            exists().where(team_supervisors.c.user_id == User.id,
                           team_supervisors.c.team_id == team))))


def ticket_seen_by(ticket_id, user: User) -> Ticket | None:
    """The ticket (nothing loaded with it) if it exists and `user` may see it."""
    ticket_id = rules.parse_id(ticket_id)
    if ticket_id is None:
        return None
    return db.session.scalar(select(Ticket).where(Ticket.id == ticket_id, visible_to(user)))


def may_see(user: User, ticket: Ticket) -> bool:
    """Whether `user` may open `ticket` now (the queue's `visible_to`)."""
    return user.active and db.session.scalar(
        select(Ticket.id).where(Ticket.id == ticket.id, visible_to(user))) is not None


def mentioned_staff(handles: list[str], ticket: Ticket) -> list[int]:
    """The staff the handles name who may open the ticket (`notice_rules.mention_targets`:
    an ambiguous handle names nobody; someone who may not see the ticket is never told)."""
    if not handles:
        return []
    people = db.session.execute(select(User.id, User.email, _who_sees(ticket)).where(
        User.active.is_(True), _handle().in_(handles))).all()
    named = notice_rules.mention_targets(handles, [(p.id, p.email) for p in people])
    seeing = {p.id for p in people if p[2]}
    return [user_id for user_id in named if user_id in seeing]


def staff_who_see(ticket: Ticket, term: str = "", limit: int = 8) -> list[tuple[str, str]]:
    """(name, handle) of staff who may open the ticket and whose name or e-mail contains
    `term`, by name: the note box's @ autocomplete offers only people a mention would reach."""
    stmt = select(User.name, User.email).where(_who_sees(ticket))
    first = []
    if term:
        stmt = stmt.where(or_(contains(User.name, term), contains(User.email, term)))
        # names or handles that start with what was typed come first
        first = [case((or_(starts(User.name, term), starts(User.email, term)), 0), else_=1)]
    rows = db.session.execute(stmt.order_by(*first, User.name, User.id).limit(limit)).all()
    return [(name, notice_rules.handle_of(email)) for name, email in rows]
