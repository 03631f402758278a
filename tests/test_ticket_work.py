"""Working a ticket: replies, notes, status, templates, outbound mail, two agents at once."""

import email
import socket
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from helpdesk import mail, rules, templating, workflows
from helpdesk.errors import Conflict, DomainError, InvalidTransition
from helpdesk.extensions import db
from helpdesk.models import (
    AuditEntry,
    IntentState,
    JobIntent,
    Message,
    MessageKind,
    ResponseTemplate,
    Role,
    Ticket,
    TicketStatus,
    User,
)
from tests.closing import resolve


@pytest.fixture
def desk(app, make_team, make_user, make_customer, make_ticket):
    """A team, two agents of it, and a new unassigned ticket from Lucía."""
    team = make_team("Cuenta")
    ana = make_user(Role.AGENT, teams=[team], name="Ana Agente")
    luis = make_user(Role.AGENT, teams=[team], name="Luis Agente")
    customer = make_customer(name="Lucía Pérez", email="lucia@example.com", plan="Premium")
    ticket = make_ticket("No puedo entrar", "Me pide la contraseña.", customer_id=customer)
    with app.app_context(), workflows.atomic():  # routed to Cuenta, nobody has taken it yet
        db.session.get(Ticket, ticket).team_id = team
    return {"team": team, "ana": ana, "luis": luis, "customer": customer, "ticket": ticket}


def act(app, fn, ticket_id, user_id, *args, **kwargs):
    """Run one workflow the way a view does: load, act, commit once."""
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, ticket_id)
        return fn(ticket, *args, actor=db.session.get(User, user_id), **kwargs)


def state(app, ticket_id):
    with app.app_context():
        t = db.session.get(Ticket, ticket_id)
        return {"status": t.status, "assignee": t.assignee_id, "version": t.version,
                "first_response_at": t.first_response_at,
                "kinds": [m.kind for m in t.messages]}


def test_reply_records_first_response_once_and_waits_for_the_customer(app, desk):
    act(app, workflows.add_reply, desk["ticket"], desk["ana"], "Hola {{ cliente.nombre }}")
    first = state(app, desk["ticket"])
    assert first["status"] is TicketStatus.PENDING and first["assignee"] == desk["ana"]
    assert first["first_response_at"] is not None
    act(app, workflows.add_reply, desk["ticket"], desk["ana"], "Otra cosa",
        status=TicketStatus.OPEN)
    second = state(app, desk["ticket"])
    assert second["first_response_at"] == first["first_response_at"]
    assert second["status"] is TicketStatus.OPEN
    with app.app_context():
        bodies = db.session.scalars(select(Message.body).where(
            Message.kind == MessageKind.REPLY).order_by(Message.id)).all()
    assert bodies == ["Hola Lucía Pérez", "Otra cosa"]


@pytest.mark.parametrize("text", ["", "   ", "x" * (workflows.REPLY_MAX + 1)])
def test_empty_or_oversized_reply_changes_nothing(app, desk, text):
    before = state(app, desk["ticket"])
    with pytest.raises(DomainError):
        act(app, workflows.add_reply, desk["ticket"], desk["ana"], text)
    assert state(app, desk["ticket"]) == before


def test_note_is_internal_and_never_mailed(app, desk, run_jobs):
    act(app, workflows.add_note, desk["ticket"], desk["ana"], "Cliente VIP, ojo")
    run_jobs()
    with app.app_context():
        note = db.session.scalar(select(Message).where(Message.kind == MessageKind.NOTE))
        assert note.body == "Cliente VIP, ojo" and note.email_message_id is None
        assert db.session.scalar(select(func.count()).select_from(JobIntent).where(
            JobIntent.func == "send_reply")) == 0


def test_status_moves_only_along_allowed_transitions(app, desk):
    with pytest.raises(InvalidTransition):
        act(app, workflows.change_status, desk["ticket"], desk["ana"], TicketStatus.PENDING)
    act(app, workflows.take_ticket, desk["ticket"], desk["ana"])
    with pytest.raises(InvalidTransition):  # Resuelto only through Resolver
        act(app, workflows.change_status, desk["ticket"], desk["ana"], TicketStatus.RESOLVED)
    act(app, resolve, desk["ticket"], desk["ana"])
    with app.app_context():
        ticket = db.session.get(Ticket, desk["ticket"])
        assert ticket.resolved_at is not None and ticket.sla_due_at is None
    act(app, workflows.change_status, desk["ticket"], desk["ana"], TicketStatus.OPEN)
    assert state(app, desk["ticket"])["status"] is TicketStatus.OPEN


