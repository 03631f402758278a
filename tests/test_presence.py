"""Presence and live updates: two agents on one ticket see each other (and who is typing); a
customer message is announced to the open page; a poll runs no SQL statement; a forged or
foreign pass is refused; the queue shows an eye on a ticket someone has open."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import event

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import Role, Ticket, User
from tests.pages import parse


def poll_url(client, ticket_id: int) -> str:
    html = client.get(f"/admin/tickets/{ticket_id}/").get_data(as_text=True)
    return unescape(re.search(r'data-url="(/live/ticket/[^"]+)"', html).group(1))


def test_two_agents_see_each_other_and_who_is_typing(app, login_as, make_user, make_ticket):
    ticket = make_ticket()
    ana = login_as(make_user(Role.SUPERVISOR, name="Ana"))
    luis = login_as(make_user(Role.SUPERVISOR, name="Luis"))
    ana_url, luis_url = poll_url(ana, ticket), poll_url(luis, ticket)
    assert ana.get(ana_url + "&typing=").get_json()["viewers"] == []
    assert luis.get(luis_url + "&typing=reply").get_json()["viewers"] == [
        {"name": "Ana", "typing": None}]
    assert ana.get(ana_url + "&typing=").get_json()["viewers"] == [
        {"name": "Luis", "typing": "reply"}]


def test_a_poll_runs_no_database_statement(app, login_as, make_user, make_ticket):
    ticket = make_ticket()
    client = login_as(make_user(Role.SUPERVISOR))
    url = poll_url(client, ticket)
    statements = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args, **kwargs: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(3):
            assert client.get(url + "&typing=note").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements == []


def test_a_customer_message_is_announced_with_the_new_version(app, login_as, make_user,
                                                              make_ticket):
    ticket = make_ticket()
    client = login_as(make_user(Role.SUPERVISOR))
    url = poll_url(client, ticket)
    with app.app_context():
        before = db.session.get(Ticket, ticket).version
    with app.app_context(), workflows.atomic():
        workflows.add_customer_message(db.session.get(Ticket, ticket), "¿Alguna novedad?")
    change = client.get(url).get_json()["change"]
    assert change["kind"] == "customer" and change["version"] > before


def test_a_forged_or_foreign_pass_is_refused(app, login_as, make_user, make_ticket):
    ticket, other = make_ticket(), make_ticket()
    client = login_as(make_user(Role.SUPERVISOR))
    url = poll_url(client, ticket)
    assert client.get(f"/live/ticket/{ticket}?pass=nonsense").status_code == 403
    assert client.get(url.replace(f"/ticket/{ticket}?", f"/ticket/{other}?")).status_code == 403


def test_the_queue_shows_an_eye_on_an_open_ticket(app, login_as, make_user, make_ticket):
    ticket, quiet = make_ticket(), make_ticket()
    ana = login_as(make_user(Role.SUPERVISOR, name="Ana"))
    ana.get(poll_url(ana, ticket))
    luis = login_as(make_user(Role.SUPERVISOR, name="Luis"))
    page = parse(luis.get("/admin/tickets/"))
    eyes = page.select("span", data_testid="viewers")
    assert [eye.attrs["title"] for eye in eyes] == ["Ana"]
    assert str(quiet) not in "".join(eye.attrs["title"] for eye in eyes)


def test_the_ticket_poll_carries_the_bell_and_stops_after_logout(app, login_as, make_user,
                                                                 make_ticket):
    """One poll on the ticket page serves the bell too (no second request, no SQL); once the
    session logs out, its pass is refused."""
    ticket = make_ticket()
    boss = make_user(Role.SUPERVISOR, name="Jefa", email="jefa@test.bayit")
    client = login_as(make_user(Role.SUPERVISOR, name="Ana", email="ana@test.bayit"))
    url = poll_url(client, ticket)
    assert client.get(url).get_json()["bell"]["n"] == 0
    with app.app_context(), workflows.atomic():
        workflows.add_note(db.session.get(Ticket, ticket), "@ana mira esto",
                           actor=db.session.get(User, boss))
    assert client.get(url).get_json()["bell"]["n"] == 1
    client.post("/logout", data={})
    assert client.get(url).status_code == 403
