"""Saved views of the queue: a person saves the current filters, search and sort under a name,
shared with one of their teams or not; the tabs show them with counts; only members of that
team see a shared view (server-side); only its owner renames or deletes it. Also the queue's
page numbers and the tabs that never show Flask-Admin's raw filter widgets."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import AuditEntry, Role, SavedView, Ticket, User
from tests.pages import parse


@pytest.fixture
def office(app, make_team, make_user, make_ticket):
    """Cuenta (Ana, Bea), Técnico (Teo); three Cuenta tickets, two of them open."""
    cuenta, tecnico = make_team("Cuenta"), make_team("Técnico")
    people = {"ana": make_user(Role.AGENT, teams=[cuenta], name="Ana"),
              "bea": make_user(Role.AGENT, teams=[cuenta], name="Bea"),
              "teo": make_user(Role.AGENT, teams=[tecnico], name="Teo")}
    tickets = [make_ticket(f"Cuenta {n}") for n in range(3)]
    with app.app_context(), workflows.atomic():
        ana = db.session.get(User, people["ana"])
        for n, ticket_id in enumerate(tickets):
            ticket = db.session.get(Ticket, ticket_id)
            ticket.team_id = cuenta
            if n < 2:
                db.session.flush()
                workflows.assign_ticket(ticket, ana, actor=None, reason="test")
    return {"cuenta": cuenta, "tecnico": tecnico, "tickets": tickets, **people}


def query_of(client, url: str) -> str:
    """What the queue at `url` offers to save (its save form's hidden field)."""
    page = parse(client.get(url))
    return page.one(id="hd-save-query").attrs.get("value", "")


def open_tab_url(client) -> str:
    return html.unescape(parse(client.get("/admin/tickets/")).testid("view-open").attrs["href"])


def save(client, name: str, query: str, team="") -> object:
    return client.post("/admin/tickets/views/save", page="/admin/tickets/",
                       data={"name": name, "team": str(team), "query": query})


def views(app):
    with app.app_context():
        return {v.name: (v.owner_id, v.team_id, v.query) for v in
                db.session.scalars(select(SavedView))}


def test_save_the_current_filters_search_and_sort_as_a_tab_with_its_count(app, office,
                                                                          login_as):
    client = login_as(office["ana"])
    url = open_tab_url(client) + "&sort=0&desc=1&search=Cuenta&page=0"
    query = query_of(client, url)
    assert "sort=0" in query and "desc=1" in query and "search=Cuenta" in query
    assert "page" not in query
    response = save(client, "  Mis abiertos  ", query)
    assert response.status_code == 302
    assert views(app) == {"Mis abiertos": (office["ana"], None, query)}
    page = parse(client.get(response.headers["Location"]))
    (saved_id,) = [int(a.attrs["data-testid"].split("-")[1]) for a in page.select("a")
                   if re.fullmatch(r"saved-\d+", a.attrs.get("data-testid", ""))]
    tab = page.testid(f"saved-{saved_id}")
    assert "Mis abiertos" in tab.text and tab.attrs.get("aria-current") == "page"
    assert page.testid(f"saved-count-{saved_id}").text.strip() == "2"
    assert "Vista «Mis abiertos» guardada." in page.text
    with app.app_context():
        audit = db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity == "saved_views")).one()
    assert (audit.action, audit.actor_id, audit.new_value) == ("create", office["ana"], query)


def test_a_shared_view_is_seen_by_the_team_only_and_changed_by_its_owner_only(app, office,
                                                                            login_as):
    ana, bea, teo = (login_as(office[n]) for n in ("ana", "bea", "teo"))
    query = query_of(ana, open_tab_url(ana))
    assert save(ana, "Abiertos del equipo", query, team=office["cuenta"]).status_code == 302
    with app.app_context():
        view_id = db.session.scalar(select(SavedView.id))
    assert f'data-testid="saved-{view_id}"' in bea.get("/admin/tickets/").get_data(as_text=True)
    assert f'data-testid="saved-{view_id}"' not in teo.get("/admin/tickets/").get_data(
        as_text=True)
    assert "Abiertos del equipo" not in teo.get("/admin/tickets/views/").get_data(as_text=True)
    # Teo cannot see it: as if it did not exist. Bea sees it but may not change it.
    assert teo.post(f"/admin/tickets/views/{view_id}/rename", data={"name": "Mío"},
                    token_from="/admin/tickets/").status_code == 404
    assert teo.post(f"/admin/tickets/views/{view_id}/delete",
                    token_from="/admin/tickets/").status_code == 404
    assert bea.post(f"/admin/tickets/views/{view_id}/rename", data={"name": "Mío"},
                    token_from="/admin/tickets/views/").status_code == 403
    assert bea.post(f"/admin/tickets/views/{view_id}/delete",
                    token_from="/admin/tickets/views/").status_code == 403
    assert list(views(app)) == ["Abiertos del equipo"]
    # Its owner renames, then deletes it, from Vistas guardadas.
    assert ana.post(f"/admin/tickets/views/{view_id}/rename", data={"name": "Abiertos"},
                    page="/admin/tickets/views/").status_code == 302
    assert list(views(app)) == ["Abiertos"]
    assert ana.post(f"/admin/tickets/views/{view_id}/delete",
                    page="/admin/tickets/views/").status_code == 302
    assert views(app) == {}
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.entity == "saved_views").order_by(AuditEntry.id)).all()
    assert actions == ["create", "update", "delete"]


