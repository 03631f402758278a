"""Routing rule conditions: pickers for country (names in the viewer's language, stored as ISO
codes), plan (the plans customers have) and language; matching ignores case and accents; a
value that is not on the list is refused with a message, never cut ("España" became "Es")."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk import rules
from helpdesk.extensions import db
from helpdesk.models import Priority, Role, RoutingRule
from tests.pages import parse


def facts(**kwargs):
    return rules.TicketFacts(category_id=None, priority=Priority.NORMAL, channel="web",
                             **kwargs)


@pytest.mark.parametrize(("rule", "ticket"), [
    ({"plan": "Básico"}, {"plan": "basico"}),
    ({"plan": "premium"}, {"plan": "Premium"}),
    ({"country": "es"}, {"country": "ES"}),
    ({"language": "ES"}, {"language": "es"}),
    ({"keywords": ("señal",)}, {"text": "Sin SENAL desde ayer"}),
])
def test_conditions_ignore_case_and_accents(rule, ticket):
    spec = rules.RuleSpec(id=1, name="r", team_id=1, **rule)
    assert rules.rule_miss(facts(**ticket), spec) is None


def test_a_different_value_still_misses():
    spec = rules.RuleSpec(id=1, name="r", team_id=1, plan="Básico", country="ES")
    assert rules.rule_miss(facts(plan="Premium", country="ES"), spec) == "plan"
    assert rules.rule_miss(facts(plan="basico", country="MX"), spec) == "country"


@pytest.fixture
def sup(login_as, make_user):
    return login_as(make_user(Role.SUPERVISOR))


@pytest.fixture
def team(make_team):
    return make_team()


def options(page, name) -> dict[str, str]:
    return {o.attrs.get("value"): o.text.strip()
            for o in page.one("select", name=name).select("option")}


def test_the_pickers_offer_known_values_in_the_viewers_language(app, sup, make_customer):
    make_customer(plan="Básico")
    make_customer(plan="Familiar")
    page = parse(sup.get("/admin/routing/new/"))
    countries = options(page, "country")
    assert countries["ES"] == "España" and countries["IL"] == "Israel"
    assert "001" not in countries and "EU" not in countries
    assert {"Básico", "Familiar"} <= set(options(page, "plan"))
    assert options(page, "language") == {"__None": "—", "es": "Español", "en": "English"}
    sup.post("/locale/en", data={"next": "/admin/"}, page="/admin/")
    english = options(parse(sup.get("/admin/routing/new/")), "country")
    assert english["ES"] == "Spain" and english["DE"] == "Germany"


def form(team, **values):
    return {"name": "Regla", "position": "10", "enabled": "y", "team": str(team), **values}


def test_a_country_typed_by_hand_is_refused_not_cut(app, sup, team):
    response = sup.post("/admin/routing/new/", data=form(team, country="España"))
    assert response.status_code == 422
    assert "Elige el país de la lista." in response.get_data(as_text=True)
    response = sup.post("/admin/routing/new/", data=form(team, plan="Oro"))
    assert response.status_code == 422
    assert "Elige un plan de la lista." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(RoutingRule.id)) is None


def test_a_picked_country_is_stored_as_its_code(app, sup, team, make_customer):
    make_customer(plan="Básico")
    response = sup.post("/admin/routing/new/", data=form(team, country="ES", plan="Básico",
                                                         language="es"))
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    with app.app_context():
        rule = db.session.scalar(select(RoutingRule))
        assert (rule.country, rule.plan, rule.language) == ("ES", "Básico", "es")
        rule_id = rule.id
    # an old rule whose country was cut ("Es") opens with España chosen and saves as "ES"
    with app.app_context():
        db.session.get(RoutingRule, rule_id).country = "Es"
        db.session.commit()
    page = parse(sup.get(f"/admin/routing/edit/?id={rule_id}"))
    chosen = [o.attrs.get("value") for o in page.one("select", name="country").select("option")
              if "selected" in o.attrs]
    assert chosen == ["ES"]


# --- Account states as conditions -------------------------------------------------------------


def test_an_account_state_condition_matches_its_code():
    spec = rules.RuleSpec(id=1, name="r", team_id=1, billing_state="pago_pendiente")
    assert rules.rule_miss(facts(billing_state="pago_pendiente"), spec) is None
    assert rules.rule_miss(facts(billing_state="al_dia"), spec) == "billing_state"
    assert rules.rule_miss(facts(), spec) == "billing_state"  # no state known: no match
    spec = rules.RuleSpec(id=1, name="r", team_id=1, subscription_state="en_prueba")
    assert rules.rule_miss(facts(subscription_state="en_prueba"), spec) is None
    assert rules.rule_miss(facts(subscription_state="activa"), spec) == "subscription_state"


def test_account_states_are_picked_in_words_and_stored_as_codes(app, sup, team):
    page = parse(sup.get("/admin/routing/new/"))
    assert options(page, "billing_state") == {
        "__None": "—", "al_dia": "Al día", "pago_pendiente": "Pago pendiente",
        "tarjeta_rechazada": "Tarjeta rechazada", "reembolsado": "Reembolsado"}
    assert options(page, "subscription_state")["en_prueba"] == "En periodo de prueba"
    response = sup.post("/admin/routing/new/", data=form(team, billing_state="Pago pendiente"))
    assert response.status_code == 422
    assert "Elige un estado de la lista." in response.get_data(as_text=True)
    response = sup.post("/admin/routing/new/", data=form(team, billing_state="pago_pendiente",
                                                         subscription_state="activa"))
    assert response.status_code == 302
    with app.app_context():
        rule = db.session.scalar(select(RoutingRule))
        assert (rule.billing_state, rule.subscription_state) == ("pago_pendiente", "activa")
    listing = sup.get("/admin/routing/").get_data(as_text=True)
    assert "Pago pendiente" in listing and "pago_pendiente" not in listing.replace(
        'value="pago_pendiente"', "")
    sup.post("/locale/en", data={"next": "/admin/"}, page="/admin/")
    english = options(parse(sup.get("/admin/routing/new/")), "billing_state")
    assert english["pago_pendiente"] == "Payment due"


def test_a_ticket_is_routed_on_its_customers_billing_state(app, make_team, make_customer,
                                                           make_ticket, run_jobs):
    from helpdesk import workflows
    from helpdesk.models import Ticket

    cobros, otros = make_team("Cobros"), make_team("Otros")
    with app.app_context(), workflows.atomic():
        db.session.add(RoutingRule(name="Pagos pendientes", position=1, team_id=cobros,
                                   billing_state="pago_pendiente"))
        db.session.add(RoutingRule(name="El resto", position=2, team_id=otros))
    late = make_ticket(customer_id=make_customer(billing_state="pago_pendiente"))
    fine = make_ticket(customer_id=make_customer(billing_state="al_dia"))
    run_jobs()
    with app.app_context():
        assert db.session.get(Ticket, late).team_id == cobros
        assert db.session.get(Ticket, fine).team_id == otros


def test_probar_uses_the_same_pickers(app, sup, team, make_customer):
    make_customer(plan="Básico")
    with app.app_context():
        db.session.add(RoutingRule(name="Españoles morosos", position=1, team_id=team,
                                   country="ES", billing_state="pago_pendiente"))
        db.session.add(RoutingRule(name="Oro", position=2, team_id=team, plan="Oro"))
        db.session.commit()
    page = parse(sup.get("/admin/routing/test"))
    assert options(page, "country")["ES"] == "España"
    assert {"Básico", "Oro"} <= set(options(page, "plan"))  # customers' plans and the rules'
    assert options(page, "billing_state")["pago_pendiente"] == "Pago pendiente"
    assert "al_dia" in options(page, "billing_state")
    assert "select2" in page.one("select", name="country").attrs.get("data-role", "")

    found = sup.get("/admin/routing/test", query_string={
        "priority": "normal", "channel": "email", "country": "ES",
        "billing_state": "al_dia", "language": "es"}).get_data(as_text=True)
    assert "el estado de la facturación no coincide" in found
    found = sup.get("/admin/routing/test", query_string={
        "priority": "normal", "channel": "email", "country": "ES",
        "billing_state": "pago_pendiente", "language": "es"}).get_data(as_text=True)
    assert "coincide: esta regla decide" in found
    refused = sup.get("/admin/routing/test", query_string={
        "priority": "normal", "channel": "email", "country": "España"}).get_data(as_text=True)
    assert "Elige el país de la lista." in refused and 'data-testid="routing-result"' not in refused
