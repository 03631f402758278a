"""Enrutamiento: reorder, enable/disable, and the Probar form that explains a decision."""

import pytest
from sqlalchemy import select

from helpdesk import queries, workflows
from helpdesk.extensions import db
from helpdesk.models import Channel, Priority, Role, RoutingRule, Ticket


@pytest.fixture
def setup(app, make_team, make_category, make_user):
    cuenta, facturacion, tecnico = (make_team(n) for n in ("Cuenta", "Facturación", "Técnico"))
    acceso = make_category("acceso", team_id=cuenta)
    make_user(Role.AGENT, teams=[facturacion], name="Fabiola")
    with app.app_context(), workflows.atomic():
        db.session.add_all([
            RoutingRule(name="Teléfono urgente", position=10, channel=Channel.PHONE,
                        priority=Priority.URGENT, team_id=tecnico),
            RoutingRule(name="Reembolsos", position=20, keywords="reembolso, cargo doble",
                        team_id=facturacion, priority_override=Priority.HIGH),
            RoutingRule(name="Todo premium", position=30, plan="Premium", team_id=cuenta),
        ])
    return {"acceso": acceso, "sup": make_user(Role.SUPERVISOR)}


def names_in_order(app):
    with app.app_context():
        return [r.name for r in db.session.scalars(
            select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id))]


def test_probar_explains_the_match_and_the_misses(setup, login_as):
    page = login_as(setup["sup"]).get("/admin/routing/test", query_string={
        "category": setup["acceso"], "priority": "normal", "channel": "email",
        "plan": "Premium", "language": "es", "text": "Quiero un REEMBOLSO ya"}).get_data(
        as_text=True)
    assert "Facturación" in page and "Alta" in page
    assert "la prioridad no coincide" in page
    assert "coincide: esta regla decide" in page and "no se evalúa" in page
    assert "Fabiola" in page  # who would get it right now


def test_probar_with_an_existing_ticket_and_an_unknown_one(setup, login_as, make_ticket,
                                                           make_customer):
    ticket = make_ticket("Cargo doble en mi tarjeta", customer_id=make_customer(plan="Básico"))
    client = login_as(setup["sup"])
    page = client.get("/admin/routing/test", query_string={"ticket": f"#{ticket}"}).get_data(
        as_text=True)
    assert "Reembolsos" in page and "coincide: esta regla decide" in page
    page = client.get("/admin/routing/test", query_string={"ticket": "999999"}).get_data(
        as_text=True)
    assert "El ticket #999999 no existe." in page


def test_reorder_and_disable(app, setup, login_as):
    client = login_as(setup["sup"])
    with app.app_context():
        premium = db.session.scalar(select(RoutingRule.id).where(
            RoutingRule.name == "Todo premium"))
    client.post(f"/admin/routing/{premium}/move/-1", page="/admin/routing/")
    assert names_in_order(app) == ["Teléfono urgente", "Todo premium", "Reembolsos"]
    client.post(f"/admin/routing/{premium}/move/-1")
    client.post(f"/admin/routing/{premium}/move/-1")  # already first: nothing happens
    assert names_in_order(app) == ["Todo premium", "Teléfono urgente", "Reembolsos"]
    client.post("/admin/routing/action/", data={"action": "disable", "rowid": [str(premium)]})
    with app.app_context():
        assert db.session.get(RoutingRule, premium).enabled is False
        assert [s.name for s in queries.routing_rule_specs()] == ["Teléfono urgente",
                                                                  "Reembolsos"]


def test_agents_cannot_touch_routing(setup, login_as, make_user):
    client = login_as(make_user(Role.AGENT))
    assert client.get("/admin/routing/test").status_code == 403
    assert client.post("/admin/routing/1/move/1", token_from="/admin/").status_code == 403


def test_default_team_catches_the_rest(app, setup, login_as, make_team, make_ticket,
                                       make_user, run_jobs):
    contenido = make_team("Contenido")
    agent = make_user(Role.AGENT, teams=[contenido])
    client = login_as(setup["sup"])
    assert 'data-testid="default-team"' in client.get("/admin/routing/").get_data(as_text=True)
    client.post("/admin/routing/default-team", data={"team": str(contenido)})
    ticket = make_ticket("Una pregunta cualquiera")  # no category, no rule matches
    run_jobs()
    with app.app_context():
        assert db.session.get(Ticket, ticket).assignee_id == agent
    response = client.post("/admin/routing/default-team", data={"team": "999"},
                           follow_redirects=True)
    assert "ya no existe" in response.get_data(as_text=True)
