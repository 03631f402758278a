"""E-mail in through the MTA pipe and a real worker: new tickets, threading only for
participants, loops ignored, duplicates collapsed by a unique index, limits held, the per-sender
rate, the acknowledgement, and nothing lost when Redis is down or the database refuses."""

from __future__ import annotations

import email
import os
import subprocess
import sys
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpdesk import rules, workflows
from helpdesk.extensions import db
from helpdesk.inbound.store import store_many, store_raw
from helpdesk.models import (
    Channel,
    Customer,
    InboundMail,
    InboundState,
    JobIntent,
    Message,
    MessageKind,
    Role,
    Ticket,
    TicketParticipant,
    TicketStatus,
    User,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "data" / "mail"


def corpus(name: str, **subs: str) -> bytes:
    """A message of tests/data/mail with its {placeholders} filled."""
    raw = (CORPUS / name).read_bytes()
    for key, value in subs.items():
        raw = raw.replace(b"{" + key.encode() + b"}", value.encode())
    return raw


def simple(sender="marta.ruiz@correo.example", subject="Hola", body="No carga la serie.",
           message_id="<m1@correo.example>", **headers) -> bytes:
    lines = [f"From: {sender}", "To: soporte@bayit.example", f"Subject: {subject}",
             f"Message-ID: {message_id}", *[f"{k.replace('_', '-')}: {v}"
                                            for k, v in headers.items()],
             "Content-Type: text/plain; charset=utf-8", "", body, ""]
    return "\r\n".join(lines).encode()


def pipe_receiver(app):
    """Deliver a message through `flask helpdesk mail receive` (Click's runner, same code)."""

    def run(raw: bytes):
        result = app.test_cli_runner().invoke(args=["helpdesk", "mail", "receive"], input=raw)
        assert result.exit_code == 0, result.output
        return result.output.strip()

    return run


@pytest.fixture
def receive(app):
    """`receive(raw)`: the MTA pipe; returns what the command printed."""
    return pipe_receiver(app)


def inbound(app) -> list[InboundMail]:
    with app.app_context():
        rows = list(db.session.scalars(select(InboundMail).order_by(InboundMail.id)))
        db.session.expunge_all()
        return rows


def tickets(app) -> list[Ticket]:
    with app.app_context():
        rows = list(db.session.scalars(select(Ticket).order_by(Ticket.id)))
        for t in rows:
            _ = t.customer.email, [m.body for m in t.messages]
        db.session.expunge_all()
        return rows


def outbox_mails(app) -> list[email.message.EmailMessage]:
    folder = Path(app.config["HELPDESK_INSTANCE"]) / "outbox"
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(folder.glob("*.eml"))] if folder.exists() else []


def clear_outbox(app) -> None:
    folder = Path(app.config["HELPDESK_INSTANCE"]) / "outbox"
    for path in folder.glob("*.eml") if folder.exists() else []:
        path.unlink()


@pytest.fixture(autouse=True)
def empty_outbox(app):
    """Each test reads only the .eml files it caused."""
    clear_outbox(app)


def test_a_new_mail_opens_an_email_ticket_with_its_cc_and_one_acknowledgement(
        app, receive, run_jobs):
    assert receive(corpus("new_es.eml")).startswith("stored #")
    run_jobs()
    (ticket,) = tickets(app)
    assert ticket.channel is Channel.EMAIL and ticket.subject == "No puedo iniciar sesión en la app"
    assert ticket.customer.email == "marta.ruiz@correo.example"
    assert ticket.customer.name == "Marta Ruiz" and ticket.language == "es"
    assert "no puedo\nentrar en mi cuenta" in ticket.messages[0].body
    with app.app_context():
        cc = db.session.scalars(select(TicketParticipant.email)).all()
        assert cc == ["pablo.ruiz@correo.example"]  # never our own address
        assert ticket.messages[0].email_message_id == "<new-es-0001@correo.example>"
    (row,) = inbound(app)
    assert (row.state, row.ticket_id, row.opened_ticket) == (InboundState.PROCESSED, ticket.id,
                                                             True)
    (ack,) = outbox_mails(app)
    assert ack["To"] == "marta.ruiz@correo.example"
    assert ack["Subject"].startswith(f"[#{ticket.id}] Hemos recibido tu mensaje")
    assert ack["Auto-Submitted"] == "auto-replied" and ack["X-Loop"]
    assert ack["In-Reply-To"] == "<new-es-0001@correo.example>"
    assert f"#{ticket.id}" in ack.get_body(("plain",)).get_content()


