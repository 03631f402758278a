"""The queue's bulk actions: one workflow per ticket, each ticket refused on its own.

Every function takes the tickets' ids (the view passes only those the person may see), locks
them in id order and then the people whose counters move, and returns a `BulkOutcome`: what
changed, what was already so, and what was refused with the reason. A ticket changed since the
page was shown (`Conflict`) refuses the whole batch, as a single action would."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _

from .. import queries, rules
from ..errors import Conflict, DomainError
from ..extensions import db
from ..models import Priority, ResolutionCategory, Team, Ticket, TicketStatus, User
from . import assignment, closure, lifecycle
from .base import ensure_fresh


@dataclass
class BulkOutcome:
    """The answer of a bulk action: ids changed, ids already so, (number, reason) refused."""

    changed: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def apply_each(tickets: Iterable[Ticket], change: Callable[[Ticket, int | None], None], *,
               expected_versions: dict[int, int] | None = None) -> BulkOutcome:
    """Run `change(ticket, expected_version)` on each ticket under a savepoint of its own: a
    DomainError undoes and refuses that ticket alone; a Conflict is raised for the batch,
    naming the ticket."""
    outcome = BulkOutcome()
    for ticket in tickets:
        number, before = ticket.number, ticket.version
        expected = None if expected_versions is None else expected_versions.get(ticket.id)
        try:
            with db.session.begin_nested():
                change(ticket, expected)
        except Conflict as exc:
            raise Conflict(_("%(ticket)s: %(problem)s", ticket=number, problem=str(exc))) \
                from None
        except DomainError as exc:
            outcome.refused.append((number, str(exc)))
            continue
        (outcome.changed if ticket.version != before else outcome.unchanged).append(ticket.id)
    return outcome


def _locked(ticket_ids, *, people: Iterable[int | None] = ()) -> list[Ticket]:
    """The tickets locked by id, then their assignees and `people` by id (the one order)."""
    tickets = queries.tickets_by_ids(ticket_ids, for_update=True)
    involved = {ticket.assignee_id for ticket in tickets} | set(people)
    queries.lock_users(sorted(involved - {None}))
    return tickets


def take_tickets(ticket_ids, *, actor: User) -> BulkOutcome:
    """*Tomar* on several tickets: each one `take_ticket` accepts becomes the person's."""
    return apply_each(_locked(ticket_ids, people=[actor.id]),
                      lambda ticket, _v: assignment.take_ticket(ticket, actor=actor))


def change_statuses(ticket_ids, status: TicketStatus, *, actor: User,
                    expected_versions: dict[int, int] | None = None) -> BulkOutcome:
    """One status for several tickets, each along an allowed transition (`change_status`)."""
    def change(ticket, expected):
        if ticket.status is not status:
            lifecycle.change_status(ticket, status, actor=actor, expected_version=expected)
        else:
            ensure_fresh(ticket, expected)
    return apply_each(_locked(ticket_ids), change, expected_versions=expected_versions)


def change_priorities(ticket_ids, priority: Priority, *, actor: User,
                      expected_versions: dict[int, int] | None = None) -> BulkOutcome:
    """One priority for several tickets; each one's deadlines follow (`change_priority`)."""
    return apply_each(_locked(ticket_ids), lambda ticket, expected: lifecycle.change_priority(
        ticket, priority, actor=actor, expected_version=expected),
        expected_versions=expected_versions)


def reassign_tickets(ticket_ids, *, team: Team | None, agent: User | None, actor: User,
                     expected_versions: dict[int, int] | None = None,
                     over_capacity: str | None = None) -> BulkOutcome:
    """A supervisor moves several tickets at once (`reassign_ticket` each, each checked against
    the version the supervisor saw). Every lock is taken up front in the one order — the
    tickets by id, then every agent involved (the new one and the previous assignees) by id —
    so a bulk move never deadlocks with another assignment."""
    if not rules.may_reassign(actor.role):
        raise DomainError(_("Solo un supervisor puede reasignar tickets."))
    tickets = _locked(ticket_ids, people=[agent.id if agent else None])
    return apply_each(tickets, lambda ticket, expected: assignment.reassign_ticket(
        ticket, team=team, agent=agent, actor=actor, expected_version=expected,
        over_capacity=over_capacity), expected_versions=expected_versions)


def resolve_tickets(ticket_ids, *, actor: User, solved: bool,
                    resolution: ResolutionCategory | None, notes: str,
                    ask_confirmation: bool | None = None,
                    expected_versions: dict[int, int] | None = None,
                    now: datetime | None = None) -> BulkOutcome:
    """The supervisors' bulk *Resolver*: the guided closure (`closure.resolve_ticket`) on each
    ticket with one resolution category and closing notes; a ticket it refuses (a category
    that does not fit its own, …) stays as it was and says why; one already resolved is left
    alone. The confirmation is asked as told, or (None) as each ticket's channel says."""
    if not rules.may_bulk_resolve(actor.role):
        raise closure.ClosureForbidden(_("Solo un supervisor puede resolver tickets en bloque."))
    if not solved:
        raise DomainError(_("Confirma que el problema está completamente resuelto."))
    now = now or rules.utcnow()

    def change(ticket, expected):
        if ticket.status is TicketStatus.RESOLVED:
            ensure_fresh(ticket, expected)
            return
        ask = (rules.asks_confirmation(ticket.channel.value) if ask_confirmation is None
               else ask_confirmation)
        closure.resolve_ticket(ticket, actor=actor, solved=True, resolution=resolution,
                               notes=notes, ask_confirmation=ask, expected_version=expected,
                               now=now)
    return apply_each(_locked(ticket_ids), change, expected_versions=expected_versions)
