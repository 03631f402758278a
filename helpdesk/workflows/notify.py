"""Outbox handlers that send mail: replies to customers, breach notices to staff.

Each reads what it needs in the job's transaction and returns the sending as a callable,
which the outbox runs after that transaction, with no lock held (see `outbox.run_intent`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from .. import mail, queries
from ..extensions import db
from ..models import AuditEntry, Customer, Message, MessageKind, Notification
from .outbox import intent_handler


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
