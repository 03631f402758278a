"""Issue 11: security headers on every page, cookie flags, security events in the log, and demo
accounts only where `make run` owns the database."""

from __future__ import annotations

import logging
import re

import pytest

from app import create_app
from helpdesk import workflows
from helpdesk.config import EMBEDDED_DATABASE_URI, Config
from helpdesk.extensions import db
from helpdesk.launcher import _prepare, wants_demo
from helpdesk.models import ResponseTemplate, Role, User
from helpdesk.securitylog import security_event

from .conftest import PASSWORD
from .pages import parse

ADMIN_PAGES = ["/admin/", "/admin/tickets/", "/admin/categories/", "/admin/calendars/new/",
               "/admin/routing/", "/admin/templates/"]


def directives(response) -> dict[str, str]:
    """The Content-Security-Policy as {directive: sources}."""
    policy = response.headers["Content-Security-Policy"]
    return dict((part.strip() + " ").split(" ", 1) for part in policy.split(";"))


@pytest.fixture
def admin_client(app, login_as, make_user):
    with app.app_context(), workflows.atomic():  # a row, so the list shows its delete button
        db.session.add(ResponseTemplate(name="Saludo", body="Hola"))
    return login_as(make_user(Role.ADMIN))


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_staff_pages_forbid_inline_scripts_framing_sniffing_and_caching(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 200
    csp = directives(response)
    nonce = re.fullmatch(r"'self' 'nonce-([\w-]+)' ", csp["script-src"]).group(1)
    assert "unsafe" not in csp["script-src"] and "unsafe" not in csp["default-src"]
    assert csp["frame-ancestors"].strip() == "'none'"
    assert "http" not in response.headers["Content-Security-Policy"]  # nothing external
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    page = parse(response.get_data(as_text=True))
    for script in page.select("script"):
        if script.attrs.get("type") != "application/json":  # data, never run
            assert script.attrs.get("nonce") == nonce, script.attrs
    handlers = [(e.tag, name) for e in page.iter() for name in e.attrs if name.startswith("on")]
    assert not handlers  # the CSP refuses inline handlers: static/csp.js does their work


def test_the_controls_that_had_inline_handlers_carry_data_attributes(admin_client):
    """What static/csp.js acts on: the action menu, the filter menu, delete, an inline Add."""
    pages = {path: admin_client.get(path).get_data(as_text=True) for path in ADMIN_PAGES}
    assert 'data-model-action="reassign"' in pages["/admin/tickets/"]
    assert 'class="dropdown-item filter"' in pages["/admin/tickets/"]
    assert "<button data-confirm=" in pages["/admin/templates/"]
    assert 'data-add-inline="holidays"' in pages["/admin/calendars/new/"]
    assert "/static/csp.js" in pages["/admin/"]


def test_each_response_has_its_own_nonce(admin_client):
    first, second = (directives(admin_client.get("/admin/"))["script-src"] for _ in range(2))
    assert first != second


def test_login_and_error_pages_get_the_headers_too(client):
    for response in (client.get("/login"), client.get("/no-such-page")):
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"


def test_the_swatch_is_served_without_its_google_fonts_import(client):
    page = client.get("/login").get_data(as_text=True)
    assert "/swatch/cosmo.css" in page and "swatch/cosmo/bootstrap.min.css" not in page
    css = client.get("/swatch/cosmo.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert "@import" not in css.get_data(as_text=True) and "googleapis" not in css.get_data(
        as_text=True)
    assert client.get("/swatch/other.css").status_code == 404


# Cookies


@pytest.mark.parametrize(("value", "secure"), [("1", True), ("", False), ("0", False)])
def test_secure_cookies_follow_the_setting(value, secure):
    config = Config.from_env({"SECRET_KEY": "x", "HELPDESK_SECURE_COOKIES": value}).as_dict()
    assert config["SESSION_COOKIE_SECURE"] is secure
    assert config["REMEMBER_COOKIE_SECURE"] is secure


def test_session_and_remember_cookies_are_httponly_samesite_lax_and_secure(app_config, agent):
    app = create_app({**app_config, "SESSION_COOKIE_SECURE": True,
                      "REMEMBER_COOKIE_SECURE": True})
    client = app.test_client()
    client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"email": "ana@test.bayit", "password": PASSWORD,
                                           "remember": "y", "csrf_token": token})
    assert response.status_code == 302
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert set(cookies) >= {"session", "helpdesk_remember"}
    assert "remember_token" not in cookies  # Flask-Login's own id|HMAC cookie: never set
    for cookie in cookies.values():
        assert "; Secure" in cookie and "; HttpOnly" in cookie and "; SameSite=Lax" in cookie


