"""The generation plan: the dice, the clock, reference ids, id counters and agents' room."""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from flask import current_app
from sqlalchemy import select

from .. import queries, rules
from ..extensions import db
from ..models import (
    Availability,
    Category,
    Channel,
    Priority,
    Role,
    SlaPolicy,
    SlaState,
    Strategy,
    Team,
    TicketStatus,
    User,
)
from . import copy
from .bulk import next_ids
from .copy import Issue, Voice

#: Each agent starts with a share of their capacity busy drawn from this range, so new tickets
#: can still be assigned and *Tomar* works.
OPEN_LOAD = (0.4, 0.7)
#: New tickets waiting in a team's queue, as a share of its available agents' capacity: the
#: waiting pass assigns them once the worker runs, and they still leave everyone room.
WAITING_LOAD = 0.1


class Weighted:
    """Pick among items with relative weights from one random number (bisect, no allocation)."""

    def __init__(self, pairs):
        self.items = [item for item, _w in pairs]
        self.cumulative = list(itertools.accumulate(weight for _i, weight in pairs))
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


def _weights(name: str, convert=str) -> Weighted:
    return Weighted([(convert(key), weight) for key, weight in copy.WEIGHTS[name].items()])


PICK_STATUS = _weights("status", TicketStatus)
PICK_PRIORITY = _weights("priority", Priority)
PICK_CHANNEL = _weights("channel", Channel)
PICK_CATEGORY = _weights("category")
PICK_RESOLUTION = _weights("resolution")
PICK_SCORE = _weights("score", int)
PICK_SCORE_LATE = _weights("score_late", int)
PICK_SLA_STATE = _weights("sla_state", SlaState)
PICK_COUNTRY = Weighted(copy.COUNTRIES)
PICK_PLAN = Weighted(copy.PLANS)
PICK_SUBSCRIPTION = Weighted(copy.SUBSCRIPTION_STATES)
PICK_BILLING = Weighted(copy.BILLING_STATES)
PICK_EVENT = Weighted(copy.ACCOUNT_EVENTS)


class Cust(NamedTuple):
    """What a ticket needs of its customer."""

    id: int
    first: str
    name: str
    locale: str
    plan: str
    country: str
    devices: tuple[str, ...]
    amount: str


@dataclass(slots=True)
class Draft:
    """One ticket while it is generated, before it becomes rows."""

    id: int
    status: TicketStatus
    priority: Priority
    original_priority: Priority
    channel: Channel
    code: str
    cust: Cust
    voice: Voice
    issue: Issue
    subject: str
    body: str
    slots: dict
    team_id: int | None = None
    why: str = "default"
    strategy: str = Strategy.LEAST_LOADED.value
    agent: tuple[int, str] | None = None
    created: datetime | None = None
    assigned: datetime | None = None
    first_at: datetime | None = None
    resolved_at: datetime | None = None
    paused_at: datetime | None = None
    due_first: datetime | None = None
    due_resolution: datetime | None = None
    late: bool = False
    resolution: str | None = None
    score: int | None = None
    escalation: str | None = None
    escalated_at: datetime | None = None


@dataclass
class Plan:
    """What generation needs: the dice, the clock, reference ids and the id counters."""

    rng: random.Random
    now: datetime
    warn_share: float
    categories: dict[str, int]
    default_team: dict[str, int]
    strategy: dict[int, str]
    targets: dict[Priority, tuple[int, int]]
    warn_floor: dict[Priority, int | None]  # each policy's "minutes before" (rules.warn_after)
    resolutions: dict[str, int]
    reasons: dict[str, int]
    rule_specs: list[rules.RuleSpec]
    members: dict[int, list[tuple[int, str, frozenset[str]]]]
    supervisor: tuple[int, str]
    ids: dict[str, itertools.count]
    customers: list[Cust] = field(default_factory=list)
    pools: dict[tuple[int, str], list[tuple[int, str]]] = field(default_factory=dict)
    last_assigned: dict[int, datetime] = field(default_factory=dict)
    room: dict[int, int] = field(default_factory=dict)  # open tickets an agent may still get
    waiting: dict[int, float] = field(default_factory=dict)  # new tickets a team may still hold


def make_plan(rng: random.Random, now: datetime, ref: dict, staff: list[User]) -> Plan:
    """The plan for this seed, read from the reference rows and staff just created."""
    teams = db.session.scalars(select(Team)).all()
    categories = db.session.scalars(select(Category)).all()
    agents = [user for user in staff if user.role is Role.AGENT]  # supervisors work no history
    members: dict[int, list] = {team.id: [] for team in teams}
    for user in agents:
        for team in user.teams:
            members[team.id].append((user.id, user.name, frozenset(c.code for c in user.skills)))
    policies = db.session.scalars(select(SlaPolicy)).all()
    supervisor = next(user for user in staff if user.role is Role.SUPERVISOR)
    return Plan(
        rng=rng, now=now, warn_share=current_app.config.get("HELPDESK_SLA_WARN_SHARE", 0.25),
        categories={c.code: c.id for c in categories},
        default_team={c.code: c.default_team_id for c in categories},
        strategy={team.id: team.strategy.value for team in teams},
        targets={p.priority: (p.first_response_minutes,
                              p.resolution_minutes or copy.SLA_TARGETS[p.priority][1])
                 for p in policies},
        warn_floor={p.priority: p.warn_minutes for p in policies},
        resolutions=ref["resolution_categories"], reasons=ref["escalation_reasons"],
        rule_specs=queries.routing_rule_specs(), members=members,
        supervisor=(supervisor.id, supervisor.name), ids=next_ids(),
        room={user.id: int(user.capacity * rng.uniform(*OPEN_LOAD)) for user in agents},
        waiting=_waiting_room(agents),
    )


def _waiting_room(agents: list[User]) -> dict[int, float]:
    """Per team, the new tickets it may hold unassigned: WAITING_LOAD of its available agents'
    capacity, an agent of several teams shared among them."""
    waiting: dict[int, float] = {}
    for user in agents:
        if user.availability is Availability.AVAILABLE:
            for team in user.teams:
                share = user.capacity * WAITING_LOAD / len(user.teams)
                waiting[team.id] = waiting.get(team.id, 0.0) + share
    return waiting


def pool(plan: Plan, team_id: int, code: str) -> list[tuple[int, str]]:
    """The team's agents who may take a ticket of this category (skills respected)."""
    key = (team_id, code)
    if key not in plan.pools:
        members = plan.members.get(team_id, [])
        found = [(uid, name) for uid, name, skills in members if not skills or code in skills]
        plan.pools[key] = found or [(uid, name) for uid, name, _s in members] or [plan.supervisor]
    return plan.pools[key]
