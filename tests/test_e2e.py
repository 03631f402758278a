"""The real panel in headless Chromium: each demo role logs in, reads the Spanish menu,
switches to English and opens the ticket list."""

from __future__ import annotations

import pytest

from helpdesk import demo
from tests.browser import SHOTS, require_chromium
from tests.browser import demo_app as build_demo_app

sync_api = require_chromium()
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    """The panel's own demo database, as a user would see it."""
    return build_demo_app(tmp_path_factory.mktemp("e2e"), redis_url, seed=7)


@pytest.mark.parametrize("email", demo.DEMO_LOGINS)
def test_each_demo_role_works_the_panel(live_server, browser, email):
    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server}/admin/")
    expect(page).to_have_url(f"{live_server}/login?next=/admin/?")
    page.fill("#email", email)
    page.fill("#password", "demo")
    page.click("[data-testid=login-submit]")
    expect(page).to_have_url(f"{live_server}/admin/")
    page.wait_for_load_state()  # the menu's dropdown script, before clicking it

    menu = page.locator("#admin-navbar-collapse")
    expect(menu.get_by_text("Soporte", exact=True)).to_be_visible()
    expect(menu.get_by_text("Configuración", exact=True)).to_be_visible()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"home-{email.split('@')[0]}.png"), full_page=True)

    menu.get_by_text("Configuración", exact=True).click()
    visible = {"Plantillas", "Clientes"}
    if "supervisor" in email or "admin" in email:
        visible |= {"Enrutamiento", "SLA", "Equipos", "Motivos de escalamiento"}
    for name in visible:
        expect(menu.get_by_role("link", name=name, exact=True)).to_be_visible()
    agents_link = menu.get_by_role("link", name="Agentes", exact=True)
    expect(agents_link).to_have_count(1 if "admin" in email else 0)

    page.click("[data-testid=locale-en]")
    expect(menu.get_by_text("Support", exact=True)).to_be_visible()
    expect(menu.get_by_text("Settings", exact=True)).to_be_visible()
    page.wait_for_load_state()  # the new page's dropdown script, before opening Support
    menu.get_by_text("Support", exact=True).click()
    menu.get_by_role("link", name="Tickets", exact=True).click()
    expect(page).to_have_url(f"{live_server}/admin/tickets/")
    rows = page.locator("table.model-list tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() == 50
    page.screenshot(path=str(SHOTS / f"tickets-{email.split('@')[0]}.png"))

    page.click("[data-testid=locale-es]")  # leave the demo user as we found it
    expect(menu.get_by_text("Soporte", exact=True)).to_be_visible()
    page.click("[data-testid=logout]")
    expect(page).to_have_url(f"{live_server}/login")
    page.close()


def log_in(page, base: str, email: str, *, remember: bool) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", "demo")
    if remember:
        page.get_by_label("Recordarme").check()
    page.click("[data-testid=login-submit]")
    sync_api.expect(page).to_have_url(f"{base}/admin/")
    page.wait_for_load_state()  # the user menu's dropdown script


def test_remember_me_survives_a_restart_and_logout_everywhere_ends_it(live_server, browser):
    """Recordarme: with the session cookie gone (a browser restart) the panel still opens and
    the remember cookie is a new one; the user menu's "Cerrar sesión en todos los
    dispositivos" in another browser then sends both back to the login page."""
    expect, email = sync_api.expect, demo.DEMO_LOGINS[0]
    laptop = browser.new_page(viewport={"width": 1366, "height": 900})
    log_in(laptop, live_server, email, remember=True)
    before = {c["name"]: c["value"] for c in laptop.context.cookies()}
    laptop.context.clear_cookies(name="session")
    laptop.goto(f"{live_server}/admin/")
    expect(laptop).to_have_url(f"{live_server}/admin/")
    after = {c["name"]: c["value"] for c in laptop.context.cookies()}
    assert after["helpdesk_remember"] != before["helpdesk_remember"]

    phone = browser.new_page(viewport={"width": 1366, "height": 900})
    log_in(phone, live_server, email, remember=False)
    phone.get_by_test_id("user-menu").click()
    phone.get_by_test_id("logout-everywhere").click()
    expect(phone).to_have_url(f"{live_server}/login")
    expect(phone.get_by_role("alert")).to_contain_text(
        "Has cerrado la sesión en todos los dispositivos.")
    laptop.goto(f"{live_server}/admin/")
    expect(laptop).to_have_url(f"{live_server}/login?next=/admin/?")
    laptop.close()
    phone.close()
