"""Guided closure: *Resolver* through the real form (CSRF on), its refusals and who may, the
confirmation mail through a real worker (.eml and SMTP), the customer's «Sí» / «No» links, a
new message on a resolved ticket, the reopen window and its follow-up ticket, the bulk action,
and the link security cases."""

from __future__ import annotations

import base64
import email
import json
import time
from datetime import timedelta
from email import policy
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from helpdesk import links, rules, workflows
from helpdesk.extensions import db
from helpdesk.models import (
    AuditEntry,
    Availability,
    Channel,
    IntentState,
    JobIntent,
    Message,
    MessageKind,
    Notification,
    ResolutionCategory,
    ResolutionRound,
    Role,
    Team,
    Ticket,
    TicketStatus,
    User,
)
from tests.pages import flashes, parse
from tests.test_ticket_work import smtp_server  # noqa: F401  (a fixture: a real SMTP sink)

NOTES = "Restablecida la contraseña y comprobado el acceso desde la app."


@pytest.fixture
def outbox(app, tmp_path, monkeypatch):
    """This test's own `.eml` directory (the suite's instance is shared)."""
    monkeypatch.setitem(app.config, "HELPDESK_INSTANCE", str(tmp_path))
    return tmp_path / "outbox"


@pytest.fixture
def desk(app, make_team, make_user, make_customer, make_ticket, make_category):
    """Cuenta (Ana, Luis; supervised by Sofía), Facturación (Olga), an admin; resolution
    categories (general, one for billing only, one retired); Lucía's e-mail ticket, Ana's."""
    cuenta, facturacion = make_team("Cuenta"), make_team("Facturación")
    billing = make_category("facturacion")
    people = {
        "ana": make_user(Role.AGENT, teams=[cuenta], name="Ana Agente"),
        "luis": make_user(Role.AGENT, teams=[cuenta], name="Luis Agente"),
        "olga": make_user(Role.AGENT, teams=[facturacion], name="Olga Otra"),
        "sofia": make_user(Role.SUPERVISOR, name="Sofía Supervisora"),
        "admin": make_user(Role.ADMIN, name="Alba Admin"),
    }
    customer = make_customer(name="Lucía Pérez", email="lucia@example.com")
    ticket = make_ticket("No puedo entrar", "Me pide la contraseña.", customer_id=customer,
                         channel=Channel.EMAIL)
    with app.app_context(), workflows.atomic():
        db.session.get(User, people["sofia"]).supervised_teams = [db.session.get(Team,
                                                                                 cuenta)]
        solved = ResolutionCategory(name="Solucionado")
        refund = ResolutionCategory(name="Reembolso emitido", category_id=billing)
        retired = ResolutionCategory(name="Retirada", active=False)
        db.session.add_all([solved, refund, retired])
        row = db.session.get(Ticket, ticket)
        row.team_id = cuenta
        first = row.messages[0]
        first.email_message_id = "<first.1@mail.example.com>"
        workflows.assign_ticket(row, db.session.get(User, people["ana"]), actor=None,
                                reason="test")
        db.session.flush()
        cats = {"solved": solved.id, "refund": refund.id, "retired": retired.id}
    return {"cuenta": cuenta, "facturacion": facturacion, "billing": billing,
            "customer": customer, "ticket": ticket, **cats, **people}


def page_url(ticket_id: int) -> str:
    return f"/admin/tickets/{ticket_id}/resolve"


def version(app, ticket_id: int) -> str:
    with app.app_context():
        return str(db.session.get(Ticket, ticket_id).version)


def resolve_form(app, client, desk, **overrides):
    """Open *Resolver* from the ticket page as a browser would, then submit it."""
    ticket = overrides.pop("ticket", desk["ticket"])
    assert client.get(page_url(ticket)).status_code == 200
    data = {"version": version(app, ticket), "solved": "y", "reply": "",
            "resolution": str(desk["solved"]), "notes": NOTES, "ask_confirmation": "y",
            **overrides}
    return client.post(page_url(ticket), data={k: v for k, v in data.items() if v is not None})


