"""Which ticket a message belongs to, and whether its sender may write to it (reads only).

A message joins a ticket when its In-Reply-To/References name a Message-ID we sent or received
on that ticket **and** its sender is a participant (the customer, or an address on the
ticket's CC list). The `[#123]` subject token is only a fallback, and only for participants.
A claim by anyone else is reported, never followed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..models import Customer, InboundMail, Message, Ticket, TicketParticipant, User
from ..queries.links import survivor_of

_TOKEN = re.compile(r"\[#(\d{1,12})\]")
_OWN_ID = re.compile(r"<[TA]-0*(\d{1,12})\.")  # our replies' and acknowledgements' ids


@dataclass(frozen=True)
class Thread:
    ticket: Ticket | None
    #: A ticket the message pointed at whose participant the sender is not (None: no claim).
    claimed: int | None = None
    via: str = ""


def find_thread(references: list[str], subject: str, sender: str, own_domain: str) -> Thread:
    """The ticket this message continues, if its sender is a participant of it."""
    claimed = None
    for ticket_id in _referenced_tickets(references, own_domain):
        ticket = db.session.get(Ticket, ticket_id)
        if ticket is None:
            continue
        ticket = survivor_of(ticket)  # a merged ticket's mail lands where its thread went
        if is_participant(ticket, sender):
            return Thread(ticket, via="references")
        claimed = claimed or ticket.id
    token = _TOKEN.search(subject or "")
    if token:
        ticket = db.session.get(Ticket, int(token.group(1)))
        if ticket is not None:
            ticket = survivor_of(ticket)
            if is_participant(ticket, sender):
                return Thread(ticket, via="subject")
            claimed = claimed or ticket.id
    return Thread(None, claimed=claimed)


def _referenced_tickets(references: list[str], own_domain: str) -> list[int]:
    if not references:
        return []
    found = list(db.session.scalars(
        select(Message.ticket_id).where(Message.email_message_id.in_(references))))
    found += [t for t in db.session.scalars(
        select(InboundMail.ticket_id).where(InboundMail.message_id.in_(references),
                                            InboundMail.ticket_id.is_not(None)))]
    suffix = f"@{own_domain.lower()}>"
    found += [int(m.group(1)) for ref in references
              if ref.lower().endswith(suffix) and (m := _OWN_ID.match(ref))]
    return list(dict.fromkeys(found))


def is_participant(ticket: Ticket, address: str) -> bool:
    """The ticket's customer or one of its CC addresses (case-insensitive)."""
    address = address.lower()
    if ticket.customer.email.lower() == address:
        return True
    return db.session.scalar(select(TicketParticipant.id).where(
        TicketParticipant.ticket_id == ticket.id,
        func.lower(TicketParticipant.email) == address)) is not None


def staff_addresses() -> frozenset[str]:
    """Every staff e-mail, lower-cased: mail from them is never an agent's action."""
    return frozenset(e.lower() for e in db.session.scalars(select(User.email)))


def customer_by_address(address: str) -> Customer | None:
    return db.session.scalar(select(Customer).where(func.lower(Customer.email) == address.lower()))


def customers_by_address(addresses: set[str]) -> dict[str, Customer]:
    """`customer_by_address` of several (lower-cased) addresses in one query."""
    found: dict[str, Customer] = {}
    for customer in db.session.scalars(select(Customer).where(
            func.lower(Customer.email).in_([a.lower() for a in addresses]))
            .order_by(Customer.id)):
        found.setdefault(customer.email.lower(), customer)
    return found
