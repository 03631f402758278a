"""Guided closure (*Resolver*) and what the customer answers: one resolution round per
resolution; the confirmation mail with its two links; «Sí» recorded, «No» (or a new message)
reopening the ticket to its assignee — or, past the reopen window, opening a follow-up ticket
that links to it. The survey lives in `survey.py`."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from .. import links, mail, queries, rules
from ..errors import DomainError
from ..extensions import db
from ..models import (
    Availability,
    Message,
    MessageKind,
    Notification,
    ResolutionCategory,
    ResolutionRound,
    ResponseTemplate,
    Ticket,
    TicketStatus,
    User,
)
from ..queries import closure as closure_queries
from .assignment import assign_ticket, auto_assign
from .base import BODY_MAX, add_event, audit, clean_text, ensure_fresh, touch
from .lifecycle import set_status
from .outbox import intent_handler, schedule
from .tickets import add_reply, create_ticket


class ClosureForbidden(DomainError):
    """The person may not resolve this ticket at all: views answer 403."""


def resolve_ticket(ticket: Ticket, *, actor: User | None, solved: bool,
                   resolution: ResolutionCategory | None, notes: str, ask_confirmation: bool,
                   reply: str | None = None, template: ResponseTemplate | None = None,
                   expected_version: int | None = None,
                   now: datetime | None = None) -> ResolutionRound:
    """*Resolver*: the guide's five steps at once — the problem is confirmed solved, an optional
    last public reply, the resolution category, the internal closing notes and whether to ask
    the customer to confirm. → Resuelto, a new resolution round (time net of Pendiente), audit,
    thread event; the confirmation mail now and the survey after the delay, via the outbox."""
    now = now or rules.utcnow()
    ensure_fresh(ticket, expected_version)
    if actor is not None:
        _check_actor(ticket, actor)
    elif ticket.status is TicketStatus.RESOLVED:
        raise DomainError(_("Este ticket ya está resuelto."))
    if not solved:
        raise DomainError(_("Confirma que el problema está completamente resuelto."))
    if resolution is None or not resolution.active or not rules.resolution_fits(
            resolution.category_id, ticket.category_id):
        raise DomainError(_("Elige una categoría de resolución activa que corresponda a la "
                            "categoría del ticket."))
    notes = clean_text(notes, _("Notas de cierre"), rules.CLOSING_NOTES_MAX)
    if reply and reply.strip():
        if actor is None:
            raise DomainError(_("Solo una persona puede enviar la respuesta final."))
        add_reply(ticket, reply, actor=actor, status=TicketStatus.OPEN, template=template,
                  now=now)
    worked = rules.net_resolution_seconds(closure_queries.status_spans(ticket, now))
    previous = closure_queries.latest_round(ticket.id)
    set_status(ticket, TicketStatus.RESOLVED, actor, "resolve", now)
    ticket.resolution_category, ticket.closing_notes = resolution, notes
    ticket.customer_confirmed = None
    round_ = ResolutionRound(
        ticket_id=ticket.id, number=previous.number + 1 if previous else 1,
        resolved_by_id=actor.id if actor else None,
        agent_id=ticket.assignee_id or (actor.id if actor else None), team_id=ticket.team_id,
        category_id=ticket.category_id, resolution_category_id=resolution.id,
        closing_notes=notes, resolved_at=now, resolution_seconds=worked,
        confirmation_requested=ask_confirmation)
    db.session.add(round_)
    audit(ticket, actor, "resolve", field="resolution_category", new=resolution.name,
          reason="confirm" if ask_confirmation else None)
    add_event(ticket, actor, now, "resolve", category=resolution.name)
    touch(ticket, now)
    db.session.flush()
    if ask_confirmation:
        schedule("mail_confirmation", round_.id, queue="mail",
                 key=closure_queries.CONFIRM_KEY.format(round_.id))
    schedule("mail_survey", round_.id, queue="mail",
             key=closure_queries.SURVEY_KEY.format(round_.id),
             delay=timedelta(minutes=current_app.config["HELPDESK_SURVEY_DELAY_MINUTES"]))
    return round_


def _check_actor(ticket: Ticket, actor: User) -> None:
    refusal = rules.resolve_refusal(actor.role, (t.id for t in actor.teams), actor_id=actor.id,
                                    team_id=ticket.team_id, assignee_id=ticket.assignee_id,
                                    status=ticket.status)
    if refusal == rules.RESOLVED:
        raise DomainError(_("Este ticket ya está resuelto."))
    if refusal == rules.NOT_YOUR_TEAM:
        raise ClosureForbidden(_("Solo puedes resolver tickets de tus equipos o asignados a "
                                 "ti."))


# --- The customer answers -----------------------------------------------------------------------


def round_for_link(target: links.LinkTarget, *, for_update: bool = False) -> ResolutionRound:
    """The round a valid link names, locked with its ticket when asked; a round of another
    ticket (a token bound elsewhere) is refused like a tampered one."""
    if for_update:
        queries.tickets_by_ids([target.ticket_id], for_update=True)
    round_ = db.session.get(ResolutionRound, target.round_id, with_for_update=for_update,
                            populate_existing=for_update)
    if round_ is None or round_.ticket_id != target.ticket_id:
        raise links.LinkInvalid(links.TAMPERED)
    return round_


def link_refusal(round_: ResolutionRound) -> str | None:
    """Why a confirmation or reopen link of this round no longer acts (`rules.link_refusal`)."""
    latest = closure_queries.latest_round(round_.ticket_id)
    return rules.link_refusal(latest_round_id=latest.id if latest else None,
                              round_id=round_.id,
                              answered=round_.confirmation_answer is not None,
                              ticket_resolved=round_.ticket.status is TicketStatus.RESOLVED)


def confirm_resolution(round_: ResolutionRound, *, now: datetime | None = None) -> None:
    """«Sí, está resuelto»: recorded once, on the round and the ticket."""
    now = now or rules.utcnow()
    _check_link(round_)
    ticket = round_.ticket
    round_.confirmation_answer, round_.confirmation_answered_at = "yes", now
    audit(ticket, None, "confirm", field="customer_confirmed", old=ticket.customer_confirmed,
          new=True, reason="customer_link")
    ticket.customer_confirmed = True
    add_event(ticket, None, now, "confirmed")
    touch(ticket, now)
    db.session.flush()


def reject_resolution(round_: ResolutionRound, *, now: datetime | None = None) -> Ticket:
    """«No, sigo con el problema»: the ticket reopens to Abierto with its assignee (routed
    again if they are gone or unavailable), or, past the reopen window, a follow-up ticket
    opens. Returns the ticket the customer's problem now lives in."""
    now = now or rules.utcnow()
    _check_link(round_)
    ticket = round_.ticket
    round_.confirmation_answer, round_.confirmation_answered_at = "no", now
    audit(ticket, None, "confirm", field="customer_confirmed", old=ticket.customer_confirmed,
          new=False, reason="customer_link")
    ticket.customer_confirmed = False
    if not rules.may_reopen(ticket.resolved_at, now, current_app.config["HELPDESK_REOPEN_DAYS"]):
        with force_locale(ticket.language or "es"):
            body = _("El cliente indica que el problema del ticket %(ticket)s sigue sin "
                     "resolverse.", ticket=ticket.number)
        return follow_up(ticket, round_, body, now)
    reopen(ticket, "customer_link", now)
    return ticket


