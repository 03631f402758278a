"""In headless Chromium: a supervisor opens Informes, changes the period and the team, sees the
charts drawn again for the new figures, and downloads a table as CSV."""

from __future__ import annotations

import re

import pytest

from helpdesk import rules
from helpdesk.reporting import refresh
from tests.browser import demo_app as build_demo_app
from tests.browser import require_chromium

SUPERVISOR = "supervisor@demo.bayit"

sync_api = require_chromium()
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, redis_url):
    """A demo database (300 tickets) whose report tables are built."""
    app = build_demo_app(tmp_path_factory.mktemp("e2e-reports"), redis_url, seed=14)
    with app.app_context():
        assert refresh.rebuild(None, rules.utcnow()) > 0
    return app


def test_supervisor_filters_informes_and_downloads_a_csv(demo_app, live_server, browser):
    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server}/login")
    page.fill("#email", SUPERVISOR)
    page.fill("#password", "demo")
    page.click("[data-testid=login-submit]")
    expect(page).to_have_url(f"{live_server}/admin/")

    page.goto(f"{live_server}/admin/reports/")
    chart = page.get_by_test_id("chart-response").locator("svg")
    expect(chart).to_be_visible()
    before = chart.inner_html()
    ratings_before = page.get_by_test_id("chart-ratings").inner_html()
    assert page.get_by_test_id("report-agents").locator("tbody tr").count() > 1

    page.select_option("#f-period", "7d")
    teams = page.locator("#f-team option")
    page.select_option("#f-team", teams.nth(1).get_attribute("value"))
    page.get_by_test_id("report-apply").click()
    expect(page).to_have_url(re.compile(r"period=7d.*team=\d+"))
    after = page.get_by_test_id("chart-response").locator("svg")
    expect(after).to_be_visible()
    assert after.inner_html() != before  # 7 days instead of 30: drawn again
    assert page.get_by_test_id("chart-ratings").inner_html() != ratings_before

    with page.expect_download() as info:
        page.get_by_test_id("export-agents").click()
    download = info.value
    assert download.suggested_filename.startswith("informe-agents-")
    data = open(download.path(), "rb").read()
    assert data.startswith(b"\xef\xbb\xbf") and b"Agente" in data
