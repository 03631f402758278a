"""A generated ticket as table rows: the ticket, its messages, audit trail, rating, escalation."""

from __future__ import annotations

from datetime import datetime, timedelta

from .. import rules
from ..models import Channel, MessageKind
from . import copy
from .plan import Draft, Plan

DAY = 86_400


def ticket_row(plan: Plan, d: Draft, last_at: datetime) -> dict:
    """The tickets row, its SLA fields computed as `_apply_targets` and the sweep would."""
    first, resolution = plan.targets[d.priority]
    clock = rules.sla_clock(status=d.status, created=d.created, answered=d.first_at is not None,
                            first_minutes=first, resolution_minutes=resolution,
                            paused_minutes=0, warn_share=plan.warn_share, calendar=None,
                            warn_minutes=plan.warn_floor.get(d.priority))
    sla = rules.sla_state_at(plan.now, clock.warn_at, clock.running_due)  # as the sweep would
    resolved = d.resolution is not None
    return {
        "id": d.id, "subject": d.subject[:200], "status": d.status, "priority": d.priority,
        "channel": d.channel, "language": d.cust.locale, "customer_id": d.cust.id,
        "category_id": plan.categories[d.code], "team_id": d.team_id,
        "assignee_id": d.agent[0] if d.agent else None, "first_response_at": d.first_at,
        "resolved_at": d.resolved_at, "first_response_due_at": d.due_first,
        "resolution_due_at": d.due_resolution, "sla_state": sla, "sla_paused_at": d.paused_at,
        "sla_due_at": clock.running_due, "sla_warn_at": clock.warn_at, "sla_paused_minutes": 0,
        "escalation_level": 0 if d.escalation is None else 1,
        "resolution_category_id": plan.resolutions[d.resolution] if resolved else None,
        "closing_notes": d.issue.closing.format_map(d.slots) if resolved else None,
        "customer_confirmed": True if d.score is not None else None,
        "version": version(d), "created_at": d.created, "updated_at": max(last_at, d.resolved_at or
                                                                   last_at),
    }


def message_rows(plan: Plan, d: Draft, thread: list[tuple], out: list[dict]) -> None:
    """Append the thread's messages rows to `out` (e-mail ids on e-mail tickets)."""
    ids, email = plan.ids["messages"], d.channel is Channel.EMAIL
    for at, kind, author_id, customer_id, body in thread:
        mid = next(ids)
        mail_id = None
        if email and kind is MessageKind.CUSTOMER:
            mail_id = f"<{mid}.{d.id}@mail.example.com>"
        elif email and kind is MessageKind.REPLY:
            mail_id = f"<ticket-{d.id}-{mid}@demo.bayit>"
        out.append({"id": mid, "ticket_id": d.id, "kind": kind, "author_id": author_id,
                    "customer_id": customer_id, "body": body, "email_message_id": mail_id,
                    "created_at": at})


def _later(d: Draft) -> tuple[datetime, str] | None:
    """The reply after the first one that set a status (pending or resolved), if any."""
    if d.paused_at is not None and d.paused_at != d.first_at:
        return d.paused_at, "pending"
    if d.resolved_at is not None:
        return d.resolved_at, "resolved"
    return None


def version(d: Draft) -> int:
    """The ticket's version after its history: one more per transaction that changed it
    (routing; the first reply; a later reply that set a status)."""
    return 2 + (d.agent is not None) + (d.agent is not None and _later(d) is not None)


def audit_rows(plan: Plan, d: Draft) -> list[dict]:
    """The trail `create_ticket`, `route_ticket` (`auto_assign`) and `add_reply` would have
    written, each row with the ticket version it saw."""
    trail = [(d.created, None, "create", None, None, None, d.channel.value, 1),
             (d.created, None, "route", "team", None, d.team_id, d.why, 1)]
    if d.priority is not d.original_priority:
        trail.append((d.created, None, "route", "priority", d.original_priority.value,
                      d.priority.value, d.why, 1))
    if d.agent is not None:
        agent, reason = d.agent[0], f"auto:{d.strategy}:{d.why}"
        trail += [(d.assigned, None, "assign", "assignee", None, agent, reason, 1),
                  (d.assigned, None, "status", "status", "new", "open", reason, 1),
                  (d.first_at, agent, "reply", None, None, None, None, 2),
                  (d.first_at, agent, "first_response", "first_response_at", None,
                   d.first_at.isoformat(), None, 2)]
        if d.paused_at is not None and d.paused_at == d.first_at:
            trail.append((d.first_at, agent, "status", "status", "open", "pending", "reply", 2))
        if (later := _later(d)) is not None:
            trail += [(later[0], agent, "reply", None, None, None, None, 3),
                      (later[0], agent, "status", "status", "open", later[1], "reply", 3)]
    ids = plan.ids["audit_log"]
    return [{"id": next(ids), "entity": "tickets", "entity_id": d.id, "ticket_id": d.id,
             "ticket_version": seen, "actor_id": actor, "action": action, "field": name,
             "old_value": None if old is None else str(old),
             "new_value": None if new is None else str(new), "reason": reason, "created_at": at}
            for at, actor, action, name, old, new, reason, seen in trail]


def round_row(plan: Plan, d: Draft) -> dict:
    """The resolution round of a resolved ticket (*Resolver* by its agent); the customer
    confirmed it when they rated it, and the survey went out an hour after."""
    survey_at = d.resolved_at + timedelta(hours=1)
    return {"id": next(plan.ids["resolution_rounds"]), "ticket_id": d.id, "number": 1,
            "resolved_by_id": d.agent[0] if d.agent else None,
            "agent_id": d.agent[0] if d.agent else None, "team_id": d.team_id,
            "category_id": plan.categories[d.code],
            "resolution_category_id": plan.resolutions[d.resolution],
            "closing_notes": d.issue.closing.format_map(d.slots), "resolved_at": d.resolved_at,
            "resolution_seconds": int((d.resolved_at - d.created).total_seconds()),
            "confirmation_requested": d.channel is not Channel.PHONE,
            "confirmation_answer": "yes" if d.score is not None else None,
            "confirmation_answered_at": survey_at if d.score is not None else None,
            "reopened_at": None, "reopened_by": None,
            "survey_sent_at": survey_at if survey_at <= plan.now else None,
            "survey_skipped": None, "follow_up_ticket_id": None}


def rating_row(plan: Plan, d: Draft, round_row: dict) -> dict:
    """The customer's satisfaction rating of that round, a while after resolution, credited
    as the round was."""
    rng = plan.rng
    at = min(plan.now, d.resolved_at + timedelta(seconds=rng.randint(600, 2 * DAY)))
    return {"id": next(plan.ids["satisfaction_ratings"]), "ticket_id": d.id,
            "round_id": round_row["id"], "agent_id": round_row["agent_id"],
            "team_id": round_row["team_id"],
            "resolution_category_id": round_row["resolution_category_id"], "score": d.score,
            "comment": rng.choice(copy.RATING_COMMENTS[d.score]), "created_at": at}


def escalation_row(plan: Plan, d: Draft) -> dict:
    """The escalation to the supervisor, with the agent's context."""
    return {"id": next(plan.ids["escalations"]), "ticket_id": d.id,
            "reason_id": plan.reasons[d.escalation], "from_team_id": d.team_id,
            "to_team_id": d.team_id, "to_user_id": plan.supervisor[0], "actor_id": d.agent[0],
            "level": 1, "context": copy.ESCALATION_CONTEXT[d.escalation].format_map(d.slots),
            "created_at": d.escalated_at}
