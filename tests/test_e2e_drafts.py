"""Drafts in the browser: the reply survives a reload and a failed send, and is gone once sent;
the internal note keeps its own draft."""

from __future__ import annotations

import pytest

from tests.browser import demo_app as build_demo_app
from tests.browser import require_chromium

sync_api = require_chromium()
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    return build_demo_app(tmp_path_factory.mktemp("e2e-drafts"), redis_url, seed=13)


def test_a_draft_survives_reload_and_a_failed_send_and_goes_when_sent(live_server, browser):
    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server}/login")
    page.fill("#email", "supervisor@demo.bayit")
    page.fill("#password", "demo")
    page.click("[data-testid=login-submit]")
    page.goto(f"{live_server}/admin/tickets/")
    page.locator("table.model-list tbody tr td.col-id a").first.click()
    ticket_url = page.url
    reply, note = page.get_by_test_id("reply-body"), page.get_by_test_id("note-body")

    reply.fill("Hola {{ cliente.nombre")  # a placeholder that will not render
    note.fill("Nota a medias")
    page.wait_for_timeout(500)
    page.reload()
    expect(reply).to_have_value("Hola {{ cliente.nombre")
    expect(note).to_have_value("Nota a medias")
    expect(page.get_by_test_id("draft-restored-reply")).to_be_visible()

    page.get_by_test_id("send-reply").click()  # refused: the text stays, the note keeps its own
    expect(page.locator(".alert-danger").first).to_be_visible()
    expect(reply).to_have_value("Hola {{ cliente.nombre")
    expect(note).to_have_value("Nota a medias")

    reply.fill("Hola, ya está resuelto.")
    page.get_by_test_id("send-reply").click()
    expect(page).to_have_url(ticket_url)
    expect(reply).to_have_value("")
    page.reload()
    expect(reply).to_have_value("")
    expect(note).to_have_value("Nota a medias")
