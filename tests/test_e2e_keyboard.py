"""An agent works the queue with the keyboard only: move, open, reply with a template inserted
at the cursor, send with Ctrl+Enter, go to the next ticket; shortcuts never fire while typing."""

from __future__ import annotations

import re

import pytest

from tests.browser import demo_app as build_demo_app
from tests.browser import require_chromium, sign_in

sync_api = require_chromium()
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    return build_demo_app(tmp_path_factory.mktemp("e2e-keys"), redis_url, seed=19)


def test_the_queue_and_a_ticket_by_keyboard(live_server, browser):
    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(page, live_server, "supervisor@demo.bayit")
    page.goto(f"{live_server}/admin/tickets/")
    page.wait_for_load_state()
    links = page.locator("table.model-list tbody tr td.col-id a")
    first, second = links.nth(0).get_attribute("href"), links.nth(1).get_attribute("href")

    page.keyboard.press("?")
    expect(page.get_by_test_id("shortcuts-help")).to_be_visible()
    page.keyboard.press("?")
    expect(page.get_by_test_id("shortcuts-help")).to_be_hidden()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(page.locator("tr.hd-kb-current td.col-id a")).to_have_attribute("href", first)
    page.keyboard.press("x")
    expect(page.locator("tr.hd-kb-current input.action-checkbox")).to_be_checked()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}{first}")
    page.wait_for_load_state()

    reply = page.get_by_test_id("reply-body")
    page.keyboard.press("r")
    expect(reply).to_be_focused()
    page.keyboard.type("Hola, jk ")  # typing j/k in the box moves nothing
    expect(page).to_have_url(f"{live_server}{first}")
    template = page.locator("[data-template]").first
    if template.count():
        page.evaluate("document.getElementById('hd-reply-body').setSelectionRange(5, 5)")
        page.get_by_test_id("templates-menu").focus()
        page.keyboard.press("Enter")  # the menu opens; its first item by keyboard
        template.focus()
        page.keyboard.press("Enter")
        value = page.input_value("[data-testid=reply-body]")
        assert value.startswith("Hola,") and value.endswith(" jk ") and len(value) > 10
        reply.focus()
    page.keyboard.press("Control+Enter")
    expect(page.locator(".alert-success").first).to_be_visible()
    expect(page).to_have_url(f"{live_server}{first}")
    page.wait_for_load_state()
    page.keyboard.press("]")
    expect(page).to_have_url(f"{live_server}{second}")
    page.wait_for_load_state()
    page.keyboard.press("[")
    expect(page).to_have_url(f"{live_server}{first}")


def test_t_takes_the_current_row(live_server, browser, demo_app):
    """In *Sin asignar*, `j` then `t` takes the first row's ticket (its own Tomar button)."""
    from sqlalchemy import select

    from helpdesk.extensions import db
    from helpdesk.models import Ticket, User

    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(page, live_server, "supervisor@demo.bayit")
    page.goto(f"{live_server}/admin/tickets/")
    page.get_by_test_id("view-unassigned").click()
    page.wait_for_load_state()
    first = page.locator("table.model-list tbody tr td.col-id a").first
    if not first.count():
        pytest.skip("the demo left no unassigned ticket")
    href = first.get_attribute("href")
    ticket_id = int(href.strip("/").split("/")[-1])
    page.keyboard.press("t")  # no current row yet: nothing happens
    expect(page).to_have_url(re.compile(r"/admin/tickets/\?"))
    page.keyboard.press("j")
    page.keyboard.press("t")
    expect(page).to_have_url(f"{live_server}{href}")
    expect(page.locator(".alert-success")).to_contain_text("Ahora el ticket es tuyo.")
    with demo_app.app_context():
        me = db.session.scalar(select(User.id).where(User.email == "supervisor@demo.bayit"))
        assert db.session.get(Ticket, ticket_id).assignee_id == me
    page.close()
