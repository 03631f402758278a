"""Escalation: hand a ticket up to another team or a supervisor, send it back (de-escalate),
and the SLA policy's automatic escalation on a first-response breach. The SLA clock is never
touched: deadlines, paused time and state carry over as they are."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .. import mail, queries, rules
from ..errors import DomainError
from ..extensions import db
from ..models import (
    Escalation,
    EscalationReason,
    Notification,
    Priority,
    Team,
    Ticket,
    User,
)
from ..queries import escalation as esc_queries
from .assignment import assign_ticket, auto_assign
from .base import add_event, audit, clean_text, ensure_fresh, touch
from .lifecycle import apply_targets
from .notify import tell
from .outbox import intent_handler


class EscalationForbidden(DomainError):
    """The person may not escalate (or de-escalate) this ticket at all: views answer 403."""


def escalate_ticket(ticket: Ticket, *, reason: EscalationReason, to_team: Team | None,
                    to_user: User | None, context: str, actor: User | None,
                    priority: Priority | None = None, expected_version: int | None = None,
                    auto_key: str | None = None, now: datetime | None = None) -> Escalation:
    """Move the ticket to `to_team`'s queue — to `to_user` (a supervisor of it), else to whom the
    team's own strategy picks, else unassigned in its *Nuevo* — one level up, with the reason,
    the context and the SLA as it stands (never reset). Audited, in the thread, and the receiver
    is told. `actor` None: the system (the SLA policy's escalation, keyed by `auto_key`)."""
    now = now or rules.utcnow()
    ensure_fresh(ticket, expected_version)
    if actor is not None:
        _check_actor(ticket, actor)
    context = _check_context(context)
    if not reason.active and auto_key is None:
        raise DomainError(_("El motivo «%(reason)s» ya no está activo; elige otro.",
                            reason=reason.name))
    _check_target(ticket, to_team, to_user, actor, auto_key is not None)
    if priority is not None and priority not in rules.raised_priorities(ticket.priority):
        raise DomainError(_("Al escalar, la prioridad solo puede subir (ahora es %(p)s).",
                            p=ticket.priority.label))
    escalation = _record(ticket, reason, to_team, to_user, context, actor, priority, auto_key,
                         now)
    _move(ticket, to_team, to_user, actor, auto_key is not None)
    if priority is not None:
        audit(ticket, actor, "priority", field="priority", old=ticket.priority, new=priority,
              reason="escalate")
        ticket.priority = priority
        apply_targets(ticket, now)  # the new priority's targets, still counted from creation
    _notify(escalation, _receivers(ticket, escalation), esc_queries.ESCALATION_NOTICE, now,
            actor)
    touch(ticket, now)
    db.session.flush()
    return escalation


def _check_actor(ticket: Ticket, actor: User) -> None:
    refusal = rules.escalate_refusal(actor.role, (t.id for t in actor.teams), actor_id=actor.id,
                                     team_id=ticket.team_id, assignee_id=ticket.assignee_id,
                                     status=ticket.status)
    if refusal == rules.RESOLVED:
        raise DomainError(_("Un ticket resuelto no se puede escalar; reábrelo primero."))
    if refusal == rules.NOT_YOUR_TEAM:
        raise EscalationForbidden(_("Solo puedes escalar tickets de tus equipos o asignados "
                                    "a ti."))


def _check_context(context: str | None) -> str:
    text = clean_text(context, _("Contexto"), rules.ESCALATION_CONTEXT_MAX)
    if len(text) < rules.ESCALATION_CONTEXT_MIN:
        raise DomainError(_("Explica el contexto en al menos %(n)d caracteres: qué se ha "
                            "probado y qué necesita quien lo recibe.",
                            n=rules.ESCALATION_CONTEXT_MIN))
    return text


def _check_target(ticket: Ticket, to_team: Team | None, to_user: User | None,
                  actor: User | None, automatic: bool) -> None:
    refusal = rules.escalation_target_refusal(
        actor.role if actor is not None else None, from_team_id=ticket.team_id,
        to_team_id=to_team.id if to_team else None,
        to_team_active=bool(to_team and to_team.active),
        to_user_id=to_user.id if to_user else None,
        to_user_supervises=bool(to_user and to_team and esc_queries.supervises(to_user, to_team)),
        allowed_team_ids=esc_queries.allowed_target_ids(ticket.team_id), automatic=automatic)
    messages = {
        rules.NO_TARGET: lambda: _("Elige a qué equipo o supervisor escalar el ticket."),
        rules.INACTIVE_TEAM: lambda: _("El equipo %(team)s no está activo; elige otro.",
                                       team=to_team.name),
        rules.NOT_TEAM_SUPERVISOR: lambda: _("%(name)s no es supervisor del equipo %(team)s.",
                                             name=to_user.name, team=to_team.name),
        rules.SAME_TEAM: lambda: _("El ticket ya está en el equipo %(team)s: elige otro equipo "
                                   "o un supervisor concreto.", team=to_team.name),
        rules.TARGET_NOT_ALLOWED: lambda: _("Los tickets de %(from)s no se pueden escalar a "
                                            "%(team)s.", team=to_team.name,
                                            **{"from": ticket.team.name if ticket.team else "—"}),
    }
    if refusal is not None:
        raise DomainError(messages[refusal]())


def _record(ticket: Ticket, reason: EscalationReason, to_team: Team, to_user: User | None,
            context: str, actor: User | None, priority: Priority | None, auto_key: str | None,
            now: datetime) -> Escalation:
    """The escalation row (with the SLA as it stands), its audit entry and thread event."""
    level = (ticket.escalation_level or 0) + 1
    escalation = Escalation(
        ticket_id=ticket.id, reason=reason, from_team_id=ticket.team_id,
        from_user_id=ticket.assignee_id, to_team=to_team, to_user=to_user, actor=actor,
        level=level, context=context, raised_priority=priority, auto_key=auto_key,
        sla_state=rules.sla_state_at(now, ticket.sla_warn_at, ticket.sla_due_at),
        sla_due_at=ticket.sla_due_at, sla_paused_minutes=ticket.sla_paused_minutes or 0,
        created_at=now)
    db.session.add(escalation)
    audit(ticket, actor, "escalate", field="escalation_level", old=ticket.escalation_level,
          new=level, reason=reason.name)
    ticket.escalation_level = level
    add_event(ticket, actor, now, "escalate", to=to_user.name if to_user else to_team.name,
           team=to_team.name, reason=reason.name, level=str(level))
    return escalation


def _move(ticket: Ticket, to_team: Team, to_user: User | None, actor: User | None,
          automatic: bool) -> None:
    """Into the target team's queue: to the person chosen, else by the team's strategy, else
    waiting unassigned. An automatic escalation leaves the ticket where it is."""
    if automatic:
        return
    if to_team.id != ticket.team_id:
        audit(ticket, actor, "assign", field="team", old=ticket.team_id, new=to_team.id,
              reason="escalate")
        ticket.team = to_team
        db.session.flush()  # routing reads the team's agents by the ticket's team_id
    if to_user is not None:
        assign_ticket(ticket, to_user, actor=actor, reason="escalate")
    elif auto_assign(ticket, None, "escalate") is None and ticket.assignee_id is not None:
        assign_ticket(ticket, None, actor=actor, reason="escalate")  # waits in Nuevo


def _receivers(ticket: Ticket, escalation: Escalation) -> list[int]:
    """Who is told: the person chosen; for an automatic one, or when nobody could take it, the
    team's supervisors; else whoever the team's strategy gave it to."""
    if escalation.to_user is not None:
        return [escalation.to_user.id]
    if escalation.auto_key is None and ticket.assignee_id is not None:
        return [ticket.assignee_id]
    return queries.supervisors_by_team([escalation.to_team.id]).get(escalation.to_team.id, [])


def _notify(escalation: Escalation, user_ids: list[int], kind: str, now: datetime,
            actor: User | None = None) -> None:
    """Each receiver is told as they chose for escalations (`notify.tell`), never the actor."""
    db.session.flush()  # the escalation's id names the notice
    for user_id in sorted(set(user_ids)):
        tell(user_id, kind, ticket=db.session.get(Ticket, escalation.ticket_id), actor=actor,
             detail=escalation.id, now=now, team_id=escalation.to_team_id,
             mail_handler="mail_escalation")


def deescalate_ticket(ticket: Ticket, *, note: str, actor: User,
                      expected_version: int | None = None,
                      now: datetime | None = None) -> Escalation:
    """A supervisor sends the ticket back to the team it came from, with a note: to the person
    who held it if they still can, else by that team's strategy, else waiting in its *Nuevo*.
    One level down; the SLA is untouched."""
    now = now or rules.utcnow()
    ensure_fresh(ticket, expected_version)
    escalation = esc_queries.current_escalation(ticket.id)
    back = db.session.get(Team, escalation.from_team_id) \
        if escalation is not None and escalation.from_team_id else None
    refusal = rules.deescalate_refusal(actor.role, ticket.status, escalated=back is not None,
                                       from_team_active=bool(back and back.active))
    if refusal == rules.NOT_A_SUPERVISOR:
        raise EscalationForbidden(_("Solo un supervisor puede desescalar tickets."))
    if refusal is not None:
        raise DomainError({
            rules.RESOLVED: lambda: _("Un ticket resuelto no se puede desescalar."),
            rules.NOT_ESCALATED: lambda: _("Este ticket no está escalado desde otro equipo."),
            rules.INACTIVE_TEAM: lambda: _("El equipo %(team)s ya no está activo.",
                                           team=back.name),
        }[refusal]())
    note = clean_text(note, _("Nota"), rules.ESCALATION_CONTEXT_MAX)
    escalation.deescalated_at, escalation.deescalated_by, escalation.deescalation_note = \
        now, actor, note
    audit(ticket, actor, "deescalate", field="escalation_level", old=ticket.escalation_level,
          new=max(0, ticket.escalation_level - 1), reason=note)
    ticket.escalation_level = max(0, ticket.escalation_level - 1)
    add_event(ticket, actor, now, "deescalate", team=back.name, note=note)
    _give_back(ticket, back, escalation.from_user, actor)
    if ticket.assignee_id is not None:
        _notify(escalation, [ticket.assignee_id], esc_queries.DEESCALATION_NOTICE, now,
                actor)
    touch(ticket, now)
    db.session.flush()
    return escalation


def _give_back(ticket: Ticket, team: Team, holder: User | None, actor: User) -> None:
    if team.id != ticket.team_id:
        audit(ticket, actor, "assign", field="team", old=ticket.team_id, new=team.id,
              reason="deescalate")
        ticket.team = team
        db.session.flush()
    if holder is not None and holder.active and team in holder.teams \
            and rules.has_capacity(holder.open_tickets, holder.capacity):
        try:
            assign_ticket(ticket, holder, actor=actor, reason="deescalate")
            return
        except DomainError:
            pass  # filled up meanwhile: the team's strategy decides
    if auto_assign(ticket, None, "deescalate") is None and ticket.assignee_id is not None:
        assign_ticket(ticket, None, actor=actor, reason="deescalate")


def escalate_first_breaches(now: datetime) -> list[int]:
    """The SLA sweep's companion: tickets whose policy says "on a first-response breach,
    escalate to the team's supervisors" get one automatic escalation (reason *SLA vencido*)
    per ticket and team, keyed so two sweeps never do it twice. Returns their ids."""
    due = esc_queries.first_breaches_to_escalate(now)
    if not due:
        return []
    reason = _sla_breach_reason()
    done = []
    for ticket in queries.tickets_by_ids(due, for_update=True):
        key = f"auto:sla:{ticket.id}:{ticket.team_id}"
        if db.session.scalar(select(Escalation.id).where(Escalation.auto_key == key)):
            continue  # another sweep did it while we waited for the lock
        with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "es")):
            context = _("Nadie respondió al cliente antes del plazo de primera respuesta "
                        "(%(due)s UTC).", due=ticket.first_response_due_at.strftime(
                            "%Y-%m-%d %H:%M"))
        escalate_ticket(ticket, reason=reason, to_team=ticket.team, to_user=None,
                        context=context, actor=None, auto_key=key, now=now)
        done.append(ticket.id)
    return done


