"""The queue's new forms submitted in headless Chromium: a bulk action (Cambiar prioridad), the
reassign dialog past an agent's capacity with a reason, and saving the current tab as a view
shared with one's team. Any response of 400 or more or a script error fails the test."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.models import AuditEntry, Priority, SavedView, Team, Ticket, TicketStatus, User
from tests.browser import demo_app as build_demo_app
from tests.browser import require_chromium, sign_in, watched_page

sync_api = require_chromium()
pytestmark = pytest.mark.e2e
expect = sync_api.expect


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    return build_demo_app(tmp_path_factory.mktemp("e2e-queue"), redis_url, seed=23)


@pytest.fixture
def page(browser, live_server):
    """A Chromium page that records every error answer and script error."""
    page = watched_page(browser)
    yield page
    page.close()
    assert not page.problems, page.problems


def login(page, base: str, email: str):
    sign_in(page, base, email)
    expect(page).to_have_url(f"{base}/admin/")


def user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def test_bulk_priority_from_the_queue(page, live_server, demo_app):
    login(page, live_server, "agente1@demo.bayit")
    me = user_id(demo_app, "agente1@demo.bayit")
    with demo_app.app_context():
        mine = db.session.scalars(select(Ticket).where(
            Ticket.assignee_id == me, Ticket.status != TicketStatus.RESOLVED)
            .order_by(Ticket.id).limit(2)).all()
        ids = [t.id for t in mine]
        target = next(p for p in Priority if p not in {t.priority for t in mine})
    page.goto(f"{live_server}/admin/tickets/")
    page.get_by_test_id("view-mine").click()
    page.wait_for_load_state()
    for ticket_id in ids:
        page.locator(f"input[name=rowid][value='{ticket_id}']").check()
    page.get_by_role("button", name="Con seleccionados").click()
    page.get_by_role("link", name="Cambiar prioridad", exact=True).click()
    expect(page.get_by_test_id("bulk-tickets")).to_contain_text(f"#{ids[0]}")
    page.get_by_test_id("bulk-value").select_option(value=target.value)
    page.get_by_test_id("bulk-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("2 tickets cambiados.")
    with demo_app.app_context():
        assert {db.session.get(Ticket, i).priority for i in ids} == {target}
        assert len(db.session.scalars(select(AuditEntry).where(
            AuditEntry.ticket_id.in_(ids), AuditEntry.action == "priority",
            AuditEntry.actor_id == me)).all()) == 2


def test_reassign_past_capacity_with_a_reason(page, live_server, demo_app):
    login(page, live_server, "supervisor@demo.bayit")
    with demo_app.app_context():
        agent = db.session.scalar(select(User).where(User.email == "agente2@demo.bayit"))
        team = agent.teams[0]
        ticket = db.session.scalar(select(Ticket).where(
            Ticket.team_id == team.id, Ticket.status != TicketStatus.RESOLVED,
            Ticket.assignee_id != agent.id).order_by(Ticket.id))
        agent.capacity = agent.open_tickets  # full: one more goes past it
        db.session.commit()
        agent_id, agent_name, team_name, ticket_id = agent.id, agent.name, team.name, ticket.id
    page.goto(f"{live_server}/admin/tickets/{ticket_id}/")
    page.get_by_test_id("reassign").click()
    expect(page.get_by_test_id(f"load-{agent_id}")).to_contain_text("al límite")
    page.get_by_label("Equipo", exact=True).select_option(label=team_name)
    agents = page.get_by_label("Agente", exact=True)
    option = agents.locator("option", has_text=re.compile(rf"^{re.escape(agent_name)} \("))
    assert "al límite" in option.inner_text()
    agents.select_option(label=option.inner_text())
    page.get_by_test_id("reassign-submit").click()  # no reason: refused, nothing moves
    expect(page.locator(".alert-danger")).to_contain_text("escribe el motivo")
    page.problems.clear()  # that 422 was the point
    page.get_by_test_id("reassign-reason").fill("Conoce al cliente; lo cierra hoy.")
    page.get_by_test_id("reassign-submit").click()
    expect(page).to_have_url(f"{live_server}/admin/tickets/{ticket_id}/")
    expect(page.locator(".alert-success")).to_contain_text("1 ticket reasignado.")
    with demo_app.app_context():
        assert db.session.get(Ticket, ticket_id).assignee_id == agent_id
        audit = db.session.scalars(select(AuditEntry).where(
            AuditEntry.ticket_id == ticket_id, AuditEntry.action == "over_capacity")).one()
        assert audit.reason == "Conoce al cliente; lo cierra hoy."


def test_save_the_current_tab_as_a_shared_view(page, live_server, demo_app):
    login(page, live_server, "agente1@demo.bayit")
    me = user_id(demo_app, "agente1@demo.bayit")
    with demo_app.app_context():
        team = db.session.scalars(select(Team).join(Team.members).where(User.id == me)).first()
        team_id, team_name = team.id, team.name
    page.goto(f"{live_server}/admin/tickets/")
    page.get_by_test_id("view-open").click()
    page.wait_for_load_state()
    expect(page.locator("table.filters tr")).to_have_count(0)  # no raw filter widgets
    page.get_by_test_id("save-view").locator("summary").click()
    page.get_by_test_id("save-view-name").fill("Abiertos del equipo")
    page.get_by_test_id("save-view-team").select_option(label=team_name)
    page.get_by_test_id("save-view-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("Vista «Abiertos del equipo» guardada.")
    with demo_app.app_context():
        view = db.session.scalars(select(SavedView)).one()
        assert (view.owner_id, view.team_id, view.name) == (me, team_id, "Abiertos del equipo")
    tab = page.get_by_test_id(f"saved-{view.id}")
    expect(tab).to_have_attribute("aria-current", "page")
    expect(page.get_by_test_id(f"saved-count-{view.id}")).to_have_text(
        page.get_by_test_id("count-open").inner_text())
