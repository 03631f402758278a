"""A ticket's thread: the customer's messages, the agent's replies, notes and system events."""

from __future__ import annotations

import functools
import random
from datetime import datetime, timedelta

from ..models import MessageKind, TicketStatus, event_body
from .plan import Draft, Plan


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A whole-second moment inside (start, end), away from both ends."""
    return start + timedelta(seconds=int((end - start).total_seconds() * rng.uniform(0.1, 0.9)))


def _at(entry: tuple) -> datetime:
    return entry[0]


def thread(plan: Plan, d: Draft) -> list[tuple]:
    """The messages as (time, kind, author id, customer id, body), oldest first."""
    rng = plan.rng
    messages = [(d.created, MessageKind.CUSTOMER, None, d.cust.id, d.body)]
    if d.agent is None:
        return messages
    agent_id, agent_name = d.agent
    d.slots["agent"], d.slots["ticket"] = agent_name.split()[0], d.id
    messages += [_event(d.assigned, None, "assign", to=agent_name),  # as `auto_assign` writes
                 _event(d.assigned, None, "status", old="new", new="open")]
    if rng.random() < 0.25:
        messages.append((between(rng, d.assigned, d.first_at), MessageKind.NOTE, agent_id, None,
                         d.issue.note.format_map(d.slots)))
    messages.extend(_replies(plan, d))
    for at, status in ((d.paused_at, "pending"), (d.resolved_at, "resolved")):
        if at is not None:  # the reply that set the status, then its event (`add_reply`)
            messages.append(_event(at, agent_id, "status", old="open", new=status))
    if d.escalation is not None:  # before a pending ticket's question or the closing reply
        d.escalated_at = between(rng, d.assigned, d.paused_at or d.resolved_at or plan.now)
        messages.append(_event(d.escalated_at, None, "escalate", to=plan.supervisor[1],
                               reason=d.escalation))
    messages.sort(key=_at)
    return messages


def _event(at: datetime, author_id: int | None, event: str, **data) -> tuple:
    """A system event in the thread, in the product's words (`models.event_body`)."""
    return (at, MessageKind.EVENT, author_id, None, _body(event, tuple(data.items())))


@functools.cache
def _body(event: str, data: tuple[tuple[str, str], ...]) -> str:
    """`event_body`, once per distinct event: a few dozen among hundreds of thousands."""
    return event_body(event, **dict(data))


def _replies(plan: Plan, d: Draft) -> list[tuple]:
    """What follows the assignment: pending ends on a question, resolved on a closing reply."""
    rng, v = plan.rng, d.voice
    end = d.resolved_at or plan.now
    if d.status is TicketStatus.PENDING:
        if rng.random() < 0.35:
            later = between(rng, d.first_at, end)
            d.paused_at = between(rng, later, end)
            return [_reply(d, d.first_at, v.lead_first, d.issue.first),
                    _customer(d, later, rng.choice(v.follow)),
                    _reply(d, d.paused_at, v.lead_ask, v.ask[d.code])]
        d.paused_at = d.first_at
        return [_reply(d, d.first_at, v.lead_ask, v.ask[d.code])]
    if d.resolution == "Sin respuesta del cliente":
        replies = [_reply(d, d.first_at, v.lead_ask, v.ask[d.code])]
    elif rng.random() < 0.3:  # a question, and the customer's answer
        replies = [_reply(d, d.first_at, v.lead_ask, v.ask[d.code]),
                   _customer(d, between(rng, d.first_at, end), v.answer[d.code])]
    else:
        replies = [_reply(d, d.first_at, v.lead_first, d.issue.first)]
        if rng.random() < 0.4:
            replies.append(_customer(d, between(rng, d.first_at, end), rng.choice(v.follow)))
    if d.status is TicketStatus.RESOLVED:
        replies.append(_closing(d))
    return replies


def _reply(d: Draft, at: datetime, lead: str, text_: str) -> tuple:
    v = d.voice
    body = f"{v.hello}\n\n{lead}{text_}\n\n{v.sign}".format_map(d.slots)
    return (at, MessageKind.REPLY, d.agent[0], None, body)


def _customer(d: Draft, at: datetime, text_: str) -> tuple:
    return (at, MessageKind.CUSTOMER, None, d.cust.id, text_.format_map(d.slots))


def _closing(d: Draft) -> tuple:
    v = d.voice
    if d.resolution in v.close_special:
        middle = v.close_special[d.resolution]
    else:
        middle = f"{v.lead_close}{d.issue.close}\n\n{v.resolved_line}"
    body = f"{v.hello}\n\n{middle}\n\n{v.sign}".format_map(d.slots)
    return (d.resolved_at, MessageKind.REPLY, d.agent[0], None, body)