def snapshot(app, ticket_id: int) -> tuple:
    with app.app_context():
        t = db.session.get(Ticket, ticket_id)
        return (t.status, t.assignee_id, t.version, t.resolved_at, t.customer_confirmed,
                db.session.scalar(select(func.count()).select_from(ResolutionRound)),
                db.session.scalar(select(func.count()).select_from(Ticket)))


def mails(outbox) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(outbox.glob("*.eml"))] if outbox.exists() else []


def link_path(mail, label: str) -> str:
    """The path (and query) of the link after `label` in the mail's text part."""
    text = mail.get_body(("plain",)).get_content()
    url = text.split(f"{label}:\n", 1)[1].split("\n", 1)[0]
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def latest_round(app, ticket_id: int) -> ResolutionRound:
    with app.app_context():
        round_ = db.session.scalar(select(ResolutionRound).where(
            ResolutionRound.ticket_id == ticket_id).order_by(ResolutionRound.number.desc()))
        db.session.expunge(round_)
        return round_


# --- Resolver ----------------------------------------------------------------------------------


def test_resolver_replaces_the_bare_resolved_status(app, desk, login_as):
    ana = login_as(desk["ana"])
    page = parse(ana.get(f"/admin/tickets/{desk['ticket']}/"))
    assert page.testid("resolve").attrs["href"].endswith(page_url(desk["ticket"]))
    options = [o.attrs["value"] for o in page.testid("status-select").select("option")]
    assert "resolved" not in options
    before = snapshot(app, desk["ticket"])
    response = ana.post(f"/admin/tickets/{desk['ticket']}/status",
                        data={"status": "resolved", "version": before[2]},
                        page=f"/admin/tickets/{desk['ticket']}/")
    assert response.status_code == 400
    assert "Resolver" in flashes(parse(response))
    assert snapshot(app, desk["ticket"]) == before


def test_agent_resolves_through_the_guided_form(app, desk, login_as, run_jobs, outbox):
    ana = login_as(desk["ana"])
    form = parse(ana.get(page_url(desk["ticket"]))).testid("resolve-form")
    assert form.one(name="ask_confirmation").attrs.get("checked") is not None  # e-mail: on
    names = [o.text.strip() for o in form.one(name="resolution").select("option")]
    assert names == ["—", "Solucionado"]  # no retired one, none for another category
    response = resolve_form(app, ana, desk, reply="Ya puedes entrar, {{ cliente.nombre }}.")
    assert response.status_code == 302
    with app.app_context():
        ticket = db.session.get(Ticket, desk["ticket"])
        assert ticket.status is TicketStatus.RESOLVED and ticket.resolved_at is not None
        assert ticket.resolution_category_id == desk["solved"] and ticket.closing_notes == NOTES
        round_ = db.session.scalar(select(ResolutionRound))
        assert (round_.number, round_.resolved_by_id, round_.agent_id, round_.team_id,
                round_.confirmation_requested) == (1, desk["ana"], desk["ana"], desk["cuenta"],
                                                   True)
        assert round_.resolution_seconds >= 0
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "resolve"))
        assert (entry.actor_id, entry.new_value) == (desk["ana"], "Solucionado")
        events = [m.event["event"] for m in ticket.messages if m.kind is MessageKind.EVENT]
        assert "resolve" in events
        reply = [m for m in ticket.messages if m.kind is MessageKind.REPLY]
        assert reply[0].body == "Ya puedes entrar, Lucía Pérez."
        survey = db.session.scalar(select(JobIntent).where(JobIntent.func == "mail_survey"))
        assert survey.next_attempt_at - survey.created_at >= timedelta(minutes=59)
    run_jobs()
    sent = {m["Message-ID"]: m for m in mails(outbox)}
    confirm = next(m for m in sent.values() if "confirm" in m["Message-ID"])
    assert len(sent) == 2  # the final reply and the confirmation question; no survey yet
    assert confirm["To"] == "lucia@example.com"
    assert confirm["Subject"].startswith(f"[#{desk['ticket']}] ")
    assert confirm["In-Reply-To"] == "<first.1@mail.example.com>"
    html = confirm.get_body(("html",)).get_content()
    assert "/cliente/confirmar/" in html and "/cliente/reabrir/" in html
    assert "/cliente/confirmar/" in link_path(confirm, "Sí, está resuelto")


