"""Admin forms: bad input gets a clear message and changes nothing; good input is audited."""

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.models import (
    AuditEntry,
    Category,
    JobIntent,
    Message,
    MessageKind,
    Role,
    RoutingRule,
    Ticket,
    User,
)


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def agent_client(login_as, make_user):
    return login_as(make_user(Role.AGENT))


@pytest.fixture
def supervisor_client(login_as, make_user):
    return login_as(make_user(Role.SUPERVISOR))


def ticket_form(customer, **overrides):
    return {"customer": customer, "subject": "Sin sonido", "body": "No se oye.",
            "priority": "normal", "channel": "web", **overrides}


def test_create_ticket_goes_through_the_workflow(app, agent_client, make_customer):
    response = agent_client.post("/admin/tickets/new/", data=ticket_form(make_customer()))
    assert response.status_code == 302
    with app.app_context():
        ticket = db.session.scalar(select(Ticket))
        assert ticket.first_response_due_at is not None
        assert [m.kind for m in ticket.messages] == [MessageKind.CUSTOMER]
        assert db.session.scalar(select(JobIntent.func)) == "route_ticket"
        assert db.session.scalar(select(AuditEntry.action).where(
            AuditEntry.ticket_id == ticket.id)) == "create"


@pytest.mark.parametrize(("overrides", "message"), [
    ({"subject": "x" * 201}, "200"),
    ({"subject": ""}, "obligatorio"),
    ({"body": ""}, "obligatorio"),
    ({"priority": "whenever"}, "Opción inválida"),
])
def test_bad_ticket_input_is_refused(app, agent_client, make_customer, overrides, message):
    form = ticket_form(make_customer(), **overrides)
    response = agent_client.post("/admin/tickets/new/", data=form)
    assert response.status_code == 422  # shown again with the messages (test_bad_input)
    page = response.get_data(as_text=True)
    assert message in page or "Este campo es obligatorio" in page
    assert count(app, Ticket) == count(app, Message) == count(app, JobIntent) == 0


def test_routing_rule_needs_a_team_and_text_keywords(app, supervisor_client):
    page = supervisor_client.post("/admin/routing/new/", data={
        "name": "Sin equipo", "position": "1"}).get_data(as_text=True)
    assert "Elige el equipo de destino." in page
    page = supervisor_client.post("/admin/routing/new/", data={
        "name": "Comas", "position": "1", "keywords": " , ,"}).get_data(as_text=True)
    assert "palabras clave separadas por comas" in page
    assert count(app, RoutingRule) == 0


def test_duplicate_is_a_friendly_message(app, login_as, make_user, make_category):
    make_category("acceso")
    client = login_as(make_user(Role.ADMIN))
    response = client.post("/admin/categories/new/", data={"code": "acceso", "name": "Otra"},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Ya existe." in page
    assert "IntegrityError" not in page and "UNIQUE" not in page.upper().replace("UNIQUE_", "")
    assert count(app, Category) == 1


@pytest.mark.parametrize("query", ["?id=999999", "?id=abc"])
def test_unknown_ticket_id_is_a_clear_message(agent_client, query):
    response = agent_client.get(f"/admin/tickets/edit/{query}", follow_redirects=True)
    assert response.status_code == 200
    assert "no existe" in response.get_data(as_text=True).lower()


def test_editing_a_ticket_is_audited_and_bumps_the_version(app, agent_client, make_ticket):
    ticket_id = make_ticket(subject="Viejo")
    response = agent_client.post(f"/admin/tickets/edit/?id={ticket_id}",
                                 data={"subject": "Nuevo asunto"})
    assert response.status_code == 302
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        assert (ticket.subject, ticket.version) == ("Nuevo asunto", 2)
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.field == "subject"))
        assert (entry.old_value, entry.new_value) == ("Viejo", "Nuevo asunto")


def test_editing_an_agent_without_password_keeps_it(app, login_as, make_user):
    admin = make_user(Role.ADMIN)
    agent = make_user(Role.AGENT, email="keep@test.bayit")
    with app.app_context():
        before = db.session.get(User, agent).password_hash
    response = login_as(admin).post(f"/admin/agents/edit/?id={agent}", data={
        "name": "Renamed", "email": "keep@test.bayit", "role": "2", "capacity": "7",
        "availability": "away", "locale": "en", "timezone": "Europe/Madrid", "active": "y"})
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, agent)
        assert (user.name, user.role, user.password_hash) == ("Renamed", Role.SUPERVISOR, before)
        fields = set(db.session.scalars(select(AuditEntry.field).where(
            AuditEntry.entity == "users", AuditEntry.entity_id == agent)))
    assert {"name", "role", "capacity", "availability"} <= fields


@pytest.mark.parametrize(("timezone", "shown"), [("Europe/Madrid", "13:07"),
                                                  ("America/Mexico_City", "6:07")])
def test_times_are_shown_in_the_viewers_time_zone(app, login_as, make_user, make_customer,
                                                  timezone, shown):
    from datetime import UTC, datetime

    from helpdesk import workflows
    from helpdesk.models import Customer

    customer_id = make_customer()
    with app.app_context(), workflows.atomic():
        ticket = workflows.create_ticket(db.session.get(Customer, customer_id), "Hora", "?",
                                         actor=None, now=datetime(2026, 1, 15, 12, 7, tzinfo=UTC))
        ticket_id = ticket.id
    client = login_as(make_user(Role.AGENT, timezone=timezone))
    page = client.get(f"/admin/tickets/{ticket_id}/").get_data(as_text=True)
    assert f"15/1/26, {shown}" in page and "12:07" not in page
