"""Sessions end for real: logout, logout everywhere, password, role and deactivation revoke
them on the server; the remember-me cookie is random, hashed, expiring and rotating."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from app import create_app
from helpdesk import rules, workflows
from helpdesk.config import Config, ConfigError
from helpdesk.extensions import db
from helpdesk.models import Role, User, UserSession
from helpdesk.queries import digest
from helpdesk.sessions import COOKIE

from .client import BrowserClient
from .conftest import PASSWORD
from .pages import form_fields, forms_posting_to, parse

PANEL = "/admin/"


@pytest.fixture
def agent(make_user):
    return make_user(Role.AGENT, email="ana@test.bayit", name="Ana Agente")


def log_in(app, email="ana@test.bayit", *, remember=True, client=None):
    """A browser that signed in through the real form (CSRF on), with "Recordarme" ticked."""
    client = client or app.test_client()
    data = {"email": email, "password": PASSWORD, **({"remember": "y"} if remember else {})}
    assert client.post("/login", data=data).status_code == 302
    return client


def cookie(client, name: str) -> str | None:
    found = client.get_cookie(name)
    return found.value if found else None


def browser_with(app, **cookies):
    """A new browser holding only these cookies (a copy someone kept, or a restarted one)."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def signed_in(client) -> bool:
    response = client.get(PANEL)
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
    return response.status_code == 200


def rows(app, user_id: int) -> list[UserSession]:
    with app.app_context():
        return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user_id)))


def test_the_old_session_cookie_is_refused_after_logout(app, agent):
    client = log_in(app, remember=False)
    kept = cookie(client, "session")
    client.post("/logout", page=PANEL)
    assert not signed_in(browser_with(app, session=kept))
    assert rows(app, agent) == []


def test_the_remember_cookie_is_refused_after_logout_and_deleted_by_it(app, agent):
    client = log_in(app)
    kept = cookie(client, COOKIE)
    response = client.post("/logout", page=PANEL)
    assert any(c.startswith(f"{COOKIE}=;") for c in response.headers.getlist("Set-Cookie"))
    assert cookie(client, COOKIE) is None
    assert not signed_in(browser_with(app, **{COOKIE: kept}))


def change_password(app, user_id):
    with app.app_context(), workflows.atomic():
        workflows.set_password(db.session.get(User, user_id), "another-password",
                               actor=None)


def change_role(app, user_id):
    with app.app_context(), workflows.atomic():
        user = db.session.get(User, user_id)
        workflows.update_user(user, actor=None, name=user.name, email=user.email,
                              role=Role.SUPERVISOR, active=True, locale="es",
                              timezone=user.timezone)


def deactivate_and_reactivate(app, user_id):
    for active in (False, True):
        with app.app_context(), workflows.atomic():
            user = db.session.get(User, user_id)
            workflows.update_user(user, actor=None, name=user.name, email=user.email,
                                  role=user.role, active=active, locale="es",
                                  timezone=user.timezone)


@pytest.mark.parametrize(("change", "reason"), [
    (change_password, "password"), (change_role, "role"),
    (deactivate_and_reactivate, "deactivated")])
def test_password_role_and_deactivation_end_every_session(app, agent, caplog, change, reason):
    first, second = log_in(app), log_in(app, remember=False)
    kept = {"session": cookie(first, "session"), COOKIE: cookie(first, COOKIE)}
    caplog.set_level(logging.INFO, logger="helpdesk")
    change(app, agent)
    assert not signed_in(second)
    assert not signed_in(browser_with(app, session=kept["session"]))
    assert not signed_in(browser_with(app, **{COOKIE: kept[COOKIE]}))
    assert rows(app, agent) == []
    assert f'event=sessions_revoked actor_id=none target_id={agent} reason="{reason}"' \
        in caplog.text


