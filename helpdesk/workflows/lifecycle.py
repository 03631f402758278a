"""A ticket's life: status moves, the paused clock, deadlines, priority, the SLA sweep."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import insert
from sqlalchemy.orm.attributes import flag_modified

from .. import presence, queries, rules
from ..errors import InvalidTransition
from ..extensions import db
from ..models import AuditEntry, Notification, Priority, SlaState, Ticket, TicketStatus, User
from ..queries import closure as closure_queries
from .base import add_event, audit, ensure_fresh, refuse_if_merged, touch
from .outbox import schedule, schedule_waiting


def change_status(ticket: Ticket, status: TicketStatus, *, actor: User,
                  expected_version: int | None = None, now: datetime | None = None) -> None:
    """Move the ticket along an allowed transition (see rules.TRANSITIONS); never a merged one."""
    ensure_fresh(ticket, expected_version)
    refuse_if_merged(ticket)
    if status is TicketStatus.RESOLVED and ticket.status is not TicketStatus.RESOLVED:
        raise InvalidTransition(_("Para resolver un ticket usa «Resolver»: pide la categoría "
                                  "de resolución y las notas de cierre."))
    if not rules.can_transition(ticket.status, status):
        raise InvalidTransition(_("Un ticket %(old)s no puede pasar a %(new)s.",
                                  old=ticket.status.label.lower(), new=status.label.lower()))
    now = now or rules.utcnow()
    set_status(ticket, status, actor, "manual", now)
    touch(ticket, now)
    db.session.flush()


def set_status(ticket: Ticket, status: TicketStatus, actor: User | None, reason: str,
                now: datetime) -> None:
    if status is ticket.status:
        return
    audit(ticket, actor, "status", field="status", old=ticket.status, new=status, reason=reason)
    add_event(ticket, actor, now, "status", old=ticket.status.value, new=status.value)
    if status is TicketStatus.RESOLVED and ticket.assignee_id and ticket.team_id:
        schedule_waiting(ticket.team_id)  # the assignee has room again
    _pause_or_resume(ticket, status, now)
    if ticket.status is TicketStatus.RESOLVED:
        _round_reopened(ticket, reason, now)
    old, ticket.status = ticket.status, status
    ticket.resolved_at = now if status is TicketStatus.RESOLVED else None
    if not rules.same_clock(old, status):
        apply_targets(ticket, now)


#: What reopened a resolution round, by the reason given to `set_status`.
REOPENED_BY = {"customer": "customer_message", "customer_link": "customer_link"}


def _round_reopened(ticket: Ticket, reason: str, now: datetime) -> None:
    """Leaving Resuelto, by whatever path: the last resolution round records the reopen (which
    voids its survey if unanswered); the resolution clock resumes with the new status."""
    latest = closure_queries.latest_round(ticket.id)
    if latest is not None and latest.reopened_at is None:
        latest.reopened_at, latest.reopened_by = now, REOPENED_BY.get(reason, "agent")


def _pause_or_resume(ticket: Ticket, status: TicketStatus, now: datetime) -> None:
    """The resolution clock stops while the ticket waits for the customer (Pendiente)."""
    if status is TicketStatus.PENDING and ticket.first_response_at is not None:
        ticket.sla_paused_at = ticket.sla_paused_at or now
    elif ticket.sla_paused_at is not None:
        _first, _resolution, calendar = queries.sla_policy(ticket.priority)
        waited = rules.business_time_between(ticket.sla_paused_at, now, calendar)
        ticket.sla_paused_minutes = (ticket.sla_paused_minutes or 0) + \
            waited.total_seconds() / 60
        ticket.sla_paused_at = None


def apply_targets(ticket: Ticket, now: datetime | None = None) -> None:
    """(Re)compute deadlines, the running one, its warning time and the SLA state — at once,
    so the queue is right without waiting for the sweep."""
    policy = queries.sla_policy(ticket.priority)
    clock = rules.sla_clock(
        status=ticket.status, created=ticket.created_at,
        answered=ticket.first_response_at is not None, first_minutes=policy.first_minutes,
        resolution_minutes=policy.resolution_minutes,
        paused_minutes=ticket.sla_paused_minutes or 0,
        warn_share=current_app.config["HELPDESK_SLA_WARN_SHARE"], calendar=policy.calendar,
        warn_minutes=policy.warn_minutes)
    ticket.first_response_due_at = clock.first_due
    ticket.resolution_due_at = clock.resolution_due
    ticket.sla_due_at, ticket.sla_warn_at = clock.running_due, clock.warn_at
    if clock.running_due is not None:
        ticket.sla_state = rules.sla_state_at(now or rules.utcnow(), clock.warn_at,
                                              clock.running_due)
        # Written even when it equals what the session holds: the sweep (a Core UPDATE) may
        # have moved it in the database since this ticket was loaded, and only moves forward.
        flag_modified(ticket, "sla_state")


def change_priority(ticket: Ticket, priority: Priority, *, actor: User,
                    expected_version: int | None = None) -> None:
    """Reprioritise: the deadlines move to the new priority's targets at once."""
    ensure_fresh(ticket, expected_version)
    if priority is ticket.priority:
        return
    now = rules.utcnow()
    audit(ticket, actor, "priority", field="priority", old=ticket.priority, new=priority)
    add_event(ticket, actor, now, "priority", old=ticket.priority.value, new=priority.value)
    ticket.priority = priority
    apply_targets(ticket)
    touch(ticket, now)
    db.session.flush()