def test_take_only_unassigned_tickets_of_my_teams(app, desk, make_user, make_team):
    outsider = make_user(Role.AGENT, teams=[make_team("Otro")])
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, desk["ticket"]).team_id = desk["team"]
    with pytest.raises(DomainError, match="tus equipos"):
        act(app, workflows.take_ticket, desk["ticket"], outsider)
    act(app, workflows.take_ticket, desk["ticket"], desk["ana"])
    assert state(app, desk["ticket"])["status"] is TicketStatus.OPEN
    with pytest.raises(DomainError, match="ya está asignado a Ana Agente"):
        act(app, workflows.take_ticket, desk["ticket"], desk["luis"])


def test_two_agents_from_stale_pages(app, desk):
    seen = state(app, desk["ticket"])["version"]  # both load the page at this version
    act(app, workflows.add_reply, desk["ticket"], desk["ana"], "Te ayudo", expected_version=seen)
    before = state(app, desk["ticket"])
    with pytest.raises(Conflict) as info:
        act(app, workflows.add_reply, desk["ticket"], desk["luis"], "Yo también",
            expected_version=seen)
    message = str(info.value)
    assert "Ana Agente añadió una respuesta" in message
    assert "Ana Agente cambió el estado a Pendiente" in message
    assert "tu texto sigue en el formulario" in message
    assert state(app, desk["ticket"]) == before
    act(app, workflows.add_reply, desk["ticket"], desk["luis"], "Yo también",
        expected_version=before["version"])  # after reading, the resend goes through
    assert state(app, desk["ticket"])["kinds"].count(MessageKind.REPLY) == 2


def test_every_change_bumps_the_version_and_is_audited(app, desk):
    v0 = state(app, desk["ticket"])["version"]
    act(app, workflows.add_note, desk["ticket"], desk["ana"], "nota")
    v1 = state(app, desk["ticket"])["version"]
    act(app, workflows.add_reply, desk["ticket"], desk["ana"], "respuesta")
    v2 = state(app, desk["ticket"])["version"]
    assert v0 < v1 < v2
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.ticket_id == desk["ticket"]).order_by(AuditEntry.id)).all()
    assert actions[0] == "create" and {"note", "reply", "assign", "status",
                                       "first_response"} <= set(actions)


# --- Templates ----------------------------------------------------------------------------------


def render_for(app, ticket_id, user_id, text):
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        agent = db.session.get(User, user_id)
        return templating.render(text, templating.placeholder_context(ticket, agent))


def test_every_documented_placeholder_renders(app, desk):
    text = " | ".join("{{ " + name + " }}" for name in templating.PLACEHOLDERS)
    out = render_for(app, desk["ticket"], desk["ana"], text)
    assert out.startswith("Lucía Pérez | lucia@example.com | Premium")
    assert f"#{desk['ticket']} | No puedo entrar | Nuevo | Normal" in out
    assert out.endswith("Ana Agente | " + out.rsplit(" | ", 1)[1])


@pytest.mark.parametrize(("text", "message"), [
    ("Hola {{ cliente.apellido }}", "Marcador desconocido: apellido"),
    ("Hola {{ nadie }}", "Marcador desconocido: nadie"),
    ("{{ ''.__class__ }}", "no permitido"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "no permitido"),
    ("{{ cliente.nombre.upper() }}", "no permitido"),
    ("{{ cliente.items() }}", "no permitido"),
    ("{% for x in range(10**9) %}x{% endfor %}", "Marcador desconocido: range"),
    ("Hola {{ cliente.nombre ", "sintaxis"),
])
def test_template_problems_are_shown_not_sent(app, desk, text, message):
    with pytest.raises(templating.TemplateProblem, match=message):
        render_for(app, desk["ticket"], desk["ana"], text)
    before = state(app, desk["ticket"])
    with pytest.raises(templating.TemplateProblem):
        act(app, workflows.add_reply, desk["ticket"], desk["ana"], text)
    assert state(app, desk["ticket"]) == before


def test_template_use_is_counted(app, desk):
    with app.app_context(), workflows.atomic():
        template = ResponseTemplate(name="Acceso", locale="es", body="Hola {{ cliente.nombre }}")
        db.session.add(template)
        db.session.flush()
        template_id = template.id
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, desk["ticket"])
        workflows.add_reply(ticket, "Hola {{ cliente.nombre }}",
                            actor=db.session.get(User, desk["ana"]),
                            template=db.session.get(ResponseTemplate, template_id))
    with app.app_context():
        assert db.session.get(ResponseTemplate, template_id).times_used == 1


