"""Links between tickets (related, or one a duplicate of the other): added and removed through
here, audited on both tickets and told in both threads. A merge is `merge.py`'s."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from .. import rules
from ..errors import DomainError
from ..extensions import db
from ..models import LinkKind, Ticket, TicketLink, User
from ..queries import links as link_queries
from .base import add_event, audit


def link_tickets(ticket: Ticket, other: Ticket, kind: LinkKind, *, actor: User,
                 now: datetime | None = None) -> TicketLink:
    """Relate two tickets (related, or `ticket` a duplicate of `other`): shown on both pages,
    audited on both, an event in both threads. Whoever may open both may link them (the view
    checks that)."""
    if kind is LinkKind.MERGED:
        raise DomainError(_("Para fusionar tickets usa «Fusionar»."))
    refusal = rules.ticket_link_refusal(
        ticket.id, other.id, linked=link_queries.link_between(ticket.id, other.id) is not None)
    if refusal == rules.SAME_TICKET:
        raise DomainError(_("Un ticket no se puede vincular consigo mismo."))
    if refusal == rules.ALREADY_LINKED:
        raise DomainError(_("Estos tickets ya están vinculados."))
    now = now or rules.utcnow()
    link = TicketLink(ticket_id=ticket.id, other_id=other.id, kind=kind,
                      created_by_id=actor.id, created_at=now)
    db.session.add(link)
    _record(ticket, other, kind, actor, now, "link")
    db.session.flush()
    return link


def unlink_tickets(link: TicketLink, *, actor: User, now: datetime | None = None) -> None:
    """Remove a link: audited on both tickets, an event in both threads; a merge stays."""
    if link.kind is LinkKind.MERGED:
        raise DomainError(_("Una fusión no se puede deshacer quitando el vínculo."))
    ticket, other = db.session.get(Ticket, link.ticket_id), db.session.get(Ticket, link.other_id)
    _record(ticket, other, link.kind, actor, now or rules.utcnow(), "unlink")
    db.session.delete(link)
    db.session.flush()


def _record(ticket: Ticket, other: Ticket, kind: LinkKind, actor: User, now: datetime,
            action: str) -> None:
    """The audit row and the thread event of a link added or removed, on both tickets. The
    event says which way the link points (`side`: "from" on the duplicate, "to" on its
    original), so each thread reads right ("duplicado de #2" / "#5 es un duplicado")."""
    for this, that, side in ((ticket, other, "from"), (other, ticket, "to")):
        if action == "link":
            audit(this, actor, "link", field=kind.value, new=that.number)
        else:
            audit(this, actor, "unlink", field=kind.value, old=that.number)
        add_event(this, actor, now, action, kind=kind.value, other=that.number, side=side,
                  subject=that.subject)
