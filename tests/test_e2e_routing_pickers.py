"""A supervisor writes a routing rule with the pickers, in a real browser: the country is
found by typing its name and stored as its ISO code, the plan comes from the customers' plans,
the names follow the panel's language, and Cancel does not look like a delete button."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.models import RoutingRule
from tests.browser import demo_app as build_demo_app
from tests.browser import require_chromium, select2_pick, sign_in

sync_api = require_chromium()
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    return build_demo_app(tmp_path_factory.mktemp("e2e-pickers"), redis_url, seed=23)


def pick(page, name: str, typed: str, choice: str):
    select2_pick(page, name, typed, choice, scope="form.admin-form")


def test_a_rule_written_with_the_pickers(live_server, browser, demo_app):
    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(page, live_server, "supervisor@demo.bayit")
    page.goto(f"{live_server}/admin/routing/new/")
    page.wait_for_load_state()

    cancel = page.locator("form.admin-form .submit-row a", has_text="Cancelar")
    colour = cancel.evaluate("a => getComputedStyle(a).backgroundColor")
    assert colour in ("rgba(0, 0, 0, 0)", "transparent"), colour
    width = page.locator("form.admin-form").evaluate("f => f.getBoundingClientRect().width")
    assert width <= 52 * 16 + 1, width

    page.fill("form.admin-form [name='name']", "Clientes de España con plan Básico")
    page.fill("form.admin-form [name='position']", "5")
    pick(page, "country", "Espa", "España")
    pick(page, "plan", "Bás", "Básico")
    pick(page, "language", "Esp", "Español")
    pick(page, "team", "Téc", "Técnico")
    page.get_by_role("button", name="Guardar", exact=True).click()
    expect(page.locator(".alert-success")).to_contain_text("Creado correctamente.")
    with demo_app.app_context():
        rule = db.session.scalar(select(RoutingRule).where(
            RoutingRule.name == "Clientes de España con plan Básico"))
        assert (rule.country, rule.plan, rule.language) == ("ES", "Básico", "es")
    row = page.locator("table.model-list tr", has_text="Clientes de España con plan Básico")
    expect(row).to_contain_text("España")

    page.get_by_test_id("locale-en").click()
    page.wait_for_load_state()
    page.goto(f"{live_server}/admin/routing/edit/?id={rule.id}")
    page.wait_for_load_state()
    chosen = page.locator("form.admin-form [name='country'] option:checked")
    expect(chosen).to_have_text("Spain")
    page.close()
