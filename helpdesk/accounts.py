"""The customer's Bayit+ account as the ticket sidebar shows it.

Views ask an `AccountDirectory` for an `AccountSummary`; the default reads the local customer
tables. A real Bayit+ account service plugs in by naming another class in
``HELPDESK_ACCOUNT_DIRECTORY`` (``package.module.Class``) — no view changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import import_module
from typing import Protocol

from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, true

from . import queries
from .extensions import db
from .models import AccountEvent, Customer, ResolutionCategory, Ticket, TicketStatus, User
from .queries import links as link_queries

#: How the account codes of the Bayit+ systems read in the panel.
STATE_LABELS = {
    "activa": _l("Activa"), "en_prueba": _l("En periodo de prueba"),
    "cancelada": _l("Cancelada"), "suspendida": _l("Suspendida"),
    "al_dia": _l("Al día"), "pago_pendiente": _l("Pago pendiente"),
    "tarjeta_rechazada": _l("Tarjeta rechazada"), "reembolsado": _l("Reembolsado"),
}


#: The known codes of each account state (pickers offer these, in words).
SUBSCRIPTION_CODES = ("activa", "en_prueba", "cancelada", "suspendida")
BILLING_CODES = ("al_dia", "pago_pendiente", "tarjeta_rechazada", "reembolsado")


def state_label(code: str | None) -> str:
    """An account code in words (unknown codes are shown as they are)."""
    return str(STATE_LABELS.get(code, code)) if code else "—"


def country_name(code: str | None) -> str:
    """ "ES" → "España" in the viewer's language."""
    if not code:
        return "—"
    return get_locale().territories.get(code.upper(), code)


HISTORY_TICKETS = 10
HISTORY_EVENTS = 10


@dataclass(frozen=True)
class PastTicket:
    id: int
    subject: str
    status: TicketStatus
    created_at: datetime
    resolution: str | None
    merged_into: int | None = None  # the ticket it was merged into: it reads "Fusionado en #N"


@dataclass(frozen=True)
class AccountEventView:
    occurred_at: datetime
    kind: str
    description: str


@dataclass(frozen=True)
class AccountSummary:
    """Everything the sidebar shows about one customer."""

    name: str
    email: str
    plan: str | None
    subscription_state: str | None
    country: str | None
    devices: tuple[str, ...]
    billing_state: str | None
    member_since: date | None
    tickets: tuple[PastTicket, ...] = field(default=())
    events: tuple[AccountEventView, ...] = field(default=())
    #: Past tickets the viewer may not open (other teams'): counted, never listed.
    hidden_tickets: int = 0


class AccountDirectory(Protocol):
    """Looks a customer's account up; `summary` never raises for an unknown account."""

    def summary(self, customer_id: int, *, exclude_ticket: int | None = None,
                viewer: User | None = None) -> AccountSummary:
        """The account details and history of this customer; past tickets only those `viewer`
        may open (`queries.visible_to`), the others counted in `hidden_tickets`."""


class LocalAccountDirectory:
    """The default: the customers, tickets and account_events tables of this database."""

    def summary(self, customer_id: int, *, exclude_ticket: int | None = None,
                viewer: User | None = None) -> AccountSummary:
        customer = db.session.get(Customer, customer_id)
        tickets, hidden = self._other_tickets(customer_id, exclude_ticket, viewer)
        events = db.session.scalars(
            select(AccountEvent).where(AccountEvent.customer_id == customer_id)
            .order_by(AccountEvent.occurred_at.desc()).limit(HISTORY_EVENTS)
        )
        return AccountSummary(
            name=customer.name, email=customer.email, plan=customer.plan,
            subscription_state=customer.subscription_state, country=customer.country,
            devices=tuple(customer.devices or ()), billing_state=customer.billing_state,
            member_since=customer.member_since,
            tickets=tickets,
            events=tuple(AccountEventView(e.occurred_at, e.kind, e.description) for e in events),
            hidden_tickets=hidden,
        )

    @staticmethod
    def _other_tickets(customer_id: int, exclude_ticket: int | None,
                       viewer: User | None) -> tuple[tuple[PastTicket, ...], int]:
        """The customer's other tickets the viewer may open (newest first, at most
        HISTORY_TICKETS, with their resolution) and how many others they may not: one
        statement, the counts taken over every row before the LIMIT."""
        visible = queries.visible_to(viewer) if viewer is not None else true()
        rows = db.session.execute(
            select(Ticket.id, Ticket.subject, Ticket.status, Ticket.created_at,
                   ResolutionCategory.name, case((visible, 1), else_=0),
                   (func.count().over() - func.count(case((visible, 1))).over()),
                   link_queries.merged_into_id())
            .outerjoin(ResolutionCategory,
                       ResolutionCategory.id == Ticket.resolution_category_id)
            .where(Ticket.customer_id == customer_id, Ticket.id != exclude_ticket)
            .order_by(case((visible, 0), else_=1), Ticket.created_at.desc(), Ticket.id.desc())
            .limit(HISTORY_TICKETS)).all()
        hidden = rows[0][6] if rows else 0
        return tuple(PastTicket(*row[:5], merged_into=row[7]) for row in rows if row[5]), hidden


def get_directory() -> AccountDirectory:
    """The configured directory (LocalAccountDirectory unless HELPDESK_ACCOUNT_DIRECTORY says)."""
    path = current_app.config.get("HELPDESK_ACCOUNT_DIRECTORY")
    if not path:
        return LocalAccountDirectory()
    module, _sep, name = path.rpartition(".")
    return getattr(import_module(module), name)()
