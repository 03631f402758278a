"""Outbound mail: build the message for a public reply and hand it to a backend.

Backends, chosen by configuration: SMTP when ``MAIL_SERVER`` is set; otherwise each message is
written as an ``.eml`` file under ``instance/outbox/`` (the default until the mail channel
exists, and handy in development).
"""

from __future__ import annotations

import secrets
import smtplib
from email import policy
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup

from . import backoff
from .models import Customer, Message, Notification, Ticket


class _IdListHeader(UnstructuredHeader):
    """Message-ID, In-Reply-To, References: `<id>` tokens written as they are, folded only
    between ids. As unstructured text, a long id would come out RFC 2047-encoded
    (`=?utf-8?q?=3C…`), which mail clients do not match when they thread."""

    max_count = 1  # each of these headers appears at most once (RFC 5322 3.6)

    def fold(self, *, policy):
        return f"{self.name}: " + f"{policy.linesep} ".join(str(self).split()) + policy.linesep


def _policy() -> policy.EmailPolicy:
    registry = HeaderRegistry()  # our own: the default registry is shared by every policy
    for name in ("message-id", "in-reply-to", "references"):
        registry.map_to_type(name, _IdListHeader)
    return policy.default.clone(header_factory=registry)


#: The policy of every message we build (smtplib and bytes() serialize with it).
POLICY = _policy()


def _header(value: str) -> str:
    """Header values never carry CR or LF (no header injection from customer text)."""
    return " ".join(str(value).replace("\r", " ").replace("\n", " ").split())


def new_reply_message_id(ticket_id: int, message_id: int) -> str:
    """A reply's Message-ID, chosen once when it is written (every attempt reuses it)."""
    return backoff.reply_message_id(ticket_id, message_id, secrets.token_hex(4),
                                    current_app.config["MAIL_MESSAGE_ID_DOMAIN"])


def legacy_reply_message_id(ticket_id: int, message_id: int) -> str:
    """The Message-ID of a reply written before ids were chosen at writing time: derived from
    the row alone, so every attempt computes the same one."""
    return backoff.reply_message_id(ticket_id, message_id, "0",
                                    current_app.config["MAIL_MESSAGE_ID_DOMAIN"])


def build_reply(message: Message) -> EmailMessage:
    """The e-mail to the customer for one public reply."""
    ticket = message.ticket
    config = current_app.config
    mail = EmailMessage(policy=POLICY)
    mail["From"] = _header(config["MAIL_DEFAULT_SENDER"])
    mail["To"] = _header(message.recipient or ticket.customer.email)  # as it was written
    mail["Subject"] = _header(f"[{ticket.number}] {ticket.subject}")
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = message.email_message_id  # fixed when written: the same every attempt
    first = next((m for m in ticket.messages if m.id != message.id
                  and backoff.message_ids(m.email_message_id)), None)
    if first is not None:
        mail["In-Reply-To"] = mail["References"] = backoff.message_ids(first.email_message_id)[0]
    mail["Auto-Submitted"] = "auto-replied" if message.author_id is None else "no"
    mail.set_content(message.body)
    return mail


def deliver(mail: EmailMessage) -> None:
    """Send through SMTP when MAIL_SERVER is set, else write instance/outbox/<id>.eml."""
    config = current_app.config
    if config.get("MAIL_SERVER"):
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(mail)
        return
    outbox = Path(config["HELPDESK_INSTANCE"]) / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    name = mail["Message-ID"].strip("<>").replace("/", "_")
    (outbox / f"{name}.eml").write_bytes(bytes(mail))


def build_breach_notice(ticket, user, idstring: str) -> EmailMessage:
    """The e-mail to a staff member about a ticket that passed its SLA deadline."""
    return _automatic(user.email, f"SLA {ticket.number}: {ticket.subject}",
                      f"{ticket.number} — {ticket.subject}\n"
                      f"SLA: {ticket.sla_due_at.isoformat() if ticket.sla_due_at else '-'}\n",
                      idstring=idstring)


