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
