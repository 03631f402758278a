"""The panel needs nothing from the internet: every request a browser makes while an agent
signs in from `/` and works the queue goes to the app's own host, and none fails."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser import demo_app as build_demo_app
from tests.browser import require_chromium

sync_api = require_chromium()
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    return build_demo_app(tmp_path_factory.mktemp("e2e-offline"), redis_url, seed=11)


def test_the_panel_loads_with_no_request_to_another_host(live_server, browser):
    expect = sync_api.expect
    requests, failures = [], []
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.on("request", lambda request: requests.append(request.url))
    # A load cut short by the next navigation (net::ERR_ABORTED, seen under load) is the
    # browser's doing, not a failure of the server or a blocked outside request.
    page.on("requestfailed", lambda request: "ERR_ABORTED" not in (request.failure or "")
            and failures.append(f"{request.failure} {request.url}"))
    page.on("response", lambda response: response.status >= 400 and failures.append(
        f"{response.status} {response.url}"))
    page.goto(f"{live_server}/")
    expect(page.locator("#email")).to_be_visible()
    page.fill("#email", "agente1@demo.bayit")
    page.fill("#password", "demo")
    page.click("[data-testid=login-submit]")
    expect(page).to_have_url(f"{live_server}/admin/")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server}/")
    expect(page).to_have_url(f"{live_server}/admin/")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server}/admin/tickets/?search=pantalla")
    page.goto(f"{live_server}/admin/tickets/")
    page.locator("table.model-list tbody tr td.col-id a").first.click()
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server}/favicon.ico")

    own = urlsplit(live_server).netloc
    others = sorted({url for url in requests if urlsplit(url).netloc != own
                     and not url.startswith(("data:", "blob:"))})
    assert others == []
    assert any(urlsplit(url).path.endswith(("favicon.svg", "favicon.ico")) for url in requests)
    assert failures == []
