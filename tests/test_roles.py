"""The role matrix, enforced on the server: each role × each admin view, read and write."""

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.models import (
    BusinessCalendar,
    Category,
    Customer,
    EscalationReason,
    ResolutionCategory,
    ResponseTemplate,
    RoutingRule,
    SlaPolicy,
    Team,
    Ticket,
    User,
)
from helpdesk.models import Role as R

AGENT, SUPERVISOR, ADMIN = R.AGENT, R.SUPERVISOR, R.ADMIN
EVERYONE = {AGENT, SUPERVISOR, ADMIN}
SUPERVISORS = {SUPERVISOR, ADMIN}
ADMINS = {ADMIN}

#: endpoint → (model, who reads, who writes)
VIEWS = {
    "tickets": (Ticket, EVERYONE, EVERYONE),
    "routing": (RoutingRule, SUPERVISORS, SUPERVISORS),
    "templates": (ResponseTemplate, EVERYONE, ADMINS),
    "sla": (SlaPolicy, SUPERVISORS, SUPERVISORS),
    "calendars": (BusinessCalendar, SUPERVISORS, SUPERVISORS),
    "teams": (Team, SUPERVISORS, SUPERVISORS),
    "agents": (User, ADMINS, ADMINS),
    "categories": (Category, SUPERVISORS, ADMINS),
    "escalation_reasons": (EscalationReason, SUPERVISORS, SUPERVISORS),
    "resolution_categories": (ResolutionCategory, SUPERVISORS, SUPERVISORS),  # issue 12
    "customers": (Customer, EVERYONE, SUPERVISORS),  # agents read (issue 11)
}
MATRIX = [(role, endpoint) for role in R for endpoint in VIEWS]


@pytest.fixture
def world(make_user, make_team, make_customer, make_ticket):
    """One row of everything, and one user per role."""
    team = make_team("Cuenta")
    users = {role: make_user(role, teams=[team]) for role in R}
    customer = make_customer()
    ticket = make_ticket(customer_id=customer)
    return {"team": team, "customer": customer, "ticket": ticket, "users": users}


def valid_form(endpoint, world):
    n = len(endpoint)
    return {
        "tickets": {"customer": world["customer"], "subject": "Sin sonido",
                    "body": "No se oye nada.", "priority": "high", "channel": "email"},
        "routing": {"name": "Reembolsos", "position": "5", "enabled": "y",
                    "team": world["team"], "keywords": "reembolso"},
        "templates": {"name": f"Plantilla {n}", "locale": "es", "body": "Hola", "active": "y"},
        "sla": {"priority": "urgent", "first_response_minutes": "60"},
        "calendars": {"name": "Oficina", "timezone": "Europe/Madrid",
                      "hours_text": "lun-vie 09:00-18:00"},
        "teams": {"name": "Facturación", "strategy": "round_robin", "active": "y"},
        "agents": {"name": "Nuevo Agente", "email": "nuevo@test.bayit", "role": "1",
                   "capacity": "5", "availability": "available", "locale": "es",
                   "timezone": "Europe/Madrid", "password": "long-enough-1", "active": "y"},
        "categories": {"code": "acceso", "name": "Acceso", "active": "y"},
        "escalation_reasons": {"name": "Cliente VIP", "active": "y"},
        "resolution_categories": {"name": "Solucionado", "active": "y"},
        "customers": {"name": "Lucía Pérez", "email": "lucia@example.com", "locale": "es"},
    }[endpoint]


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def any_id(app, model):
    with app.app_context():
        return db.session.scalar(select(model.id).limit(1))


@pytest.mark.parametrize("endpoint", VIEWS)
def test_anonymous_is_sent_to_login(client, endpoint):
    for path in (f"/admin/{endpoint}/", f"/admin/{endpoint}/new/"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.post(f"/admin/{endpoint}/new/", data={}, token_from="/login")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(("role", "endpoint"), MATRIX)
def test_read(app, world, login_as, role, endpoint):
    model, readers, _ = VIEWS[endpoint]
    client = login_as(world["users"][role])
    expected = 200 if role in readers else 403
    assert client.get(f"/admin/{endpoint}/").status_code == expected
    row = any_id(app, model)
    if row is not None:
        assert client.get(f"/admin/{endpoint}/details/?id={row}").status_code == expected


@pytest.mark.parametrize(("role", "endpoint"), MATRIX)
def test_write(app, world, login_as, role, endpoint):
    model, _, writers = VIEWS[endpoint]
    client = login_as(world["users"][role])
    before = count(app, model)
    # writers post from the form's page; the others, who get no form, by hand with a valid token
    response = client.post(f"/admin/{endpoint}/new/", data=valid_form(endpoint, world),
                           **({} if role in writers else {"token_from": "/admin/"}))
    if role in writers:
        assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
        assert count(app, model) == before + 1
    else:
        assert response.status_code == 403
        assert count(app, model) == before
        assert client.get(f"/admin/{endpoint}/new/").status_code == 403
        row = any_id(app, model)
        if row is not None:
            assert client.get(f"/admin/{endpoint}/edit/?id={row}").status_code == 403
            assert client.post(f"/admin/{endpoint}/edit/?id={row}", data={},
                               token_from="/admin/").status_code == 403


@pytest.mark.parametrize("role", [AGENT, SUPERVISOR])
def test_only_admins_delete(app, world, login_as, role):
    client = login_as(world["users"][role])
    response = client.post("/admin/templates/delete/", data={"id": "1"}, token_from="/admin/")
    assert response.status_code == 403


# Agents open Informes too: their own row and their teams' totals (issue 14).
@pytest.mark.parametrize(("role", "status"), [(AGENT, 200), (SUPERVISOR, 200), (ADMIN, 200)])
def test_reports(world, login_as, role, status):
    assert login_as(world["users"][role]).get("/admin/reports/").status_code == status


def test_forbidden_page_is_friendly_and_logs_no_secrets(world, login_as, caplog):
    client = login_as(world["users"][AGENT])
    response = client.get("/admin/agents/")
    assert response.status_code == 403
    assert "Acceso denegado" in response.get_data(as_text=True)
    assert not any(word in caplog.text.lower() for word in ("scrypt", "pbkdf2", "password"))