def build_breach_digest(notice: Notification) -> EmailMessage:
    """The e-mail to a staff member about many breaches of a team at once, in their language."""
    user = notice.user
    team = notice.team.name if notice.team is not None else None
    with force_locale(user.locale):
        if team is None:
            subject = _("SLA: %(n)d tickets sin equipo superaron su plazo", n=notice.count)
        else:
            subject = _("SLA: %(n)d tickets de %(team)s superaron su plazo", n=notice.count,
                        team=team)
        body = _("Un barrido del SLA encontró %(n)d tickets vencidos a la vez. En la cola, "
                 "filtra por SLA «Vencido» para verlos.", n=notice.count)
    return _automatic(user.email, subject, f"{subject}\n\n{body}\n",
                      idstring=f"notice{notice.id}")


def build_email_change_notice(customer: Customer, old: str, new: str,
                              change_id: int) -> EmailMessage:
    """The e-mail to a customer's previous address saying their address was changed, in their
    language (they can tell us if they did not ask for it)."""
    with force_locale(customer.locale or "es"):
        subject = _("Tu dirección de correo en Bayit+ Soporte ha cambiado")
        body = _("Hola, %(name)s:\n\nLa dirección de correo de tu cuenta de soporte cambió de "
                 "%(old)s a %(new)s. Desde ahora te escribiremos a la nueva.\n\nSi no lo "
                 "pediste tú, responde a este mensaje.", name=customer.name, old=old, new=new)
    return _automatic(old, subject, f"{body}\n", idstring=f"email-change{change_id}")


def _automatic(to: str, subject: str, body: str, *, idstring: str) -> EmailMessage:
    """A message the helpdesk sends by itself (notices, not replies): marked Auto-Submitted, so
    mail systems do not answer it automatically. Its Message-ID comes from `idstring` (the
    notice's row), so every attempt to send it carries the same one."""
    config = current_app.config
    mail = EmailMessage(policy=POLICY)
    mail["From"] = _header(config["MAIL_DEFAULT_SENDER"])
    mail["To"] = _header(to)
    mail["Subject"] = _header(subject)
    mail["Message-ID"] = backoff.notice_message_id(idstring, config["MAIL_MESSAGE_ID_DOMAIN"])
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(body)
    return mail


def build_customer_notice(ticket: Ticket, headline: str, paragraphs: list[str],
                          buttons: list[tuple[str, str]], *, idstring: str) -> EmailMessage:
    """A message to the customer about their ticket that is not a reply (the confirmation
    question, the survey): the ticket token in the subject, threaded under the ticket's mail,
    a plain-text part and an HTML part with every text escaped. `buttons` are (label, URL)."""
    mail = _automatic(ticket.customer.email, f"[{ticket.number}] {headline}",
                      _customer_text(paragraphs, buttons), idstring=idstring)
    first = next((m for m in ticket.messages if backoff.message_ids(m.email_message_id)), None)
    if first is not None:
        mail["In-Reply-To"] = mail["References"] = backoff.message_ids(first.email_message_id)[0]
    mail.add_alternative(_customer_html(headline, paragraphs, buttons), subtype="html")
    return mail


def _customer_text(paragraphs: list[str], buttons: list[tuple[str, str]]) -> str:
    links = [f"{label}:\n{url}" for label, url in buttons]
    return "\n\n".join([*paragraphs, *links]) + "\n"


def _customer_html(headline: str, paragraphs: list[str], buttons: list[tuple[str, str]]) -> str:
    body = Markup("").join(Markup("<p>{}</p>\n").format(p) for p in paragraphs)
    links = Markup(" ").join(
        Markup('<a href="{}" style="display:inline-block;padding:8px 14px;margin:4px;'
               'border:1px solid #2780e3;border-radius:4px;text-decoration:none">{}</a>')
        .format(url, label) for label, url in buttons)
    return str(Markup('<!doctype html>\n<html><head><meta charset="utf-8"><title>{}</title>'
                      '</head>\n<body style="font-family:sans-serif">\n{}<p>{}</p>\n'
                      '</body></html>\n').format(headline, body, links))
