"""CSRF stays on here: every form posted without its token is refused and changes nothing."""

import re

import pytest
from flask_login import FlaskLoginClient
from sqlalchemy import func, select

from app import create_app
from helpdesk.extensions import db
from helpdesk.models import Customer, Role, User

from .conftest import PASSWORD


@pytest.fixture(scope="module")
def csrf_app(app_config):
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    app.test_client_class = FlaskLoginClient
    return app


def token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', page).group(1)


def customers(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Customer))


def test_login_without_token_is_refused(csrf_app, make_user):
    make_user(Role.AGENT, email="ana@test.bayit")
    client = csrf_app.test_client()
    response = client.post("/login", data={"email": "ana@test.bayit", "password": PASSWORD})
    assert response.status_code == 400
    assert "token de seguridad" in response.get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": "ana@test.bayit", "password": PASSWORD,
                                           "csrf_token": token(page)})
    assert response.status_code == 302


@pytest.mark.parametrize(("path", "data"), [
    ("/admin/customers/new/", {"name": "Eva", "email": "eva@example.com", "locale": "es"}),
    ("/locale/en", {"next": "/admin/"}),
    ("/logout", {}),
])
def test_every_form_needs_its_token(csrf_app, make_user, path, data):
    with csrf_app.app_context():
        user = db.session.get(User, make_user(Role.ADMIN))
    client = csrf_app.test_client(user=user)
    assert client.post(path, data=data).status_code == 400
    assert customers(csrf_app) == 0
    with csrf_app.app_context():
        assert db.session.get(User, user.id).locale == "es"
    assert client.get("/admin/").status_code == 200  # still logged in


def test_admin_forms_carry_a_token_that_works(csrf_app, make_user):
    with csrf_app.app_context():
        user = db.session.get(User, make_user(Role.ADMIN))
    client = csrf_app.test_client(user=user)
    page = client.get("/admin/customers/new/").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    response = client.post("/admin/customers/new/", data={
        "name": "Eva", "email": "eva@example.com", "locale": "es", "csrf_token": token(page)})
    assert response.status_code == 302
    assert customers(csrf_app) == 1


def test_customer_text_is_escaped_in_lists(login_as, make_user, make_customer):
    make_customer(name='<script>alert("x")</script>', email="x@example.com")
    page = login_as(make_user(Role.AGENT)).get("/admin/customers/").get_data(as_text=True)
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;" in page


def test_session_cookie_is_http_only(csrf_app, make_user):
    make_user(Role.AGENT, email="eli@test.bayit")
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": "eli@test.bayit", "password": PASSWORD,
                                           "csrf_token": token(page)})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
