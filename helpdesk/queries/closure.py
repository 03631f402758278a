"""The read side of closure: resolution rounds, the categories *Resolver* offers, the spans a
ticket spent in each status, who was surveyed lately, the ticket page's closure panel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import (
    AuditEntry,
    ResolutionCategory,
    ResolutionRound,
    SatisfactionRating,
    Ticket,
    TicketStatus,
)

#: Notification kinds of closure: the assignee of a reopened ticket; the supervisors of a low
#: score.
REOPEN_NOTICE, LOW_RATING_NOTICE = "reopened", "low_rating"
#: Outbox keys: one confirmation and one survey per round.
CONFIRM_KEY, SURVEY_KEY = "confirm-mail:{}", "survey-mail:{}"


def latest_round(ticket_id: int, *, for_update: bool = False) -> ResolutionRound | None:
    """The ticket's last resolution round (None: never resolved through *Resolver*)."""
    stmt = (select(ResolutionRound).where(ResolutionRound.ticket_id == ticket_id)
            .order_by(ResolutionRound.number.desc()).limit(1))
    if for_update:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def rounds(ticket_id: int) -> list[ResolutionRound]:
    """Every resolution round of the ticket, first first, with what the ticket page shows of
    it (one statement however many rounds)."""
    return list(db.session.scalars(select(ResolutionRound)
                                   .where(ResolutionRound.ticket_id == ticket_id)
                                   .options(joinedload(ResolutionRound.resolution_category),
                                            joinedload(ResolutionRound.resolved_by))
                                   .order_by(ResolutionRound.number)))


def resolution_categories_for(category_id: int | None) -> list[ResolutionCategory]:
    """The active resolution categories that fit a ticket of this category, by name."""
    fits = ResolutionCategory.category_id.is_(None)
    if category_id is not None:
        fits = or_(fits, ResolutionCategory.category_id == category_id)
    return list(db.session.scalars(select(ResolutionCategory).where(
        ResolutionCategory.active.is_(True), fits).order_by(ResolutionCategory.name)))


def status_spans(ticket: Ticket, until: datetime) -> list[tuple[TicketStatus, datetime,
                                                                 datetime]]:
    """(status, from, to) from the ticket's creation to `until`, read from the audit rows
    of its status changes (every change to Pendiente or Resuelto writes one)."""
    changes = db.session.execute(
        select(AuditEntry.created_at, AuditEntry.new_value)
        .where(AuditEntry.ticket_id == ticket.id, AuditEntry.field == "status")
        .order_by(AuditEntry.created_at, AuditEntry.id)).all()
    spans, status, since = [], TicketStatus.NEW, ticket.created_at
    for at, value in changes:
        if value not in TicketStatus._value2member_map_:
            continue
        spans.append((status, since, min(at, until)))
        status, since = TicketStatus(value), at
    spans.append((status, since, until))
    return spans


def surveyed_since(customer_id: int, since: datetime, *, besides: int) -> bool:
    """Whether the customer was sent a survey since `since` (for a round other than
    `besides`)."""
    return db.session.scalar(select(exists().where(
        ResolutionRound.ticket_id == Ticket.id, Ticket.customer_id == customer_id,
        ResolutionRound.survey_sent_at >= since, ResolutionRound.id != besides)))


def ticket_ratings(ticket_id: int) -> list[SatisfactionRating]:
    """The ticket's ratings, newest first (one per round; old ones without a round too)."""
    return list(db.session.scalars(select(SatisfactionRating)
                                   .where(SatisfactionRating.ticket_id == ticket_id)
                                   .options(joinedload(SatisfactionRating.round))
                                   .order_by(SatisfactionRating.created_at.desc())))


def reopen_rate(since: datetime) -> tuple[int, int]:
    """(rounds resolved since, of them reopened): the reopen rate's terms."""
    rows = db.session.execute(select(ResolutionRound.reopened_at).where(
        ResolutionRound.resolved_at >= since)).all()
    return len(rows), sum(1 for (at,) in rows if at is not None)


def confirmation_rate(since: datetime) -> tuple[int, int]:
    """(rounds that asked the customer since, of them confirmed with «Sí»)."""
    rows = db.session.execute(select(ResolutionRound.confirmation_answer).where(and_(
        ResolutionRound.resolved_at >= since,
        ResolutionRound.confirmation_requested.is_(True)))).all()
    return len(rows), sum(1 for (answer,) in rows if answer == "yes")
