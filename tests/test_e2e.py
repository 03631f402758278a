"""The real panel in headless Chromium: each demo role logs in, reads the Spanish menu,
switches to English and opens the ticket list."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import flask_migrate
import pytest

from app import create_app
from helpdesk import demo

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-results"

if not Path(CHROMIUM).exists():
    if os.environ.get("HELPDESK_REQUIRE_BROWSER"):
        raise RuntimeError(f"HELPDESK_REQUIRE_BROWSER is set but {CHROMIUM} is missing")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.e2e

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, redis_url):
    """The panel served by `flask run` on its own demo database, as a user would see it."""
    folder = tmp_path_factory.mktemp("e2e")
    uri = f"sqlite:///{folder / 'e2e.sqlite'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "REDIS_URL": redis_url})
    with app.app_context():
        flask_migrate.upgrade()
        demo.seed(tickets=300, seed=7)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": uri, "REDIS_URL": redis_url, "SECRET_KEY": "e2e"}
    server = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urlopen(f"{base}/login", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail(f"the panel did not start: {server.stderr.read().decode()[-2000:]}")
    yield base
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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
