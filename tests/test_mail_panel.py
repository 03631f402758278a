"""The mail channel in the panel: *Correo retenido* (supervisors), attachments served only as
downloads to whoever may see the ticket, CC participants removable, and the outgoing reply's
headers, parts, copies and files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import (
    Attachment,
    AuditEntry,
    InboundMail,
    InboundState,
    Message,
    Role,
    Ticket,
    TicketParticipant,
    User,
)

from .test_inbound_mail import (
    clear_outbox,
    corpus,
    inbound,
    outbox_mails,
    pipe_receiver,
    simple,
    tickets,
)


@pytest.fixture
def receive(app):
    """`receive(raw)`: the MTA pipe."""
    return pipe_receiver(app)


@pytest.fixture(autouse=True)
def empty_outbox(app):
    clear_outbox(app)


@pytest.fixture
def staff(make_team, make_user):
    team, other = make_team("Correo"), make_team("Otros")
    return {"team": team,
            "agent": make_user(Role.AGENT, teams=[team], name="Ana"),
            "outsider": make_user(Role.AGENT, teams=[other], name="Otro"),
            "supervisor": make_user(Role.SUPERVISOR, name="Sara")}


def _held(app, receive, run_jobs) -> int:
    receive(corpus("nested_50.eml"))
    run_jobs()
    (row,) = inbound(app)
    assert row.state is InboundState.HELD
    return row.id


def test_held_mail_page_is_for_supervisors_only(app, receive, run_jobs, staff, login_as):
    held = _held(app, receive, run_jobs)
    assert login_as(staff["agent"]).get("/admin/held_mail/").status_code == 403
    supervisor = login_as(staff["supervisor"])
    page = supervisor.get("/admin/held_mail/").get_data(as_text=True)
    assert f'data-testid="held-{held}"' in page and "MIME nesting deeper than 10" in page
    details = supervisor.get(f"/admin/held_mail/{held}/")
    assert details.status_code == 200 and "MIME nesting" in details.get_data(as_text=True)
    raw = supervisor.get(f"/admin/held_mail/{held}/raw")
    assert raw.data == corpus("nested_50.eml")
    assert raw.headers["Content-Disposition"].startswith("attachment;")
    assert raw.headers["X-Content-Type-Options"] == "nosniff"


def test_a_held_message_is_released_as_a_new_ticket(app, receive, run_jobs, staff, login_as):
    held = _held(app, receive, run_jobs)
    supervisor = login_as(staff["supervisor"])
    supervisor.get(f"/admin/held_mail/{held}/")
    response = supervisor.post(f"/admin/held_mail/{held}/release")
    (ticket,) = tickets(app)
    assert response.headers["Location"].endswith(f"/admin/tickets/{ticket.id}/")
    assert ticket.customer.email == "deep@nest.example"
    assert inbound(app)[0].state is InboundState.PROCESSED
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.action).where(
            AuditEntry.action == "mail_released")) == "mail_released"
    again = supervisor.post(f"/admin/held_mail/{held}/release", token_from="/admin/held_mail/")
    assert again.status_code == 404 and len(tickets(app)) == 1


def test_a_held_message_is_discarded_and_kept(app, receive, run_jobs, staff, login_as):
    held = _held(app, receive, run_jobs)
    supervisor = login_as(staff["supervisor"])
    supervisor.get(f"/admin/held_mail/{held}/")
    supervisor.post(f"/admin/held_mail/{held}/discard")
    (row,) = inbound(app)
    assert row.state is InboundState.IGNORED and row.reason.startswith("discarded by")
    assert row.raw is not None and tickets(app) == []


def test_release_without_a_token_changes_nothing(app, receive, run_jobs, staff, login_as):
    held = _held(app, receive, run_jobs)
    response = login_as(staff["supervisor"]).post(f"/admin/held_mail/{held}/release",
                                                  csrf=False)
    assert response.status_code in (302, 400)
    assert inbound(app)[0].state is InboundState.HELD and tickets(app) == []


@pytest.fixture
def hostile(app, receive, run_jobs, staff):
    """The hostile-attachments message as a ticket of the agent's team."""
    receive(corpus("hostile_attachments.eml"))
    run_jobs()
    (ticket,) = tickets(app)
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, ticket.id).team_id = staff["team"]
        items = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
        return ticket.id, {a.filename: (a.id, a.content_type, a.storage_path) for a in items}