def test_customer_text_is_escaped_in_the_html_part(app, desk, login_as, run_jobs, outbox):
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, desk["ticket"]).subject = "<script>alert(1)</script> & co"
    assert resolve_form(app, login_as(desk["ana"]), desk).status_code == 302
    run_jobs()
    confirm = next(m for m in mails(outbox) if "confirm" in m["Message-ID"])
    html = confirm.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "<script>alert(1)</script>" in confirm.get_body(("plain",)).get_content()


def test_phone_tickets_do_not_ask_by_default(app, desk, login_as, make_ticket):
    phone = make_ticket("Llamada", "No va.", channel=Channel.PHONE)
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, phone).team_id = desk["cuenta"]
    form = parse(login_as(desk["ana"]).get(page_url(phone))).testid("resolve-form")
    assert form.one(name="ask_confirmation").attrs.get("checked") is None


@pytest.mark.parametrize(("field", "value", "status", "message"), [
    ("solved", None, 422, "completamente resuelto"),
    ("resolution", "", 422, "categoría de resolución"),
    ("notes", "", 422, "notas de cierre"),
    ("notes", "x" * 4001, 422, "4000"),
    ("resolution", "retired", 400, "categoría de resolución activa"),
    ("resolution", "refund", 400, "categoría de resolución activa"),
    ("resolution", "999999", 400, "categoría de resolución activa"),
    ("notes", "   ", 400, "Notas de cierre"),
])
def test_resolve_refusals_change_nothing(app, desk, login_as, field, value, status, message):
    before = snapshot(app, desk["ticket"])
    value = str(desk[value]) if value in ("retired", "refund") else value
    response = resolve_form(app, login_as(desk["ana"]), desk, **{field: value})
    assert response.status_code == status
    assert message.lower() in flashes(parse(response)).lower()
    assert snapshot(app, desk["ticket"]) == before
    if field == "notes" and value and value.strip():
        assert value in response.get_data(as_text=True)  # the text is kept


def test_stale_page_gets_409_saying_what_changed(app, desk, login_as):
    ana = login_as(desk["ana"])
    assert ana.get(page_url(desk["ticket"])).status_code == 200
    stale = version(app, desk["ticket"])
    with app.app_context(), workflows.atomic():
        workflows.add_note(db.session.get(Ticket, desk["ticket"]), "Ojo con la cuenta.",
                           actor=db.session.get(User, desk["luis"]))
    before = snapshot(app, desk["ticket"])
    response = ana.post(page_url(desk["ticket"]), data={
        "version": stale, "solved": "y", "resolution": str(desk["solved"]), "notes": NOTES})
    assert response.status_code == 409
    assert "Luis Agente añadió una nota interna" in flashes(parse(response))
    assert snapshot(app, desk["ticket"]) == before
    assert NOTES in response.get_data(as_text=True)


@pytest.mark.parametrize(("who", "get", "post"), [
    ("olga", 404, 404),  # another team's ticket is not even visible to an agent
    ("luis", 200, 302), ("sofia", 200, 302), ("admin", 200, 302)])
def test_who_may_resolve(app, desk, login_as, who, get, post):
    client = login_as(desk[who])
    assert client.get(page_url(desk["ticket"])).status_code == get
    if get == 200:
        assert resolve_form(app, client, desk).status_code == post
        with app.app_context():
            assert db.session.scalar(select(ResolutionRound)).resolved_by_id == desk[who]
    else:
        before = snapshot(app, desk["ticket"])
        response = client.post(page_url(desk["ticket"]), data={
            "version": before[2], "solved": "y", "resolution": str(desk["solved"]),
            "notes": NOTES}, token_from="/admin/")
        assert response.status_code == post and snapshot(app, desk["ticket"]) == before