def test_a_malformed_secure_cookies_setting_stops_start_up():
    with pytest.raises(Exception, match="HELPDESK_SECURE_COOKIES"):
        Config.from_env({"SECRET_KEY": "x", "HELPDESK_SECURE_COOKIES": "maybe"})


# Security events


@pytest.fixture
def agent(make_user):
    return make_user(Role.AGENT, email="ana@test.bayit", name="Ana Agente")


def events(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "helpdesk.security"]


def test_info_lines_are_emitted(app):
    assert logging.getLogger("helpdesk.security").isEnabledFor(logging.INFO)


def test_logins_logouts_and_refusals_are_logged_without_secrets(client, agent, login_as,
                                                                 caplog):
    caplog.set_level(logging.INFO, logger="helpdesk")
    client.post("/login", data={"email": "ana@test.bayit", "password": "wrong-password"})
    client.post("/login", data={"email": "nobody@test.bayit", "password": PASSWORD})
    client.post("/login", data={"email": "ana@test.bayit", "password": PASSWORD})
    client.get("/admin/agents/")  # an agent may not manage people
    client.post("/logout", page="/admin/")
    lines = events(caplog)
    assert lines[0] == f'security event=login_failed user_id={agent} ip="127.0.0.1"'
    assert lines[1] == 'security event=login_failed user_id=none ip="127.0.0.1"'
    assert lines[2] == f'security event=login user_id={agent} ip="127.0.0.1"'
    assert lines[3] == (f'security event=forbidden method="GET" path="/admin/agents/" '
                        f'user_id={agent} ip="127.0.0.1"')
    assert lines[4] == f'security event=logout user_id={agent} ip="127.0.0.1"'
    text = caplog.text
    for secret in (PASSWORD, "wrong-password", "nobody@test.bayit", "session=", "csrf"):
        assert secret not in text


def test_role_and_password_changes_are_logged_and_cannot_forge_a_line(app, agent, make_user,
                                                                        caplog):
    caplog.set_level(logging.INFO, logger="helpdesk")
    admin = make_user(Role.ADMIN)
    with app.app_context(), workflows.atomic():
        user, actor = db.session.get(User, agent), db.session.get(User, admin)
        workflows.update_user(user, actor=actor, name=user.name,
                              email="ana@x\nsecurity event=login user_id=1@test.bayit",
                              role=Role.SUPERVISOR, active=True, locale="es",
                              timezone="Europe/Madrid")
        workflows.set_password(user, "a-new-long-password", actor=actor)
    role, revoked, password, revoked_again = events(caplog)
    assert revoked == (f'security event=sessions_revoked actor_id={admin} target_id={agent} '
                       'reason="role" sessions=0')
    assert revoked_again.startswith("security event=sessions_revoked ")
    assert 'reason="password"' in revoked_again
    assert role == (f'security event=role_changed actor_id={admin} target_id={agent} '
                    'target_email="ana@x\\nsecurity event=login user_id=1@test.bayit" '
                    'old="AGENT" new="SUPERVISOR"')
    assert password.startswith(f"security event=password_changed actor_id={admin} ")
    assert "a-new-long-password" not in caplog.text
    assert all("\n" not in r.getMessage() for r in caplog.records)


def test_values_are_escaped_into_one_line(caplog):
    caplog.set_level(logging.INFO, logger="helpdesk")
    security_event("test", name='Ana "x"\r\nsecurity event=login', n=3, ok=True)
    assert events(caplog) == [
        'security event=test name="Ana \\"x\\"\\r\\nsecurity event=login" n=3 ok=true']


# Demo accounts


def test_make_run_seeds_demo_accounts_only_into_the_embedded_database(app):
    assert wants_demo(app, None) is False  # the suite's database stands for a DATABASE_URL
    assert wants_demo(app, True) is True
    with app.app_context():
        app.config["SQLALCHEMY_DATABASE_URI"], saved = EMBEDDED_DATABASE_URI, \
            app.config["SQLALCHEMY_DATABASE_URI"]
        try:
            assert wants_demo(app, None) is True
            assert wants_demo(app, False) is False
        finally:
            app.config["SQLALCHEMY_DATABASE_URI"] = saved


def test_an_empty_database_named_by_url_gets_no_demo_accounts(app):
    _prepare(app, wants_demo(app, None))
    with app.app_context():
        assert db.session.query(User).count() == 0
