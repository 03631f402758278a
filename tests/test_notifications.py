"""Notices beyond SLA breaches: assigned to you (routing, a supervisor, a bulk move), the customer
answered your ticket, a colleague mentioned you in a note, an escalation reached you — each as the
person chose (panel, e-mail through a real SMTP sink, both, none), never about one's own act; the
bell's count live from Redis with no SQL per poll; the @ autocomplete and mentions limited to
people who may see the ticket."""

from __future__ import annotations

import email
import re
from email import policy
from html import unescape

import pytest
from sqlalchemy import event, select

from helpdesk import notice_rules, queries, workflows
from helpdesk.extensions import db
from helpdesk.models import (
    AuditEntry,
    JobIntent,
    Message,
    MessageKind,
    Notification,
    NotificationPreference,
    Role,
    Team,
    Ticket,
    User,
)
from helpdesk.queries import notices as notice_queries
from helpdesk.queries import visible_to
from tests.pages import parse
from tests.test_ticket_work import smtp_server  # noqa: F401  (a fixture: a real SMTP sink)


@pytest.fixture
def floor(app, make_team, make_user, make_category, make_customer, make_ticket):
    """Two teams; Ana and Luis in Cuenta, Teo in Técnico, Sara supervising; a ticket of Cuenta
    held by Ana."""
    cuenta, tecnico = make_team("Cuenta"), make_team("Técnico")
    ana = make_user(Role.AGENT, teams=[cuenta], name="Ana Agente", email="ana@test.bayit")
    luis = make_user(Role.AGENT, teams=[cuenta], name="Luis Agente", email="luis@test.bayit")
    teo = make_user(Role.AGENT, teams=[tecnico], name="Teo Técnico", email="teo@test.bayit")
    sara = make_user(Role.SUPERVISOR, name="Sara Supervisora", email="sara@test.bayit")
    customer = make_customer(name="Lucía Pérez", email="lucia@example.com")
    ticket = make_ticket("No puedo entrar", "Me pide la contraseña.", customer_id=customer)
    with app.app_context(), workflows.atomic():
        row = db.session.get(Ticket, ticket)
        row.team_id = cuenta
        workflows.assign_ticket(row, db.session.get(User, ana), actor=None, reason="test")
    return {"cuenta": cuenta, "tecnico": tecnico, "ana": ana, "luis": luis, "teo": teo,
            "sara": sara, "customer": customer, "ticket": ticket,
            "category": make_category("acceso", team_id=cuenta)}


def notices(app, user_id: int | None = None) -> list[tuple]:
    """(user, kind, ticket, message, read) of every notice, oldest first."""
    with app.app_context():
        stmt = select(Notification).order_by(Notification.id)
        if user_id is not None:
            stmt = stmt.where(Notification.user_id == user_id)
        return [(n.user_id, n.kind, n.ticket_id, n.message, n.read_at is not None)
                for n in db.session.scalars(stmt)]


def act(app, fn, ticket_id, user_id, *args, **kwargs):
    with app.app_context(), workflows.atomic():
        return fn(db.session.get(Ticket, ticket_id), *args,
                  actor=db.session.get(User, user_id) if user_id else None, **kwargs)


def choose(app, user_id: int, **kinds: str) -> None:
    with app.app_context(), workflows.atomic():
        user = db.session.get(User, user_id)
        workflows.set_notice_preferences(
            user, {k: notice_rules.parse_channel(v) for k, v in kinds.items()}, actor=user)


# --- The kinds ----------------------------------------------------------------------------------


def test_routing_tells_the_agent_it_chose(app, floor, make_ticket, run_jobs):
    ticket = make_ticket("Olvidé la clave", "No entro", category_id=floor["category"])
    run_jobs()
    with app.app_context():
        assignee = db.session.get(Ticket, ticket).assignee_id
    assert assignee in (floor["ana"], floor["luis"])
    assert notices(app, assignee)[-1] == (assignee, "assigned", ticket, "assigned:", False)


def test_a_supervisors_move_tells_the_new_assignee_not_the_supervisor(app, floor):
    with app.app_context(), workflows.atomic():
        workflows.reassign_ticket(db.session.get(Ticket, floor["ticket"]), team=None,
                                  agent=db.session.get(User, floor["luis"]),
                                  actor=db.session.get(User, floor["sara"]))
    assert notices(app) == [(floor["luis"], "assigned", floor["ticket"],
                             "assigned:Sara Supervisora", False)]


