"""The site's root and icon: `/` leads somewhere useful; the favicon is ours."""

from helpdesk.models import Role


def test_root_sends_a_visitor_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_root_sends_a_signed_in_agent_to_the_panel(login_as, make_user):
    response = login_as(make_user(Role.AGENT)).get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"


def test_the_favicon_is_served_by_the_app(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml" and b"<svg" in response.data


def test_pages_link_the_icon(client):
    assert b'rel="icon"' in client.get("/login").data