def sweep_sla_states(now: datetime) -> int:
    """Bring every running ticket's SLA state up to `now` in one UPDATE; notify each first
    breach once (the UPDATE's WHERE makes that hold under two sweeps at once), by e-mail too
    when mail is configured. Returns how many tickets changed state."""
    mail_on = bool(current_app.config.get("MAIL_SERVER"))
    if db.engine.dialect.name == "postgresql":  # notices and audit rows in the same statement
        changed, breached, notice_ids = queries.update_sla_states_and_notify(now, ids=mail_on)
    else:
        changed, breached = queries.update_sla_states(now)
        notice_ids = notify_breaches(breached, now)
    if breached:  # notices written in bulk: the live bells learn it after the commit
        presence.notices_changed_for_everyone()
    if mail_on:
        for notice_id in notice_ids:
            schedule("mail_notice", notice_id, queue="mail", key=f"notice-mail:{notice_id}")
    return changed


def notify_breaches(breached: list[tuple[int, int | None, int | None]],
                    now: datetime) -> list[int]:
    """The notices of `rules.breach_notices` and an audit row per breached (ticket, assignee,
    team), in bulk; the notices' ids. (PostgreSQL does the same inside the sweep's statement:
    `queries.update_sla_states_and_notify`.)"""
    if not breached:
        return []
    bosses = queries.supervisors_by_team({team for _t, _a, team in breached if team})
    notices = rules.breach_notices(breached, bosses)
    ids = []
    if notices:
        ids = list(db.session.scalars(insert(Notification).returning(Notification.id), [
            {"user_id": n.user_id, "ticket_id": n.ticket_id, "team_id": n.team_id,
             "count": n.count, "created_at": now,
             **({"kind": queries.BREACH, "message": f"{queries.BREACH}:{n.ticket_id}"}
                if n.ticket_id else
                {"kind": queries.BREACH_DIGEST, "message": f"{queries.BREACH_DIGEST}:{n.count}"})}
            for n in notices
        ]))
    db.session.execute(insert(AuditEntry), [
        {"entity": "tickets", "entity_id": ticket_id, "ticket_id": ticket_id, "actor_id": None,
         "action": queries.BREACH, "field": "sla_state", "new_value": SlaState.BREACHED.value,
         "created_at": now}
        for ticket_id, _a, _t in breached
    ])
    return ids
