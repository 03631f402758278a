"""The read side of links, merges and macros: a ticket's linked tickets as a viewer may see them
(one statement, for the ticket page), where a merged ticket went, the macros offered and the
template a macro sends in a ticket's language."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import LinkKind, Macro, ResponseTemplate, Ticket, TicketLink, TicketStatus, User
from .tickets import visible_to


@dataclass(frozen=True)
class LinkedTicket:
    """One link as a ticket's page shows it: the other ticket, and which way the link points
    (`outgoing`: this ticket is the link's `ticket`, e.g. the one merged into the other)."""

    link_id: int
    kind: LinkKind
    outgoing: bool
    id: int
    subject: str
    status: TicketStatus
    created_at: datetime
    merged_into: int | None = None


def linked_tickets(ticket_id: int, viewer: User) -> list[LinkedTicket]:
    """The tickets linked to this one that `viewer` may open, in one statement."""
    other = or_(and_(TicketLink.ticket_id == ticket_id, Ticket.id == TicketLink.other_id),
                and_(TicketLink.other_id == ticket_id, Ticket.id == TicketLink.ticket_id))
    rows = db.session.execute(
        select(TicketLink.id, TicketLink.kind, TicketLink.ticket_id, Ticket.id, Ticket.subject,
               Ticket.status, Ticket.created_at, merged_into_id())
        .join(Ticket, other).where(visible_to(viewer)).order_by(TicketLink.id))
    return [LinkedTicket(link_id, kind, source == ticket_id, other_id, subject, status, created,
                         merged)
            for link_id, kind, source, other_id, subject, status, created, merged in rows]


def merged_into_id():
    """The id of the ticket each `Ticket` row was merged into (NULL if none), as a correlated
    scalar subquery a list's SELECT can carry."""
    link = aliased(TicketLink)  # the outer query may select from ticket_links too
    return (select(link.other_id).where(link.ticket_id == Ticket.id,
                                        link.kind == LinkKind.MERGED)
            .correlate(Ticket).limit(1).scalar_subquery())


def is_merged():
    """Condition: the `Ticket` row was merged into another (the queue's *Fusionado* filter)."""
    link = aliased(TicketLink)
    return select(link.id).where(link.ticket_id == Ticket.id,
                                 link.kind == LinkKind.MERGED).correlate(Ticket).exists()


def merged_into(ticket_ids: Iterable[int]) -> dict[int, int]:
    """{merged ticket: the ticket it was merged into} for those of `ticket_ids` merged."""
    ids = list(ticket_ids)
    if not ids:
        return {}
    return dict(db.session.execute(select(TicketLink.ticket_id, TicketLink.other_id).where(
        TicketLink.kind == LinkKind.MERGED, TicketLink.ticket_id.in_(ids))).all())


def survivor_of(ticket: Ticket) -> Ticket:
    """The ticket a merged ticket lives on in (following merges of merges), else itself: mail
    that answers a merged ticket lands there."""
    seen = {ticket.id}
    while (target := merged_into([ticket.id]).get(ticket.id)) and target not in seen:
        found = db.session.get(Ticket, target)
        if found is None:
            break
        ticket = found
        seen.add(ticket.id)
    return ticket


def link_between(ticket_id: int, other_id: int) -> TicketLink | None:
    """The link between two tickets, whichever way it points."""
    return db.session.scalar(select(TicketLink).where(or_(
        and_(TicketLink.ticket_id == ticket_id, TicketLink.other_id == other_id),
        and_(TicketLink.ticket_id == other_id, TicketLink.other_id == ticket_id))))


def active_macros() -> list[Macro]:
    """The macros offered on a ticket page, by name."""
    return list(db.session.scalars(select(Macro).where(Macro.active.is_(True))
                                   .order_by(Macro.name)))


def macro_template(macro: Macro, ticket: Ticket, locale: str) -> ResponseTemplate | None:
    """The template a macro sends on this ticket: the active one of the same name in the
    ticket's language (the customer's), else in the agent's `locale`, else the one chosen."""
    chosen = macro.template
    if chosen is None:
        return None
    found = {t.locale: t for t in db.session.scalars(select(ResponseTemplate).where(
        ResponseTemplate.name == chosen.name, ResponseTemplate.active.is_(True),
        ResponseTemplate.locale.in_([ticket.language or locale, locale])))}
    return found.get(ticket.language or locale) or found.get(locale) or chosen
