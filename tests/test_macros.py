"""Macros through the real forms (CSRF on): one click sends a template in the ticket's language
and sets status, priority and category, each with its audit row, counted like templates; a
refused transition changes nothing; the admins' form refuses a macro that does nothing. And
Plantillas: saving refuses what a reply would refuse, with the same message, and the form's
preview renders against a sample ticket."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk import rules, workflows
from helpdesk.extensions import db
from helpdesk.models import (
    AuditEntry,
    Category,
    Macro,
    MessageKind,
    Priority,
    ResponseTemplate,
    Role,
    Ticket,
    TicketStatus,
    User,
)
from tests.pages import flashes, parse

ES = "Hola {{ cliente.nombre }}, hemos reiniciado tu sesión."
EN = "Hi {{ cliente.nombre }}, we reset your session."


@pytest.fixture
def desk(app, make_team, make_user, make_customer, make_ticket, make_category):
    """Ana in Cuenta; an admin; an English customer's ticket in Cuenta; a template in both
    languages; the macro «Sesión reiniciada» (template, Pendiente, Alta, category Acceso)."""
    cuenta = make_team("Cuenta")
    access = make_category("acceso")
    ana = make_user(Role.AGENT, teams=[cuenta], name="Ana Agente")
    admin = make_user(Role.ADMIN, name="Alba Admin")
    john = make_customer(name="John Smith", email="john@example.com", locale="en")
    ticket = make_ticket("Cannot log in", "It asks for my password.", customer_id=john)
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, ticket).team_id = cuenta
        es = ResponseTemplate(name="Sesión reiniciada", locale="es", body=ES)
        en = ResponseTemplate(name="Sesión reiniciada", locale="en", body=EN)
        db.session.add_all([es, en])
        db.session.flush()
        macro = Macro(name="Sesión reiniciada", template=es, status=TicketStatus.PENDING,
                      priority=Priority.HIGH, category_id=access)
        bare = Macro(name="Esperar al cliente", status=TicketStatus.PENDING,
                     priority=Priority.LOW)
        retired = Macro(name="Retirada", priority=Priority.LOW, active=False)
        db.session.add_all([macro, bare, retired])
        db.session.flush()
        ids = {"es": es.id, "en": en.id, "macro": macro.id, "bare": bare.id,
               "retired": retired.id}
    return {"ana": ana, "admin": admin, "ticket": ticket, "access": access, **ids}


def apply(client, ticket_id: int, macro_id: int):
    page = parse(client.get(f"/admin/tickets/{ticket_id}/"))
    version = page.testid("macro-form").one("input", name="version").attrs["value"]
    return client.post(f"/admin/tickets/{ticket_id}/macro",
                       data={"macro": str(macro_id), "version": version})


def version_of(app, desk) -> str:
    with app.app_context():
        return str(db.session.get(Ticket, desk["ticket"]).version)


def test_the_picker_lists_active_macros(app, desk, login_as):
    client = login_as(desk["ana"])
    data = client.get(f"/admin/tickets/{desk['ticket']}/macros").get_json()
    assert [m["name"] for m in data["macros"]] == ["Esperar al cliente", "Sesión reiniciada"]


def test_a_macro_replies_in_the_tickets_language_and_sets_every_field(app, desk, login_as):
    client = login_as(desk["ana"])
    response = apply(client, desk["ticket"], desk["macro"])
    assert response.status_code == 302
    with app.app_context():
        ticket = db.session.get(Ticket, desk["ticket"])
        reply = [m for m in ticket.messages if m.kind is MessageKind.REPLY]
        assert [m.body for m in reply] == ["Hi John Smith, we reset your session."]
        assert (ticket.status, ticket.priority, ticket.category_id) == (
            TicketStatus.PENDING, Priority.HIGH, desk["access"])
        audits = [(a.action, a.field, a.new_value) for a in db.session.scalars(
            select(AuditEntry).where(AuditEntry.ticket_id == ticket.id,
                                     AuditEntry.actor_id == desk["ana"])
            .order_by(AuditEntry.id))]
        for change in (("update", "category", "Categoría"), ("priority", "priority", "high"),
                       ("reply", None, None), ("status", "status", "pending"),
                       ("macro", "macro", "Sesión reiniciada")):
            found = [a for a in audits if a[:2] == change[:2]
                     and (change[2] is None or str(a[2]).startswith(change[2]))]
            assert len(found) == 1, (change, audits)
        # The reply took the new ticket for Ana first (Nuevo → Abierto), as any reply does.
        assert ("assign", "assignee") in [a[:2] for a in audits]
        assert db.session.get(Macro, desk["macro"]).times_used == 1
        assert db.session.get(ResponseTemplate, desk["en"]).times_used == 1
        assert db.session.get(ResponseTemplate, desk["es"]).times_used == 0
    assert "Macro aplicada." in flashes(parse(client.get(f"/admin/tickets/{desk['ticket']}/")))


def test_a_refused_transition_changes_nothing(app, desk, login_as):
    client = login_as(desk["ana"])
    response = apply(client, desk["ticket"], desk["bare"])  # Nuevo → Pendiente: not a move
    assert response.status_code == 400
    assert "no se puede aplicar" in flashes(parse(response))
    with app.app_context():
        ticket = db.session.get(Ticket, desk["ticket"])
        assert (ticket.status, ticket.priority) == (TicketStatus.NEW, Priority.NORMAL)
        assert db.session.get(Macro, desk["bare"]).times_used == 0
        assert db.session.scalar(select(AuditEntry).where(
            AuditEntry.action.in_(("macro", "priority")))) is None


def test_resolved_tickets_and_retired_macros_are_refused(app, desk, login_as):
    client = login_as(desk["ana"])
    response = apply(client, desk["ticket"], desk["retired"])
    assert response.status_code == 400 and "desactivada" in flashes(parse(response))
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, desk["ticket"])
        workflows.set_status(ticket, TicketStatus.RESOLVED, None, "test", rules.utcnow())
    page = parse(client.get(f"/admin/tickets/{desk['ticket']}/"))
    assert page.select("form", **{"data-testid": "macro-form"}) == []  # not offered
    response = client.post(f"/admin/tickets/{desk['ticket']}/macro", token_from="/admin/tickets/",
                           data={"macro": str(desk["macro"]), "version": version_of(app, desk)})
    assert response.status_code == 400 and "resuelto" in flashes(parse(response))
    with app.app_context():
        assert not [m for m in db.session.get(Ticket, desk["ticket"]).messages
                    if m.kind is MessageKind.REPLY]


def test_a_stale_page_is_refused(app, desk, login_as):
    client = login_as(desk["ana"])
    page = parse(client.get(f"/admin/tickets/{desk['ticket']}/"))
    version = page.testid("macro-form").one("input", name="version").attrs["value"]
    with app.app_context(), workflows.atomic():
        workflows.add_note(db.session.get(Ticket, desk["ticket"]), "Mientras tanto",
                           actor=db.session.get(User, desk["ana"]))
    response = client.post(f"/admin/tickets/{desk['ticket']}/macro",
                           data={"macro": str(desk["macro"]), "version": version})
    assert response.status_code == 409
    with app.app_context():
        assert db.session.get(Macro, desk["macro"]).times_used == 0


# --- The admins' forms ----------------------------------------------------------------------


def test_admins_keep_macros_and_a_macro_must_do_something(app, desk, login_as):
    admin = login_as(desk["admin"])
    response = admin.post("/admin/macros/new/", data={"name": "Nada", "active": "y"})
    assert response.status_code == 422
    assert "al menos una acción" in response.get_data(as_text=True)
    response = admin.post("/admin/macros/new/", data={"name": "Resolver ya",
                                                      "status": "resolved", "active": "y"})
    assert response.status_code == 422
    assert "Resolver" in response.get_data(as_text=True)
    response = admin.post("/admin/macros/new/", data={
        "name": "Urgente a facturación", "priority": "urgent", "active": "y",
        "category": str(desk["access"])})
    assert response.status_code == 302
    with app.app_context():
        macro = db.session.scalar(select(Macro).where(Macro.name == "Urgente a facturación"))
        assert (macro.priority, macro.category_id) == (Priority.URGENT, desk["access"])
        assert db.session.scalar(select(AuditEntry).where(
            AuditEntry.entity == "macros", AuditEntry.action == "create"))
    listing = parse(admin.get("/admin/macros/")).text
    assert "Urgente" in listing and "Sesión reiniciada" in listing


def test_agents_read_macros_but_do_not_write_them(app, desk, login_as):
    agent = login_as(desk["ana"])
    assert agent.get("/admin/macros/").status_code == 200
    assert agent.get("/admin/macros/new/").status_code == 403
    response = agent.post("/admin/macros/new/", token_from="/admin/macros/",
                          data={"name": "X", "priority": "low"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Macro).where(Macro.name == "X")) is None


@pytest.mark.parametrize("body", ["Hola {{ cliente.apellido }}", "Hola {% if %}",
                                  "{{ ''.__class__ }}"])
def test_a_template_is_refused_at_save_with_the_agents_message(app, desk, login_as, body):
    client = login_as(desk["ana"])
    page = f"/admin/tickets/{desk['ticket']}/"
    client.get(page)
    agent = client.post(f"{page}preview", token_from=page, data={"body": body}).get_json()
    assert agent["ok"] is False
    admin = login_as(desk["admin"])
    response = admin.post("/admin/templates/new/", data={
        "name": "Rota", "locale": "es", "body": body, "active": "y"})
    assert response.status_code == 422
    assert agent["error"] in response.get_data(as_text=True).replace("&#39;", "'") \
        .replace("&#34;", '"').replace("&quot;", '"')
    preview = admin.post("/admin/templates/preview/", token_from="/admin/templates/new/",
                         data={"body": body})
    assert preview.status_code == 422 and preview.get_json()["error"] == agent["error"]
    with app.app_context():
        assert db.session.scalar(select(ResponseTemplate).where(
            ResponseTemplate.name == "Rota")) is None


def test_the_template_form_previews_against_a_sample_ticket(app, desk, login_as):
    admin = login_as(desk["admin"])
    page = parse(admin.get("/admin/templates/new/"))
    assert page.testid("template-preview")
    body = "Hola {{ cliente.nombre }}, tu ticket {{ ticket.numero }}."
    response = admin.post("/admin/templates/preview/", token_from="/admin/templates/new/",
                          data={"body": body, "ticket": str(desk["ticket"])})
    assert response.get_json() == {"ok": True, "ticket": f"#{desk['ticket']}",
                                   "text": f"Hola John Smith, tu ticket #{desk['ticket']}."}
    newest = admin.post("/admin/templates/preview/", token_from="/admin/templates/new/",
                        data={"body": body}).get_json()
    assert newest["ticket"] == f"#{desk['ticket']}"  # the newest ticket when none is named
    missing = admin.post("/admin/templates/preview/", token_from="/admin/templates/new/",
                         data={"body": body, "ticket": "99999"})
    assert missing.status_code == 422
    agent = login_as(desk["ana"])
    assert agent.post("/admin/templates/preview/", token_from="/admin/templates/",
                      data={"body": body}).status_code == 403
    with app.app_context():
        assert db.session.get(Category, desk["access"]) is not None
