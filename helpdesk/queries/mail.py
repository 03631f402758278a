"""Reads of the mail channel: a ticket's participants, the held list, an attachment a user
may open."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Attachment, InboundMail, InboundState, Message, TicketParticipant, User
from .tickets import visible_ticket


def participants(ticket_id: int) -> list[TicketParticipant]:
    """The ticket's CC addresses, in the order they joined."""
    return list(db.session.scalars(select(TicketParticipant).where(
        TicketParticipant.ticket_id == ticket_id).order_by(TicketParticipant.id)))


def reply_copies(ticket_id: int) -> str | None:
    """The Cc of a reply written now: the ticket's participants, comma-separated."""
    return ", ".join(p.email for p in participants(ticket_id)) or None


def held_mail(limit: int = 200) -> list[InboundMail]:
    """Held messages, newest first (the *Correo retenido* page)."""
    return list(db.session.scalars(select(InboundMail).where(
        InboundMail.state == InboundState.HELD).order_by(InboundMail.received_at.desc(),
                                                         InboundMail.id.desc()).limit(limit)))


def visible_attachment(attachment_id: int, user: User) -> Attachment | None:
    """An attachment of a ticket the user may see (None, as for an unknown id, otherwise)."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        return None
    message = db.session.get(Message, attachment.message_id)
    return attachment if visible_ticket(message.ticket_id, user) is not None else None
