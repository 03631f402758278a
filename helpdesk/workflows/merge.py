"""Tickets that belong together: merging duplicates into a surviving ticket (links between
tickets live in `links.py`), and macros (a template plus status, priority and category in one
click)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from .. import mail, queries, rules
from ..errors import DomainError, InvalidTransition
from ..extensions import db
from ..models import (
    InboundMail,
    LinkKind,
    Macro,
    Ticket,
    TicketLink,
    TicketParticipant,
    TicketStatus,
    User,
    event_body,
)
from ..queries import links as link_queries
from .base import add_event, audit, ensure_fresh, touch
from .lifecycle import apply_targets, change_priority, change_status, set_status
from .outbox import intent_handler, schedule
from .tickets import add_reply, update_ticket_details

#: Outbox key of the notice telling a customer where their merged ticket went.
MERGE_MAIL_KEY = "merge-mail:{}"


class MergeForbidden(DomainError):
    """The person may not edit one of the tickets: views answer 403."""


class MergeNeedsConfirmation(DomainError):
    """Tickets of different customers: merged only when the person confirms it."""


def merge_tickets(survivor: Ticket, merged: Sequence[Ticket], *, actor: User,
                  notify_customer: bool, other_customers_confirmed: bool = False,
                  expected_versions: dict[int, int] | None = None,
                  now: datetime | None = None) -> list[Ticket]:
    """Merge duplicates into `survivor`: their threads move into it (authors and times kept,
    each event noting the ticket it came from), they close as merged with a link to it, both
    sides are audited, and (if asked) each customer is told by mail through the outbox.
    Tickets of another customer need `other_customers_confirmed`. Returns the merged ones."""
    now = now or rules.utcnow()
    expected_versions = expected_versions or {}
    ids = sorted({survivor.id, *(t.id for t in merged)})
    itself = any(t.id == survivor.id for t in merged)
    locked = {t.id: t for t in queries.tickets_by_ids(ids, for_update=True)}  # one lock order
    survivor = locked[survivor.id]
    merged = [locked[i] for i in ids if i != survivor.id]
    for ticket in (survivor, *merged):
        ensure_fresh(ticket, expected_versions.get(ticket.id))
    _check_merge(survivor, merged, actor, other_customers_confirmed, itself=itself)
    _adopt_clock(survivor, merged, actor, now)
    for ticket in merged:
        _merge_one(ticket, survivor, actor, now)
        if notify_customer:
            schedule("mail_merge_notice", ticket.id, survivor.id, queue="mail",
                     key=MERGE_MAIL_KEY.format(ticket.id))
    touch(survivor, now)
    db.session.flush()
    return merged


def _check_merge(survivor: Ticket, merged: Sequence[Ticket], actor: User, confirmed: bool,
                 *, itself: bool) -> None:
    if itself:
        raise DomainError(_("Un ticket no se puede fusionar consigo mismo."))
    already = link_queries.merged_into([survivor.id, *(t.id for t in merged)])
    sides = {t.id: rules.MergeSide(t.id, t.customer_id, t.team_id, t.assignee_id, t.status,
                                   merged=t.id in already) for t in (survivor, *merged)}
    found = rules.merge_refusal(actor.role, (team.id for team in actor.teams),
                                actor_id=actor.id, survivor=sides[survivor.id],
                                merged=[sides[t.id] for t in merged],
                                cross_customer_confirmed=confirmed)
    if found is None:
        return
    refusal, ticket_id = found
    number = f"#{ticket_id}"
    if refusal == rules.NOTHING_TO_MERGE:
        raise DomainError(_("Elige al menos otro ticket que fusionar en este."))
    if refusal == rules.ALREADY_MERGED:
        raise DomainError(_("El ticket %(ticket)s ya está fusionado en otro.", ticket=number))
    if refusal == rules.RESOLVED:
        raise DomainError(_("El ticket %(ticket)s está resuelto: reábrelo antes de fusionarlo.",
                            ticket=number))
    if refusal == rules.NOT_YOUR_TEAM:
        raise MergeForbidden(_("Solo puedes fusionar tickets de tus equipos o asignados a ti "
                               "(%(ticket)s no lo es).", ticket=number))
    if refusal == rules.OTHER_CUSTOMER:
        raise MergeNeedsConfirmation(_(
            "El ticket %(ticket)s es de otro cliente. Marca «Fusionar tickets de clientes "
            "distintos» si de verdad son el mismo caso.", ticket=number))
    raise DomainError(_("Un ticket no se puede fusionar consigo mismo."))


def _adopt_clock(survivor: Ticket, merged: Sequence[Ticket], actor: User, now: datetime) -> None:
    """The survivor stands for the request since the customer first asked: it takes the
    earliest creation time and the earliest first response of the set (`rules.merged_clock`),
    each change audited, and its deadlines and SLA state are computed again at once. Without
    this the thread would start before its ticket (a negative first-response time in reports)
    and an answered customer would still count down to a first-response breach."""
    started, answered = rules.merged_clock(
        (t.created_at, t.first_response_at) for t in (survivor, *merged))
    changed = False
    if started < survivor.created_at:
        audit(survivor, actor, "merge", field="created_at",
              old=survivor.created_at.isoformat(), new=started.isoformat())
        survivor.created_at, changed = started, True
    if answered is not None and answered != survivor.first_response_at:
        audit(survivor, actor, "merge", field="first_response_at",
              old=survivor.first_response_at and survivor.first_response_at.isoformat(),
              new=answered.isoformat())
        survivor.first_response_at, changed = answered, True
    if changed:
        apply_targets(survivor, now)


def _merge_one(ticket: Ticket, survivor: Ticket, actor: User, now: datetime) -> None:
    """Move one ticket's thread into the survivor, close it as merged, link and audit."""
    for message in list(ticket.messages):
        data = message.event
        if data is not None and "merged_from" not in data:
            kind = data.pop("event", "text")
            message.body = event_body(kind, **data, merged_from=ticket.number)
        message.ticket = survivor
    db.session.flush()
    # Mail received for it counts as the survivor's (threading reads InboundMail too).
    db.session.execute(update(InboundMail).where(InboundMail.ticket_id == ticket.id)
                       .values(ticket_id=survivor.id))
    _carry_participants(ticket, survivor)
    set_status(ticket, TicketStatus.RESOLVED, actor, "merge", now)
    ticket.closing_notes = _("Fusionado en %(ticket)s", ticket=survivor.number)
    link = link_queries.link_between(ticket.id, survivor.id)
    if link is None:
        link = TicketLink(created_at=now, created_by_id=actor.id)
        db.session.add(link)
    link.ticket_id, link.other_id, link.kind = ticket.id, survivor.id, LinkKind.MERGED
    audit(ticket, actor, "merge", field="merged_into", new=survivor.number)
    audit(survivor, actor, "merge", field="merged_from", new=ticket.number)
    add_event(ticket, actor, now, "merged_into", to=survivor.number)
    add_event(survivor, actor, now, "merged_from", of=ticket.number, subject=ticket.subject)
    touch(ticket, now)


