"""Full-text search read newest first by ranges of ticket ids (widening until enough matches),
prefixes through the index's vocabulary, relevance from the found rows alone."""

from __future__ import annotations

import pytest

from helpdesk import workflows
from helpdesk.extensions import db
from helpdesk.models import Customer, Role, Ticket, User
from helpdesk.queries import search_fts5, search_pg, search_terms
from tests.test_search import reply, rows, search, snippet_html


@pytest.fixture
def sup(login_as, make_user):
    return login_as(make_user(Role.SUPERVISOR))


@pytest.fixture
def narrow(monkeypatch):
    """PostgreSQL reads only the newest ticket in order, the rest through its GIN indexes."""
    monkeypatch.setattr(search_pg, "SCAN_ROWS", 1)


def test_the_ranges_cover_every_block_newest_first(monkeypatch):
    monkeypatch.setattr(search_terms, "BLOCK", 10)
    monkeypatch.setattr(search_terms, "WIDEN", 2)
    monkeypatch.setattr(search_terms, "FIRST_BLOCKS", 1)
    assert list(search_terms.blocks(95)) == [(9, 9), (7, 8), (3, 6), (0, 2)]
    assert list(search_terms.blocks(5)) == [(0, 0)]
    assert list(search_terms.blocks(0)) == []


def test_an_old_ticket_is_found_beyond_the_first_range(app, sup, make_ticket, narrow):
    old = make_ticket("Antena parabólica", "La antena se movió con el viento.")
    newer = [make_ticket(f"Consulta {n}", "nada que ver") for n in range(6)]
    assert rows(search(sup, "parabolica")) == [old]
    assert rows(search(sup, '"se movió con el viento"')) == [old]
    assert set(rows(search(sup, "consulta"))) == set(newer)


def test_the_cap_keeps_the_newest_across_ranges(app, sup, make_ticket, narrow, monkeypatch):
    from helpdesk.queries import search as fts
    monkeypatch.setattr(fts, "RANK_CAP", 3)
    tickets = [make_ticket(f"Aviso {n}", "firma del equipo") for n in range(5)]
    for n in range(3):
        make_ticket(f"Otra {n}", "nada")
    assert sorted(rows(search(sup, "equipo"))) == tickets[2:]


def test_a_quoted_customer_name_is_found_beyond_the_first_range(app, sup, make_ticket,
                                                                  make_customer, narrow):
    """A phrase's candidates come from the words as the Spanish configuration has them: the
    customer's name is indexed only there (requiring the English lexemes too lost it)."""
    customer = make_customer(name="Rigoberta Menchú Tum", email="rmt@example.com")
    target = make_ticket("Cobro", "Hola, me cobraron dos veces.", customer_id=customer)
    for n in range(4):
        make_ticket(f"Consulta {n}", "Rigoberta y Menchú, pero no juntas")
    assert rows(search(sup, '"rigoberta menchu"')) == [target]
    assert rows(search(sup, '"Menchú Tum"')) == [target]


def test_a_threads_events_are_not_searched(app, sup, make_ticket, make_user, make_team):
    """An event's body is JSON for the panel (who it went to, what changed): never a match,
    never a snippet; the ticket's own messages still are, and adding an event keeps them."""
    team = make_team()
    agent = make_user(Role.AGENT, teams=[team], name="Gumersinda Oyarzábal")
    target = make_ticket("Sin audio", "El sonido va y viene en la tele.")
    with app.app_context(), workflows.atomic():
        ticket = db.session.get(Ticket, target)
        ticket.team_id = team
        workflows.assign_ticket(ticket, db.session.get(User, agent), actor=None, reason="manual")
    for text in ("gumersinda", "oyarzabal", "assign", "event"):
        assert rows(search(sup, text)) == [], text
    response = search(sup, "sonido")
    assert rows(response) == [target]
    assert "event" not in snippet_html(response, target)
    assert "<mark>sonido</mark>" in snippet_html(response, target)


def test_equally_relevant_matches_come_newest_first(app, sup, make_ticket):
    tickets = [make_ticket(f"Consulta {n}", "el mando no responde") for n in range(3)]
    make_ticket("Otra", "nada")
    assert rows(search(sup, "mando")) == tickets[::-1]
    assert rows(search(sup, '"mando no responde"')) == tickets[::-1]


