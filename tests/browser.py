"""The headless-Chromium harness the e2e tests share: a demo database, the panel served by
`flask run` on it, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.request import urlopen

import flask_migrate
import pytest

from app import create_app
from helpdesk import demo

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-results"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def require_chromium():
    """Skip the calling module without Chromium (fail instead when CI requires a browser);
    return Playwright's sync API."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("HELPDESK_REQUIRE_BROWSER"):
            raise RuntimeError(f"HELPDESK_REQUIRE_BROWSER is set but {CHROMIUM} is missing")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)",
                    allow_module_level=True)
    return pytest.importorskip("playwright.sync_api")


def demo_app(folder: Path, redis_url: str, seed: int):
    """An app on its own migrated SQLite demo database (300 tickets)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'demo.sqlite'}",
                      "REDIS_URL": redis_url})
    with app.app_context():
        flask_migrate.upgrade()
        demo.seed(tickets=300, seed=seed)
    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(database_uri: str, redis_url: str):
    """`flask run` on that database until the block ends; yields the base URL."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_uri, "REDIS_URL": redis_url,
           "SECRET_KEY": "e2e"}
    # The log goes to a file: an unread pipe fills up (64 KiB, some 500 request lines) and
    # then blocks the server mid-request.
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # a minute: on a loaded machine the import alone took 20 s
            try:
                urlopen(f"{base}/login", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            log.seek(0)
            pytest.fail(f"the panel did not start: {log.read().decode()[-2000:]}")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


#: Reports every CSP violation to the console too (Chromium already logs most of them).
REPORT_CSP = """document.addEventListener("securitypolicyviolation", function (e) {
  console.error("Content Security Policy violation: " + e.violatedDirective + " blocked "
                + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});"""


class CspWatchingBrowser:
    """A Playwright browser whose every new page records Content-Security-Policy violations
    (console messages and `securitypolicyviolation` events) in `csp_violations`."""

    def __init__(self, browser):
        self._browser, self.csp_violations = browser, []

    def __getattr__(self, name):
        return getattr(self._browser, name)

    def new_page(self, **kwargs):
        page = self._browser.new_page(**kwargs)
        page.add_init_script(REPORT_CSP)
        page.on("console", self._console)
        return page

    def _console(self, message):
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def take_violations(self) -> list[str]:
        """The violations seen since the last call."""
        seen, self.csp_violations[:] = list(self.csp_violations), []
        return seen


def sign_in(page, base: str, email: str, password: str = "demo"):
    """Log in through the login form, as a person does (the demo's password by default), and
    wait for the page it lands on to have loaded: its menus open by script, and a click that
    comes first (a loaded machine) opens nothing, as it would for a person."""
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation(wait_until="load"):
        page.click("[data-testid=login-submit]")


def watched_page(browser):
    """A new 1366x900 page that records every error answer (a missing favicon aside) and every
    script error in `page.problems`, for the test to assert empty at its end."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.problems = []
    page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
            and page.problems.append(f"{r.status} {r.request.method} {r.url}"))
    page.on("pageerror", lambda exc: page.problems.append(f"script error: {exc}"))
    return page


def select2_pick(page, name: str, typed: str, choice: str, scope: str = "form"):
    """Open the select2 picker of field `name` within `scope`, type, click the result, as a
    person does."""
    field = page.locator(f"{scope} [name='{name}']")
    container = field.locator(
        "xpath=preceding-sibling::div[contains(@class, 'select2-container')][1]")
    container.locator("a.select2-choice").click()
    page.locator(".select2-drop-active:visible input.select2-input").press_sequentially(typed)
    page.locator(".select2-drop-active:visible .select2-result-selectable",
                 has_text=re.compile(rf"^\s*{re.escape(choice)}\s*$")).click()


@contextmanager
def chromium(sync_api):
    """Debian's Chromium, launched by Playwright (its own browser download fails here)."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield CspWatchingBrowser(browser)
        finally:
            browser.close()