@pytest.mark.parametrize(("name", "team", "query", "problem"), [
    ("", "", "flt0_0=open", "Pon un nombre a la vista."),
    ("x" * 61, "", "flt0_0=open", "Revisa el formulario"),
    ("Otra", "tecnico", "flt0_0=open", "Solo puedes compartir una vista con un equipo"),
    ("Otra", "999999", "flt0_0=open", "La opción elegida ya no existe."),
    ("Otra", "\u00b2", "flt0_0=open", "La opción elegida ya no existe."),
    ("Otra", "", "flt99_zz=1", "esos filtros no se pueden guardar"),
    ("Otra", "", "flt0_0=nope", "esos filtros no se pueden guardar"),
    ("Otra", "", "sort=99", "esos filtros no se pueden guardar"),
    ("Dup", "", "flt0_0=open", "Ya tienes una vista llamada «Dup»."),
])
def test_bad_input_is_refused_with_a_message_and_saves_nothing(app, office, login_as, name,
                                                               team, query, problem):
    client = login_as(office["ana"])
    with app.app_context(), workflows.atomic():
        workflows.save_view(db.session.get(User, office["ana"]), "Dup", "", team=None)
    team = str(office["tecnico"]) if team == "tecnico" else team
    response = save(client, name, query, team=team)
    assert response.status_code == 422
    assert problem in html.unescape(response.get_data(as_text=True))
    assert list(views(app)) == ["Dup"]


def test_tabs_never_show_the_raw_filter_widgets(app, office, login_as):
    client = login_as(office["ana"])

    def active_filters(url):
        response = client.get(url)
        assert response.status_code == 200, url
        page = parse(response)
        found = page.select(id="active-filters-data")
        return json.loads(html.unescape(found[0].text)) if found else []

    open_url = open_tab_url(client)
    assert active_filters(open_url) == []  # a built-in tab: the tab says it all
    page = parse(client.get(open_url))
    hidden = {i.attrs["name"]: i.attrs.get("value") for i in page.one(id="filter_form").select(
        "input") if i.attrs.get("type") == "hidden"}
    key = open_url.split("?", 1)[1].split("=")[0]
    assert hidden[key] == "open"  # a filter added from the menu keeps the tab's
    query = query_of(client, open_url) + "&flt1_3=web"  # (Canal) no tab: the widgets show
    assert active_filters(f"/admin/tickets/?{query}") != []
    assert save(client, "Web abiertos", query).status_code == 302
    assert active_filters(f"/admin/tickets/?{query}") == []  # now a saved tab


def test_page_numbers(app, office, login_as, make_ticket):
    for n in range(23):
        make_ticket(f"Relleno {n}")
    client = login_as(office["ana"])  # 26 visible (unrouted ones included), 20 a page
    page = parse(client.get("/admin/tickets/?page_size=20"))
    assert page.testid("page-of").text.strip() == "Página 1 de 2"
    page = parse(client.get("/admin/tickets/?page_size=20&page=1"))
    assert page.testid("page-of").text.strip() == "Página 2 de 2"
    for n in range(100):
        make_ticket(f"Más {n}")
    page = parse(client.get("/admin/tickets/?page_size=20"))
    assert page.testid("page-of").text.strip() == "Página 1 de 5+"  # counted 5 pages ahead


def test_a_supervisors_unfiltered_queue_counts_its_tickets(app, office, login_as, make_user,
                                                           make_ticket):
    """A supervisor sees every ticket, so the list's scope names no table: the count still
    counts tickets (it read "Listado (1)" and "Página 1 de 1" with hundreds of tickets)."""
    for n in range(23):
        make_ticket(f"Relleno {n}")
    client = login_as(make_user(Role.SUPERVISOR, name="Sergio"))
    page = parse(client.get("/admin/tickets/?page_size=20"))
    assert page.testid("page-of").text.strip() == "Página 1 de 2"
    assert "Listado (26)" in " ".join(page.text.split())
