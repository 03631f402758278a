"""E-mail in over IMAP against a real Dovecot, end to end through a real worker and a real SMTP
sink: a message becomes a routed ticket with an acknowledgement, the agent's reply arrives with
threading headers, the customer's answer threads and reopens, a forged one does not, and a
message fetched twice (a crash between commit and move) is still one message."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

import pytest
from imap_tools import MailBoxUnencrypted

from helpdesk import workflows
from helpdesk.extensions import db, get_queue
from helpdesk.inbound.store import store_many
from helpdesk.models import InboundState, MessageKind, Role, Team, Ticket, TicketStatus, User

from .dovecot import dovecot_server
from .test_inbound_mail import corpus, inbound, simple, tickets
from .test_mail_delivery import Smtp, free_port


@pytest.fixture(scope="module")
def imap_server():
    with dovecot_server() as server:
        yield server


@pytest.fixture
def mailbox(app, imap_server, monkeypatch):
    """The app polls the private Dovecot (plain IMAP on localhost); its folders start empty."""
    host, port, user, password = imap_server
    for key, value in {"MAIL_IMAP_HOST": host, "MAIL_IMAP_PORT": port, "MAIL_IMAP_USER": user,
                       "MAIL_IMAP_PASSWORD": password, "MAIL_IMAP_TLS": False}.items():
        monkeypatch.setitem(app.config, key, value)
    box = MailBoxUnencrypted(host, port).login(user, password)
    for folder in ("INBOX", app.config["MAIL_IMAP_DONE_FOLDER"]):
        if box.folder.exists(folder):
            box.folder.set(folder)
            box.delete(box.uids())
    box.folder.set("INBOX")
    yield box
    box.logout()


def deliver(box, raw: bytes) -> None:
    """What the MTA does: put the message in the mailbox."""
    box.append(raw, "INBOX")


def poll(app, run_jobs) -> None:
    """The cron entry, enqueued as rq's cron scheduler does, run by a real worker."""
    with app.app_context():
        get_queue("mail").enqueue("helpdesk.jobs.poll_mailbox")
    run_jobs()


def folder_count(box, folder: str) -> int:
    box.folder.set(folder)
    count = len(box.uids())
    box.folder.set("INBOX")
    return count


def test_polling_stores_then_moves_each_message(app, mailbox, run_jobs):
    for name in ("new_es.eml", "dsn_bounce.eml", "iso_8859_1.eml"):
        deliver(mailbox, corpus(name))
    poll(app, run_jobs)
    assert folder_count(mailbox, "INBOX") == 0
    assert folder_count(mailbox, app.config["MAIL_IMAP_DONE_FOLDER"]) == 3
    rows = inbound(app)
    assert [r.source for r in rows] == ["imap"] * 3
    assert rows[0].raw == corpus("new_es.eml").replace(b"\n", b"\r\n")  # as the server sent it
    assert sorted(r.state for r in rows) == sorted(
        [InboundState.PROCESSED, InboundState.IGNORED, InboundState.PROCESSED])
    assert len(tickets(app)) == 2


def test_a_crash_between_commit_and_move_fetches_twice_but_keeps_one(app, mailbox, run_jobs):
    deliver(mailbox, corpus("new_es.eml"))
    # a poller that committed the bytes and died before moving them
    with app.app_context():
        store_many([m.obj.as_bytes() for m in mailbox.fetch(mark_seen=False)], source="imap")
    poll(app, run_jobs)  # the next round fetches it again
    assert folder_count(mailbox, "INBOX") == 0
    states = [r.state for r in inbound(app)]
    assert states == [InboundState.PROCESSED, InboundState.DUPLICATE]
    assert len(tickets(app)) == 1