def test_the_workflow_refuses_an_agent_outside_the_team(app, desk):
    """The rule the button asks is the one the workflow applies (views answer it with 403)."""
    with app.app_context(), workflows.atomic():
        olga = db.session.get(User, desk["olga"])
        ticket = db.session.get(Ticket, desk["ticket"])
        refusal = rules.resolve_refusal(olga.role, [t.id for t in olga.teams],
                                        actor_id=olga.id, team_id=ticket.team_id,
                                        assignee_id=ticket.assignee_id, status=ticket.status)
        assert refusal == rules.NOT_YOUR_TEAM
        with pytest.raises(workflows.ClosureForbidden):
            workflows.resolve_ticket(ticket, actor=olga, solved=True,
                                     resolution=db.session.get(ResolutionCategory,
                                                               desk["solved"]),
                                     notes=NOTES, ask_confirmation=False)


def test_a_resolved_ticket_is_not_resolved_twice(app, desk, login_as):
    ana = login_as(desk["ana"])
    assert resolve_form(app, ana, desk).status_code == 302
    response = ana.get(page_url(desk["ticket"]))
    assert response.status_code == 302
    page = parse(ana.get(f"/admin/tickets/{desk['ticket']}/"))
    assert page.select(data_testid="resolve") == []
    before = snapshot(app, desk["ticket"])
    response = ana.post(page_url(desk["ticket"]), data={
        "version": before[2], "solved": "y", "resolution": str(desk["solved"]),
        "notes": NOTES}, token_from=f"/admin/tickets/{desk['ticket']}/")
    assert response.status_code == 400 and snapshot(app, desk["ticket"]) == before


def test_supervisors_resolve_in_bulk_from_the_queue(app, desk, login_as, make_ticket, run_jobs,
                                                    outbox):
    phone = make_ticket("Llamada", "No va.", channel=Channel.PHONE)
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, phone).team_id = desk["cuenta"]
    ids = f"{desk['ticket']},{phone}"
    assert login_as(desk["ana"]).get(f"/admin/tickets/resolve?ids={ids}").status_code == 403
    sofia = login_as(desk["sofia"])
    response = sofia.post("/admin/tickets/action/", data={
        "action": "resolve", "rowid": [str(desk["ticket"]), str(phone)]},
        token_from="/admin/tickets/")
    assert response.status_code == 302 and "/admin/tickets/resolve" in response.headers[
        "Location"]
    bulk = urlsplit(response.headers["Location"])
    url = f"{bulk.path}?{bulk.query}"
    form = parse(sofia.get(url)).testid("resolve-bulk-form")
    versions = form.one(name="version").attrs["value"]
    response = sofia.post(url, data={"ids": ids, "version": versions, "solved": "y",
                                     "resolution": str(desk["solved"]), "notes": NOTES,
                                     "ask": "channel"})
    assert response.status_code == 302
    with app.app_context():
        rounds = {r.ticket_id: r for r in db.session.scalars(select(ResolutionRound))}
        assert set(rounds) == {desk["ticket"], phone}
        assert rounds[desk["ticket"]].confirmation_requested  # e-mail: asked
        assert not rounds[phone].confirmation_requested  # phone: not
        assert rounds[desk["ticket"]].agent_id == desk["ana"]  # credited to who held it
    run_jobs()
    assert [m for m in mails(outbox) if "confirm" in m["Message-ID"]]


# --- The customer's answer ----------------------------------------------------------------------