def test_a_bulk_move_tells_each_new_assignee_once(app, floor, make_ticket):
    second = make_ticket("Otra cosa", "Texto")
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, second).team_id = floor["cuenta"]
    with app.app_context(), workflows.atomic():
        workflows.reassign_tickets([floor["ticket"], second], team=None,
                                   agent=db.session.get(User, floor["luis"]),
                                   actor=db.session.get(User, floor["sara"]))
    assert sorted((u, k, t) for u, k, t, _m, _r in notices(app)) == [
        (floor["luis"], "assigned", floor["ticket"]), (floor["luis"], "assigned", second)]


def test_taking_or_answering_a_ticket_tells_nobody(app, floor, make_ticket):
    free = make_ticket("Sin dueño", "Texto")
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, free).team_id = floor["cuenta"]
    act(app, workflows.take_ticket, free, floor["luis"])
    act(app, workflows.add_reply, floor["ticket"], floor["ana"], "Hola")
    assert notices(app) == []


def test_the_customer_answering_tells_the_assignee(app, floor):
    with app.app_context(), workflows.atomic():
        message = workflows.add_customer_message(db.session.get(Ticket, floor["ticket"]),
                                                 "Sigue sin funcionar")
        message_id = message.id
    assert notices(app) == [(floor["ana"], "customer_reply", floor["ticket"],
                             f"customer_reply:{message_id}", False)]


def test_an_unassigned_ticket_answered_tells_nobody(app, floor, make_ticket):
    free = make_ticket("Sin dueño", "Texto")
    with app.app_context(), workflows.atomic():
        workflows.add_customer_message(db.session.get(Ticket, free), "¿Hola?")
    assert notices(app) == []


def test_inbound_mail_answers_reach_the_assignee_through_the_same_hook(app, floor, run_jobs):
    """A customer's e-mail answer goes through add_customer_message: one notice."""
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, floor["ticket"])
        workflows.add_reply(ticket, "Prueba a reiniciar", actor=db.session.get(User, floor["ana"]))
    run_jobs()
    with app.app_context():
        reply_id = db.session.scalar(select(Message.email_message_id).where(
            Message.kind == MessageKind.REPLY))
    raw = (f"From: Lucía Pérez <lucia@example.com>\r\nTo: soporte@bayit.example\r\n"
           f"Subject: Re: [#{floor['ticket']}] No puedo entrar\r\nMessage-ID: <r1@example.com>\r\n"
           f"In-Reply-To: {reply_id}\r\nReferences: {reply_id}\r\n\r\nSigue igual.\r\n").encode()
    result = app.test_cli_runner().invoke(args=["helpdesk", "mail", "receive"], input=raw)
    assert result.exit_code == 0, result.output  # the MTA pipe, as Postfix would run it
    run_jobs()
    kinds = [(u, k) for u, k, *_rest in notices(app)]
    assert kinds == [(floor["ana"], "customer_reply")]


def test_a_mention_tells_the_colleague_once_and_never_the_author(app, floor):
    act(app, workflows.add_note, floor["ticket"], floor["ana"],
        "@luis mira esto, @LUIS. Y yo (@ana) lo sigo; ana@test.bayit no menciona.")
    with app.app_context():
        note = db.session.scalar(select(Message).where(Message.kind == MessageKind.NOTE))
        assert note.body.startswith("@luis mira esto")  # the note is stored as written
    assert notices(app) == [(floor["luis"], "mention", floor["ticket"],
                             f"mention:{note.id}:Ana Agente", False)]


def test_a_mention_of_someone_who_cannot_see_the_ticket_tells_nobody(app, floor):
    act(app, workflows.add_note, floor["ticket"], floor["ana"], "@teo ¿lo ves? @nadie @sara")
    assert [(u, k) for u, k, *_r in notices(app)] == [(floor["sara"], "mention")]


def test_an_ambiguous_handle_tells_nobody(app, floor, make_user):
    make_user(Role.AGENT, teams=[floor["cuenta"]], name="Otro Luis", email="luis@otro.example")
    act(app, workflows.add_note, floor["ticket"], floor["ana"], "@luis ¿quién?")
    assert notices(app) == []


def test_mentions_through_the_note_form(app, floor, login_as):
    ana = login_as(floor["ana"])
    ana.get(f"/admin/tickets/{floor['ticket']}/")
    with app.app_context():
        version = db.session.get(Ticket, floor["ticket"]).version
    response = ana.post(f"/admin/tickets/{floor['ticket']}/note",
                        data={"body": "@teo y @luis, mirad", "version": version})
    assert response.status_code == 302
    assert [(u, k) for u, k, *_r in notices(app)] == [(floor["luis"], "mention")]
    page = ana.get(response.headers["Location"]).get_data(as_text=True)
    assert "Teo" not in page  # the author is not told who could not be reached


