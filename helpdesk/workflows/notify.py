"""Telling staff: notices in the panel and by e-mail as each person chose (`tell`), and the
outbox handlers that send mail: replies to customers, notices to staff.

Each handler reads what it needs in the job's transaction and returns the sending as a
callable, which the outbox runs after that transaction, with no lock held (see
`outbox.run_intent`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from .. import mail, notice_rules, queries, rules
from ..errors import DomainError
from ..extensions import db
from ..models import (
    AuditEntry,
    Customer,
    Message,
    MessageKind,
    Notification,
    NotificationPreference,
    Ticket,
    User,
)
from ..queries import notices as notice_queries
from .base import audit
from .outbox import intent_handler, schedule

#: Assignments another notice already tells about (the escalation's, the reopening's).
_TOLD_OTHERWISE = ("escalate", "deescalate", "reopen")


def tell(user_id: int | None, kind: str, *, ticket: Ticket, actor: User | None,
         detail: object = "", now: datetime | None = None, team_id: int | None = None,
         mail_handler: str = "mail_ticket_notice") -> Notification | None:
    """Tell one person about something that happened to `ticket`, in the panel and/or by
    e-mail as they chose for `kind` (`notice_rules.channels_of`); never the actor about their
    own act. A notice wanted by e-mail only is stored read (the mail's record). E-mail goes
    through the outbox (`mail_handler`, once per notice) when a mail server is configured."""
    if not notice_rules.tells(actor.id if actor is not None else None, user_id):
        return None
    channels = notice_queries.notice_channels(user_id, kind)
    if not channels.any:
        return None
    now = now or rules.utcnow()
    notice = Notification(user_id=user_id, ticket_id=ticket.id, created_at=now, kind=kind,
                          team_id=ticket.team_id if team_id is None else team_id,
                          message=f"{kind}:{detail}", read_at=None if channels.panel else now)
    db.session.add(notice)
    if channels.email and current_app.config.get("MAIL_SERVER"):
        db.session.flush()  # the notice's id names the mail (else it goes with the next flush)
        schedule(mail_handler, notice.id, queue="mail", key=f"{kind}-mail:{notice.id}")
    return notice


def tell_assignee(ticket: Ticket, agent: User | None, *, actor: User | None, reason: str,
                  now: datetime) -> None:
    """The new assignee hears of it when routing (`auto:…`) or someone else (a supervisor, a
    bulk move) gave it to them — not when they took it themselves, nor when another notice
    says it (`_TOLD_OTHERWISE`)."""
    if agent is None or reason.rsplit(":", 1)[-1] in _TOLD_OTHERWISE:
        return
    if actor is None and not reason.startswith("auto:"):
        return  # the system moving it for another reason (a repair, a test's set-up)
    tell(agent.id, notice_rules.ASSIGNED, ticket=ticket, actor=actor,
         detail=actor.name if actor is not None else "", now=now)


def tell_customer_wrote(ticket: Ticket, message: Message, now: datetime) -> None:
    """The ticket's assignee hears that the customer answered."""
    tell(ticket.assignee_id, notice_rules.CUSTOMER_REPLY, ticket=ticket, actor=None,
         detail=message.id, now=now)


def tell_mentioned(ticket: Ticket, note: Message, *, actor: User, now: datetime) -> list[int]:
    """Everyone a note mentions ("@handle") who may open the ticket hears of it, each once;
    the author never. Whom it told."""
    told = []
    for user_id in notice_queries.mentioned_staff(notice_rules.mentioned_handles(note.body),
                                                  ticket):
        if tell(user_id, notice_rules.MENTION, ticket=ticket, actor=actor,
                detail=f"{note.id}:{actor.name}", now=now) is not None:
            told.append(user_id)
    return told


def set_notice_preferences(user: User, chosen: dict[str, notice_rules.Channels], *,
                           actor: User) -> int:
    """Keep a person's choice per kind (only the kinds that changed; each audited); how many
    changed. Only the person chooses for themselves."""
    if actor.id != user.id:
        raise DomainError(_("Solo puedes cambiar tus propias preferencias de avisos."))
    current = notice_queries.preferences_of(user.id)
    rows = {row.kind: row for row in db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user.id))}
    changed = 0
    for kind in notice_rules.NOTICE_KINDS:
        wanted = chosen.get(kind)
        if wanted is None or wanted == current[kind]:
            continue
        row = rows.get(kind) or NotificationPreference(user_id=user.id, kind=kind)
        row.panel, row.email = wanted.panel, wanted.email
        db.session.add(row)
        audit(user, actor, "notice_preference", field=kind,
              old=notice_rules.channel_value(current[kind]),
              new=notice_rules.channel_value(wanted))
        changed += 1
    db.session.flush()
    return changed


