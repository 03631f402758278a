"""Resolving a ticket in tests that only need it resolved: *Resolver*'s workflow (the only way
to Resuelto), with a general resolution category made on first use."""

from __future__ import annotations

from sqlalchemy import select

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import ResolutionCategory, Ticket, User

GENERAL = "Solucionado (pruebas)"


def general_category() -> ResolutionCategory:
    """The resolution category every ticket fits; created in this transaction if missing."""
    category = db.session.scalar(select(ResolutionCategory).where(
        ResolutionCategory.name == GENERAL))
    if category is None:
        category = ResolutionCategory(name=GENERAL)
        db.session.add(category)
        db.session.flush()
    return category


def resolve(ticket: Ticket, *, actor: User | None, ask_confirmation: bool = False, **kwargs):
    """Resolve through `workflows.resolve_ticket` (inside the caller's transaction)."""
    return workflows.resolve_ticket(ticket, actor=actor, solved=True,
                                    resolution=general_category(),
                                    notes=kwargs.pop("notes", "Resuelto en la prueba."),
                                    ask_confirmation=ask_confirmation, **kwargs)
