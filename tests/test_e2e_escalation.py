"""In headless Chromium, as people would: an agent escalates a ticket from its page with a reason
and context; the supervisor who receives it sees the banner, and the ticket under *Escalados*."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.models import Escalation, Team, Ticket, TicketStatus, User
from tests.browser import SHOTS, require_chromium
from tests.browser import demo_app as build_demo_app

AGENT, SUPERVISOR = "agente1@demo.bayit", "supervisor@demo.bayit"
CONTEXT = ("El cliente ya reinstaló la app y probó otra red; el error DRM-77 sigue en su "
           "Smart TV. Necesita a alguien con acceso a los registros del reproductor.")

sync_api = require_chromium()
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    """An app on its own demo database (300 tickets), for the server and for look-ups."""
    return build_demo_app(tmp_path_factory.mktemp("e2e-escalation"), redis_url, seed=12)


def agents_open_ticket(app) -> tuple[int, str]:
    """An open, never escalated ticket of agente1: (id, its team's name)."""
    with app.app_context():
        agent = db.session.scalar(select(User).where(User.email == AGENT))
        ticket = db.session.scalar(select(Ticket).where(
            Ticket.assignee_id == agent.id, Ticket.status == TicketStatus.OPEN,
            Ticket.escalation_level == 0).order_by(Ticket.id))
        assert ticket is not None, "the demo seed has no open ticket of agente1"
        return ticket.id, db.session.get(Team, ticket.team_id).name


def login(browser, base: str, email: str):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", "demo")
    page.click("[data-testid=login-submit]")
    sync_api.expect(page).to_have_url(f"{base}/admin/")
    page.wait_for_load_state()  # the menu's dropdown script, before clicking it
    return page


def test_agent_escalates_and_the_supervisor_sees_it(demo_app, live_server, browser):
    expect = sync_api.expect
    ticket_id, team = agents_open_ticket(demo_app)

    page = login(browser, live_server, AGENT)
    page.goto(f"{live_server}/admin/tickets/{ticket_id}/")
    page.wait_for_load_state()
    page.get_by_test_id("escalate").click()
    expect(page).to_have_url(f"{live_server}/admin/tickets/{ticket_id}/escalate")
    page.get_by_test_id("escalate-reason").select_option(label="Problema técnico avanzado")
    page.get_by_test_id("escalate-target").select_option(label=f"Sergio Supervisor · {team}")
    page.get_by_test_id("escalate-context").fill(CONTEXT)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "escalate-form.png"), full_page=True)
    page.get_by_test_id("escalate-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("Ticket escalado.")
    page.close()
    with demo_app.app_context():
        escalation = db.session.scalar(select(Escalation).where(
            Escalation.ticket_id == ticket_id))
        assert escalation is not None and escalation.context == CONTEXT

    page = login(browser, live_server, SUPERVISOR)
    expect(page.get_by_test_id("escalation-notice").first).to_be_visible()
    page.goto(f"{live_server}/admin/tickets/{ticket_id}/")
    banner = page.get_by_test_id("escalation-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Problema técnico avanzado")
    expect(banner).to_contain_text(CONTEXT)
    expect(page.get_by_test_id("ticket-assignee")).to_have_text("Sergio Supervisor")
    page.screenshot(path=str(SHOTS / "escalation-banner.png"))

    menu = page.locator("#admin-navbar-collapse")
    menu.get_by_text("Soporte", exact=True).click()
    menu.get_by_role("link", name="Tickets", exact=True).click()
    expect(page).to_have_url(f"{live_server}/admin/tickets/")
    page.get_by_test_id("view-escalated").click()
    expect(page.get_by_test_id("view-escalated")).to_have_class(re.compile(r"\bactive\b"))
    row = page.locator("table.model-list tr", has=page.locator(
        "td.col-id a", has_text=re.compile(rf"^#{ticket_id}$")))
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("escalation-level")).to_have_text("N1")
    page.screenshot(path=str(SHOTS / "escalated-queue.png"), full_page=True)
    page.close()