def test_nothing_is_polled_without_a_host(app, run_jobs, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_IMAP_HOST", "")
    poll(app, run_jobs)
    assert inbound(app) == []


@pytest.fixture
def desk(app, make_team, make_user):
    """A default team with one available agent: new tickets are routed and assigned."""
    team = make_team("Correo")
    agent = make_user(Role.AGENT, teams=[team], name="Ana Agente")
    admin = make_user(Role.ADMIN)
    with app.app_context(), workflows.atomic():
        workflows.set_default_team(db.session.get(Team, team),
                                   actor=db.session.get(User, admin))
    return {"team": team, "agent": agent}


def answer(reply: EmailMessage, sender: str, text: str) -> bytes:
    """The customer's answer as a mail client builds it from the reply."""
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = sender
    mail["To"] = reply["Reply-To"]
    mail["Subject"] = "Re: " + reply["Subject"]
    mail["Message-ID"] = f"<answer-{abs(hash((sender, text)))}@cliente.example>"
    mail["In-Reply-To"] = reply["Message-ID"]
    mail["References"] = f"{reply['References']} {reply['Message-ID']}".strip()
    mail.set_content(f"{text}\n\nEl lun, 3 mar 2025 a las 10:02, Soporte escribió:\n> "
                     f"{reply.get_body(('plain',)).get_content()}")
    return bytes(mail)


def test_end_to_end_ticket_ack_reply_answer_and_forgery(app, mailbox, run_jobs, desk,
                                                        monkeypatch):
    smtp = Smtp(free_port())
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp.port)
    sink = smtp.up()
    try:
        deliver(mailbox, corpus("new_es.eml"))
        poll(app, run_jobs)
        (ticket,) = tickets(app)
        assert ticket.team_id == desk["team"] and ticket.assignee_id == desk["agent"]
        (ack,) = sink.parsed()
        assert ack["Subject"].startswith(f"[#{ticket.id}]") and ack["Auto-Submitted"]

        with app.app_context(), workflows.atomic():
            workflows.add_reply(db.session.get(Ticket, ticket.id), "Prueba a reiniciar.",
                                actor=db.session.get(User, desk["agent"]),
                                status=TicketStatus.PENDING)
        run_jobs()
        reply = sink.parsed()[-1]
        assert reply["In-Reply-To"] == "<new-es-0001@correo.example>"
        assert reply["Reply-To"] == "soporte@bayit.example"
        assert reply["Cc"] == "pablo.ruiz@correo.example"
        assert reply["X-Loop"] and reply["Subject"] == f"[#{ticket.id}] {ticket.subject}"
        rcpts = smtp.sink.messages[-1][0]
        assert sorted(rcpts) == ["marta.ruiz@correo.example", "pablo.ruiz@correo.example"]

        deliver(mailbox, answer(reply, "Marta Ruiz <marta.ruiz@correo.example>",
                                "Sigue sin funcionar."))
        deliver(mailbox, answer(reply, "Mallory <mallory@evil.example>", "Dame su cuenta."))
        poll(app, run_jobs)
        first, forged = tickets(app)
        assert first.status is TicketStatus.OPEN
        texts = [m.body for m in first.messages if m.kind is MessageKind.CUSTOMER]
        assert texts[-1] == "Sigue sin funcionar." and "Dame su cuenta." not in texts
        assert forged.customer.email == "mallory@evil.example"

        deliver(mailbox, simple(sender="marta.ruiz@correo.example", subject="Otra",
                                message_id="<twice@correo.example>"))
        deliver(mailbox, simple(sender="marta.ruiz@correo.example", subject="Otra",
                                message_id="<twice@correo.example>"))
        poll(app, run_jobs)
        assert len(tickets(app)) == 3
        assert [r.state for r in inbound(app)][-2:] == [InboundState.PROCESSED,
                                                        InboundState.DUPLICATE]
        # one acknowledgement per customer per hour: Marta's second ticket got none
        acks = [m for m in sink.parsed() if m["Auto-Submitted"] == "auto-replied"]
        assert [m["To"] for m in acks] == ["marta.ruiz@correo.example",
                                           "mallory@evil.example"]
    finally:
        smtp.down()