def _carry_participants(ticket: Ticket, survivor: Ticket) -> None:
    """Whoever could write to the merged ticket may write to the survivor: its CC list, and
    its customer when that is another one (their answers thread into the survivor)."""
    have = {e.lower() for e in db.session.scalars(select(TicketParticipant.email).where(
        TicketParticipant.ticket_id == survivor.id))} | {survivor.customer.email.lower()}
    wanted = [(p.email, p.name) for p in db.session.scalars(select(TicketParticipant).where(
        TicketParticipant.ticket_id == ticket.id))]
    wanted.append((ticket.customer.email, ticket.customer.name))
    for email, name in wanted:
        if email.lower() not in have:
            have.add(email.lower())
            db.session.add(TicketParticipant(ticket_id=survivor.id, email=email, name=name))


@intent_handler("mail_merge_notice")
def mail_merge_notice(merged_id: int, survivor_id: int):
    """Outbox handler: tell the merged ticket's customer, in its language, that their request
    goes on in the survivor (threaded under it, with its token: their answer lands there)."""
    ticket, survivor = db.session.get(Ticket, merged_id), db.session.get(Ticket, survivor_id)
    if ticket is None or survivor is None:
        return None
    with force_locale(ticket.language or "es"):
        headline = _("Tu solicitud %(old)s continúa en %(new)s", old=ticket.number,
                     new=survivor.number)
        paragraphs = [
            _("Hola, %(name)s:", name=ticket.customer.name),
            _("Hemos unido tu solicitud %(old)s «%(subject)s» con %(new)s «%(other)s», porque "
              "tratan del mismo caso. Seguiremos atendiéndote en %(new)s.", old=ticket.number,
              subject=ticket.subject, new=survivor.number, other=survivor.subject),
            _("Si quieres añadir algo, responde a este correo.")]
    notice = mail.build_customer_notice(survivor, headline, paragraphs, [],
                                        idstring=f"merge{ticket.id}")
    notice.replace_header("To", ticket.customer.email)
    return partial(mail.deliver, notice)


# --- Macros ---------------------------------------------------------------------------------


def apply_macro(ticket: Ticket, macro: Macro | None, *, actor: User,
                expected_version: int | None = None, now: datetime | None = None) -> None:
    """Apply a macro in one step: its category, its priority, then its template as a reply in
    the ticket's language (with the macro's status) or the bare status — each through its own
    workflow and audit row; counted like templates. Nothing changes if any part is refused."""
    ensure_fresh(ticket, expected_version)
    if macro is None or not macro.active:
        raise DomainError(_("Esa macro ya no existe o está desactivada; recarga la página."))
    now = now or rules.utcnow()
    template = link_queries.macro_template(macro, ticket, actor.locale)
    refusal = rules.macro_refusal(ticket.status, macro.status, with_reply=template is not None)
    if refusal == rules.RESOLVED:
        raise InvalidTransition(_("La macro «%(name)s» no se aplica a un ticket resuelto; "
                                  "reábrelo antes.", name=macro.name))
    if refusal is not None:
        raise InvalidTransition(_("La macro «%(name)s» no se puede aplicar: un ticket %(old)s "
                                  "no puede pasar a %(new)s.", name=macro.name,
                                  old=ticket.status.label.lower(),
                                  new=macro.status.label.lower()))
    if macro.category is not None and macro.category_id != ticket.category_id:
        update_ticket_details(ticket, subject=ticket.subject, category=macro.category,
                              actor=actor)
    if macro.priority is not None:
        change_priority(ticket, macro.priority, actor=actor)
    if template is not None:
        add_reply(ticket, template.body, actor=actor, status=macro.status, template=template,
                  now=now)
    elif macro.status is not None and macro.status is not ticket.status:
        change_status(ticket, macro.status, actor=actor, now=now)
    macro.times_used = Macro.times_used + 1
    audit(ticket, actor, "macro", field="macro", new=macro.name)
    touch(ticket, now)
    db.session.flush()