def read_notice(notice: Notification, *, actor: User, now: datetime | None = None) -> None:
    """The person opened one of their notices: it is read."""
    if notice.user_id != actor.id:
        raise DomainError(_("Ese aviso no es tuyo."))
    if notice.read_at is None:
        notice.read_at = now or rules.utcnow()
        db.session.flush()


def notice_mail(notice: Notification):
    """The e-mail of a notice about a ticket (assigned, answered, mentioned), in the person's
    language, with a link to the ticket; None for other kinds."""
    user, ticket = notice.user, notice.ticket
    detail = notice.message.split(":", 1)[-1]
    with force_locale(user.locale):
        if notice.kind == notice_rules.ASSIGNED:
            headline = _("Ticket asignado a ti: %(ticket)s %(subject)s", ticket=ticket.number,
                         subject=ticket.subject)
        elif notice.kind == notice_rules.CUSTOMER_REPLY:
            headline = _("El cliente respondió: %(ticket)s %(subject)s", ticket=ticket.number,
                         subject=ticket.subject)
        elif notice.kind == notice_rules.MENTION:
            headline = _("%(name)s te mencionó en una nota: %(ticket)s %(subject)s",
                         name=detail.split(":", 1)[-1], ticket=ticket.number,
                         subject=ticket.subject)
        else:
            return None
        button = _("Abrir el ticket")
    base = current_app.config["HELPDESK_PUBLIC_URL"].rstrip("/")
    with current_app.test_request_context():
        path = url_for("tickets.work_view", ticket_id=ticket.id)
    return mail.build_staff_notice(user, headline, [(button, f"{base}{path}")],
                                   idstring=f"notice{notice.id}")


@intent_handler("mail_notice")
def mail_notice(notification_id: int) -> Callable[[], None] | None:
    """Outbox handler: e-mail a breach notice (one ticket, or a team's digest) to its person."""
    notice = db.session.get(Notification, notification_id)
    if notice is None or not notice.user.active:
        return  # gone (ticket or person deleted) or no longer staff: nothing to say
    if notice.ticket is not None:
        return partial(mail.deliver, mail.build_breach_notice(notice.ticket, notice.user,
                                                              f"notice{notice.id}"))
    if notice.kind == queries.BREACH_DIGEST:
        return partial(mail.deliver, mail.build_breach_digest(notice))
    return None


@intent_handler("mail_ticket_notice")
def mail_ticket_notice(notification_id: int) -> Callable[[], None] | None:
    """Outbox handler: e-mail a notice about a ticket (assigned, answered, mentioned) to its
    person, if they are still active staff who may open the ticket."""
    notice = db.session.get(Notification, notification_id)
    if notice is None or notice.ticket is None or not notice.user.active \
            or not notice_queries.may_see(notice.user, notice.ticket):
        return None
    built = notice_mail(notice)
    return partial(mail.deliver, built) if built is not None else None


@intent_handler("send_reply")
def send_reply(message_id: int) -> Callable[[], None] | None:
    """Outbox handler: mail one public reply to the customer with the Message-ID it was given
    when written. Once per intent (the outbox marks it done in the commit right after SMTP
    accepts); a worker killed in between makes it go again with the same Message-ID."""
    message = db.session.get(Message, message_id)
    if message is None or message.kind is not MessageKind.REPLY:
        return None
    if not message.email_message_id:  # written before ids were fixed at writing time: one
        # derived from the row alone, so a retry after a lost commit still reuses it
        message.email_message_id = mail.legacy_reply_message_id(message.ticket_id, message.id)
    return partial(mail.deliver, mail.build_reply(message))


@intent_handler("mail_email_changed")
def mail_email_changed(audit_id: int) -> Callable[[], None] | None:
    """Outbox handler: tell a customer's previous address that their e-mail was changed (the
    audit row of the change says from what to what)."""
    entry = db.session.get(AuditEntry, audit_id)
    customer = db.session.get(Customer, entry.entity_id) if entry is not None else None
    if customer is None or not entry.old_value:
        return None
    return partial(mail.deliver, mail.build_email_change_notice(
        customer, entry.old_value, entry.new_value, entry.id))
