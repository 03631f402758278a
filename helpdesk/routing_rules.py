"""Pure routing and assignment rules: which team a ticket goes to, which agent takes it, and
which breach notices a sweep writes. Data in, data out (re-exported by `rules`)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .enums import Availability, Priority, Strategy

# --- Routing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFacts:
    """What routing may look at, copied out of a ticket and its customer."""

    category_id: int | None
    priority: Priority
    channel: str
    plan: str | None = None
    country: str | None = None
    language: str | None = None
    text: str = ""
    subscription_state: str | None = None
    billing_state: str | None = None


@dataclass(frozen=True)
class RuleSpec:
    """One routing rule as plain data; `None` conditions match anything."""

    id: int
    name: str
    team_id: int
    category_id: int | None = None
    priority: Priority | None = None
    channel: str | None = None
    plan: str | None = None
    country: str | None = None
    language: str | None = None
    subscription_state: str | None = None
    billing_state: str | None = None
    keywords: tuple[str, ...] = ()
    priority_override: Priority | None = None
    strategy: Strategy | None = None


@dataclass(frozen=True)
class RoutingDecision:
    """The team chosen, by which rule (None: the default), and why earlier rules failed."""

    team_id: int | None
    rule_id: int | None
    priority: Priority
    strategy: Strategy | None
    misses: tuple[tuple[int, str], ...] = field(default=())


def fold(text: str | None) -> str:
    """Text compared the way people read it: case and accents ignored ("Básico" = "basico",
    "es" = "ES"), surrounding spaces dropped."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def parse_keywords(raw: str | None) -> tuple[str, ...]:
    """Split a comma- or newline-separated keyword list, lower-cased, blanks dropped."""
    if not raw:
        return ()
    parts = raw.replace("\n", ",").split(",")
    return tuple(p.strip().lower() for p in parts if p.strip())


def rule_miss(facts: TicketFacts, rule: RuleSpec) -> str | None:
    """The first condition of `rule` that `facts` fails, by field name; None if it matches.
    Text conditions (plan, country, language, account states, keywords) ignore case and
    accents."""
    exact = (
        ("category", rule.category_id, facts.category_id),
        ("priority", rule.priority, facts.priority),
        ("channel", rule.channel, facts.channel),
    )
    for name, wanted, actual in exact:
        if wanted is not None and wanted != actual:
            return name
    words = (
        ("plan", rule.plan, facts.plan),
        ("country", rule.country, facts.country),
        ("language", rule.language, facts.language),
        ("subscription_state", rule.subscription_state, facts.subscription_state),
        ("billing_state", rule.billing_state, facts.billing_state),
    )
    for name, wanted, actual in words:
        if wanted is not None and fold(wanted) != fold(actual):
            return name
    if rule.keywords:
        text = fold(facts.text)
        if not any(fold(word) in text for word in rule.keywords):
            return "keywords"
    return None


def route(facts: TicketFacts, rules: Sequence[RuleSpec],
          default_team_id: int | None) -> RoutingDecision:
    """First matching rule wins; else the default team. Rules come ordered by position."""
    misses = []
    for rule in rules:
        miss = rule_miss(facts, rule)
        if miss is None:
            return RoutingDecision(
                team_id=rule.team_id,
                rule_id=rule.id,
                priority=rule.priority_override or facts.priority,
                strategy=rule.strategy,
                misses=tuple(misses),
            )
        misses.append((rule.id, miss))
    return RoutingDecision(default_team_id, None, facts.priority, None, tuple(misses))


# --- Breach notices -----------------------------------------------------------------------------

#: Past this many breaches of one team in one sweep, a person gets one digest notice for them all.
BREACH_DIGEST_AFTER = 5


@dataclass(frozen=True)
class BreachNotice:
    """Tell `user_id` about one breached ticket, or (ticket_id None) about `count` of a team's."""

    user_id: int
    ticket_id: int | None
    team_id: int | None
    count: int = 1


def breach_notices(breached: Iterable[tuple[int, int | None, int | None]],
                   supervisors: dict[int, list[int]]) -> list[BreachNotice]:
    """Who hears of which first breaches (ticket, assignee, team): the assignee and the team's
    supervisors, once each; a person told of more than BREACH_DIGEST_AFTER tickets of one team
    gets one digest for that team instead (an outage's catch-up is one notice, not thousands)."""
    told: dict[tuple[int, int | None], list[int]] = {}
    for ticket_id, assignee, team in breached:
        for user_id in sorted({assignee, *supervisors.get(team, ())} - {None}):
            told.setdefault((user_id, team), []).append(ticket_id)
    notices = []
    for (user_id, team), tickets in told.items():
        if len(tickets) > BREACH_DIGEST_AFTER:
            notices.append(BreachNotice(user_id, None, team, len(tickets)))
        else:
            notices += [BreachNotice(user_id, ticket_id, team) for ticket_id in tickets]
    return notices


# --- Assignment ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentLoad:
    """An agent as assignment sees them."""

    id: int
    availability: Availability
    capacity: int
    open_tickets: int
    last_assigned_at: datetime | None = None
    skills: frozenset[int] = frozenset()


def has_capacity(open_tickets: int, capacity: int) -> bool:
    """Below capacity: capacity is the maximum number of open tickets."""
    return open_tickets < capacity


def is_eligible(agent: AgentLoad, category_id: int | None) -> bool:
    """Available, below capacity, and skilled in the category if the agent lists skills."""
    return (
        agent.availability is Availability.AVAILABLE
        and has_capacity(agent.open_tickets, agent.capacity)
        and (not agent.skills or category_id is None or category_id in agent.skills)
    )


_NEVER = datetime.min.replace(tzinfo=UTC)


def rank_agents(agents: Iterable[AgentLoad], strategy: Strategy,
                category_id: int | None) -> list[int]:
    """Eligible agents' ids, best first: round-robin takes the least recently assigned;
    least-loaded the fewest open tickets, ties by least recently assigned."""
    eligible = [a for a in agents if is_eligible(a, category_id)]
    if strategy is Strategy.ROUND_ROBIN:
        key = lambda a: (a.last_assigned_at or _NEVER, a.id)  # noqa: E731
    else:
        key = lambda a: (a.open_tickets, a.last_assigned_at or _NEVER, a.id)  # noqa: E731
    return [a.id for a in sorted(eligible, key=key)]


def pick_agent(agents: Iterable[AgentLoad], strategy: Strategy,
               category_id: int | None) -> int | None:
    """The id of the agent who gets the next ticket, or None if nobody is eligible."""
    ranked = rank_agents(agents, strategy, category_id)
    return ranked[0] if ranked else None