def _reply_to_customer(app, ticket_id: int, status=TicketStatus.PENDING) -> str:
    with app.app_context(), workflows.atomic():
        agent = db.session.scalar(select(User).where(User.role == Role.AGENT))
        message = workflows.add_reply(db.session.get(Ticket, ticket_id), "Prueba a reiniciar.",
                                      actor=agent, status=status)
        return message.email_message_id


@pytest.fixture
def mail_ticket(app, receive, run_jobs, make_user):
    """Juan's ticket opened by mail, answered by an agent (Pendiente); returns (id, reply id)."""
    make_user(Role.AGENT)
    receive(simple(sender="Juan García <juan.garcia@gmail.example>",
                   subject="No puedo ver la serie", message_id="<first@gmail.example>"))
    run_jobs()
    (ticket,) = tickets(app)
    return ticket.id, _reply_to_customer(app, ticket.id)


def test_a_customer_answer_threads_by_references_and_reopens_the_ticket(
        app, receive, run_jobs, mail_ticket):
    ticket_id, reply_id = mail_ticket
    receive(corpus("gmail_reply_es.eml", ticket=str(ticket_id), in_reply_to=reply_id))
    run_jobs()
    (ticket,) = tickets(app)
    assert ticket.status is TicketStatus.OPEN
    customer = [m for m in ticket.messages if m.kind is MessageKind.CUSTOMER]
    assert len(customer) == 2
    assert customer[1].body == ("Hola, ya lo probé y sigue sin funcionar en la tele del salón."
                                "\n\nGracias")
    assert customer[1].quoted.startswith("El lun, 3 mar 2025 a las 10:02")
    assert inbound(app)[-1].reason == "threaded (references)"


def test_a_strangers_forged_reply_opens_its_own_ticket(app, receive, run_jobs, mail_ticket):
    ticket_id, reply_id = mail_ticket
    forged = corpus("gmail_reply_es.eml", ticket=str(ticket_id), in_reply_to=reply_id).replace(
        b"juan.garcia@gmail.example", b"mallory@evil.example")
    receive(forged)
    run_jobs()
    first, second = tickets(app)
    assert len([m for m in first.messages if m.kind is MessageKind.CUSTOMER]) == 1
    assert first.status is TicketStatus.PENDING
    assert second.customer.email == "mallory@evil.example"
    assert inbound(app)[-1].reason == f"new ticket; sender not a participant of #{ticket_id}"


def test_the_subject_token_threads_only_for_participants(app, receive, run_jobs, mail_ticket):
    ticket_id, _reply = mail_ticket
    receive(simple(sender="juan.garcia@gmail.example", subject=f"Re: [#{ticket_id}] otra cosa",
                   message_id="<token-1@gmail.example>"))
    receive(simple(sender="mallory@evil.example", subject=f"Re: [#{ticket_id}] hola",
                   message_id="<token-2@evil.example>"))
    run_jobs()
    first, second = tickets(app)
    assert [m.body for m in first.messages if m.kind is MessageKind.CUSTOMER][-1] == \
        "No carga la serie."
    assert second.customer.email == "mallory@evil.example"
    assert [r.reason for r in inbound(app)[-2:]] == [
        "threaded (subject)", f"new ticket; sender not a participant of #{ticket_id}"]


def test_a_cc_participant_may_write_to_the_ticket(app, receive, run_jobs, make_user):
    make_user(Role.AGENT)
    receive(corpus("new_es.eml"))
    run_jobs()
    (ticket,) = tickets(app)
    receive(simple(sender="pablo.ruiz@correo.example", subject=f"Re: [#{ticket.id}] x",
                   message_id="<pablo-1@correo.example>"))
    run_jobs()
    (ticket,) = tickets(app)
    assert len([m for m in ticket.messages if m.kind is MessageKind.CUSTOMER]) == 2


