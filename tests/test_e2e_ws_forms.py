"""The forms issue 15's last gaps changed, submitted in headless Chromium as a supervisor: the
queue's bulk *Resolver* ticket by ticket (one refused with its reason), *Probar* with the rule
form's pickers (country by name, billing state in words), and a routing rule on the customer's
billing state. Any response of 400 or more or a script error fails the test."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from helpdesk import workflows
from helpdesk.admin import queue
from helpdesk.extensions import db
from helpdesk.models import Category, ResolutionCategory, RoutingRule, Ticket, TicketStatus
from tests.browser import SHOTS, require_chromium, select2_pick, sign_in, watched_page
from tests.browser import demo_app as build_demo_app

sync_api = require_chromium()
pytestmark = pytest.mark.e2e
expect = sync_api.expect


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    return build_demo_app(tmp_path_factory.mktemp("e2e-ws"), redis_url, seed=29)


@pytest.fixture
def page(browser, live_server):
    """A supervisor's Chromium page that records every error answer and script error."""
    page = watched_page(browser)
    sign_in(page, live_server, "supervisor@demo.bayit")
    expect(page).to_have_url(f"{live_server}/admin/")
    yield page
    page.close()
    assert not page.problems, page.problems


pick = select2_pick


def test_bulk_resolve_ticket_by_ticket(page, live_server, demo_app):
    with demo_app.app_context(), workflows.atomic():
        open_ = db.session.scalars(select(Ticket).where(
            Ticket.status == TicketStatus.OPEN, Ticket.category_id.is_not(None))
            .order_by(Ticket.id).limit(2)).all()
        fitting, other = open_
        only = ResolutionCategory(name="Solo para una categoría (e2e)",
                                  category_id=fitting.category_id)
        db.session.add(only)
        if other.category_id == fitting.category_id:  # the other must not fit
            other.category_id = db.session.scalar(select(Category.id).where(
                Category.id != fitting.category_id).limit(1))
        db.session.flush()
        ids, only_id = (fitting.id, other.id), only.id
    # The *Abierto* tab sorted by number: both rows are on its first page.
    view = next(v for v in demo_app.extensions["admin"][0]._views
                if getattr(v, "endpoint", None) == "tickets")
    args = queue.filter_args(view, [(queue.STATUS, "open")])
    page.goto(f"{live_server}/admin/tickets/?" + urlencode({**args, "sort": "0"}))
    for ticket_id in ids:
        page.locator(f"input[name=rowid][value='{ticket_id}']").check()
    page.get_by_role("button", name="Con seleccionados").click()
    page.get_by_role("link", name="Resolver", exact=True).click()
    expect(page.get_by_test_id("resolve-tickets")).to_contain_text(f"#{ids[1]}")
    page.get_by_test_id("resolve-solved").check()
    page.get_by_test_id("resolve-category").select_option(value=str(only_id))
    page.get_by_test_id("resolve-notes").fill("Resuelto en bloque desde la cola.")
    page.get_by_test_id("resolve-ask").select_option("no")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "resolve-bulk.png"), full_page=True)
    page.get_by_test_id("resolve-bulk-submit").click()
    alert = page.locator(".alert-warning")
    expect(alert).to_contain_text("1 ticket resuelto; 1 rechazado")
    expect(alert).to_contain_text(f"#{ids[1]}: Elige una categoría de resolución activa")
    with demo_app.app_context():
        assert db.session.get(Ticket, ids[0]).status is TicketStatus.RESOLVED
        assert db.session.get(Ticket, ids[1]).status is TicketStatus.OPEN


def test_probar_with_pickers_and_a_rule_on_billing_state(page, live_server, demo_app):
    page.goto(f"{live_server}/admin/routing/new/")
    page.wait_for_load_state()
    page.fill("form.admin-form [name='name']", "Pagos pendientes a Facturación")
    page.fill("form.admin-form [name='position']", "1")
    pick(page, "billing_state", "Pago", "Pago pendiente", scope="form.admin-form")
    pick(page, "team", "Fact", "Facturación", scope="form.admin-form")
    page.get_by_role("button", name="Guardar", exact=True).click()
    expect(page.locator(".alert-success")).to_contain_text("Creado correctamente.")
    with demo_app.app_context():
        rule = db.session.scalar(select(RoutingRule).where(
            RoutingRule.name == "Pagos pendientes a Facturación"))
        assert rule.billing_state == "pago_pendiente"
    expect(page.locator("table.model-list tr", has_text="Pagos pendientes a Facturación")
           ).to_contain_text("Pago pendiente")

    page.goto(f"{live_server}/admin/routing/test")
    page.wait_for_load_state()
    form = "[data-testid=routing-test-form]"
    pick(page, "country", "Espa", "España", scope=form)
    pick(page, "billing_state", "Pago", "Pago pendiente", scope=form)
    page.get_by_test_id("routing-test-submit").click()
    page.wait_for_load_state()
    assert "country=ES" in page.url and "billing_state=pago_pendiente" in page.url
    expect(page.get_by_test_id(f"rule-{rule.id}-match")).to_contain_text(
        "coincide: esta regla decide")
    expect(page.get_by_test_id("routing-result")).to_contain_text("Facturación")
    page.screenshot(path=str(SHOTS / "routing-probe.png"), full_page=True)