# --- Outbound mail ------------------------------------------------------------------------------


def test_reply_is_mailed_by_the_worker_as_an_eml_file(app, desk, run_jobs):
    act(app, workflows.add_reply, desk["ticket"], desk["ana"], "Hola {{ cliente.nombre }}")
    outbox = Path(app.config["HELPDESK_INSTANCE"]) / "outbox"
    before = set(outbox.glob("*.eml")) if outbox.exists() else set()
    run_jobs()
    files = set(outbox.glob("*.eml")) - before
    assert len(files) == 1
    mail = email.message_from_bytes(files.pop().read_bytes(), policy=policy.default)
    assert mail["To"] == "lucia@example.com"
    assert mail["Subject"] == f"[#{desk['ticket']}] No puedo entrar"
    assert mail.get_body(("plain",)).get_content().strip() == "Hola Lucía Pérez"
    with app.app_context():
        reply = db.session.scalar(select(Message).where(Message.kind == MessageKind.REPLY))
        assert reply.email_message_id == mail["Message-ID"].strip()
        assert db.session.scalar(select(JobIntent.state).where(
            JobIntent.func == "send_reply")) is IntentState.DONE


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's API
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server(app, monkeypatch):
    """A real SMTP server on localhost, and the app configured to use it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    yield inbox
    controller.stop()


def test_reply_goes_through_smtp_when_configured(app, desk, run_jobs, smtp_server):
    act(app, workflows.add_reply, desk["ticket"], desk["ana"], "Ya está resuelto")
    run_jobs()
    assert len(smtp_server.messages) == 1
    recipients, content = smtp_server.messages[0]
    assert recipients == ["lucia@example.com"]
    mail = email.message_from_bytes(content, policy=policy.default)
    assert mail.get_body(("plain",)).get_content().strip() == "Ya está resuelto"
    run_jobs()  # nothing left: the intent is done, the reply is marked sent
    assert len(smtp_server.messages) == 1


def test_customer_text_cannot_inject_headers(app, make_customer, make_user, make_ticket,
                                             run_jobs):
    agent = make_user(Role.AGENT)
    customer = make_customer(email="eve@example.com")
    ticket = make_ticket("Hola\r\nBcc: victim@example.com", "x", customer_id=customer)
    act(app, workflows.add_reply, ticket, agent, "respuesta")
    with app.app_context():
        reply = db.session.scalar(select(Message).where(Message.kind == MessageKind.REPLY))
        built = mail.build_reply(reply)
    assert built["Bcc"] is None and "\n" not in built["Subject"]


def test_sla_breach_is_mailed_to_staff_when_mail_is_configured(app, desk, run_jobs,
                                                               smtp_server):
    act(app, workflows.take_ticket, desk["ticket"], desk["ana"])
    with app.app_context(), workflows.atomic():
        workflows.sweep_sla_states(rules.utcnow() + timedelta(days=3))
        ana_email = db.session.get(User, desk["ana"]).email
    run_jobs()
    assert [rcpt for rcpt, _content in smtp_server.messages] == [[ana_email]]
    mail_ = email.message_from_bytes(smtp_server.messages[0][1], policy=policy.default)
    assert mail_["Subject"] == f"SLA #{desk['ticket']}: No puedo entrar"


def test_many_breaches_at_once_are_one_mail_in_the_readers_language(app, desk, make_ticket,
                                                                    run_jobs, smtp_server):
    with app.app_context(), workflows.atomic():
        db.session.get(User, desk["ana"]).locale = "en"
    tickets = [desk["ticket"]] + [make_ticket(f"Caída {n}", "Nada carga.",
                                              customer_id=desk["customer"]) for n in range(6)]
    with app.app_context(), workflows.atomic():
        for ticket_id in tickets:
            ticket = db.session.get(Ticket, ticket_id)
            ticket.team_id, ticket.assignee_id = desk["team"], desk["ana"]
    with app.app_context(), workflows.atomic():
        workflows.sweep_sla_states(rules.utcnow() + timedelta(days=3))
        ana_email = db.session.get(User, desk["ana"]).email
    run_jobs()
    assert [rcpt for rcpt, _content in smtp_server.messages] == [[ana_email]]
    mail_ = email.message_from_bytes(smtp_server.messages[0][1], policy=policy.default)
    assert mail_["Subject"] == "SLA: 7 tickets of Cuenta passed their deadline"
    run_jobs()  # the intent is done: no second mail
    assert len(smtp_server.messages) == 1