def test_mail_from_a_staff_address_is_held(app, receive, run_jobs, make_user):
    make_user(Role.AGENT, email="agente@bayit.example")
    receive(simple(sender="agente@bayit.example", message_id="<staff@bayit.example>"))
    run_jobs()
    assert tickets(app) == []
    (row,) = inbound(app)
    assert row.state is InboundState.HELD and row.reason == "From: is a staff address"


@pytest.mark.parametrize(("name", "reason"), [
    ("out_of_office.eml", "Auto-Submitted: auto-replied"),
    ("dsn_bounce.eml", "Auto-Submitted: auto-replied"),
])
def test_auto_replies_and_bounces_never_open_tickets_nor_get_acknowledged(
        app, receive, run_jobs, name, reason):
    receive(corpus(name, ticket="1"))
    run_jobs()
    assert tickets(app) == [] and outbox_mails(app) == []
    (row,) = inbound(app)
    assert (row.state, row.reason) == (InboundState.IGNORED, reason)


@pytest.mark.parametrize("headers", [
    {"Precedence": "bulk"}, {"Precedence": "list"}, {"List_Id": "<news.tienda.example>"},
    {"X_Autoreply": "yes"}, {"Return_Path": "<>"},
    {"X_Loop": "helpdesk@soporte.bayit.example"}, {"Auto_Submitted": "auto-generated"},
])
def test_bulk_lists_and_our_own_loop_marker_are_ignored(app, receive, run_jobs, headers):
    receive(simple(**headers))
    run_jobs()
    assert tickets(app) == [] and outbox_mails(app) == []
    assert inbound(app)[0].state is InboundState.IGNORED


def test_the_same_message_twice_is_one_message(app, receive, run_jobs):
    receive(corpus("new_es.eml"))
    assert receive(corpus("new_es.eml")).startswith("duplicate #")
    run_jobs()
    assert len(tickets(app)) == 1
    first, second = inbound(app)
    assert (first.state, second.state) == (InboundState.PROCESSED, InboundState.DUPLICATE)
    assert second.duplicate_of_id == first.id and second.raw is None


def test_the_same_message_delivered_concurrently_is_stored_once(app, race, run_jobs):
    raw = corpus("new_es.eml")
    race(4, lambda: store_raw(raw, source="pipe"))
    run_jobs()
    rows = inbound(app)
    assert sorted(r.state for r in rows) == sorted(
        [InboundState.PROCESSED] + [InboundState.DUPLICATE] * 3)
    assert len(tickets(app)) == 1


def test_a_message_without_message_id_gets_a_stable_synthetic_one(app, receive, run_jobs):
    receive(corpus("no_message_id.eml"))
    assert receive(corpus("no_message_id.eml")).startswith("duplicate")
    run_jobs()
    first, _second = inbound(app)
    assert first.message_id.startswith("<sha256-") and len(tickets(app)) == 1


def test_a_message_past_a_limit_is_held_and_the_next_one_goes_on(app, run_jobs):
    with app.app_context():
        store_many([corpus("nested_50.eml"), corpus("new_es.eml")], source="imap")
    run_jobs()
    nested, fine = inbound(app)
    assert (nested.state, nested.reason) == (InboundState.HELD, "MIME nesting deeper than 10")
    assert nested.raw == corpus("nested_50.eml")  # kept, to be looked at
    assert fine.state is InboundState.PROCESSED and len(tickets(app)) == 1