def _check_link(round_: ResolutionRound) -> None:
    refusal = link_refusal(round_)
    if refusal is not None:
        raise LinkRefused(refusal)


class LinkRefused(Exception):  # noqa: N818  (a refusal, as DomainError; its str is a code)
    """A valid link that no longer acts: `reason` is one of rules.LINK_* (the public page says
    it in the customer's language)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def customer_writes_again(ticket: Ticket, body: str, now: datetime) -> Message:
    """A message from the customer on a resolved ticket: it reopens within the window, else it
    becomes the first message of a follow-up ticket. Returns the message."""
    body = clean_text(body, _("Mensaje"), BODY_MAX)
    if ticket.resolved_at is not None and not rules.may_reopen(
            ticket.resolved_at, now, current_app.config["HELPDESK_REOPEN_DAYS"]):
        latest = closure_queries.latest_round(ticket.id)
        new = follow_up(ticket, latest, body, now)
        return new.messages[0]
    message = Message(ticket=ticket, kind=MessageKind.CUSTOMER, customer_id=ticket.customer_id,
                      body=body, created_at=now)
    db.session.add(message)
    reopen(ticket, "customer", now)
    return message


def reopen(ticket: Ticket, reason: str, now: datetime) -> None:
    """Back to Abierto (the round records the reopen; the resolution clock resumes), to the
    same assignee if they can still work it, else routed again (or waiting in Nuevo); the
    assignee is told."""
    holder = ticket.assignee
    set_status(ticket, TicketStatus.OPEN if holder else TicketStatus.NEW, None, reason, now)
    add_event(ticket, None, now, "reopen", by=reason)
    if holder is not None and not (holder.active and holder.availability is
                                   Availability.AVAILABLE):
        assign_ticket(ticket, None, actor=None, reason="reopen", now=now)
    if ticket.assignee_id is None:
        auto_assign(ticket, None, "reopen")  # nobody free: it waits in its team's Nuevo
    if ticket.assignee_id is not None:
        db.session.add(Notification(user_id=ticket.assignee_id, ticket_id=ticket.id,
                                    team_id=ticket.team_id, created_at=now,
                                    kind=closure_queries.REOPEN_NOTICE,
                                    message=f"{closure_queries.REOPEN_NOTICE}:{ticket.id}"))
    touch(ticket, now)
    db.session.flush()


def follow_up(ticket: Ticket, round_: ResolutionRound | None, body: str,
              now: datetime) -> Ticket:
    """Past the reopen window: a new ticket with the customer's text, linked both ways (the
    round keeps the new ticket; each thread says where the other is)."""
    new = create_ticket(ticket.customer, ticket.subject, body, actor=None,
                        category=ticket.category, priority=ticket.priority,
                        channel=ticket.channel, now=now)
    add_event(new, None, now, "follow_up", of=ticket.number)
    add_event(ticket, None, now, "followed_up", to=new.number)
    if round_ is not None:
        round_.follow_up_ticket_id = new.id
    audit(ticket, None, "follow_up", new=new.id)
    db.session.flush()
    return new


@intent_handler("mail_confirmation")
def mail_confirmation(round_id: int):
    """Outbox handler: ask the customer whether the round's resolution holds, with the two
    links, in the ticket's language; nothing if the round no longer stands."""
    round_ = db.session.get(ResolutionRound, round_id)
    if round_ is None or link_refusal(round_) is not None:
        return None
    ticket = round_.ticket
    with force_locale(ticket.language or "es"):
        headline = _("¿Está resuelto tu problema? %(subject)s", subject=ticket.subject)
        paragraphs = [
            _("Hola, %(name)s:", name=ticket.customer.name),
            _("Hemos marcado como resuelto tu ticket %(ticket)s «%(subject)s». ¿Nos confirmas "
              "que ya está todo bien?", ticket=ticket.number, subject=ticket.subject),
            _("Si sigues con el problema, pulsa «No» y lo reabriremos. Puedes hacerlo durante "
              "%(days)d días.", days=current_app.config["HELPDESK_REOPEN_DAYS"])]
        buttons = [(_("Sí, está resuelto"), links.url(links.CONFIRM, ticket.id, round_.id)),
                   (_("No, sigo con el problema"),
                    links.url(links.REOPEN, ticket.id, round_.id))]
    return partial(mail.deliver, mail.build_customer_notice(
        ticket, headline, paragraphs, buttons, idstring=f"confirm{round_.id}"))