def test_attachments_are_stored_by_hash_with_clean_names(app, hostile):
    _ticket, items = hostile
    assert sorted(items) == sorted(['passwd', '"><img src=x onerror=alert(1)>.pdf',
                                    "factura fdp.exe", "informe X-Injected: yes.txt",
                                    "pagina.html", "dibujo.svg", "captura.png"])
    root = Path(app.config["HELPDESK_INSTANCE"]) / "attachments"
    for _id, _type, relative in items.values():
        name = Path(relative).name
        assert len(name) == 64 and (root / relative).is_file()
    assert {name: t for name, (_i, t, _p) in items.items()}["captura.png"] == "image/png"
    assert items["pagina.html"][1] == items["dibujo.svg"][1] == "application/octet-stream"
    assert items['"><img src=x onerror=alert(1)>.pdf'][1] == "application/pdf"


def test_attachments_download_only_for_who_may_see_the_ticket(app, hostile, staff, login_as):
    ticket_id, items = hostile
    agent = login_as(staff["agent"])
    page = agent.get(f"/admin/tickets/{ticket_id}/").get_data(as_text=True)
    assert "&#34;&gt;&lt;img src=x onerror" in page or "&#34;&gt;&lt;img" in page \
        or "&quot;&gt;&lt;img" in page
    assert "<img src=x" not in page
    assert f'data-testid="thumbnail-{items["captura.png"][0]}"' in page  # a real PNG only
    assert page.count('data-testid="thumbnail-') == 1
    for name in ("pagina.html", "dibujo.svg"):
        response = agent.get(f"/admin/mail/attachments/{items[name][0]}")
        assert response.status_code == 200
        assert response.mimetype == "application/octet-stream"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert f"filename*=UTF-8''{name}" in response.headers["Content-Disposition"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    crlf = agent.get(f"/admin/mail/attachments/{items['informe X-Injected: yes.txt'][0]}")
    assert "\n" not in crlf.headers["Content-Disposition"]
    assert "X-Injected" not in crlf.headers
    outsider = login_as(staff["outsider"])
    assert outsider.get(f"/admin/mail/attachments/{items['captura.png'][0]}").status_code == 404
    assert outsider.get("/admin/mail/attachments/999999").status_code == 404


def test_cc_participants_are_shown_copied_and_removable(app, receive, run_jobs, staff,
                                                        login_as):
    receive(corpus("new_es.eml"))
    run_jobs()
    (ticket,) = tickets(app)
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, ticket.id).team_id = staff["team"]
        participant = db.session.scalar(select(TicketParticipant.id))
    agent = login_as(staff["agent"])
    page = agent.get(f"/admin/tickets/{ticket.id}/").get_data(as_text=True)
    assert "pablo.ruiz@correo.example" in page
    with app.app_context(), workflows.atomic():
        workflows.add_reply(db.session.get(Ticket, ticket.id), "Hola Marta",
                            actor=db.session.get(User, staff["agent"]))
    run_jobs()
    reply = [m for m in outbox_mails(app) if "Hola Marta" in m.get_body(("plain",))
             .get_content()]
    assert reply[0]["Cc"] == "pablo.ruiz@correo.example"
    assert login_as(staff["outsider"]).post(
        f"/admin/mail/participants/{participant}/remove",
        token_from="/admin/").status_code == 404
    agent.get(f"/admin/tickets/{ticket.id}/")
    agent.post(f"/admin/mail/participants/{participant}/remove")
    with app.app_context():
        assert db.session.scalar(select(TicketParticipant.id)) is None
    with app.app_context(), workflows.atomic():
        second = workflows.add_reply(db.session.get(Ticket, ticket.id), "Sin copia",
                                     actor=db.session.get(User, staff["agent"]))
        assert second.cc is None


def test_a_reply_threads_in_the_customers_mail_client(app, receive, run_jobs, staff):
    receive(corpus("new_es.eml"))
    run_jobs()
    (ticket,) = tickets(app)
    with app.app_context(), workflows.atomic():
        reply = workflows.add_reply(db.session.get(Ticket, ticket.id),
                                    "Hola <b>Marta</b> & co", actor=db.session.get(
                                        User, staff["agent"]))
        reply_id = reply.email_message_id
    run_jobs()
    (mail,) = [m for m in outbox_mails(app) if m["Message-ID"] == reply_id]
    assert mail["Subject"] == f"[#{ticket.id}] No puedo iniciar sesión en la app"
    assert mail["Reply-To"] == "soporte@bayit.example"
    assert mail["In-Reply-To"] == "<new-es-0001@correo.example>"
    assert mail["References"] == "<new-es-0001@correo.example>"
    assert mail["X-Loop"] == "helpdesk@soporte.bayit.example"
    assert mail.get_body(("plain",)).get_content().strip() == "Hola <b>Marta</b> & co"
    html = mail.get_body(("html",)).get_content()
    assert "Hola &lt;b&gt;Marta&lt;/b&gt; &amp; co" in html and "<b>" not in html


