"""Login throttling: failed logins per account and per client address, in the real Redis."""

import logging
import re

import pytest

from app import create_app
from helpdesk.config import Config, ConfigError
from helpdesk.throttle import storage_uri

from .client import BrowserClient
from .conftest import PASSWORD

WRONG = "wrong-password-9"


@pytest.fixture
def limited_app(app, app_config):
    """An app allowing 3 failures per account and 5 per address in 15 minutes."""
    limited = create_app({**app_config, "HELPDESK_LOGIN_LIMIT_ACCOUNT": "3 per 15 minutes",
                          "HELPDESK_LOGIN_LIMIT_ADDRESS": "5 per 15 minutes"})
    limited.test_client_class = BrowserClient
    return limited


def client_from(app, address="10.0.0.7"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def login(client, email, password):
    return client.post("/login", data={"email": email, "password": password}, page="/login")


def _page(response) -> str:
    return re.sub(r'nonce="[^"]*"', "", response.get_data(as_text=True))


def test_right_password_is_refused_after_too_many_wrong_ones(limited_app, make_user, caplog):
    make_user(email="ana@test.bayit")
    client = client_from(limited_app)
    for _ in range(3):
        assert login(client, "ana@test.bayit", WRONG).status_code == 401
    with caplog.at_level(logging.INFO, logger="helpdesk.security"):
        response = login(client, "ana@test.bayit", PASSWORD)
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert "Demasiados intentos" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert "event=login_throttled" in caplog.text and 'scope="account"' in caplog.text
    assert PASSWORD not in caplog.text and WRONG not in caplog.text
    assert "ana@test.bayit" not in caplog.text


def test_unknown_email_is_throttled_the_same_way(limited_app, make_user):
    make_user(email="ana@test.bayit")
    known, unknown = client_from(limited_app, "10.0.0.1"), client_from(limited_app, "10.0.0.2")
    for _ in range(3):
        login(known, "ana@test.bayit", WRONG)
        login(unknown, "nadie@test.bayit", WRONG)
    one, other = login(known, "ana@test.bayit", PASSWORD), login(unknown, "nadie@test.bayit",
                                                                  PASSWORD)
    assert one.status_code == other.status_code == 429
    # The same history gives the same wait; the two were a few milliseconds apart.
    assert abs(int(one.headers["Retry-After"]) - int(other.headers["Retry-After"])) <= 1
    assert _page(one) == _page(other)


def test_other_accounts_from_other_addresses_are_unaffected(limited_app, make_user):
    make_user(email="ana@test.bayit")
    make_user(email="beto@test.bayit")
    attacker = client_from(limited_app, "10.0.0.66")
    for _ in range(4):
        login(attacker, "ana@test.bayit", WRONG)
    response = login(client_from(limited_app, "10.0.0.8"), "beto@test.bayit", PASSWORD)
    assert response.status_code == 302


def test_address_budget_covers_every_account(limited_app, make_user):
    make_user(email="ana@test.bayit")
    attacker = client_from(limited_app, "10.0.0.66")
    for n in range(5):
        assert login(attacker, f"user{n}@test.bayit", WRONG).status_code == 401
    assert login(attacker, "ana@test.bayit", PASSWORD).status_code == 429
    assert login(client_from(limited_app, "10.0.0.9"), "ana@test.bayit",
                 PASSWORD).status_code == 302


def test_successful_logins_do_not_count(limited_app, make_user):
    make_user(email="ana@test.bayit")
    for _ in range(5):
        client = client_from(limited_app)
        assert login(client, "ana@test.bayit", PASSWORD).status_code == 302
    client = client_from(limited_app)
    for _ in range(2):
        login(client, "ana@test.bayit", WRONG)
    assert login(client, "ana@test.bayit", PASSWORD).status_code == 302


def test_english_page_is_translated(limited_app, make_user):
    client = client_from(limited_app)
    client.post("/locale/en", data={"next": "/login"}, page="/login")
    for _ in range(3):
        login(client, "nadie@test.bayit", WRONG)
    response = login(client, "nadie@test.bayit", PASSWORD)
    assert response.status_code == 429 and "Too many" in response.get_data(as_text=True)


def test_redis_down_fails_open(app_config, make_user, caplog):
    make_user(email="ana@test.bayit")
    down = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    down.test_client_class = BrowserClient
    client = client_from(down)
    with caplog.at_level(logging.WARNING, logger="helpdesk.throttle"):
        assert login(client, "ana@test.bayit", WRONG).status_code == 401
        assert login(client, "ana@test.bayit", PASSWORD).status_code == 302
    assert "login throttle unavailable" in caplog.text


@pytest.mark.parametrize(("url", "expected"), [
    ("redis://h:6379/0", "redis://h:6379/0"),
    ("rediss://:pw@h:6380/1", "rediss://:pw@h:6380/1"),
    ("unix:///run/redis.sock?db=2", "redis+unix:///run/redis.sock?db=2"),
    ("", "redis+unix:///srv/instance/redis.sock"),
])
def test_storage_uri_maps_the_app_redis(url, expected):
    assert storage_uri(url, "/srv/instance") == expected


def test_limits_are_settings_checked_at_start_up():
    env = {"DATABASE_URL": "sqlite:///x.sqlite", "SECRET_KEY": "k"}
    config = Config.from_env(env)
    assert config.HELPDESK_LOGIN_LIMIT_ACCOUNT == "10 per 15 minutes"
    assert config.HELPDESK_LOGIN_LIMIT_ADDRESS == "50 per 15 minutes"
    assert Config.from_env({**env, "HELPDESK_LOGIN_LIMIT_ACCOUNT": "5 per hour"}) \
        .HELPDESK_LOGIN_LIMIT_ACCOUNT == "5 per hour"
    with pytest.raises(ConfigError, match="HELPDESK_LOGIN_LIMIT_ADDRESS"):
        Config.from_env({**env, "HELPDESK_LOGIN_LIMIT_ADDRESS": "lots"})


@pytest.mark.parametrize("hops", [0, 1])
def test_the_address_behind_a_trusted_proxy_is_the_forwarded_one(app, app_config, make_user,
                                                                hops):
    """HELPDESK_PROXY_HOPS=1: each client behind the proxy has its own address budget (and log
    address); 0 (the default): X-Forwarded-For is not believed, so a forged header cannot buy
    a fresh budget — every request counts against the proxy's own address."""
    behind = create_app({**app_config, "HELPDESK_LOGIN_LIMIT_ADDRESS": "5 per 15 minutes",
                         "HELPDESK_PROXY_HOPS": hops})
    behind.test_client_class = BrowserClient
    make_user(email="ana@test.bayit")
    attacker = client_from(behind, "10.0.0.1")  # the proxy
    attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.66"
    for n in range(5):
        assert login(attacker, f"user{n}@test.bayit", WRONG).status_code == 401
    customer = client_from(behind, "10.0.0.1")
    customer.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.7"
    assert login(customer, "ana@test.bayit", PASSWORD).status_code == (302 if hops else 429)


def test_proxy_hops_is_a_checked_setting():
    assert Config.from_env({"SECRET_KEY": "x", "HELPDESK_PROXY_HOPS": "1"}) \
        .HELPDESK_PROXY_HOPS == 1
    with pytest.raises(ConfigError, match="HELPDESK_PROXY_HOPS"):
        Config.from_env({"SECRET_KEY": "x", "HELPDESK_PROXY_HOPS": "many"})
