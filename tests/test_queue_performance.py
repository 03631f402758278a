"""The queue and the ticket page cost a fixed number of SQL statements, however many rows.

Statements are counted on the engine (it outlives app contexts), never with a context held open
around the client. Timings are not asserted here: bench/queue_pages.py measures them.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import Role, Ticket, User

from .pages import parse

#: A page's own queries; the per-transaction set-up (the lock timeouts, BEGIN) is not counted.
MAX_STATEMENTS = 14

#: Transaction set-up the engine sends for every request, whatever the page: SQLite's busy
#: timeout and BEGIN, PostgreSQL's per-transaction lock and statement timeouts.
SETUP = ("PRAGMA busy_timeout", "BEGIN", "SELECT set_config('lock_timeout'")


@contextmanager
def statements(app):
    """Collect the SQL text of every statement the engine runs inside the block, but for the
    transaction set-up (`SETUP`)."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().startswith(SETUP):
            seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def render(app, client, url: str) -> list[str]:
    """GET `url` (200 expected) and return the statements it ran, once the page has been seen:
    the bell's unread count is then kept in Redis (it is read from the database only after a
    notice changed it, whatever the page)."""
    client.get(url)
    with statements(app) as seen:
        response = client.get(url)
    assert response.status_code == 200, url
    return list(seen)


def unbounded_counts(seen: list[str]) -> list[str]:
    """Statements that count tickets without a LIMIT under the count (a scan of the table)."""
    return [s for s in seen if re.search(r"count\(", s, re.I)
            and re.search(r"\bFROM tickets\b", s) and "LIMIT" not in s.upper()]


@pytest.fixture
def floor(app, make_team, make_user, make_category):
    """Two teams, four agents (the first in both), a supervisor and three categories; ids."""
    teams = [make_team(), make_team()]
    agents = [make_user(teams=teams if i == 0 else [teams[i % 2]], capacity=100)
              for i in range(4)]
    return {"teams": teams, "agents": agents, "sup": make_user(Role.SUPERVISOR),
            "categories": [make_category(team_id=teams[i % 2]) for i in range(3)]}


@pytest.fixture
def add_tickets(app, floor, make_ticket):
    """Add n tickets, each with its own customer, spread over teams, agents and categories."""

    def add(n: int) -> list[int]:
        ids = []
        for i in range(n):
            ticket_id = make_ticket(f"Ticket {i}", category_id=floor["categories"][i % 3])
            ids.append(ticket_id)
            if i % 3 == 2:
                continue  # some stay unassigned: the row shows Tomar
            with app.app_context(), workflows.atomic():
                agent = db.session.get(User, floor["agents"][i % 4])
                workflows.reassign_ticket(db.session.get(Ticket, ticket_id), team=None,
                                          agent=agent,
                                          actor=db.session.get(User, floor["sup"]))
        return ids

    return add


def queue_urls(client) -> dict[str, str]:
    """Todos and every saved view, with the tab URLs read from the page itself."""
    page = parse(client.get("/admin/tickets/"))
    urls = {a.attrs["data-testid"].removeprefix("view-"): a.attrs["href"]
            for a in page.select("a") if a.attrs.get("data-testid", "").startswith("view-")}
    assert len(urls) == 9 and urls["all"] == "/admin/tickets/"
    return urls


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_queue_pages_cost_the_same_for_5_and_60_tickets(app, login_as, floor, add_tickets,
                                                        role):
    client = login_as(floor["agents"][0] if role == "agent" else floor["sup"])
    add_tickets(5)
    urls = queue_urls(client)
    few = {key: render(app, client, url) for key, url in urls.items()}
    add_tickets(55)
    many = {key: render(app, client, url) for key, url in urls.items()}
    second = render(app, client, "/admin/tickets/?page=1")
    for key in urls:
        assert len(many[key]) == len(few[key]) <= MAX_STATEMENTS, (key, many[key])
        assert not unbounded_counts(few[key] + many[key]), key
    assert len(second) == len(many["all"])
    assert not unbounded_counts(second)


def test_the_two_pages_split_60_tickets(app, login_as, floor, add_tickets):
    """Deadline order is total (ids break ties): page 2 holds exactly what page 1 did not."""
    client = login_as(floor["sup"])
    ids = set(add_tickets(60))
    pages = [{int(a.attrs["href"].split("/")[3]) for a in parse(client.get(
        f"/admin/tickets/?page={n}")).select("a")
        if re.fullmatch(r"/admin/tickets/\d+/", a.attrs.get("href", ""))} for n in (0, 1)]
    assert len(pages[0]) == 50 and not pages[0] & pages[1] and pages[0] | pages[1] == ids


def test_ticket_page_cost_does_not_grow_with_the_thread(app, login_as, floor, make_ticket):
    """A long thread written by several people costs what a short one by one person does."""
    agents = floor["agents"]
    ticket_id = make_ticket(category_id=floor["categories"][0])

    def notes(n: int, authors: list[int]) -> None:
        for i in range(n):
            with app.app_context(), workflows.atomic():
                workflows.add_note(db.session.get(Ticket, ticket_id), f"Nota {i}",
                                   actor=db.session.get(User, authors[i % len(authors)]))

    client = login_as(floor["sup"])
    notes(4, agents[:1])
    short = render(app, client, f"/admin/tickets/{ticket_id}/")
    notes(55, agents)
    long = render(app, client, f"/admin/tickets/{ticket_id}/")
    assert len(long) == len(short) <= MAX_STATEMENTS, "\n".join(q[:150] for q in long)
    assert "Nota 54" in client.get(f"/admin/tickets/{ticket_id}/").get_data(as_text=True)