def _sla_breach_reason() -> EscalationReason:
    """The reason automatic escalations give (seeded as *SLA vencido*); created if missing, by
    an INSERT that does nothing when another sweep (or a row of that name) got there first."""
    reason = esc_queries.reason_by_code(esc_queries.SLA_BREACH_REASON)
    if reason is not None:
        return reason
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(EscalationReason).values(
        code=esc_queries.SLA_BREACH_REASON, name="SLA vencido", name_en="SLA breached",
        description="Escalado por el sistema: venció el plazo de primera respuesta.",
        active=True).on_conflict_do_nothing())
    return esc_queries.reason_by_code(esc_queries.SLA_BREACH_REASON) or db.session.scalar(
        select(EscalationReason).where(EscalationReason.name == "SLA vencido"))


@intent_handler("mail_escalation")
def mail_escalation(notification_id: int) -> None:
    """Outbox handler: e-mail an escalation notice to its person, in their language."""
    notice = db.session.get(Notification, notification_id)
    if notice is None or not notice.user.active or notice.ticket is None:
        return
    escalation = db.session.get(Escalation, int(notice.message.split(":", 1)[1]))
    if escalation is None or notice.kind != esc_queries.ESCALATION_NOTICE:
        return
    user, ticket = notice.user, notice.ticket
    with force_locale(user.locale):
        subject = _("Escalado a ti: %(ticket)s %(subject)s", ticket=ticket.number,
                    subject=ticket.subject)
        who = escalation.actor.name if escalation.actor else _("El sistema")
        body = _("%(who)s escaló el ticket %(ticket)s (nivel %(level)d). Motivo: %(reason)s."
                 "\n\nContexto:\n%(context)s", who=who, ticket=ticket.number,
                 level=escalation.level, reason=escalation.reason.label(user.locale),
                 context=escalation.context)
    mail.deliver(mail._automatic(user.email, subject, f"{body}\n",
                                 idstring=f"escalation{escalation.id}.user{user.id}"))
