"""Outbound mail: build the message for a public reply and hand it to a backend.

Backends, chosen by configuration: SMTP when ``MAIL_SERVER`` is set; otherwise each message is
written as an ``.eml`` file under ``instance/outbox/`` (the default until the mail channel
exists, and handy in development).
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from .models import Customer, Message, Notification


def _header(value: str) -> str:
    """Header values never carry CR or LF (no header injection from customer text)."""
    return " ".join(str(value).replace("\r", " ").replace("\n", " ").split())


def build_reply(message: Message) -> EmailMessage:
    """The e-mail to the customer for one public reply."""
    ticket = message.ticket
    config = current_app.config
    mail = EmailMessage()
    mail["From"] = _header(config["MAIL_DEFAULT_SENDER"])
    mail["To"] = _header(message.recipient or ticket.customer.email)  # as it was written
    mail["Subject"] = _header(f"[{ticket.number}] {ticket.subject}")
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = make_msgid(idstring=f"ticket{ticket.id}.msg{message.id}",
                                    domain=config["MAIL_MESSAGE_ID_DOMAIN"])
    first = next((m for m in ticket.messages if m.email_message_id and m.id != message.id), None)
    if first is not None:
        mail["In-Reply-To"] = mail["References"] = _header(first.email_message_id)
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


def build_breach_notice(ticket, user) -> EmailMessage:
    """The e-mail to a staff member about a ticket that passed its SLA deadline."""
    return _automatic(user.email, f"SLA {ticket.number}: {ticket.subject}",
                      f"{ticket.number} — {ticket.subject}\n"
                      f"SLA: {ticket.sla_due_at.isoformat() if ticket.sla_due_at else '-'}\n",
                      idstring=f"sla{ticket.id}.user{user.id}")


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
                      idstring=f"sla-digest{notice.id}.user{user.id}")


def build_email_change_notice(customer: Customer, old: str, new: str,
                              change_id: int) -> EmailMessage:
    """The e-mail to a customer's previous address saying their address was changed, in their
    language (they can tell us if they did not ask for it)."""
    with force_locale(customer.locale or "es"):
        subject = _("Tu dirección de correo en Bayit+ Soporte ha cambiado")
        body = _("Hola, %(name)s:\n\nLa dirección de correo de tu cuenta de soporte cambió de "
                 "%(old)s a %(new)s. Desde ahora te escribiremos a la nueva.\n\nSi no lo "
                 "pediste tú, responde a este mensaje.", name=customer.name, old=old, new=new)
    return _automatic(old, subject, f"{body}\n", idstring=f"customer{customer.id}.email{change_id}")


def _automatic(to: str, subject: str, body: str, *, idstring: str) -> EmailMessage:
    """A message the helpdesk sends by itself (notices, not replies): marked Auto-Submitted, so
    mail systems do not answer it automatically."""
    config = current_app.config
    mail = EmailMessage()
    mail["From"] = _header(config["MAIL_DEFAULT_SENDER"])
    mail["To"] = _header(to)
    mail["Subject"] = _header(subject)
    mail["Message-ID"] = make_msgid(idstring=idstring, domain=config["MAIL_MESSAGE_ID_DOMAIN"])
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(body)
    return mail
