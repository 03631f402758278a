"""Who works a ticket: routing, automatic assignment, waiting tickets, take, reassign."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select, update

from .. import queries, rules
from ..errors import CapacityExceeded, DomainError
from ..extensions import db
from ..models import AuditEntry, Strategy, Team, Ticket, TicketStatus, User
from ..queries.assignment import team_member_ids, tickets_to_route
from .base import add_event, audit, ensure_fresh, touch
from .lifecycle import apply_targets, set_status
from .notify import tell_assignee
from .outbox import intent_handler, schedule, schedule_waiting

log = logging.getLogger(__name__)


@intent_handler("route_ticket")
def route_ticket(ticket_id: int) -> int | None:
    """Route a new ticket to a team and give it to an eligible agent; the assignee's id or None.

    On PostgreSQL the commit does not wait for the disk (synchronous_commit off, for this
    transaction only): a crash can lose the last fraction of a second of routings, and with
    them their intents' done marks, so the outbox sweep routes those tickets again. Routing
    is repeatable and mails nobody, so nothing else is lost. The wait for the disk was 0.35 ms
    of 4.1 per ticket (bench/sla_sweep.py).
    """
    row = db.session.execute(queries.ticket_to_route(ticket_id)).first()
    if row is None:
        return None
    ticket, first_body, *_settings = row
    queries.hold_ticket_locks([ticket.id])
    if ticket.status is not TicketStatus.NEW or ticket.assignee_id:
        return None  # already handled: the job is idempotent on the ticket's state
    # What routing reads next (rules, policies, the team's agents) never depends on this
    # ticket's pending changes: no flush before each read, one flush at the end.
    with db.session.no_autoflush:
        return _route(ticket, first_body)


def _route(ticket: Ticket, first_body: str, decision: rules.RoutingDecision | None = None,
           held: _HeldLoads | None = None) -> int | None:
    decision = decision or rules.route(ticket_facts(ticket, first_body),
                                       queries.routing_rule_specs(),
                                       queries.fallback_team_id(ticket.category))
    why = f"rule:{decision.rule_id}" if decision.rule_id else "default"
    if decision.team_id != ticket.team_id:
        audit(ticket, None, "route", field="team", old=ticket.team_id, new=decision.team_id,
              reason=why)
        ticket.team_id = decision.team_id
    if decision.priority is not ticket.priority:
        audit(ticket, None, "route", field="priority", old=ticket.priority,
              new=decision.priority, reason=why)
        ticket.priority = decision.priority
        apply_targets(ticket)
    if ticket.team_id is None:
        return None
    return auto_assign(ticket, decision.strategy, why, held)


def ticket_facts(ticket: Ticket, first_body: str | None = None) -> rules.TicketFacts:
    """What routing looks at, copied out of the ticket and its customer (`first_body`: the
    first message's text, when the caller already has it)."""
    if first_body is None:
        first_body = ticket.messages[0].body if ticket.messages else ""
    customer = ticket.customer
    return rules.TicketFacts(
        category_id=ticket.category_id, priority=ticket.priority, channel=ticket.channel.value,
        plan=customer.plan, country=customer.country, language=ticket.language,
        text=f"{ticket.subject}\n{first_body}", subscription_state=customer.subscription_state,
        billing_state=customer.billing_state,
    )


def auto_assign(ticket: Ticket, strategy: Strategy | None, why: str,
                held: _HeldLoads | None = None) -> int | None:
    """Give the ticket to the best eligible agent of its team (by `strategy`, else the team's);
    None if nobody has room.

    Candidates are ranked without locks; each one's capacity is then re-checked and taken
    under their row lock (`queries.take_capacity`), so two workers assigning at once never
    push an agent over capacity. A batch that row-locked every agent up front (`held`) ranks
    and checks them on the loads it read once instead, kept up to date as it assigns.
    """
    team_strategy, loads = held.team(ticket.team_id) if held else \
        queries.team_agents(ticket.team_id)
    strategy = strategy or team_strategy
    now = held.now if held else rules.utcnow()
    for agent_id in rules.rank_agents(loads.values(), strategy, ticket.category_id):
        agent = held.claim(agent_id) if held else _claim(ticket, agent_id, now)
        if agent is None:
            continue  # someone else filled them up meanwhile: next candidate
        _hand_over(ticket, agent, actor=None, reason=f"auto:{strategy.value}:{why}", now=now,
                   flush=held is None)  # a batch flushes once, at its end
        return agent_id
    return None


class _HeldLoads:
    """What a routing batch knows of the agents it row-locked up front (every active member of
    the teams its tickets go to): each team's loads read once, and each assignment counted in
    them as the counter's trigger counts it in the database. Nobody else can change those rows
    until the batch commits, so `rules.has_capacity` on these loads is the same check
    `queries.take_capacity` makes in SQL. One clock for the batch: an agent's
    `last_assigned_at` is written once, not once per ticket."""

    def __init__(self, now: datetime):
        self.now = now
        self.teams: dict[int, queries.TeamAgents] = {}

    def team(self, team_id: int) -> queries.TeamAgents:
        if team_id not in self.teams:
            self.teams[team_id] = queries.team_agents(team_id)
        return self.teams[team_id]

    def claim(self, agent_id: int) -> User | None:
        held = [team.loads for team in self.teams.values() if agent_id in team.loads]
        load = held[0][agent_id]
        if not rules.has_capacity(load.open_tickets, load.capacity):
            return None
        load = replace(load, open_tickets=load.open_tickets + 1, last_assigned_at=self.now)
        for loads in held:  # an agent of two teams is one person
            loads[agent_id] = load
        agent = db.session.get(User, agent_id)
        agent.last_assigned_at = self.now
        return agent


@intent_handler("assign_waiting")
def assign_waiting(team_id: int) -> list[int]:
    """Assign the team's waiting (new, unassigned) tickets, nearest deadline first."""
    team = db.session.get(Team, team_id)
    if team is None:
        return []
    assigned = []
    tickets = queries.waiting_tickets(team_id)  # locked: tickets first, then agents
    if tickets:
        queries.lock_team_agents(team_id)  # every agent this pass can touch, in id order
    for ticket in tickets:
        if auto_assign(ticket, team.strategy, "waiting") is None:
            break  # nobody has room left
        assigned.append(ticket.id)
    return assigned


def sweep_waiting(now: datetime) -> int:
    """Safety net: every team with waiting tickets gets an assignment pass."""
    return sum(len(assign_waiting(team_id)) for team_id in queries.teams_with_waiting())


def assign_ticket(ticket: Ticket, agent: User | None, *, actor: User | None, reason: str,
                  now: datetime | None = None, over_capacity: str | None = None) -> None:
    """Give the ticket to `agent` (None: back to the team pool). Flushes; the caller commits.
    An agent at capacity gets it only from a supervisor giving `over_capacity`, the reason
    (`rules.capacity_refusal`), which is audited."""
    now = now or rules.utcnow()
    if not rules.can_reassign(ticket.status):
        raise DomainError(_("Un ticket resuelto no se puede reasignar."))
    if agent is not None and agent.id != ticket.assignee_id \
            and _claim(ticket, agent.id, now) is None:
        _past_capacity(ticket, agent, actor=actor, why=over_capacity, now=now)
    _hand_over(ticket, agent, actor=actor, reason=reason, now=now)


def _past_capacity(ticket: Ticket, agent: User, *, actor: User | None, why: str | None,
                   now: datetime) -> None:
    """The agent is full: refuse (`rules.capacity_refusal`), or, for a supervisor with a
    reason, go past capacity knowingly: an audit row keeps the load and the reason."""
    queries.lock_users([agent.id])
    held, capacity = db.session.execute(
        select(User.open_tickets, User.capacity).where(User.id == agent.id)).one()
    refusal = rules.capacity_refusal(actor.role if actor is not None else None,
                                     open_tickets=held, capacity=capacity, reason=why)
    if refusal == rules.FULL:
        raise CapacityExceeded(_("%(name)s no tiene capacidad libre.", name=agent.name))
    if refusal == rules.NEEDS_REASON:
        raise CapacityExceeded(_("%(name)s ya tiene %(open)d tickets abiertos de %(capacity)d. "
                                 "Para asignarle más, escribe el motivo.", name=agent.name,
                                 open=held, capacity=capacity))
    if refusal is None and rules.has_capacity(held, capacity):
        return  # room was freed between the claim and now
    audit(ticket, actor, "over_capacity", field="assignee", old=f"{held}/{capacity}",
          new=agent.id, reason=why.strip()[:rules.OVER_CAPACITY_REASON_MAX])
    agent.last_assigned_at = now


def _claim(ticket: Ticket, agent_id: int, now: datetime) -> User | None:
    """Room for the ticket with the agent, taken under their row lock (after the ticket's and
    the previous assignee's, in the one order): the agent, or None if they are full."""
    queries.lock_for_assignment(ticket.id, [agent_id, ticket.assignee_id])
    return queries.take_capacity(agent_id, now)


def _hand_over(ticket: Ticket, agent: User | None, *, actor: User | None, reason: str,
               now: datetime, flush: bool = True) -> None:
    if ticket.assignee_id is not None and ticket.team_id is not None \
            and (agent is None or agent.id != ticket.assignee_id):
        schedule_waiting(ticket.team_id)  # the previous assignee has room again
    audit(ticket, actor, "assign", field="assignee", old=ticket.assignee_id,
          new=agent.id if agent else None, reason=reason)
    add_event(ticket, actor, now, "assign", to=agent.name if agent else "")
    ticket.assignee = agent
    new_status = rules.status_after_assignment(ticket.status, agent is not None)
    set_status(ticket, new_status, actor, reason, now)
    if flush:
        db.session.flush()
    tell_assignee(ticket, agent, actor=actor, reason=reason, now=now)


def recount_open_tickets() -> list[tuple[int, int, int]]:
    """Check every agent's open-ticket counter (`User.open_tickets`, kept by triggers) against
    their tickets and repair the wrong ones, each an audit row and a warning in the log. The
    wrong ones are counted again under their row locks before the repair, so a ticket assigned
    meanwhile is neither lost nor counted twice. Returns (user id, was, is) of each repair."""
    drifted = [user_id for user_id, _was, _is in queries.open_ticket_drift()]
    if not drifted:
        return []
    queries.lock_users(drifted)
    drift = queries.open_ticket_drift(drifted)
    for user_id, was, actual in drift:
        log.warning("open-ticket counter of user %s was %s, is %s: repaired", user_id, was,
                    actual)
        db.session.execute(update(User).where(User.id == user_id).values(open_tickets=actual))
        db.session.add(AuditEntry(entity="users", entity_id=user_id, action="recount",
                                  field="open_tickets", old_value=str(was),
                                  new_value=str(actual)))
    db.session.flush()
    return drift


def take_ticket(ticket: Ticket, *, actor: User, expected_version: int | None = None) -> None:
    """The person takes an unassigned ticket they may take (`rules.take_refusal`)."""
    ensure_fresh(ticket, expected_version)
    refusal = rules.take_refusal(actor.role, (t.id for t in actor.teams), team_id=ticket.team_id,
                                 assignee_id=ticket.assignee_id, status=ticket.status)
    if refusal == rules.TAKEN:
        raise DomainError(_("Este ticket ya está asignado a %(name)s.", name=ticket.assignee.name))
    if refusal == rules.RESOLVED:
        raise DomainError(_("Un ticket resuelto no se puede tomar; reábrelo primero."))
    if refusal == rules.NOT_YOUR_TEAM:
        raise DomainError(_("Solo puedes tomar tickets de tus equipos."))
    assign_ticket(ticket, actor, actor=actor, reason="take")
    touch(ticket, rules.utcnow())
    db.session.flush()


def reassign_ticket(ticket: Ticket, *, team: Team | None, agent: User | None, actor: User,
                    expected_version: int | None = None,
                    over_capacity: str | None = None) -> None:
    """A supervisor moves a ticket to a team and/or an agent (None: the team's pool); past the
    agent's capacity only with `over_capacity`, the reason."""
    refusal = rules.reassign_refusal(actor.role, ticket.status)
    if refusal == rules.NOT_A_SUPERVISOR:
        raise DomainError(_("Solo un supervisor puede reasignar tickets."))
    ensure_fresh(ticket, expected_version)
    if refusal == rules.RESOLVED:
        raise DomainError(_("Un ticket resuelto no se puede reasignar."))
    team = team or (ticket.team if agent is None or ticket.team in agent.teams else None)
    if agent is not None and team is not None and team not in agent.teams:
        raise DomainError(_("%(name)s no pertenece al equipo %(team)s.", name=agent.name,
                            team=team.name))
    team = team or (agent.teams[0] if agent is not None and agent.teams else None)
    if team is not None and team.id != ticket.team_id:
        audit(ticket, actor, "assign", field="team", old=ticket.team_id, new=team.id,
              reason="manual")
        ticket.team = team
    if agent is not None or ticket.assignee_id is not None:
        assign_ticket(ticket, agent, actor=actor, reason="manual", over_capacity=over_capacity)
    touch(ticket, rules.utcnow())
    db.session.flush()


def schedule_bulk_routing(ticket_ids: list[int]) -> None:
    """Have these new tickets routed by one `route_tickets` job (their creator passed
    `create_ticket(route=False)`), as mail's processing runs open them by the hundred."""
    if ticket_ids:
        schedule("route_tickets", ticket_ids, key=f"route-bulk:{ticket_ids[0]}")


@intent_handler("route_tickets")
def route_tickets(ticket_ids: list[int]) -> list[int]:
    """Outbox handler: route a batch of new tickets in one transaction, each through `_route`
    exactly as `route_ticket` routes one (same rules, audit rows and events). Every lock is
    taken up front in the one order: the tickets by id, then every active agent of the teams
    they go to, by id; their loads are then read once per team (`_HeldLoads`). Returns the ids
    of the tickets assigned; tickets already routed are left alone (idempotent)."""
    rows = db.session.execute(tickets_to_route(ticket_ids)).all()
    queries.hold_ticket_locks(ticket.id for ticket, *_rest in rows)
    todo = [(ticket, body) for ticket, body, *_settings in rows
            if ticket.status is TicketStatus.NEW and not ticket.assignee_id]
    assigned, fallbacks = [], {}
    with db.session.no_autoflush:  # as in route_ticket: one flush per ticket, at its end
        specs = queries.routing_rule_specs()
        decisions = []
        for ticket, body in todo:  # the rules read once for the batch, then `rules.route`
            if ticket.category_id not in fallbacks:
                fallbacks[ticket.category_id] = queries.fallback_team_id(ticket.category)
            decisions.append(rules.route(ticket_facts(ticket, body), specs,
                                         fallbacks[ticket.category_id]))
        queries.lock_users(team_member_ids(sorted({d.team_id for d in decisions} - {None})))
        held = _HeldLoads(rules.utcnow())  # read after the locks: nobody changes them now
        for (ticket, body), decision in zip(todo, decisions, strict=True):
            if _route(ticket, body, decision, held) is not None:
                assigned.append(ticket.id)
    db.session.flush()  # the batch's rows of each table in one statement (or executemany)
    return assigned