@pytest.fixture
def resolved(app, desk, login_as, run_jobs, outbox):
    """Ana resolved Lucía's ticket asking her to confirm; the mail went out."""
    assert resolve_form(app, login_as(desk["ana"]), desk).status_code == 302
    run_jobs()
    confirm = next(m for m in mails(outbox) if "confirm" in m["Message-ID"])
    return {"yes": link_path(confirm, "Sí, está resuelto"),
            "no": link_path(confirm, "No, sigo con el problema"), "mail": confirm}


def test_customer_confirms_and_get_changes_nothing(app, desk, resolved, client):
    before = snapshot(app, desk["ticket"])
    for _ in range(3):  # a mail scanner opening the link, and the customer
        page = client.get(resolved["yes"])
        assert page.status_code == 200
    assert snapshot(app, desk["ticket"]) == before
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    text = page.get_data(as_text=True)
    assert f"#{desk['ticket']}" in text and "No puedo entrar" in text
    assert "lucia@example.com" not in text and "Lucía" not in text
    response = client.post(resolved["yes"])
    assert response.status_code == 200
    assert parse(response).testid("public-thanks")
    with app.app_context():
        ticket = db.session.get(Ticket, desk["ticket"])
        assert ticket.status is TicketStatus.RESOLVED and ticket.customer_confirmed is True
        round_ = db.session.scalar(select(ResolutionRound))
        assert round_.confirmation_answer == "yes" and round_.confirmation_answered_at
    after = snapshot(app, desk["ticket"])
    reused = client.get(resolved["yes"])
    assert reused.status_code == 409
    assert parse(reused).testid("public-refused").attrs["data-reason"] == "used"
    no = client.get(resolved["no"])  # the other link of the same question is spent too
    assert no.status_code == 409 and snapshot(app, desk["ticket"]) == after


def test_customer_no_reopens_to_the_same_assignee(app, desk, resolved, client, login_as):
    assert client.get(resolved["no"]).status_code == 200
    response = client.post(resolved["no"])
    assert response.status_code == 200 and parse(response).testid("public-thanks")
    with app.app_context():
        ticket = db.session.get(Ticket, desk["ticket"])
        assert (ticket.status, ticket.assignee_id) == (TicketStatus.OPEN, desk["ana"])
        assert ticket.resolved_at is None and ticket.sla_due_at is not None  # clock resumes
        assert ticket.customer_confirmed is False
        round_ = db.session.scalar(select(ResolutionRound))
        assert round_.confirmation_answer == "no" and round_.reopened_at is not None
        assert round_.reopened_by == "customer_link"
        notice = db.session.scalar(select(Notification).where(Notification.kind == "reopened"))
        assert notice.user_id == desk["ana"]
        assert db.session.get(User, desk["ana"]).open_tickets == 1
        events = [m.event["event"] for m in ticket.messages if m.kind is MessageKind.EVENT]
        assert events[-1] == "reopen"
    home = login_as(desk["ana"]).get("/admin/").get_data(as_text=True)
    assert 'data-testid="reopen-notice"' in home
    assert client.post(resolved["no"], token_from="/login").status_code == 409  # once only


def test_no_routes_again_when_the_assignee_is_away(app, desk, resolved, client):
    with app.app_context(), workflows.atomic():
        db.session.get(User, desk["ana"]).availability = Availability.OFFLINE
    assert client.post(resolved["no"], page=resolved["no"]).status_code == 200
    with app.app_context():
        ticket = db.session.get(Ticket, desk["ticket"])
        assert ticket.assignee_id == desk["luis"]  # the team's strategy picked Luis
        assert ticket.status is TicketStatus.OPEN


def test_an_unassigned_resolved_ticket_is_routed_when_reopened(app, desk, login_as):
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, desk["ticket"])
        workflows.assign_ticket(ticket, None, actor=None, reason="test")
    assert resolve_form(app, login_as(desk["sofia"]), desk).status_code == 302
    with app.app_context(), workflows.atomic():
        workflows.add_customer_message(db.session.get(Ticket, desk["ticket"]), "Sigue igual.")
    with app.app_context():
        ticket = db.session.get(Ticket, desk["ticket"])
        assert ticket.status is TicketStatus.OPEN and ticket.assignee_id in (desk["ana"],
                                                                            desk["luis"])