def test_an_escalation_respects_the_receivers_choice(app, floor, smtp_server, run_jobs):  # noqa: F811
    from helpdesk.models import EscalationReason

    choose(app, floor["teo"], escalation="panel")
    with app.app_context(), workflows.atomic():
        reason = EscalationReason(name="Técnico", name_en="Technical")
        db.session.add(reason)
        db.session.flush()
        workflows.escalate_ticket(db.session.get(Ticket, floor["ticket"]), reason=reason,
                                  to_team=db.session.get(Team, floor["tecnico"]), to_user=None,
                                  context="El cliente no puede entrar desde ayer por la tarde.",
                                  actor=db.session.get(User, floor["ana"]))
    run_jobs()
    assert [(u, k) for u, k, *_r in notices(app)] == [(floor["teo"], "escalation")]
    assert smtp_server.messages == []  # by default escalations are mailed; Teo chose the panel


# --- Preferences --------------------------------------------------------------------------------


def test_preferences_default_panel_on_and_mail_only_for_escalations(app, floor):
    with app.app_context():
        prefs = notice_queries.preferences_of(floor["ana"])
    assert {k: notice_rules.channel_value(c) for k, c in prefs.items()} == {
        "assigned": "panel", "customer_reply": "panel", "mention": "panel",
        "escalation": "both"}


@pytest.mark.parametrize(("choice", "panel", "mailed"), [
    ("panel", True, False), ("email", False, True), ("both", True, True), ("none", False, False)])
def test_each_choice_reaches_the_panel_and_the_mail_as_chosen(app, floor, smtp_server, run_jobs,  # noqa: F811
                                                              choice, panel, mailed):
    choose(app, floor["luis"], mention=choice)
    act(app, workflows.add_note, floor["ticket"], floor["ana"], "@luis ¿puedes?")
    run_jobs()
    rows = notices(app, floor["luis"])
    assert [(k, read) for _u, k, _t, _m, read in rows] == (
        [] if choice == "none" else [("mention", not panel)])
    with app.app_context():
        unread = queries.unread_count(floor["luis"]) if panel else 0
    assert unread == (1 if panel else 0)
    assert [rcpt for rcpt, _c in smtp_server.messages] == ([["luis@test.bayit"]] if mailed else [])
    if mailed:
        mail = email.message_from_bytes(smtp_server.messages[0][1], policy=policy.default)
        assert mail["Subject"] == \
            f"Ana Agente te mencionó en una nota: #{floor['ticket']} No puedo entrar"
        assert f"/admin/tickets/{floor['ticket']}/" in mail.get_body(("plain",)).get_content()
        assert mail.get_body(("html",)) is not None
        run_jobs()  # the intent is done: never mailed twice
        assert len(smtp_server.messages) == 1


def test_mail_follows_the_persons_language(app, floor, smtp_server, run_jobs):  # noqa: F811
    choose(app, floor["luis"], assigned="email")
    with app.app_context(), workflows.atomic():
        db.session.get(User, floor["luis"]).locale = "en"
    with app.app_context(), workflows.atomic():
        workflows.reassign_ticket(db.session.get(Ticket, floor["ticket"]), team=None,
                                  agent=db.session.get(User, floor["luis"]),
                                  actor=db.session.get(User, floor["sara"]))
    run_jobs()
    mail = email.message_from_bytes(smtp_server.messages[0][1], policy=policy.default)
    assert mail["Subject"] == f"Ticket assigned to you: #{floor['ticket']} No puedo entrar"
    assert "Open the ticket" in mail.get_body(("plain",)).get_content()


def test_no_mail_server_no_mail_intent(app, floor):
    choose(app, floor["luis"], mention="both")
    act(app, workflows.add_note, floor["ticket"], floor["ana"], "@luis hola")
    with app.app_context():
        assert db.session.scalar(select(JobIntent.id).where(
            JobIntent.func == "mail_ticket_notice")) is None