def test_the_remember_cookie_rotates_and_a_reused_old_value_ends_the_family(app, agent,
                                                                           caplog):
    other_device = log_in(app, remember=False)
    old = cookie(log_in(app), COOKIE)
    restarted = browser_with(app, **{COOKIE: old})
    assert signed_in(restarted)
    new = cookie(restarted, COOKIE)
    assert new and new != old and new.split(".")[0] == old.split(".")[0]
    assert signed_in(restarted)  # the new session token now; the cookie is not used again
    assert cookie(restarted, COOKIE) == new
    # Seconds later the old value is only refused (a second tab of the same browser)…
    assert not signed_in(browser_with(app, **{COOKIE: old}))
    assert signed_in(restarted)
    # …later it is a copy in someone else's hands: every session of Ana ends.
    with app.app_context(), workflows.atomic():
        db.session.execute(update(UserSession).values(
            rotated_at=rules.utcnow() - timedelta(minutes=5)))
    caplog.set_level(logging.INFO, logger="helpdesk")
    thief = browser_with(app, **{COOKIE: old})
    assert not signed_in(thief)
    assert f"event=remember_token_reuse user_id={agent} sessions=2" in caplog.text
    assert old not in caplog.text and new not in caplog.text
    assert not signed_in(restarted) and not signed_in(other_device)
    assert not signed_in(browser_with(app, **{COOKIE: new}))
    assert rows(app, agent) == []


def test_an_expired_remember_cookie_is_refused(app, agent):
    kept = cookie(log_in(app), COOKIE)
    with app.app_context(), workflows.atomic():
        db.session.execute(update(UserSession).values(
            expires_at=rules.utcnow() - timedelta(seconds=1)))
    client = browser_with(app, **{COOKIE: kept})
    assert not signed_in(client)
    assert cookie(client, COOKIE) is None  # the refused cookie is deleted
    assert rows(app, agent) == []


def test_malformed_and_unknown_remember_cookies_are_refused(app, agent):
    log_in(app)
    for value in ("", "x", ".", "abc.def", f"{agent}|deadbeef", "a" * 500 + ".b"):
        assert not signed_in(browser_with(app, **{COOKIE: value}))
    assert len(rows(app, agent)) == 1


def test_logout_everywhere_ends_the_other_browsers_sessions(app, agent, caplog):
    laptop, phone = log_in(app), log_in(app, remember=False)
    kept = cookie(laptop, COOKIE)
    caplog.set_level(logging.INFO, logger="helpdesk")
    response = phone.post("/logout/everywhere", page=PANEL)
    assert response.headers["Location"] == "/login"
    page = phone.get("/login").get_data(as_text=True)
    assert "Has cerrado la sesión en todos los dispositivos." in page
    assert not signed_in(laptop) and not signed_in(phone)
    assert not signed_in(browser_with(app, **{COOKIE: kept}))
    assert f"event=logout_everywhere user_id={agent} sessions=2" in caplog.text


def test_logout_everywhere_is_a_csrf_checked_post_on_every_page(app, agent):
    client = log_in(app, remember=False)
    forms = forms_posting_to(parse(client.get(PANEL)), PANEL, "/logout/everywhere")
    assert forms and "Cerrar sesión en todos los dispositivos" in forms[0].text
    assert client.get("/logout/everywhere").status_code == 405
    assert client.post("/logout/everywhere", csrf=False).status_code == 400
    assert signed_in(client)


def test_the_database_keeps_only_digests_and_cookies_are_random(app, agent):
    client = log_in(app)
    remember, session_cookie = cookie(client, COOKIE), cookie(client, "session")
    selector, validator = remember.split(".")
    assert "|" not in remember and str(agent) not in (selector, validator)
    assert len(validator) >= 43  # 256 random bits
    with client.session_transaction() as sess:
        token = sess["_user_id"]
    assert token != str(agent) and len(token) >= 43
    (row,) = rows(app, agent)
    assert (row.token_hash, row.remember_hash) == (digest(token), digest(validator))
    stored = " ".join(str(v) for v in vars(row).values())
    assert token not in stored and validator not in stored and session_cookie not in stored
    assert cookie(log_in(app), COOKIE) != remember


def test_a_session_from_before_the_upgrade_is_refused(app, agent):
    """Flask-Login stored the user's id; such a cookie (or one forged with an id) opens
    nothing now."""
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"], sess["_fresh"] = str(agent), True
    assert not signed_in(client)


