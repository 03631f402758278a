"""Full-text search in the queue: ranking, phrases, accents, snippets (escaped), partial words,
the index kept in sync by the database, a ticket number that opens the ticket."""

from __future__ import annotations

import pytest

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import Customer, Role, Ticket
from tests.pages import parse


def rows(response) -> list[int]:
    """The queue's ticket numbers, in the order shown."""
    page = parse(response)
    found = []
    for tr in page.one("table", cls="model-list").select("tr"):
        cells = tr.select("td", cls="col-id")
        if cells:
            found.append(int(cells[0].text.lstrip("#")))
    return found


def snippet_html(response, ticket_id: int) -> str:
    html = response.get_data(as_text=True)
    start = html.index(f'href="/admin/tickets/{ticket_id}/"')
    start = html.index('data-testid="snippet"', start)
    return html[start:html.index("</div>", start)]


@pytest.fixture
def sup(login_as, make_user):
    return login_as(make_user(Role.SUPERVISOR))


def reply(app, ticket_id: int, text: str) -> None:
    with app.app_context(), workflows.atomic():
        workflows.add_customer_message(db.session.get(Ticket, ticket_id), text)


def search(client, text: str, **args):
    response = client.get("/admin/tickets/", query_string={"search": text, **args})
    assert response.status_code == 200, response.status_code
    return response


def test_the_customers_exact_sentence_finds_its_ticket_first(app, sup, make_ticket):
    noise = [make_ticket(f"Consulta {n}", "lo pruebo mañana, esta noche no puedo")
             for n in range(3)]
    noise.append(make_ticket("Noche sin señal", "Pruebo otra vez"))
    target = make_ticket("La app no abre", "Reinstalé la aplicación.")
    reply(app, target, "Vale, lo pruebo esta noche y os digo.")
    found = rows(search(sup, '"lo pruebo esta noche"'))
    assert found == [target]
    loose = rows(search(sup, "pruebo noche"))  # both words, anywhere: ranked, target included
    assert target in loose and set(noise) & set(loose)


def test_search_ignores_accents_and_case(app, sup, make_ticket):
    target = make_ticket("Sin señal en el salón", "La televisión se apaga.")
    make_ticket("Otra cosa", "Nada.")
    for text in ("SENAL", "television", "Televisión", "salon"):
        assert rows(search(sup, text)) == [target], text


def test_a_partial_word_and_an_email_match(app, sup, make_ticket, make_customer):
    marta = make_customer(name="Marta Ruiz", email="marta.ruiz@example.com")
    target = make_ticket("Decodificador averiado", "No enciende.", customer_id=marta)
    make_ticket("Otra", "Nada que ver.")
    assert rows(search(sup, "decodif")) == [target]
    assert rows(search(sup, "marta.ruiz@example.com")) == [target]
    assert rows(search(sup, "Ruiz")) == [target]


def test_the_subject_ranks_above_the_thread(app, sup, make_ticket):
    in_body = make_ticket("Consulta", "El mando a distancia no va.")
    in_subject = make_ticket("Mando a distancia roto", "Hola.")
    assert rows(search(sup, "mando")) == [in_subject, in_body]


def test_the_snippet_highlights_and_escapes(app, sup, make_ticket):
    target = make_ticket("Ayuda", "<script>alert(1)</script> la contraseña «a < b» no funciona")
    response = search(sup, "contrasena")
    snippet = snippet_html(response, target)
    assert "<mark>contraseña</mark>" in snippet
    assert "&lt; b" in snippet and "<script>" not in snippet


def test_filters_combine_with_search(app, sup, make_ticket):
    urgent = make_ticket("Router sin luz", "nada", priority="high")
    normal = make_ticket("Router sin luz", "nada")
    assert set(rows(search(sup, "router"))) == {urgent, normal}
    view = app.extensions["admin"][0]
    tickets = next(v for v in view._views if getattr(v, "endpoint", None) == "tickets")
    index = next(i for i, f in enumerate(tickets._filters)
                 if getattr(f, "column", None) is Ticket.priority)
    arg = f"flt0_{tickets.get_filter_arg(index, tickets._filters[index])}"
    assert rows(search(sup, "router", **{arg: "high"})) == [urgent]


def test_a_ticket_number_opens_the_ticket(app, sup, make_ticket):
    target = make_ticket()
    for text in (str(target), f"#{target}"):
        response = sup.get("/admin/tickets/", query_string={"search": text})
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"/admin/tickets/{target}/")


def test_an_agent_does_not_jump_to_a_ticket_they_cannot_see(app, login_as, make_user,
                                                              make_team, make_ticket):
    other = make_team()
    target = make_ticket()
    with app.app_context(), workflows.atomic():
        db.session.get(Ticket, target).team_id = other
    agent = login_as(make_user(Role.AGENT, teams=[make_team()]))
    response = agent.get("/admin/tickets/", query_string={"search": str(target)})
    assert response.status_code == 200 and rows(response) == []


def test_the_index_follows_renames_and_new_messages(app, sup, make_ticket, make_customer):
    customer = make_customer(name="Pedro Gómez")
    target = make_ticket("Factura duplicada", "Me cobrasteis dos veces.", customer_id=customer)
    with app.app_context(), workflows.atomic():
        db.session.get(Customer, customer).name = "Pedro Alcántara"
    assert rows(search(sup, "alcantara")) == [target]
    assert rows(search(sup, "gomez")) == []
    reply(app, target, "Adjunto el extracto bancario")
    assert rows(search(sup, "extracto")) == [target]


@pytest.mark.parametrize("text", ['"', '""', "*", "AND", "NEAR(", "a:b", "'", "%", "-x", "\\"])
def test_odd_search_text_is_plain_text(app, sup, make_ticket, text):
    make_ticket("Sin sonido", "nada")
    response = search(sup, text)
    assert "Sin sonido" not in response.get_data(as_text=True)


def test_the_migration_backfills_existing_tickets(app, make_ticket):
    import flask_migrate
    target = make_ticket("Mensaje antiguo", "antes del índice")
    with app.app_context():
        flask_migrate.downgrade(revision="c4c105e00004")
        flask_migrate.upgrade()
        from helpdesk.queries import search as fts
        assert list(db.session.scalars(fts.matches("indice").ids)) == [target]


def test_a_word_in_more_tickets_than_the_cap_ranks_the_newest(app, sup, make_ticket,
                                                              monkeypatch):
    """Ranking reads at most RANK_CAP matches, newest first from the index (never all of a
    common word's); fewer than that are all found."""
    from helpdesk.queries import search as fts
    monkeypatch.setattr(fts, "RANK_CAP", 2)
    tickets = [make_ticket(f"Aviso {n}", "firma del equipo") for n in range(3)]
    make_ticket("Otra", "nada")
    assert sorted(rows(search(sup, "equipo"))) == tickets[1:]
    monkeypatch.setattr(fts, "RANK_CAP", 500)
    assert sorted(rows(search(sup, "equipo"))) == tickets
