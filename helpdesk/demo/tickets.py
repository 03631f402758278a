"""Tickets: drawn, routed by the real rules, scheduled against the SLA, then turned into rows."""

from __future__ import annotations

from datetime import timedelta

from .. import rules
from ..models import (
    AuditEntry,
    Channel,
    Escalation,
    Message,
    Priority,
    ResolutionRound,
    SatisfactionRating,
    SlaState,
    Ticket,
    TicketStatus,
)
from . import copy
from .bulk import insert_rows, progress
from .plan import (
    PICK_CATEGORY,
    PICK_CHANNEL,
    PICK_PRIORITY,
    PICK_RESOLUTION,
    PICK_SCORE,
    PICK_SCORE_LATE,
    PICK_SLA_STATE,
    PICK_STATUS,
    Draft,
    Plan,
    pool,
)
from .rows import audit_rows, escalation_row, message_rows, rating_row, round_row, ticket_row
from .threads import thread

#: Tickets generated (and inserted) per round; also the progress bar's step.
TICKETS_PER_BATCH = 5_000
#: Share of tickets that get their audit trail (create, route, assign, status changes).
AUDIT_SHARE = 0.2
ESCALATION_SHARE = 0.03
RATING_SHARE = 0.65  # of resolved tickets the customer answered: ~60% of all resolved
TECHNICAL = frozenset({"reproduccion", "dispositivos"})
DAY = 86_400


def seed_tickets(plan: Plan, total: int, show_progress: bool) -> int:
    """Generate and insert `total` tickets with their threads, a batch at a time; messages."""
    messages = 0
    with progress(show_progress, total) as advance:
        for done in range(0, total, TICKETS_PER_BATCH):
            size = min(TICKETS_PER_BATCH, total - done)
            batch = {model: [] for model in (Ticket, Message, AuditEntry, ResolutionRound,
                                             SatisfactionRating, Escalation)}
            for _i in range(size):
                _ticket(plan, batch)
            for model, rows in batch.items():  # parents first: foreign keys are enforced
                insert_rows(model, rows)
            messages += len(batch[Message])
            advance(size)
    return messages


def _ticket(plan: Plan, batch: dict[type, list[dict]]) -> None:
    draft = _draft(plan)
    _route(plan, draft)
    _schedule(plan, draft)
    _outcome(plan, draft)
    messages = thread(plan, draft)
    batch[Ticket].append(ticket_row(plan, draft, messages[-1][0]))
    message_rows(plan, draft, messages, batch[Message])
    if draft.agent is not None:
        agent_id = draft.agent[0]
        if draft.assigned > plan.last_assigned.get(agent_id, draft.assigned - timedelta(1)):
            plan.last_assigned[agent_id] = draft.assigned
    if plan.rng.random() < AUDIT_SHARE:
        batch[AuditEntry].extend(audit_rows(plan, draft))
    if draft.resolution is not None:
        resolution = round_row(plan, draft)
        batch[ResolutionRound].append(resolution)
        if draft.score is not None:
            batch[SatisfactionRating].append(rating_row(plan, draft, resolution))
    if draft.escalation is not None:
        batch[Escalation].append(escalation_row(plan, draft))


def _draft(plan: Plan) -> Draft:
    rng = plan.rng
    status, priority, channel = PICK_STATUS(rng), PICK_PRIORITY(rng), PICK_CHANNEL(rng)
    code = PICK_CATEGORY(rng)
    if channel is Channel.PHONE and priority is Priority.URGENT and code not in TECHNICAL:
        code = "reproduccion"  # urgent calls are technical: the team stays the category's
    cust = rng.choice(plan.customers)
    voice = copy.VOICES[cust.locale]
    issue = rng.choice(voice.issues[code])
    device = rng.choice(cust.devices)
    if issue.tv and device not in copy.TV_DEVICES:
        device = next((name for name in cust.devices if name in copy.TV_DEVICES), "Smart TV")
    slots = {"device": device, "title": rng.choice(copy.TITLES),
             "plan": cust.plan, "error": rng.choice(copy.ERRORS), "amount": cust.amount,
             "first": cust.first, "city": rng.choice(copy.CITIES[cust.country]),
             "digits": rng.randrange(1000, 10000)}
    parts = (rng.choice(voice.greetings), issue.problem, rng.choice(voice.details[code]),
             f"{rng.choice(voice.signoffs)}\n{cust.name}")
    body = "\n\n".join(part for part in parts if part).format_map(slots)
    return Draft(next(plan.ids["tickets"]), status, priority, priority, channel, code, cust,
                 voice, issue, issue.subject.format_map(slots), body, slots)