def test_the_remember_cookie_flags_and_lifetime(app_config, agent):
    secure = create_app({**app_config, "REMEMBER_COOKIE_SECURE": True,
                         "HELPDESK_REMEMBER_DAYS": 7})
    secure.test_client_class = BrowserClient
    client = secure.test_client()
    client.get("/login")
    response = client.post("/login", data={"email": "ana@test.bayit", "password": PASSWORD,
                                           "remember": "y"})
    (set_cookie,) = [c for c in response.headers.getlist("Set-Cookie")
                     if c.startswith(f"{COOKIE}=")]
    for flag in ("; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/", "; Max-Age=604"):
        assert flag in set_cookie
    assert not any(c.startswith("remember_token=")
                   for c in response.headers.getlist("Set-Cookie"))
    with secure.app_context():
        row = db.session.scalar(select(UserSession))
        assert row.expires_at - row.created_at == timedelta(days=7)
        db.engine.dispose()


def test_last_seen_is_written_only_every_few_minutes(app, agent):
    client = log_in(app, remember=False)
    (before,) = rows(app, agent)
    assert signed_in(client) and signed_in(client)
    assert rows(app, agent)[0].last_seen_at == before.last_seen_at
    earlier = rules.utcnow() - timedelta(minutes=10)
    with app.app_context(), workflows.atomic():
        db.session.execute(update(UserSession).values(last_seen_at=earlier))
    assert signed_in(client)
    assert rows(app, agent)[0].last_seen_at > earlier + timedelta(minutes=9)


def test_an_admin_changing_their_own_password_stays_signed_in(app, make_user, agent):
    admin = make_user(Role.ADMIN, email="root@test.bayit")
    elsewhere = log_in(app, "root@test.bayit")
    client = log_in(app, "root@test.bayit")
    url = f"/admin/agents/edit/?id={admin}"
    page = client.get(url)
    (form,) = [f for f in parse(page).select("form") if "password" in form_fields(f)]
    data = {**form_fields(form), "password": "a-brand-new-password"}
    data = {key: value for key, value in data.items() if value != "" or key == "password"}
    response = client.post(url, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert signed_in(client)
    assert re.match(r"[\w-]+\.[\w-]+$", cookie(client, COOKIE))
    assert not signed_in(elsewhere)
    assert len(rows(app, admin)) == 1


def test_users_compare_as_accounts_not_as_sessions(app, agent, make_user):
    """Flask-Login's UserMixin compared get_id(); now a token, so select fields (`user in
    choices`) broke with a 500 on forms listing people until User compared ids again."""
    other = make_user(Role.AGENT)
    with app.app_context():
        user = db.session.get(User, agent)
        copy = User(id=agent, email="x", name="x")
        assert user == copy and user in [copy] and user != db.session.get(User, other)
        user.session_token = "abc"
        assert user == copy


def test_two_tabs_racing_with_one_remember_cookie_rotate_it_once(app, agent, race):
    """A restarted browser reopening two tabs sends the same cookie twice at once: one
    request rotates it, the other is refused quietly — no theft alarm, no revocation."""
    old = cookie(log_in(app), COOKIE)
    results = []
    race(2, lambda: results.append(workflows.use_remember_token(old, user_agent="tab")))
    assert sorted(result is None for result in results) == [False, True]
    assert len(rows(app, agent)) == 1


def test_a_page_view_makes_one_session_lookup_and_writes_nothing(app, agent):
    client = log_in(app, remember=False)
    statements = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()).upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert signed_in(client)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert sum("FROM USER_SESSIONS" in s for s in statements) == 1
    assert not [s for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE"))]


@pytest.mark.parametrize(("raw", "days"), [("", 30), ("7", 7), ("365", 365)])
def test_the_remember_lifetime_setting(raw, days):
    assert Config.from_env({"SECRET_KEY": "x", "HELPDESK_REMEMBER_DAYS": raw}) \
        .HELPDESK_REMEMBER_DAYS == days


@pytest.mark.parametrize("raw", ["0", "-1", "366", "30d", "١٢"])
def test_a_malformed_remember_lifetime_stops_start_up(raw):
    with pytest.raises(ConfigError, match="HELPDESK_REMEMBER_DAYS must be days"):
        Config.from_env({"SECRET_KEY": "x", "HELPDESK_REMEMBER_DAYS": raw})