def test_a_message_over_the_size_limit_is_held(app, receive, run_jobs, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_INBOUND_MAX_MB", 1)
    receive(simple(body="x" * (1024 * 1024 + 10)))
    run_jobs()
    (row,) = inbound(app)
    assert row.state is InboundState.HELD and row.reason.startswith("size ")


def test_a_sender_opening_too_many_tickets_an_hour_is_held(app, receive, run_jobs,
                                                          monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_TICKETS_PER_SENDER_HOUR", 2)
    for n in range(3):
        receive(simple(subject=f"Asunto {n}", message_id=f"<flood{n}@correo.example>"))
    run_jobs()
    assert len(tickets(app)) == 2
    assert inbound(app)[-1].reason == "more than 2 new tickets in an hour"
    assert len(outbox_mails(app)) == 1  # and one acknowledgement per customer per hour


def test_the_acknowledgement_can_be_turned_off(app, receive, run_jobs, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_ACKNOWLEDGE", False)
    receive(corpus("new_es.eml"))
    run_jobs()
    assert len(tickets(app)) == 1 and outbox_mails(app) == []


@pytest.mark.parametrize(("name", "expected"), [
    ("iso_8859_1.eml", "Mi suscripción aparece cancelada y no pedí la baja. Año 2025"),
    ("windows_1252.eml", "El precio subió a 9,99 € – ¿por qué? “Nadie” me avisó."),
    ("wrong_charset.eml", "La aplicación no carga en mi televisión."),
    ("broken_base64.eml", "Hola, no puedo ver la serie."),
    ("html_only_hostile.eml", "Hola, mi cuenta no funciona."),
    ("forwarded_es.eml", "Se ha realizado un cargo de 9,99 EUR de BAYIT PLUS."),
])
def test_every_charset_and_shape_becomes_a_ticket_with_readable_text(
        app, receive, run_jobs, name, expected):
    receive(corpus(name))
    run_jobs()
    (ticket,) = tickets(app)
    assert expected in ticket.messages[0].body


def test_html_only_mail_keeps_no_script_style_image_or_link_target(app, receive, run_jobs):
    receive(corpus("html_only_hostile.eml"))
    run_jobs()
    body = tickets(app)[0].messages[0].body
    for bad in ("fetch(", "cookie", "tracker.example", "javascript", "background", "<", "evil"):
        assert bad not in body


def test_an_answer_on_a_resolved_ticket_follows_the_closure_rules(app, receive, run_jobs,
                                                                 mail_ticket):
    ticket_id, _reply = mail_ticket
    with app.app_context(), workflows.atomic():
        agent = db.session.scalar(select(User).where(User.role == Role.AGENT))
        reply = workflows.add_reply(db.session.get(Ticket, ticket_id), "Resuelto.", actor=agent,
                                    status=TicketStatus.RESOLVED)
        reply_id = reply.email_message_id
    receive(corpus("thunderbird_reply_en.eml", ticket=str(ticket_id), in_reply_to=reply_id)
            .replace(b"peter@thunder.example", b"juan.garcia@gmail.example"))
    run_jobs()
    assert tickets(app)[0].status is TicketStatus.OPEN  # workflows.add_customer_message decides


def _pipe(env: dict, raw: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", "helpdesk", "mail",
                           "receive"], input=raw, capture_output=True, cwd=ROOT, timeout=60,
                          env={**os.environ, **env})


def test_the_pipe_exits_non_zero_with_one_line_when_it_cannot_store(app, tmp_path):
    broken = {"DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'no.sqlite'}",
              "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = _pipe(broken, simple())
    assert result.returncode == 75
    assert result.stderr.decode().strip().count("\n") == 0
    assert "not stored" in result.stderr.decode()
    empty = _pipe(broken, b"")
    assert empty.returncode == 65 and "empty input" in empty.stderr.decode()


def test_redis_down_while_mail_arrives_loses_nothing(app, run_jobs):
    env = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": "redis://127.0.0.1:1/0", "HELPDESK_INSTANCE": app.config[
               "HELPDESK_INSTANCE"]}
    result = _pipe(env, corpus("new_es.eml"))
    assert result.returncode == 0, result.stderr.decode()
    run_jobs()  # Redis never got the job
    assert inbound(app)[0].state is InboundState.RECEIVED and tickets(app) == []
    with app.app_context(), workflows.atomic():
        assert workflows.sweep_outbox(rules.utcnow() + timedelta(minutes=5)) == 1
    run_jobs()
    assert inbound(app)[0].state is InboundState.PROCESSED and len(tickets(app)) == 1


def test_every_delivery_is_accounted_for(app, receive, run_jobs):
    for name in ("new_es.eml", "new_es.eml", "dsn_bounce.eml", "nested_50.eml",
                 "iso_8859_1.eml"):
        receive(corpus(name))
    run_jobs()
    with app.app_context():
        counts = dict(db.session.execute(select(InboundMail.state, func.count())
                                         .group_by(InboundMail.state)).all())
        assert sum(counts.values()) == 5 and InboundState.RECEIVED not in counts
        assert db.session.scalar(select(func.count()).select_from(JobIntent)) >= 1
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 2
        assert db.session.scalar(select(func.count()).select_from(Message)) == 2
