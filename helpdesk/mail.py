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
from email.utils import format_datetime, parseaddr
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from . import attachments, backoff
from .models import Customer, Message, MessageKind, Notification, Ticket


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


def support_address() -> str:
    """The address customers write to (Reply-To of every reply)."""
    config = current_app.config
    return config["MAIL_SUPPORT_ADDRESS"] or parseaddr(config["MAIL_DEFAULT_SENDER"])[1]


def loop_marker() -> str:
    """Our X-Loop value: a message carrying it came from us and is never processed again."""
    return f"helpdesk@{current_app.config['MAIL_MESSAGE_ID_DOMAIN']}"


#: At most this many ids in References (the first and the latest ones are kept).
REFERENCES_MAX = 10


def thread_ids(ticket, before) -> list[str]:
    """The Message-IDs of a ticket's mails written before `before` (customer mails and
    replies), oldest first: the thread a reply continues."""
    ids = [backoff.message_ids(m.email_message_id)[0] for m in ticket.messages
           if m is not before and m.kind in (MessageKind.CUSTOMER, MessageKind.REPLY)
           and backoff.message_ids(m.email_message_id)
           and (m.created_at, m.id or 0) <= (before.created_at, before.id or 0)]
    return ids if len(ids) <= REFERENCES_MAX else ids[:1] + ids[-(REFERENCES_MAX - 1):]


def build_reply(message: Message) -> EmailMessage:
    """The e-mail to the customer for one public reply: `[#123]` in the subject, Reply-To our
    address, threaded on the customer's mails (In-Reply-To the latest, References the thread),
    copies to the ticket's CC as the reply was written, our loop marker, a text and an escaped
    HTML part, and the reply's attachments."""
    ticket = message.ticket
    config = current_app.config
    mail = EmailMessage(policy=POLICY)
    mail["From"] = _header(config["MAIL_DEFAULT_SENDER"])
    mail["To"] = _header(message.recipient or ticket.customer.email)  # as it was written
    if message.cc:
        mail["Cc"] = _header(message.cc)
    mail["Reply-To"] = _header(support_address())
    mail["Subject"] = _header(f"[{ticket.number}] {ticket.subject}")
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = message.email_message_id  # fixed when written: the same every attempt
    ids = thread_ids(ticket, message)
    if ids:
        mail["In-Reply-To"] = ids[-1]
        mail["References"] = " ".join(ids)
    mail["Auto-Submitted"] = "auto-replied" if message.author_id is None else "no"
    mail["X-Loop"] = loop_marker()
    _body(mail, message.body)
    for item in message.attachments:
        path = attachments.path_of(item.storage_path)
        if path is not None:
            maintype, _slash, subtype = item.content_type.partition("/")
            mail.add_attachment(path.read_bytes(), maintype=maintype,
                                subtype=subtype or "octet-stream", filename=item.filename)
    return mail


def _body(mail: EmailMessage, text: str) -> None:
    """A plain-text part and the same text as escaped HTML (nothing the customer or agent
    typed can become markup)."""
    mail.set_content(text)
    mail.add_alternative(
        f'<!DOCTYPE html><html><body><div style="white-space: pre-wrap">{escape(text)}</div>'
        "</body></html>", subtype="html")


def build_acknowledgement(ticket, inbound) -> EmailMessage:
    """The automatic acknowledgement of a ticket opened by mail, in the ticket's language:
    its number and when the first response is due (the SLA)."""
    config = current_app.config
    with force_locale(ticket.language or "es"):
        subject = _("Hemos recibido tu mensaje: %(subject)s", subject=ticket.subject)
        due = ticket.first_response_due_at
        when = due.strftime("%Y-%m-%d %H:%M UTC") if due else _("lo antes posible")
        body = _("Hola, %(name)s:\n\nHemos recibido tu mensaje y abierto el ticket "
                 "%(number)s. Te responderemos antes de: %(when)s.\n\nPara añadir algo, "
                 "responde a este correo sin cambiar el asunto.\n\nBayit+ Soporte",
                 name=ticket.customer.name, number=ticket.number, when=when)
    mail = EmailMessage(policy=POLICY)
    mail["From"] = _header(config["MAIL_DEFAULT_SENDER"])
    mail["To"] = _header(ticket.customer.email)
    mail["Reply-To"] = _header(support_address())
    mail["Subject"] = _header(f"[{ticket.number}] {subject}")
    mail["Message-ID"] = f"<A-{ticket.id:06d}.{inbound.id}@{config['MAIL_MESSAGE_ID_DOMAIN']}>"
    if backoff.message_ids(inbound.message_id):
        mail["In-Reply-To"] = mail["References"] = backoff.message_ids(inbound.message_id)[0]
    mail["Auto-Submitted"] = "auto-replied"
    mail["X-Loop"] = loop_marker()
    _body(mail, body)
    return mail


def deliver(mail: EmailMessage) -> None:
    """Send through SMTP when MAIL_SERVER is set, else write instance/outbox/<id>.eml."""
    deliver_many([mail])


def deliver_many(mails: list[EmailMessage]) -> None:
    """Send several messages over one SMTP connection (or write their .eml files). A failure
    part-way raises: the caller's retry sends them all again, with the same Message-IDs."""
    config = current_app.config
    if config.get("MAIL_SERVER"):
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            for mail in mails:
                smtp.send_message(mail)
        return
    outbox = Path(config["HELPDESK_INSTANCE"]) / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    for mail in mails:
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


def build_staff_notice(user, headline: str, buttons: list[tuple[str, str]], *,
                       idstring: str) -> EmailMessage:
    """A notice to a staff member (assigned, answered, mentioned): the headline as subject and
    text, the ticket's link as a button; built like the customers' notices (escaped HTML)."""
    mail = _automatic(user.email, headline, _customer_text([headline], buttons),
                      idstring=idstring)
    mail.add_alternative(_customer_html(headline, [headline], buttons), subtype="html")
    return mail


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
    mail["X-Loop"] = loop_marker()
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