def test_a_new_customer_message_reopens_a_resolved_ticket(app, desk, resolved):
    with app.app_context(), workflows.atomic():
        workflows.add_customer_message(db.session.get(Ticket, desk["ticket"]),
                                       "Vuelve a pedirme la contraseña.")
    with app.app_context():
        ticket = db.session.get(Ticket, desk["ticket"])
        assert (ticket.status, ticket.assignee_id) == (TicketStatus.OPEN, desk["ana"])
        round_ = db.session.scalar(select(ResolutionRound))
        assert round_.reopened_by == "customer_message"


def test_past_the_window_a_follow_up_ticket_opens(app, desk, resolved, client):
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, desk["ticket"])
        workflows.add_customer_message(ticket, "Otra vez igual.",
                                       now=ticket.resolved_at + timedelta(days=8))
    with app.app_context():
        old = db.session.get(Ticket, desk["ticket"])
        assert old.status is TicketStatus.RESOLVED
        new = db.session.scalar(select(Ticket).where(Ticket.id != old.id))
        assert new.customer_id == old.customer_id and new.subject == old.subject
        assert new.messages[0].body == "Otra vez igual."
        assert db.session.scalar(select(ResolutionRound)).follow_up_ticket_id == new.id
        assert any(m.event and m.event["event"] == "follow_up" for m in new.messages)
    with app.app_context(), workflows.atomic():  # the «No» link, still valid, past the window
        db.session.get(Ticket, desk["ticket"]).resolved_at -= timedelta(days=8)
    response = client.post(resolved["no"], page=resolved["no"])
    assert response.status_code == 200
    assert "Hemos abierto el ticket" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Ticket, desk["ticket"]).status is TicketStatus.RESOLVED
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 3


def test_confirmation_mail_goes_through_smtp(app, desk, login_as, run_jobs, smtp_server):  # noqa: F811
    assert resolve_form(app, login_as(desk["ana"]), desk).status_code == 302
    run_jobs()
    assert [rcpt for rcpt, _content in smtp_server.messages] == [["lucia@example.com"]]
    mail = email.message_from_bytes(smtp_server.messages[0][1], policy=policy.default)
    assert mail["Subject"].startswith(f"[#{desk['ticket']}]")
    assert mail.get_body(("html",)) is not None and mail.get_body(("plain",)) is not None
    with app.app_context():
        intent = db.session.scalar(select(JobIntent).where(
            JobIntent.func == "mail_confirmation"))
        assert intent.state is IntentState.DONE
    run_jobs()
    assert len(smtp_server.messages) == 1


# --- Link security ------------------------------------------------------------------------------


def test_tampered_and_cross_kind_links_change_nothing(app, desk, resolved, client):
    before = snapshot(app, desk["ticket"])
    token = resolved["no"].rsplit("/", 1)[1]
    cases = [resolved["no"][:-2] + ("AA" if not resolved["no"].endswith("AA") else "BB"),
             "/cliente/reabrir/not-a-token", f"/cliente/encuesta/{token}",
             f"/cliente/confirmar/{token}"]
    for path in cases:
        for method in ("get", "post"):
            response = getattr(client, method)(path, **({"token_from": "/login"}
                                                         if method == "post" else {}))
            assert response.status_code == 404, (path, method)
            assert parse(response).testid("public-refused").attrs["data-reason"] == "tampered"
    assert snapshot(app, desk["ticket"]) == before