def test_a_word_found_in_the_thread_repeatedly_ranks_first(app, sup, make_ticket):
    once = make_ticket("Consulta", "El router se reinicia.")
    often = make_ticket("Otra consulta", "El router se reinicia; el router parpadea; "
                                         "cambié el router.")
    assert rows(search(sup, "router")) == [often, once]


def test_new_words_are_found_as_prefixes(app, sup, make_ticket, make_customer):
    """The vocabulary of prefixes follows replies, subjects and customers (SQLite: triggers)."""
    customer = make_customer(name="Lucía Fernández")
    target = make_ticket("Cobro", "Hola.", customer_id=customer)
    make_ticket("Otra", "Nada.")
    reply(app, target, "Adjunto los extractos bancarios")
    assert rows(search(sup, "extract")) == [target]
    assert rows(search(sup, "bancari")) == [target]
    with app.app_context(), workflows.atomic():
        db.session.get(Customer, customer).name = "Lucía Villaseñor"
        db.session.get(Ticket, target).subject = "Cobro trimestral duplicado"
    assert rows(search(sup, "villasen")) == [target]
    assert rows(search(sup, "trimest")) == [target]


def test_a_prefix_of_many_words_still_matches_them_all(app, sup, make_ticket, monkeypatch):
    monkeypatch.setattr(search_fts5, "PREFIX_TERMS", 1)
    tickets = [make_ticket("Factura", "una factura"), make_ticket("Facturas", "dos facturas"),
               make_ticket("Facturación", "la facturación")]
    make_ticket("Otra", "nada")
    assert set(rows(search(sup, "factur"))) == set(tickets)


def test_snippets_of_a_page_spread_over_the_matches(app, sup, make_ticket):
    tickets = [make_ticket(f"Caso {n}", f"el mando {n} no responde") for n in range(3)]
    for n in range(4):
        make_ticket(f"Ruido {n}", "nada")
    response = search(sup, "mando")
    for ticket in tickets:
        assert "<mark>mando</mark>" in snippet_html(response, ticket)


def test_the_matches_are_read_once_per_request(app, sup, make_ticket):
    """The queue's rows, its count and its pager share one reading of the index: the page
    sends the statements of one search, no more (how many ranges one search walks depends on
    the newest ticket id, so the test counts a direct search's first)."""
    from sqlalchemy import event

    from helpdesk.queries import search as search_queries
    make_ticket("Pantalla negra", "nada")
    seen = []

    def count(conn, cursor, statement, *args):
        if "ticket_fts" in statement and "MATCH" in statement.upper() or "@@" in statement:
            if "snippet" not in statement and "ts_headline" not in statement:
                seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        with app.app_context():
            assert len(search_queries.matches("pantalla").found) == 1
        one_search, seen[:] = len(seen), []
        assert len(rows(search(sup, "pantalla"))) == 1
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert one_search >= 1
    assert len(seen) == one_search, seen


@pytest.mark.sqlite_only
def test_the_vocabulary_follows_every_writer(app, make_ticket, make_customer):
    """SQLite: the words a prefix stands for come from `ticket_fts_terms`, which triggers keep
    (a word missing there would fall back to FTS5's slow prefix query, still correct)."""
    customer = make_customer(name="Íñigo Zubizarreta", email="izubi@example.com")
    target = make_ticket("Mando estropeado", "Hola.", customer_id=customer)
    reply(app, target, "Sigue titilandoxx")
    with app.app_context():
        assert "zubizarreta" in search_fts5.vocabulary("zubiz")
        assert "inigo" in search_fts5.vocabulary("inig")
        assert "estropeado" in search_fts5.vocabulary("estropead")
        assert "titilandoxx" in search_fts5.vocabulary("titiland")
        assert "izubi" in search_fts5.vocabulary("izub")
    with app.app_context(), workflows.atomic():
        db.session.get(Customer, customer).email = "zqxcorreo@example.com"
        db.session.get(Ticket, target).subject = "Mando desconfigurado"
    with app.app_context():
        assert "desconfigurado" in search_fts5.vocabulary("desconfig")
        assert "zqxcorreo" in search_fts5.vocabulary("zqxc")
        assert search_fts5.expression(search_terms.parse("titilan")) == '("titilandoxx")'
