"""Two agents on one ticket in two Chromium contexts: each sees the other (and that they are
typing); a customer message is announced at once and "ver" keeps the draft. One agent mentions
another in a note (the @ list): the other's bell rings without a reload and the notice opens
the ticket."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk import queries, workflows
from helpdesk.extensions import db
from helpdesk.models import (
    Notification,
    NotificationPreference,
    Team,
    Ticket,
    TicketStatus,
    User,
)
from tests import browser as browser_helpers
from tests.browser import demo_app as build_demo_app
from tests.browser import require_chromium

sync_api = require_chromium()
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    return build_demo_app(tmp_path_factory.mktemp("e2e-live"), redis_url, seed=17)


def sign_in(browser, base: str, email: str):
    """A page of its own (its own context: another person) logged in as `email`."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    browser_helpers.sign_in(page, base, email)
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


def test_a_mention_rings_the_colleagues_bell_without_a_reload(demo_app, live_server, browser):
    """Lucía (agente1) mentions Pablo (agente2) in a note, picking him from the @ list; Pablo,
    on his home page, sees his bell count go up without a reload, opens the bell and the notice
    takes him to the ticket (read). Pablo first chooses mentions "in the panel and by e-mail"
    on *Preferencias de avisos* (the form submitted by the browser)."""
    expect = sync_api.expect
    with demo_app.app_context(), workflows.atomic():
        lucia = db.session.scalar(select(User).where(User.email == "agente1@demo.bayit"))
        pablo = db.session.scalar(select(User).where(User.email == "agente2@demo.bayit"))
        cuenta = db.session.scalar(select(Team).where(Team.name == "Cuenta"))
        if cuenta not in pablo.teams:
            pablo.teams.append(cuenta)  # so the ticket below is one both may open
        ticket = db.session.scalar(select(Ticket.id).where(
            Ticket.team_id == cuenta.id, Ticket.status == TicketStatus.OPEN,
            Ticket.assignee_id == lucia.id).order_by(Ticket.id).limit(1))
        pablo_id = pablo.id
        before = queries.unread_count(pablo_id)

    pablo_page = sign_in(browser, live_server, "agente2@demo.bayit")
    pablo_page.get_by_test_id("user-menu").click()
    pablo_page.get_by_test_id("notice-preferences-link").click()
    pablo_page.get_by_test_id("pref-mention").select_option("both")
    pablo_page.get_by_test_id("save-preferences").click()
    expect(pablo_page.get_by_text("Preferencias de avisos guardadas.")).to_be_visible()
    with demo_app.app_context():
        assert db.session.execute(select(NotificationPreference.panel,
                                         NotificationPreference.email).where(
            NotificationPreference.user_id == pablo_id,
            NotificationPreference.kind == "mention")).one() == (True, True)
    pablo_page.goto(f"{live_server}/admin/")
    pablo_page.evaluate("window.hdNoReload = true")  # gone if the page reloads

    lucia_page = sign_in(browser, live_server, "agente1@demo.bayit")
    lucia_page.goto(f"{live_server}/admin/tickets/{ticket}/")
    note = lucia_page.get_by_test_id("note-body")
    note.click()
    note.press_sequentially("Revisa esto @pab")
    option = lucia_page.get_by_test_id("mention-option")
    expect(option).to_contain_text("Pablo Navarro", timeout=10_000)
    note.press("Enter")
    expect(note).to_have_value("Revisa esto @agente2 ")
    note.press_sequentially("por favor")
    lucia_page.get_by_test_id("add-note").click()
    expect(lucia_page.get_by_text("Nota interna añadida.")).to_be_visible()

    count = pablo_page.get_by_test_id("notices-count")
    expect(count).to_have_text(str(before + 1), timeout=30_000)
    assert pablo_page.evaluate("window.hdNoReload") is True
    pablo_page.get_by_test_id("notices").click()
    item = pablo_page.get_by_test_id("bell-item").filter(has_text="Lucía Fernández te mencionó")
    expect(item).to_be_visible(timeout=10_000)
    item.click()
    expect(pablo_page).to_have_url(f"{live_server}/admin/tickets/{ticket}/")
    expect(pablo_page.get_by_text("Revisa esto @agente2 por favor")).to_be_visible()
    with demo_app.app_context():
        assert db.session.scalar(select(Notification.read_at).where(
            Notification.user_id == pablo_id, Notification.kind == "mention")) is not None
        assert queries.unread_count(pablo_id) == before
