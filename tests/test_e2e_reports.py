"""In headless Chromium: a supervisor opens Informes, changes the period and the team, sees the
charts drawn again for the new figures, and downloads a table as CSV."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from babel.dates import format_date

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


def _login(page, live_server):
    page.goto(f"{live_server}/login")
    page.fill("#email", SUPERVISOR)
    page.fill("#password", "demo")
    page.click("[data-testid=login-submit]")
    sync_api.expect(page).to_have_url(f"{live_server}/admin/")


def _set_locale(app, locale: str) -> None:
    from sqlalchemy import update

    from helpdesk.extensions import db
    from helpdesk.models import User

    with app.app_context():
        db.session.execute(update(User).where(User.email == SUPERVISOR).values(locale=locale))
        db.session.commit()
        db.session.remove()


def _today(app):
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from helpdesk.extensions import db
    from helpdesk.models import User

    with app.app_context():
        zone = db.session.scalar(select(User.timezone).where(User.email == SUPERVISOR))
        db.session.remove()
    return rules.utcnow().astimezone(ZoneInfo(zone or "UTC")).date()


def test_date_fields_follow_the_panel_language_not_the_browsers(demo_app, live_server,
                                                                 browser):
    """An English Chromium (whose date inputs say mm/dd/yyyy) on a Spanish panel: the fields
    show and take dd/mm/aaaa; on an English panel, ISO; a US-style day is refused, named."""
    expect = sync_api.expect
    today = _today(demo_app)
    first, last = today - timedelta(days=13), today - timedelta(days=2)
    page = browser.new_page(locale="en-US", viewport={"width": 1366, "height": 900})
    try:
        _set_locale(demo_app, "es")
        _login(page, live_server)
        page.goto(f"{live_server}/admin/reports/")
        start = page.get_by_test_id("report-from")
        assert start.get_attribute("type") == "text"
        assert start.get_attribute("placeholder") == "dd/mm/aaaa"
        expect(start).to_have_value((today - timedelta(days=29)).strftime("%d/%m/%Y"))
        start.fill(first.strftime("%d/%m/%Y"))
        expect(page.locator("#f-period")).to_have_value("custom")  # typing a day picks it
        page.get_by_test_id("report-to").fill(last.strftime("%d/%m/%Y"))
        page.get_by_test_id("report-apply").click()
        expect(page).to_have_url(re.compile(r"period=custom"))
        expect(page.get_by_test_id("report-from")).to_have_value(first.strftime("%d/%m/%Y"))
        expect(page.get_by_test_id("report-to")).to_have_value(last.strftime("%d/%m/%Y"))
        expect(page.get_by_test_id("report-refreshed")).to_contain_text(  # the period typed
            f"Del {format_date(first, locale='es')} al {format_date(last, locale='es')}")
        expect(page.locator(".alert-danger")).to_have_count(0)

        _set_locale(demo_app, "en")
        page.goto(f"{live_server}/admin/reports/")
        start = page.get_by_test_id("report-from")
        assert start.get_attribute("placeholder") == "yyyy-mm-dd"
        expect(start).to_have_value((today - timedelta(days=29)).isoformat())
        start.fill(first.isoformat())
        page.get_by_test_id("report-to").fill(last.isoformat())
        page.get_by_test_id("report-apply").click()
        expect(page.get_by_test_id("report-from")).to_have_value(first.isoformat())
        expect(page.get_by_test_id("report-refreshed")).to_contain_text(
            f"{format_date(first, locale='en')} to {format_date(last, locale='en')}")

        us = f"{first.month:02d}/{first.day:02d}/{first.year}"  # what the browser would send
        page.get_by_test_id("report-from").fill(us)
        page.get_by_test_id("report-apply").click()
        expect(page.get_by_text("Invalid dates")).to_be_visible()
        expect(page.get_by_test_id("report-from")).to_have_value(
            (today - timedelta(days=29)).isoformat())  # the default period, unchanged
    finally:
        _set_locale(demo_app, "es")
        page.close()