def test_the_preferences_page_saves_audits_and_refuses_bad_input(app, floor, login_as):
    luis = login_as(floor["luis"])
    home = luis.get("/admin/").get_data(as_text=True)
    assert 'data-testid="notice-preferences-link"' in home
    page = parse(luis.get("/admin/notices/"))
    assert page.select("select", data_testid="pref-mention")
    response = luis.post("/admin/notices/", data={
        "assigned": "panel", "customer_reply": "none", "mention": "both", "escalation": "email"})
    assert response.status_code == 302
    with app.app_context():
        rows = {(p.kind, p.panel, p.email) for p in db.session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == floor["luis"]))}
        audited = db.session.scalars(select(AuditEntry.field).where(
            AuditEntry.action == "notice_preference")).all()
    assert rows == {("customer_reply", False, False), ("mention", True, True),
                    ("escalation", False, True)}
    assert sorted(audited) == ["customer_reply", "escalation", "mention"]
    bad = luis.post("/admin/notices/", data={
        "assigned": "siempre", "customer_reply": "none", "mention": "both",
        "escalation": "email"})
    assert bad.status_code == 422
    assert "Opción inválida." in parse(bad).select("div", cls="invalid-feedback")[0].text
    with app.app_context():
        assert db.session.scalar(select(NotificationPreference.panel).where(
            NotificationPreference.user_id == floor["luis"],
            NotificationPreference.kind == "assigned")) is None


def test_nobody_changes_anyone_elses_preferences(app, floor):
    with app.app_context(), workflows.atomic(), pytest.raises(workflows.DomainError):
        workflows.set_notice_preferences(db.session.get(User, floor["luis"]),
                                         {"mention": notice_rules.parse_channel("none")},
                                         actor=db.session.get(User, floor["sara"]))


# --- The bell -----------------------------------------------------------------------------------


def bell_url(client) -> str:
    html = client.get("/admin/").get_data(as_text=True)
    return unescape(re.search(r'data-bell-url="([^"]+)"', html).group(1))


def count_statements(app, fn):
    statements = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args, **kwargs: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        result = fn()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return result, statements


def test_the_bell_counts_live_without_a_statement(app, floor, login_as):
    luis = login_as(floor["luis"])
    url = bell_url(luis)
    state, statements = count_statements(app, lambda: luis.get(url).get_json()["bell"])
    assert statements == [] and state["n"] == 0
    act(app, workflows.add_note, floor["ticket"], floor["ana"], "@luis uno")
    act(app, workflows.add_note, floor["ticket"], floor["ana"], "@luis dos")
    later, statements = count_statements(app, lambda: luis.get(url).get_json()["bell"])
    assert statements == [] and later["n"] == 2 and later["v"] != state["v"]
    with app.app_context(), workflows.atomic():
        workflows.mark_notifications_read(db.session.get(User, floor["luis"]))
    assert luis.get(url).get_json()["bell"]["n"] == 0


def test_a_bulk_sla_notice_makes_the_bell_ask_the_database_once(app, floor, login_as):
    luis = login_as(floor["luis"])
    url = bell_url(luis)
    assert luis.get(url).get_json()["bell"]["n"] == 0
    with app.app_context(), workflows.atomic():
        from helpdesk import presence

        db.session.add(Notification(user_id=floor["luis"], kind="sla_breach",
                                    ticket_id=floor["ticket"], message="sla_breach:1"))
        presence.notices_changed_for_everyone()  # what a sweep that breached does
    state = luis.get(url).get_json()["bell"]
    assert state["n"] is None  # not known without the database: the page asks once
    listing = luis.get("/admin/notices/bell/10").get_json()
    assert listing["n"] == 1
    assert luis.get(url).get_json()["bell"]["n"] == listing["n"]


def test_the_bell_lists_and_opening_a_notice_reads_it_and_goes_to_the_ticket(app, floor,
                                                                              login_as):
    act(app, workflows.add_note, floor["ticket"], floor["ana"], "@luis mira")
    luis = login_as(floor["luis"])
    luis.get("/admin/")
    listing = luis.get("/admin/notices/bell/10").get_json()
    assert listing["n"] == 1
    item = listing["items"][0]
    assert item["text"] == f"Ana Agente te mencionó en una nota del ticket #{floor['ticket']}."
    assert item["url"] == f"/admin/tickets/{floor['ticket']}/"
    opened = luis.post(item["open"], data={}, token_from="/admin/")  # the bell's token
    assert opened.status_code == 302 and opened.headers["Location"].endswith(item["url"])
    assert notices(app, floor["luis"])[0][4] is True
    assert luis.get("/admin/notices/bell/10").get_json()["n"] == 0