def test_a_reply_carries_its_attachments(app, receive, run_jobs, staff):
    receive(corpus("hostile_attachments.eml"))
    run_jobs()
    (ticket,) = tickets(app)
    with app.app_context(), workflows.atomic():
        reply = workflows.add_reply(db.session.get(Ticket, ticket.id), "Adjunto la guía",
                                    actor=db.session.get(User, staff["agent"]))
        source = db.session.scalar(select(Attachment).where(Attachment.filename == "captura.png"))
        reply.attachments.append(Attachment(filename="guía.png", content_type="image/png",
                                            size=source.size, storage_path=source.storage_path,
                                            sha256=source.sha256))
        reply_id = reply.email_message_id
    run_jobs()
    (mail,) = [m for m in outbox_mails(app) if m["Message-ID"] == reply_id]
    (part,) = list(mail.iter_attachments())
    assert part.get_filename() == "guía.png" and part.get_content_type() == "image/png"


def test_an_acknowledgement_answer_threads_on_the_ticket(app, receive, run_jobs):
    receive(simple(sender="rita@correo.example", message_id="<rita-1@correo.example>"))
    run_jobs()
    (ack,) = outbox_mails(app)
    receive(simple(sender="rita@correo.example", subject="Re: gracias",
                   message_id="<rita-2@correo.example>", In_Reply_To=ack["Message-ID"]))
    run_jobs()
    (ticket,) = tickets(app)
    assert len(ticket.messages) >= 2
    with app.app_context():
        assert db.session.scalar(select(InboundMail.reason).where(
            InboundMail.message_id == "<rita-2@correo.example>")) == "threaded (references)"


def _team_ticket(app, receive, run_jobs, staff) -> int:
    receive(corpus("new_es.eml"))
    run_jobs()
    (ticket,) = tickets(app)
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, ticket.id).team_id = staff["team"]
    return ticket.id


def test_an_agent_attaches_files_to_a_reply_and_the_mail_carries_them(
        app, receive, run_jobs, staff, login_as):
    ticket_id = _team_ticket(app, receive, run_jobs, staff)
    agent = login_as(staff["agent"])
    agent.get(f"/admin/tickets/{ticket_id}/")
    response = agent.post(f"/admin/tickets/{ticket_id}/reply", data={
        "body": "Te adjunto la guía.", "status": "pending", "version": _version(app, ticket_id),
        "files": [(io.BytesIO(b"%PDF-1.4\nguia\n"), "../guía de instalación.pdf")]},
        content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        (item,) = db.session.scalars(select(Attachment)).all()
        assert (item.filename, item.content_type) == ("guía de instalación.pdf",
                                                      "application/pdf")
        attachment_id = item.id
    run_jobs()
    (mail,) = [m for m in outbox_mails(app) if "la guía" in m.get_body(("plain",))
               .get_content()]
    (part,) = list(mail.iter_attachments())
    assert part.get_filename() == "guía de instalación.pdf"
    assert part.get_content() == b"%PDF-1.4\nguia\n"
    page = agent.get(f"/admin/tickets/{ticket_id}/").get_data(as_text=True)
    assert f'data-testid="attachment-{attachment_id}"' in page


def test_too_many_files_on_a_reply_are_refused_and_nothing_is_sent(
        app, receive, run_jobs, staff, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_ATTACHMENTS_MAX", 1)
    ticket_id = _team_ticket(app, receive, run_jobs, staff)
    agent = login_as(staff["agent"])
    agent.get(f"/admin/tickets/{ticket_id}/")
    response = agent.post(f"/admin/tickets/{ticket_id}/reply", data={
        "body": "Dos ficheros", "status": "pending", "version": _version(app, ticket_id),
        "files": [(io.BytesIO(b"a"), "a.txt"), (io.BytesIO(b"b"), "b.txt")]},
        content_type="multipart/form-data")
    assert response.status_code == 400
    assert "como máximo 1 archivos" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Attachment.id)) is None
        assert db.session.scalar(select(Message.id).where(Message.body == "Dos ficheros")) \
            is None


def _version(app, ticket_id: int) -> int:
    with app.app_context():
        return db.session.get(Ticket, ticket_id).version
