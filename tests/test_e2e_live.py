"""Two agents on one ticket in two Chromium contexts: each sees the other (and that they are
typing); a customer message is announced at once and "ver" keeps the draft."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import Ticket, TicketStatus
from tests.browser import demo_app as build_demo_app
from tests.browser import require_chromium

sync_api = require_chromium()
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    return build_demo_app(tmp_path_factory.mktemp("e2e-live"), redis_url, seed=17)


def sign_in(browser, base: str, email: str):
    page = browser.new_page(viewport={"width": 1366, "height": 900})  # its own context
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", "demo")
    page.click("[data-testid=login-submit]")
    return page


def test_two_agents_see_each_other_and_the_customers_message(demo_app, live_server, browser):
    expect = sync_api.expect
    with demo_app.app_context():
        ticket = db.session.scalar(select(Ticket.id).where(
            Ticket.status == TicketStatus.OPEN).order_by(Ticket.id).limit(1))
    sup = sign_in(browser, live_server, "supervisor@demo.bayit")
    adm = sign_in(browser, live_server, "admin@demo.bayit")
    for page in (sup, adm):
        page.goto(f"{live_server}/admin/tickets/{ticket}/")

    adm.get_by_test_id("reply-body").fill("Estoy en ello")
    viewers = sup.get_by_test_id("live-viewers")
    expect(viewers).to_contain_text("escribiendo una respuesta", timeout=15_000)
    expect(adm.get_by_test_id("live-viewers")).to_be_visible(timeout=15_000)

    sup.get_by_test_id("reply-body").fill("Mi borrador")
    with demo_app.app_context(), workflows.atomic():
        workflows.add_customer_message(db.session.get(Ticket, ticket), "¿Hay novedades?")
    change = sup.get_by_test_id("live-change")
    expect(change).to_contain_text("Nuevo mensaje del cliente — ver", timeout=15_000)
    expect(sup.get_by_test_id("reply-body")).to_have_value("Mi borrador")
    change.locator("a").click()
    expect(sup.get_by_text("¿Hay novedades?")).to_be_visible()
    expect(sup.get_by_test_id("reply-body")).to_have_value("Mi borrador")
