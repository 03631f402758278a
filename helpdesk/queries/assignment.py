"""What routing and assignment read: team loads, the ticket to route, capacity, rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from .. import rules
from ..extensions import db
from ..models import (
    Category,
    Customer,
    Message,
    Role,
    RoutingRule,
    Strategy,
    Team,
    Ticket,
    TicketStatus,
    User,
    agent_skills,
    team_members,
)
from .base import OPEN_STATES, get_setting
from .locks import hold_ticket_locks


class TeamAgents(NamedTuple):
    """A team as assignment sees it: its strategy (None when it has no active member) and how
    each active member stands (`rules.AgentLoad`), by id."""

    strategy: Strategy | None
    loads: dict[int, rules.AgentLoad]


def team_agents(team_id: int) -> TeamAgents:
    """The team's strategy and every active member's load, in one statement, as columns: fresh
    from the database (open tickets from `User.open_tickets`, kept by triggers), so a ranking
    right after an assignment sees it, and no User object is built or refreshed for it."""
    stmt = (
        select(User.id, User.availability, User.capacity, User.open_tickets,
               User.last_assigned_at, agent_skills.c.category_id, Team.strategy)
        .join(team_members, team_members.c.user_id == User.id)
        .join(Team, Team.id == team_members.c.team_id)
        .outerjoin(agent_skills, agent_skills.c.user_id == User.id)
        .where(team_members.c.team_id == team_id, User.active.is_(True))
        .order_by(User.id)
    )
    people: dict[int, tuple[tuple, set[int]]] = {}
    strategy = None
    for user_id, *load, skill, team_strategy in db.session.execute(stmt):
        people.setdefault(user_id, (load, set()))[1].add(skill)
        strategy = team_strategy  # the same on every row: one team
    return TeamAgents(strategy, {
        user_id: rules.AgentLoad(
            id=user_id, availability=availability, capacity=capacity, open_tickets=open_tickets,
            last_assigned_at=last_assigned_at, skills=frozenset(skills - {None}))
        for user_id, ((availability, capacity, open_tickets, last_assigned_at), skills)
        in people.items()
    })


def team_agent_loads(team_id: int) -> list[rules.AgentLoad]:
    """How assignment sees each active member of the team (see `team_agents`)."""
    return list(team_agents(team_id).loads.values())


def ticket_to_route(ticket_id: int):
    """(ticket, its first message's text, …) in one statement, the ticket row-locked, with its
    customer and category loaded: everything routing reads of it (`tickets_to_route` of one)."""
    return tickets_to_route([ticket_id])


def take_capacity(agent_id: int, now: datetime) -> User | None:
    """Claim room for one more ticket: under the agent's row lock, if they hold fewer than
    their capacity, mark them assigned at `now` and return them (the same statement loads
    them). None if they are full. PostgreSQL re-checks the condition on the row's latest
    version after waiting for a concurrent assigner, so two workers can never push an agent
    over capacity; the ticket UPDATE that follows (same transaction, lock still held) moves
    the count."""
    return db.session.scalars(
        update(User)
        .where(User.id == agent_id, User.open_tickets < User.capacity)
        .values(last_assigned_at=now)
        .returning(User)
        # "fetch": the rows the database changed get the new value in the session too; the
        # default would judge the WHERE on the session's (possibly stale) open_tickets.
        .execution_options(synchronize_session="fetch")
    ).first()


def open_ticket_drift(user_ids: Sequence[int] | None = None) -> list[tuple[int, int, int]]:
    """(user id, stored `open_tickets`, true count) of every user whose counter is wrong; one
    statement, so one snapshot: a change in flight is either in both numbers or in neither."""
    held = (
        select(Ticket.assignee_id, func.count().label("n"))
        .where(Ticket.assignee_id.is_not(None), Ticket.status.in_(OPEN_STATES))
        .group_by(Ticket.assignee_id)
        .subquery()
    )
    actual = func.coalesce(held.c.n, 0)
    stmt = (
        select(User.id, User.open_tickets, actual)
        .outerjoin(held, held.c.assignee_id == User.id)
        .where(User.open_tickets != actual)
        .order_by(User.id)
    )
    if user_ids is not None:
        stmt = stmt.where(User.id.in_(list(user_ids)))
    return [tuple(row) for row in db.session.execute(stmt)]


def known_plans() -> list[str]:
    """The plans a routing rule may ask for: those customers have (as the account systems
    spell them), sorted as people read them."""
    plans = db.session.scalars(select(Customer.plan).where(Customer.plan.is_not(None))
                               .distinct())
    return sorted(set(plans), key=rules.fold)


def routing_rule_specs() -> list[rules.RuleSpec]:
    """The enabled routing rules in evaluation order, as plain data."""
    stmt = (
        select(RoutingRule)
        .where(RoutingRule.enabled.is_(True))
        .order_by(RoutingRule.position, RoutingRule.id)
    )
    return [
        rules.RuleSpec(
            id=r.id, name=r.name, team_id=r.team_id, category_id=r.category_id,
            priority=r.priority, channel=r.channel, plan=r.plan, country=r.country,
            language=r.language, subscription_state=r.subscription_state,
            billing_state=r.billing_state, keywords=rules.parse_keywords(r.keywords),
            priority_override=r.priority_override, strategy=r.strategy,
        )
        for r in db.session.scalars(stmt)
    ]


def routing_rules_ordered() -> list[RoutingRule]:
    """Every routing rule (enabled or not) in evaluation order."""
    return list(db.session.scalars(select(RoutingRule).order_by(RoutingRule.position,
                                                               RoutingRule.id)))


def waiting_tickets(team_id: int, limit: int = 200) -> list[Ticket]:
    """The team's new unassigned tickets, nearest deadline first, locked (others skip them)."""
    stmt = (
        select(Ticket)
        .where(Ticket.team_id == team_id, Ticket.status == TicketStatus.NEW,
               Ticket.assignee_id.is_(None))
        .order_by(Ticket.sla_due_at.is_(None), Ticket.sla_due_at, Ticket.id)
        .limit(limit)
        .with_for_update(skip_locked=True, key_share=True)
    )
    tickets = list(db.session.scalars(stmt))
    hold_ticket_locks(ticket.id for ticket in tickets)
    return tickets


def teams_with_waiting() -> list[int]:
    """Teams that have new tickets nobody has taken."""
    stmt = select(Ticket.team_id).distinct().where(
        Ticket.status == TicketStatus.NEW, Ticket.assignee_id.is_(None),
        Ticket.team_id.is_not(None))
    return list(db.session.scalars(stmt))


def team_roster(user: User) -> list[tuple[User, int]]:
    """Members of the teams `user` supervises (all active staff for admins), with open counts:
    the people whose availability they may set (`rules.may_set_availability`)."""
    stmt = select(User).where(User.active.is_(True)).order_by(User.name)
    if user.role is not Role.ADMIN:
        team_ids = [team.id for team in user.supervised_teams]
        member_ids = select(team_members.c.user_id).where(team_members.c.team_id.in_(team_ids))
        stmt = stmt.where(User.id.in_(member_ids))
    return [(person, person.open_tickets) for person in db.session.scalars(stmt)]


def fallback_team_id(category: Category | None) -> int | None:
    """The team of a ticket no routing rule places: its category's team, else the default team
    chosen in the panel (while that team exists), else the first active team. Routing and
    *Probar* both ask here, so the explanation is the decision."""
    if category is not None and category.default_team_id is not None:
        return category.default_team_id
    team_id = get_setting("routing.default_team_id")
    if team_id is not None and db.session.get(Team, team_id) is not None:
        return team_id
    return db.session.scalar(select(Team.id).where(Team.active.is_(True)).order_by(Team.id))


def tickets_to_route(ticket_ids: Sequence[int]):
    """(ticket, its first message's text) of each of these tickets in one statement, as
    `ticket_to_route` reads one: row-locked in id order, with customer and category loaded, and
    on PostgreSQL this transaction's commit made asynchronous (see `workflows.route_ticket`)."""
    first_body = (
        select(Message.body).where(Message.ticket_id == Ticket.id)
        .order_by(Message.created_at, Message.id).limit(1).scalar_subquery()
    )
    extra = ([func.set_config("synchronous_commit", "off", True)]
             if db.engine.dialect.name == "postgresql" else [])
    return (
        select(Ticket, first_body, *extra)
        .options(joinedload(Ticket.customer, innerjoin=True), joinedload(Ticket.category))
        .where(Ticket.id.in_(list(ticket_ids)))
        .order_by(Ticket.id)
        .with_for_update(of=Ticket, key_share=True)
    )


def team_member_ids(team_ids: Sequence[int]) -> list[int]:
    """The active members of these teams, by id (the agents a routing pass may assign to)."""
    return list(db.session.scalars(
        select(User.id).distinct().join(team_members, team_members.c.user_id == User.id)
        .where(team_members.c.team_id.in_(list(team_ids)), User.active.is_(True))
        .order_by(User.id)))