def test_posts_without_csrf_and_urls_without_personal_data(app, desk, resolved, client):
    before = snapshot(app, desk["ticket"])
    for path in (resolved["yes"], resolved["no"]):
        assert client.post(path, csrf=False).status_code == 400
    assert snapshot(app, desk["ticket"]) == before
    payload = resolved["no"].rsplit("/", 1)[1].split(".", 1)[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert json.loads(decoded).keys() == {"t", "r"}  # two ids, nothing about the customer
    assert "lucia" not in resolved["yes"] + resolved["no"]


def test_expired_link_changes_nothing(app, desk, resolved, client, monkeypatch):
    with app.app_context():
        round_ = db.session.scalar(select(ResolutionRound))
        monkeypatch.setattr(TimestampSigner, "get_timestamp",
                            lambda self: int(time.time()) - 8 * 86400)
        old = links.url(links.REOPEN, round_.ticket_id, round_.id)
        monkeypatch.undo()
    path = urlsplit(old).path
    before = snapshot(app, desk["ticket"])
    response = client.get(path)
    assert response.status_code == 410
    assert parse(response).testid("public-refused").attrs["data-reason"] == "expired"
    assert client.post(path, token_from="/login").status_code == 410
    assert snapshot(app, desk["ticket"]) == before


def test_cross_ticket_link_changes_nothing(app, desk, resolved, client, make_ticket):
    other = make_ticket("Otro", "Otro problema.", customer_id=desk["customer"])
    with app.app_context():
        round_ = db.session.scalar(select(ResolutionRound))
        forged = urlsplit(links.url(links.REOPEN, other, round_.id)).path  # signed, bound wrong
    before = snapshot(app, desk["ticket"])
    assert client.get(forged).status_code == 404
    assert client.post(forged, token_from="/login").status_code == 404
    assert snapshot(app, desk["ticket"]) == before


def test_a_link_of_an_earlier_resolution_never_acts_on_a_later_one(app, desk, resolved, client,
                                                                   login_as, run_jobs):
    assert client.post(resolved["no"], page=resolved["no"]).status_code == 200  # reopened
    assert resolve_form(app, login_as(desk["ana"]), desk).status_code == 302  # round 2
    before = snapshot(app, desk["ticket"])
    for path in (resolved["yes"], resolved["no"]):
        response = client.get(path)
        assert response.status_code in (409, 410)
        assert parse(response).testid("public-refused").attrs["data-reason"] in (
            "used", "superseded")
    with app.app_context():
        first = db.session.scalar(select(ResolutionRound).where(ResolutionRound.number == 1))
        path = urlsplit(links.url(links.CONFIRM, first.ticket_id, first.id)).path
    response = client.get(path)  # a fresh token of round 1: still not round 2's
    assert response.status_code == 410
    assert parse(response).testid("public-refused").attrs["data-reason"] == "superseded"
    assert client.post(path, token_from="/login").status_code == 410
    assert snapshot(app, desk["ticket"]) == before


def test_public_pages_speak_the_tickets_language(app, desk, resolved, client):
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, desk["ticket"]).language = "en"
    text = client.get(resolved["no"]).get_data(as_text=True)
    assert "No, I still have the problem" in text
    assert "lang=\"en\"" in text


def test_public_pages_are_rate_limited(app, desk, resolved, client, monkeypatch):
    monkeypatch.setitem(app.config, "HELPDESK_PUBLIC_LIMIT", "3 per minute")
    statuses = [client.get(resolved["yes"]).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]


def test_public_pages_log_nobody_in(app, desk, resolved, client):
    client.get(resolved["yes"])
    assert client.get("/admin/").status_code == 302  # still anonymous: to the login page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message).where(
            Message.kind == MessageKind.CUSTOMER)) == 1


def test_reopen_and_confirmation_rates_are_computable(app, desk, resolved, client, login_as):
    from helpdesk.queries import closure as closure_queries

    assert client.post(resolved["no"], page=resolved["no"]).status_code == 200
    assert resolve_form(app, login_as(desk["ana"]), desk, ask_confirmation=None).status_code \
        == 302
    with app.app_context():
        since = rules.utcnow() - timedelta(days=1)
        assert closure_queries.reopen_rate(since) == (2, 1)  # two rounds, one reopened
        assert closure_queries.confirmation_rate(since) == (1, 0)  # one asked, answered «No»
