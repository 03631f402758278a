"""Tickets and their thread: create, correct, reply, note, the customer writing again."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from .. import mail, queries, rules, templating
from ..errors import DomainError
from ..extensions import db
from ..models import (
    Category,
    Channel,
    Customer,
    Message,
    MessageKind,
    Priority,
    ResponseTemplate,
    Ticket,
    TicketStatus,
    User,
)
from ..queries import REPLY_KEY
from .assignment import assign_ticket
from .base import (
    BODY_MAX,
    NOTE_MAX,
    REPLY_MAX,
    SUBJECT_MAX,
    audit,
    clean_text,
    ensure_fresh,
    refuse_if_merged,
    touch,
)
from .lifecycle import apply_targets, set_status
from .notify import tell_customer_wrote, tell_mentioned
from .outbox import schedule


def create_ticket(customer: Customer, subject: str, body: str, *, actor: User | None,
                  category: Category | None = None, priority: Priority = Priority.NORMAL,
                  channel: Channel = Channel.WEB, now: datetime | None = None,
                  route: bool = True, email_message_id: str | None = None,
                  quoted: str | None = None) -> Ticket:
    """Open a ticket with the customer's first message; routing runs as a job after commit
    (`route=False`: the caller has it routed, as mail's runs do with `route_tickets`). A
    message that came by mail keeps its Message-ID and quoted history (written with it)."""
    now = now or rules.utcnow()
    subject = clean_text(subject, _("Asunto"), SUBJECT_MAX)
    body = clean_text(body, _("Mensaje"), BODY_MAX)
    ticket = Ticket(
        subject=subject, customer=customer, category=category, priority=priority,
        channel=channel, language=customer.locale, status=TicketStatus.NEW,
        created_at=now, updated_at=now,
    )
    apply_targets(ticket)
    ticket.messages.append(
        Message(kind=MessageKind.CUSTOMER, customer_id=customer.id, body=body, created_at=now,
                email_message_id=email_message_id, quoted=quoted)
    )
    db.session.add(ticket)
    db.session.flush()
    audit(ticket, actor, "create", reason=channel.value)
    if route:
        schedule("route_ticket", ticket.id, key=f"route:{ticket.id}")
    return ticket


def update_ticket_details(ticket: Ticket, *, subject: str, category: Category | None,
                          actor: User | None) -> None:
    """Correct a ticket's subject or category; status, assignee and priority have own verbs."""
    subject = clean_text(subject, _("Asunto"), SUBJECT_MAX)
    if subject != ticket.subject:
        audit(ticket, actor, "update", field="subject", old=ticket.subject, new=subject)
        ticket.subject = subject
    if category != ticket.category:
        audit(ticket, actor, "update", field="category", old=ticket.category, new=category)
        ticket.category = category
    db.session.flush()


def add_reply(ticket: Ticket, text: str, *, actor: User, status: TicketStatus | None = None,
              expected_version: int | None = None, template: ResponseTemplate | None = None,
              now: datetime | None = None) -> Message:
    """Answer the customer: placeholders rendered, first response recorded once, mail queued;
    never on a merged ticket (the customer's conversation goes on in the survivor)."""
    ensure_fresh(ticket, expected_version)
    refuse_if_merged(ticket)
    now = now or rules.utcnow()
    body = clean_text(text, _("Respuesta"), REPLY_MAX)
    body = templating.render(body, templating.placeholder_context(ticket, actor)).strip()
    if not body:
        raise DomainError(_("La respuesta quedó vacía."))
    if ticket.assignee_id is None and ticket.status is not TicketStatus.RESOLVED:
        assign_ticket(ticket, actor, actor=actor, reason="reply", now=now)
    message = Message(ticket=ticket, kind=MessageKind.REPLY, author=actor, body=body,
                      recipient=ticket.customer.email, cc=queries.reply_copies(ticket.id),
                      created_at=now)
    db.session.add(message)
    audit(ticket, actor, "reply", reason=f"template:{template.id}" if template else None)
    if ticket.first_response_at is None:
        audit(ticket, actor, "first_response", field="first_response_at", new=now.isoformat())
        ticket.first_response_at = now
        apply_targets(ticket, now)
    set_status(ticket, rules.status_after_reply(ticket.status, status), actor, "reply", now)
    if template is not None:
        template.times_used = ResponseTemplate.times_used + 1
    touch(ticket, now)
    db.session.flush()
    # The Message-ID is fixed now, in the reply's transaction: every attempt to mail it reuses it.
    message.email_message_id = mail.new_reply_message_id(ticket.id, message.id)
    schedule("send_reply", message.id, key=REPLY_KEY.format(message.id), queue="mail")
    return message


def add_note(ticket: Ticket, text: str, *, actor: User, expected_version: int | None = None,
             now: datetime | None = None) -> Message:
    """An internal note: staff only, never mailed."""
    ensure_fresh(ticket, expected_version)
    now = now or rules.utcnow()
    body = clean_text(text, _("Nota interna"), NOTE_MAX)
    note = Message(ticket=ticket, kind=MessageKind.NOTE, author=actor, body=body,
                   created_at=now)
    db.session.add(note)
    audit(ticket, actor, "note")
    touch(ticket, now)
    db.session.flush()
    tell_mentioned(ticket, note, actor=actor, now=now)
    return note


def add_customer_message(ticket: Ticket, body: str, *, now: datetime | None = None) -> Message:
    """The customer writes again (mail, web): a waiting ticket reopens and its clock resumes;
    a resolved one reopens to its assignee, or past the reopen window a follow-up ticket
    opens with the message (`closure.customer_writes_again`)."""
    now = now or rules.utcnow()
    if ticket.status is TicketStatus.RESOLVED:
        from .closure import customer_writes_again  # closure builds on this module

        return customer_writes_again(ticket, body, now)
    message = Message(ticket=ticket, kind=MessageKind.CUSTOMER, customer_id=ticket.customer_id,
                      body=clean_text(body, _("Mensaje"), BODY_MAX), created_at=now)
    db.session.add(message)
    if ticket.status is TicketStatus.PENDING:
        set_status(ticket, TicketStatus.OPEN, None, "customer", now)
    touch(ticket, now)
    db.session.flush()
    tell_customer_wrote(ticket, message, now)
    return message
