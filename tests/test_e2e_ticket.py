"""An agent works a ticket in headless Chromium: from the queue's "Mis tickets" tab to the
ticket page, a template with its preview, the reply, an internal note and a placeholder error."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from helpdesk import queries
from helpdesk.extensions import db
from helpdesk.models import Ticket, TicketStatus, User
from tests.browser import SHOTS, require_chromium
from tests.browser import demo_app as build_demo_app

AGENT = "agente1@demo.bayit"

sync_api = require_chromium()
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    """An app on its own demo database (300 tickets), for the server and for look-ups."""
    return build_demo_app(tmp_path_factory.mktemp("e2e-ticket"), redis_url, seed=11)


def open_ticket_with_templates(app) -> tuple[int, str]:
    """An open ticket of agente1 whose category has Spanish templates: (id, customer name)."""
    with app.app_context():
        agent = db.session.scalar(select(User).where(User.email == AGENT))
        tickets = db.session.scalars(select(Ticket).where(
            Ticket.assignee_id == agent.id, Ticket.status == TicketStatus.OPEN)
            .order_by(Ticket.id))
        for ticket in tickets:
            if queries.response_templates_for(ticket, agent.locale):
                return ticket.id, ticket.customer.name
    pytest.fail("the demo seed has no open ticket of agente1 with a Spanish template")


def test_agent_works_a_ticket(demo_app, live_server, browser):
    expect = sync_api.expect
    ticket_id, customer = open_ticket_with_templates(demo_app)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server}/login")
    page.fill("#email", AGENT)
    page.fill("#password", "demo")
    page.click("[data-testid=login-submit]")
    expect(page).to_have_url(f"{live_server}/admin/")
    page.wait_for_load_state()  # the menu's dropdown script, before clicking it

    menu = page.locator("#admin-navbar-collapse")
    menu.get_by_text("Soporte", exact=True).click()
    menu.get_by_role("link", name="Tickets", exact=True).click()
    expect(page).to_have_url(f"{live_server}/admin/tickets/")
    page.click("[data-testid=view-mine]")
    expect(page.get_by_test_id("view-mine")).to_have_class(re.compile(r"\bactive\b"))
    # The whole number: "#9" alone is also inside "#91" when that ticket is on the page.
    link = page.locator("table.model-list td.col-id a",
                        has_text=re.compile(rf"^\s*#{ticket_id}\s*$"))
    expect(link).to_have_count(1)
    link.click()
    expect(page).to_have_url(f"{live_server}/admin/tickets/{ticket_id}/")
    expect(page.get_by_test_id("ticket-status")).to_have_text("Abierto")

    # A template fills the editor and the preview shows it as the customer will read it.
    page.wait_for_load_state()  # Bootstrap's dropdown script, before the menu is clicked
    page.click("[data-testid=templates-menu]")
    item = page.locator("[data-template]:visible").first
    expect(item).to_be_visible()
    template_name = item.inner_text().strip()
    item.click()
    preview = page.get_by_test_id("preview")
    expect(preview).to_be_visible()
    expect(preview).to_contain_text(customer)
    preview_text = preview.locator(".hd-preview-text").inner_text()
    assert "{{" not in preview_text and "}}" not in preview_text
    assert f"#{ticket_id}" in preview_text  # {{ ticket.numero }}
    assert "{{ cliente.nombre }}" in page.get_by_test_id("reply-body").input_value()
    expect(page.get_by_test_id("preview-error")).to_be_hidden()
    first_line = preview_text.strip().splitlines()[0]

    page.click("[data-testid=send-reply]")
    expect(page).to_have_url(f"{live_server}/admin/tickets/{ticket_id}/")
    expect(page.get_by_test_id("ticket-status")).to_have_text("Pendiente")
    reply = page.locator("[data-testid=thread] li[data-kind=reply]").last
    expect(reply).to_contain_text(first_line)
    expect(reply).to_contain_text(customer)
    expect(page.locator(".alert-success")).to_contain_text("Respuesta enviada al cliente.")

    # An internal note is marked as such in the thread.
    note_text = f"Plantilla «{template_name}» enviada; revisar si vuelve a escribir."
    page.get_by_test_id("note-body").fill(note_text)
    page.click("[data-testid=add-note]")
    expect(page).to_have_url(f"{live_server}/admin/tickets/{ticket_id}/")
    last = page.locator("[data-testid=thread] li.hd-msg").last
    expect(last).to_have_class(re.compile(r"\bhd-msg-note\b"))
    expect(last.get_by_test_id("internal-note")).to_have_text("Nota interna")
    expect(last).to_contain_text(note_text)

    # An unknown placeholder is explained, not sent.
    page.wait_for_load_state()  # ticket.js drives the preview
    page.get_by_test_id("reply-body").fill("Hola {{ cliente.apellido }}")
    page.click("[data-testid=preview-button]")
    error = page.get_by_test_id("preview-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Marcador desconocido")
    expect(error).to_contain_text("apellido")
    expect(preview).to_be_hidden()

    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "ticket-worked.png"), full_page=True)
    page.close()
