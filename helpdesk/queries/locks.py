"""Row locks in the one order every assigner follows: tickets first, then agents by id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select

from .. import rules
from ..extensions import db
from ..models import Ticket, User, team_members

#: `Session.info` key: {ticket id: the (sub)transaction that row-locked it}, for the tickets
#: this transaction holds locks on. `workflows` forgets them when that transaction ends.
LOCKED_TICKETS = "helpdesk.locked_tickets"


def hold_ticket_locks(ticket_ids) -> None:
    """Note that this transaction row-locked these tickets (`lock_for_assignment` skips them);
    inside a savepoint, until that savepoint ends (rolling it back releases them)."""
    session = db.session()  # the Session itself: the scoped proxy lacks these two
    transaction = session.get_nested_transaction() or session.get_transaction()
    db.session.info.setdefault(LOCKED_TICKETS, {}).update(
        (ticket_id, transaction) for ticket_id in ticket_ids)


def lock_for_assignment(ticket_id: int, agent_ids) -> None:
    """Take the row locks an assignment needs in the one order every assigner follows: the
    ticket, then the agents (new and previous) by id. Without it two assignments crossing paths
    deadlock — A's ticket going to B while B's goes to A; a worker routing a ticket (ticket
    locked, then its agent) while that agent replies to it (agent, then ticket) — because the
    capacity check locks the new agent and the counter's trigger then locks the old one.
    PostgreSQL only: SQLite has one writer at a time. The ticket is skipped when this
    transaction already holds it (routing, the waiting-ticket pass)."""
    if db.engine.dialect.name != "postgresql":
        return
    if ticket_id not in db.session.info.get(LOCKED_TICKETS, ()):
        db.session.execute(select(Ticket.id).where(Ticket.id == ticket_id)
                           .with_for_update(key_share=True))
        hold_ticket_locks([ticket_id])
    agent_ids = set(agent_ids) - {None}
    if len(agent_ids) > 1:  # one agent is locked by `take_capacity` itself
        lock_users(agent_ids)


def lock_users(user_ids: Iterable[int]) -> None:
    """Row-lock these users in id order (PostgreSQL; SQLite has one writer at a time): the
    counter's triggers wait for us. FOR NO KEY UPDATE, what an UPDATE of their row takes, so
    inserts that merely reference them (audit rows, messages) are not held up."""
    user_ids = list(user_ids)
    if db.engine.dialect.name == "postgresql" and user_ids:
        db.session.execute(select(User.id).where(User.id.in_(user_ids))
                           .order_by(User.id).with_for_update(key_share=True))


def lock_team_agents(team_id: int) -> None:
    """Row-lock the team's active members in id order (PostgreSQL): a transaction that assigns
    several tickets to them takes every agent lock up front, in the one order."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            select(User.id).join(team_members, team_members.c.user_id == User.id)
            .where(team_members.c.team_id == team_id, User.active.is_(True))
            .order_by(User.id).with_for_update(of=User, key_share=True))


def tickets_by_ids(ids: Sequence[int], *, for_update: bool = False) -> list[Ticket]:
    """The tickets with these ids, locked for update where the database can."""
    valid = [i for i in (rules.parse_id(i) for i in ids) if i is not None]
    stmt = select(Ticket).where(Ticket.id.in_(valid)).order_by(Ticket.id)
    if for_update:  # what the lock protects is the row as it is now: refresh loaded ones
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    tickets = list(db.session.scalars(stmt))
    if for_update:
        hold_ticket_locks(ticket.id for ticket in tickets)
    return tickets
