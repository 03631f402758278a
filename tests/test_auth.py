"""Login, logout, language: Spanish first, English one click away and remembered."""

import logging

import pytest
from werkzeug.security import check_password_hash

from helpdesk.config import Config
from helpdesk.extensions import db
from helpdesk.models import Role, User

from .conftest import PASSWORD


@pytest.fixture
def agent(make_user):
    return make_user(Role.AGENT, email="ana@test.bayit", name="Ana Agente")


def login(client, email="ana@test.bayit", password=PASSWORD, **extra):
    return client.post("/login", data={"email": email, "password": password, **extra})


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/tickets/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_login_page_speaks_spanish(client):
    page = client.get("/login").get_data(as_text=True)
    assert "Correo electrónico" in page and "Contraseña" in page and "Entrar" in page


@pytest.mark.parametrize(("email", "password"), [
    ("ana@test.bayit", "wrong-password"),
    ("nobody@test.bayit", PASSWORD),
])
def test_wrong_credentials_are_refused_the_same_way(client, agent, email, password, caplog):
    with caplog.at_level(logging.INFO):
        response = login(client, email, password)
    assert response.status_code == 401
    assert "Correo o contraseña incorrectos." in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    assert password not in caplog.text and email not in caplog.text


def test_missing_and_oversized_fields_are_refused(client, agent):
    assert login(client, "", "").status_code == 400
    assert login(client, "a" * 300 + "@x.es", PASSWORD).status_code == 400
    assert client.get("/admin/").status_code == 302


def test_login_lands_on_the_panel_with_the_spanish_menu(client, agent):
    response = login(client)
    assert response.headers["Location"] == "/admin/"
    page = client.get("/admin/").get_data(as_text=True)
    for label in ("Soporte", "Tickets", "Configuración", "Plantillas", "Clientes"):
        assert label in page


def test_login_never_redirects_off_site(client, agent):
    response = login(client, next="//evil.example/steal")
    assert response.headers["Location"] == "/admin/"
    client.post("/logout", page="/admin/")
    response = login(client, next="/admin/customers/")
    assert response.headers["Location"] == "/admin/customers/"


def test_inactive_user_cannot_log_in(app, client, agent):
    with app.app_context():
        db.session.get(User, agent).active = False
        db.session.commit()
    assert login(client).status_code == 401


def test_logout_needs_post(client, agent):
    login(client)
    assert client.get("/logout").status_code == 405
    client.post("/logout", page="/admin/")
    assert client.get("/admin/").status_code == 302


def test_passwords_are_hashed_with_scrypt_by_default(app, make_user, client, monkeypatch):
    """The suite hashes cheaply (app_config); the production default is scrypt."""
    default = Config.from_env({"SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    monkeypatch.setitem(app.config, "HELPDESK_PASSWORD_HASH", default.HELPDESK_PASSWORD_HASH)
    agent = make_user(Role.AGENT, email="ana@test.bayit")
    with app.app_context():
        stored = db.session.get(User, agent).password_hash
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    assert check_password_hash(stored, PASSWORD)
    assert login(client).status_code == 302


def test_english_is_one_click_away_and_remembered_per_user(app, client, agent):
    login(client)
    response = client.post("/locale/en", data={"next": "/admin/tickets/"})
    assert response.headers["Location"] == "/admin/tickets/"
    page = client.get("/admin/").get_data(as_text=True)
    assert "Support" in page and "Settings" in page and "Templates" in page
    with app.app_context():
        assert db.session.get(User, agent).locale == "en"
    client.post("/logout", page="/admin/")
    other = app.test_client()
    login(other)
    assert "Settings" in other.get("/admin/").get_data(as_text=True)


def test_flask_admin_speaks_spanish_too(login_as, make_user):
    client = login_as(make_user(Role.ADMIN))
    page = client.get("/admin/customers/").get_data(as_text=True)
    assert "Listado" in page and "Crear" in page


def test_unknown_locale_changes_nothing(app, client, agent):
    login(client)
    # no page offers French: a hand-made post, with the session's token from the panel
    response = client.post("/locale/fr", data={"next": "/admin/"}, token_from="/admin/")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(User, agent).locale == "es"