def test_nobody_opens_someone_elses_notice(app, floor, login_as):
    act(app, workflows.add_note, floor["ticket"], floor["ana"], "@luis mira")
    with app.app_context():
        notice_id = db.session.scalar(select(Notification.id))
    teo = login_as(floor["teo"])
    teo.get("/admin/")
    assert teo.post(f"/admin/notices/{notice_id}/open", data={},
                    token_from="/admin/").status_code == 404
    assert notices(app)[0][4] is False


def test_home_page_lists_new_kinds_in_words(app, floor, login_as):
    act(app, workflows.add_note, floor["ticket"], floor["ana"], "@luis mira")
    page = login_as(floor["luis"]).get("/admin/").get_data(as_text=True)
    assert f"Ana Agente te mencionó en una nota del ticket #{floor['ticket']}." in page
    assert 'data-testid="notices-count">1<' in page


# --- Passes end with the session ----------------------------------------------------------------


def test_logout_ends_the_live_passes(app, floor, login_as):
    luis = login_as(floor["luis"])
    url = bell_url(luis)
    page = luis.get(f"/admin/tickets/{floor['ticket']}/").get_data(as_text=True)
    ticket_url = unescape(re.search(r'data-url="(/live/ticket/[^"]+)"', page).group(1))
    assert luis.get(url).status_code == 200 and luis.get(ticket_url).status_code == 200
    luis.post("/logout", data={})
    assert luis.get(url).status_code == 403
    assert luis.get(ticket_url).status_code == 403
    other = login_as(floor["ana"])
    assert other.get(bell_url(other)).status_code == 200  # someone else's session lives on


def test_logging_out_everywhere_ends_every_pass_of_the_user(app, floor, login_as):
    first, second = login_as(floor["luis"]), login_as(floor["luis"])
    url = bell_url(first)
    first.get("/admin/")
    second.get("/admin/")
    second.post("/logout/everywhere", data={})
    assert first.get(url).status_code == 403


# --- Who may be mentioned -----------------------------------------------------------------------


def test_autocomplete_offers_only_staff_who_may_see_the_ticket(app, floor, login_as):
    ana = login_as(floor["ana"])
    found = ana.get(f"/admin/notices/staff/{floor['ticket']}?q=").get_json()["staff"]
    names = [p["name"] for p in found]
    assert "Teo Técnico" not in names
    assert {"Ana Agente", "Luis Agente", "Sara Supervisora"} <= set(names)
    assert ana.get(f"/admin/notices/staff/{floor['ticket']}?q=lu").get_json()["staff"] == [
        {"name": "Luis Agente", "handle": "luis"}]
    by_start = ana.get(f"/admin/notices/staff/{floor['ticket']}?q=s").get_json()["staff"]
    assert by_start[0]["name"] == "Sara Supervisora"  # starts with "s": first
    assert ana.get(f"/admin/notices/staff/{floor['ticket']}?q=%25").get_json()["staff"] == []
    teo = login_as(floor["teo"])
    assert teo.get(f"/admin/notices/staff/{floor['ticket']}?q=").status_code == 404
    assert app.test_client().get(f"/admin/notices/staff/{floor['ticket']}").status_code == 302


def test_who_sees_agrees_with_the_queues_visibility(app, floor, make_ticket, make_user):
    unrouted = make_ticket("Sin equipo", "Texto")
    make_user(Role.AGENT, name="Sin equipos", email="solo@test.bayit")
    with app.app_context():
        tickets = [db.session.get(Ticket, t) for t in (floor["ticket"], unrouted)]
        users = db.session.scalars(select(User)).all()
        for ticket in tickets:
            by_queue = {u.id for u in users if db.session.scalar(
                select(Ticket.id).where(Ticket.id == ticket.id, visible_to(u)))}
            by_notice = {handle for _n, handle in notice_queries.staff_who_see(ticket,
                                                                               limit=100)}
            assert by_notice == {u.email.split("@")[0] for u in users if u.id in by_queue}


def test_mention_rules():
    assert notice_rules.mentioned_handles(
        "@Ana, @luis.perez. y @ana otra vez; a@b.c no; (@teo)") == ["ana", "luis.perez", "teo"]
    assert notice_rules.mention_targets(["ana", "x"], [(1, "Ana@a.com"), (2, "bo@a.com")]) == [1]
    assert notice_rules.mention_targets(["ana"], [(1, "ana@a.com"), (2, "ana@b.com")]) == []
    assert notice_rules.tells(1, 1) is False and notice_rules.tells(None, 2) is True
    assert notice_rules.parse_channel("siempre") is None
    assert notice_rules.channel_value(notice_rules.parse_channel("both")) == "both"