def _route(plan: Plan, d: Draft) -> None:
    """The routing rules decide team, priority and strategy, exactly as `route_ticket` does."""
    facts = rules.TicketFacts(
        category_id=plan.categories[d.code], priority=d.priority, channel=d.channel.value,
        plan=d.cust.plan, country=d.cust.country, language=d.cust.locale,
        text=f"{d.subject}\n{d.body}",
    )
    decision = rules.route(facts, plan.rule_specs, plan.default_team[d.code])
    d.team_id, d.priority = decision.team_id, decision.priority
    d.why = f"rule:{decision.rule_id}" if decision.rule_id else "default"
    if decision.strategy is not None:
        d.strategy = decision.strategy.value
    else:
        d.strategy = plan.strategy.get(d.team_id, d.strategy)
    if d.status is TicketStatus.NEW:
        if plan.waiting.get(d.team_id, 0) >= 1:
            plan.waiting[d.team_id] -= 1
            return
        d.status = TicketStatus.RESOLVED  # the team's queue is full enough: this one is history
    agents = pool(plan, d.team_id, d.code)
    if d.status in (TicketStatus.OPEN, TicketStatus.PENDING):
        free = [agent for agent in agents if plan.room.get(agent[0], 0) > 0]
        if not free:  # everyone is near capacity: older work is done by now
            d.status = TicketStatus.RESOLVED
        else:
            agents = free
    d.agent = plan.rng.choice(agents)
    if d.status is not TicketStatus.RESOLVED:
        plan.room[d.agent[0]] -= 1


def _elapsed(plan: Plan) -> float:
    """How much of its running SLA target an open ticket has used: most before the warning,
    some in the warn share (*Próximo a vencer*), a few past the deadline (*Vencido*)."""
    rng, warned = plan.rng, 1 - plan.warn_share
    state = PICK_SLA_STATE(rng)
    if state is SlaState.OK:
        return rng.uniform(0.02, warned - 0.01)
    if state is SlaState.APPROACHING:
        return rng.uniform(warned + 0.01, 0.99)
    return rng.uniform(1.02, 1.8)


#: Days (ago) of the demo's bad days: an outage brings twice the tickets (Informes' charts).
BAD_DAYS = (12, 41, 67)


def _history_age(rng, now) -> float:
    """Seconds ago a resolved ticket was created, within 90 days: volume grows over the
    quarter, weekends are quiet and a few bad days spike (rejection sampling)."""
    while True:
        age = rng.uniform(0.5, 90.0) * DAY
        day = (now - timedelta(seconds=age)).weekday()
        weight = (1.0 - 0.4 * age / (90 * DAY)) * (0.45 if day >= 5 else 1.0)
        if int(age // DAY) in BAD_DAYS:
            weight *= 2.0
        if rng.random() * 2.0 < weight:
            return age


def _schedule(plan: Plan, d: Draft) -> None:
    """Creation, first response and resolution times that fit the status and the SLA: open
    work is recent and mostly on time (its clock: `_elapsed`), resolved history goes back."""
    rng, now = plan.rng, plan.now
    first_minutes, resolution_minutes = plan.targets[d.priority]
    target = first_minutes * 60
    late = rng.random() < 0.15
    delay = target * (rng.uniform(1.05, 2.5) if late else 0.03 + 0.9 * rng.random() ** 2)
    took = 0.0
    if d.status is TicketStatus.NEW:  # the first-response clock runs
        age = target * _elapsed(plan)
    elif d.status is TicketStatus.RESOLVED:
        age = _history_age(rng, now)
        took = min(resolution_minutes * 60 * rng.uniform(0.15, 1.3), age - 60)
        delay = min(delay, took * 0.6)
    else:  # answered: the resolution clock runs (or stands still while pending)
        share = _elapsed(plan) if d.status is TicketStatus.OPEN else rng.uniform(0.05, 0.9)
        age = resolution_minutes * 60 * share
        delay = min(delay, age * 0.8)
    d.created = created = now - timedelta(seconds=int(age))
    d.due_first = created + timedelta(minutes=first_minutes)
    d.due_resolution = created + timedelta(minutes=resolution_minutes)
    if d.status is TicketStatus.NEW:
        return
    delay = max(60.0, delay)
    d.late = delay > target
    d.first_at = created + timedelta(seconds=int(delay))
    d.assigned = created + timedelta(seconds=int(min(delay / 2, rng.uniform(5, 600))))
    if took:
        d.resolved_at = created + timedelta(seconds=int(took))


def _outcome(plan: Plan, d: Draft) -> None:
    """How a resolved ticket ended, its rating, and whether it was escalated."""
    rng = plan.rng
    if d.status is TicketStatus.RESOLVED:
        if d.code == "contenido" and rng.random() < 0.6:
            d.resolution = "Petición de contenido registrada"
        else:
            d.resolution = PICK_RESOLUTION(rng)
        if d.resolution != "Sin respuesta del cliente" and rng.random() < RATING_SHARE:
            d.score = (PICK_SCORE_LATE if d.late else PICK_SCORE)(rng)
    if d.agent is not None and rng.random() < ESCALATION_SHARE:
        d.escalation = rng.choice(copy.ESCALATION_REASONS[d.code])
