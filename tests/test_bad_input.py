"""Bad input (issue 11): malformed list URLs, unreadable text, unknown ids in selects and LIKE
wildcards get a clear answer — a 400 or a 422 with a message in the user's language — never a
500, a silent default or a wildcard match."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.models import Role, Ticket

from .pages import csrf_token, forms_posting_to, parse


@pytest.fixture
def admin(login_as, make_user):
    return login_as(make_user(Role.ADMIN))


def refused(response, status: int, *words: str) -> str:
    """The page's text, after checking the status and that it says each of `words`."""
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    text = parse(response).text
    for word in words:
        assert word in text, text[:2000]
    return text


# -- Malformed list URLs: refused with a 400 that says which argument, on every list view --

@pytest.mark.parametrize("query", [
    "flt0_0=zzz",                   # the status filter: not a status (500 today)
    "flt0_1=new,zzz",               # status in a list, one of them unknown
    "flt0_5=zzz",                   # category by id: not an id
    "flt0_5=99999999999999999999",  # ... nor one that exists
    "flt0_11=2020-01-01+to+zzz",    # created between: not a date
])
def test_malformed_ticket_filter_is_a_400_naming_the_filter(admin, make_ticket, query):
    make_ticket()
    refused(admin.get(f"/admin/tickets/?{query}"), 400, "Petición no válida", "no admite")


@pytest.mark.parametrize("path", [
    "/admin/agents/?flt0_23=zzz",   # a team's strategy: not a strategy (500 today)
    "/admin/agents/?flt0_0=zzz",    # active: neither yes nor no
    "/admin/customers/?flt0_4=2",   # country empty: neither yes nor no
    "/admin/templates/?flt0_30=maybe",
])
def test_malformed_filter_is_a_400_on_every_list(admin, path):
    refused(admin.get(path), 400, "no admite")


@pytest.mark.parametrize("path", ["/admin/tickets/", "/admin/customers/", "/admin/agents/",
                                  "/admin/templates/", "/admin/routing/", "/admin/teams/"])
@pytest.mark.parametrize("query", ["page=99999999999999999999", "page=-1", "page=zz",
                                   "page_size=99999999999999999999", "sort=junk", "desc=%FF"])
def test_page_size_and_sort_junk_is_a_400(admin, make_ticket, path, query):
    """PostgreSQL refuses a negative or huge OFFSET, SQLite an integer past 64 bits."""
    make_ticket()
    name = query.split("=")[0]
    refused(admin.get(f"{path}?{query}"), 400, f"«{name}»")


def test_good_list_arguments_still_work(admin, make_ticket):
    make_ticket()
    response = admin.get("/admin/tickets/?flt0_1=new,open&page=0&page_size=20&sort=1&desc=1")
    assert response.status_code == 200
    assert admin.get("/admin/tickets/?page=999999").status_code == 200  # past the end: empty


def test_search_text_the_database_refuses_is_a_400(admin, make_customer):
    """A NUL character: PostgreSQL cannot read it in a LIKE pattern (SQLite can)."""
    make_customer(name="Ana")
    response = admin.get("/admin/customers/?search=a%00b")
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        refused(response, 400, "no se puede mostrar")


# -- LIKE wildcards: % and _ are plain characters in every search ----------------------------

@pytest.mark.parametrize(("path", "term"), [
    ("/admin/customers/", "%"), ("/admin/customers/", "_"),
    ("/admin/agents/", "%"), ("/admin/templates/", "_"),
])
def test_wildcards_in_list_searches_are_literal(admin, make_customer, make_user, app, path,
                                                term):
    make_customer(name="Ana Pérez", email="ana@example.com")
    make_user(name="Luis", email="luis@test.bayit")
    with app.app_context():
        from helpdesk import workflows
        from helpdesk.models import ResponseTemplate
        with workflows.atomic():
            db.session.add(ResponseTemplate(name="Saludo", body="Hola", locale="es"))
    page = admin.get(f"{path}?search={term.replace('%', '%25')}").get_data(as_text=True)
    assert "Ana Pérez" not in page and "Luis" not in page and "Saludo" not in page


def test_wildcards_in_a_contains_filter_are_literal(admin, make_customer):
    make_customer(name="Ana", country="ES")
    page = admin.get("/admin/customers/?flt0_0=%25").get_data(as_text=True)  # country ∋ "%"
    assert "Ana" not in page


def test_customer_picker_takes_wildcards_literally_and_pages_small(admin, make_customer):
    make_customer(name="Ana Pérez", email="ana@example.com")
    make_customer(name="50% descuento", email="promo@example.com")
    for n in range(12):
        make_customer(name=f"Cliente {n}")

    def lookup(query, **extra):
        args = {"name": "customer", "query": query, **extra}
        response = admin.get("/admin/tickets/ajax/lookup/", query_string=args)
        assert response.status_code == 200
        return [name.split(" <")[0] for _id, name in json.loads(response.get_data(as_text=True))]

    assert lookup("%") == ["50% descuento"]
    assert lookup("_") == []
    assert len(lookup("e", limit="100000")) == 10  # the configured page size, at most
    assert lookup("Ana", offset="99999999999999999999") == ["Ana Pérez"]


def test_ticket_search_still_escapes(admin, make_ticket):
    make_ticket(subject="Sin sonido")
    page = admin.get("/admin/tickets/?search=%25").get_data(as_text=True)
    assert "Sin sonido" not in page


# -- Unreadable text: a form that is not UTF-8 is a 400 that says so -------------------------

UNREADABLE = "No se pudo leer el texto enviado"


def token_for(client, url: str) -> str:
    page = client.get(url)
    return csrf_token(forms_posting_to(parse(page), page.request.url, url)[0])


def ticket_count(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(Ticket.id)).all())


@pytest.mark.parametrize("subject", [b"%FF%FE", b"\xff\xfe", b"a%00b"])
def test_urlencoded_form_with_invalid_utf8_is_a_400(app, admin, make_customer, subject):
    """Percent-encoded or raw: bytes that are not UTF-8 (today: "Formulario caducado", or the
    text "%FF%FE" stored as the subject); a NUL, which PostgreSQL cannot store."""
    url = "/admin/tickets/new/"
    body = b"&".join([b"csrf_token=" + token_for(admin, url).encode(), b"subject=" + subject,
                      b"customer=%d" % make_customer(), b"body=hola", b"priority=normal",
                      b"channel=web"])
    response = admin.post(url, data=body, content_type="application/x-www-form-urlencoded",
                          csrf=False)
    refused(response, 400, "Petición no válida", UNREADABLE)
    assert ticket_count(app) == 0


def test_multipart_form_with_invalid_utf8_is_a_400(app, admin, make_customer):
    """Today the subject is stored with U+FFFD replacement characters."""
    url = "/admin/tickets/new/"
    fields = {"csrf_token": token_for(admin, url).encode(), "subject": b"caf\xe9 \xff",
              "customer": str(make_customer()).encode(), "body": b"hola",
              "priority": b"normal", "channel": b"web"}
    body = b"".join(b"--XyZ\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                    % (name.encode(), value) for name, value in fields.items()) + b"--XyZ--\r\n"
    response = admin.post(url, data=body, content_type="multipart/form-data; boundary=XyZ",
                          csrf=False)
    refused(response, 400, UNREADABLE)
    assert ticket_count(app) == 0


def test_valid_utf8_multipart_is_stored(app, admin, make_customer):
    url = "/admin/tickets/new/"
    response = admin.post(url, data={"subject": "Café ☕", "customer": str(make_customer()),
                                     "body": "hola", "priority": "normal", "channel": "web"},
                          content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Ticket.subject)) == "Café ☕"


def test_unreadable_login_form_is_a_400_too(client):
    response = client.post("/login", data=b"email=%FF&password=x",
                           content_type="application/x-www-form-urlencoded", csrf=False)
    refused(response, 400, UNREADABLE)


# -- Unknown ids in selects: a validation error, shown again with 422, in the user's language --

def field_errors(response) -> str:
    return " ".join(e.text for e in parse(response).select(cls="invalid-feedback")) \
        or parse(response).text


def test_unknown_category_on_ticket_create_is_a_422(app, admin, make_customer):
    """Today category=999 is stored as "no category"."""
    response = admin.post("/admin/tickets/new/", data={
        "customer": str(make_customer()), "subject": "Sin sonido", "body": "No se oye.",
        "category": "999", "priority": "normal", "channel": "web"})
    assert response.status_code == 422
    assert "No es una opción válida" in field_errors(response)
    assert ticket_count(app) == 0


def test_unknown_category_on_ticket_edit_is_a_422(app, admin, make_ticket, make_category):
    ticket_id = make_ticket(category_id=make_category())
    url = f"/admin/tickets/edit/?id={ticket_id}"
    response = admin.post(url, data={"subject": "Otro asunto", "category": "999"})
    assert response.status_code == 422
    assert "No es una opción válida" in field_errors(response)
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket.subject != "Otro asunto" and ticket.category_id is not None


@pytest.mark.parametrize("customer", ["999999", "zzz", "99999999999999999999"])
def test_unknown_customer_in_the_picker_is_a_422(app, admin, customer):
    """PostgreSQL would refuse "zzz" or a bigint as an integer id: a 500 there."""
    response = admin.post("/admin/tickets/new/", data={
        "customer": customer, "subject": "Sin sonido", "body": "No se oye.",
        "priority": "normal", "channel": "web"})
    assert response.status_code == 422
    assert ticket_count(app) == 0


def test_blank_category_is_still_allowed(app, admin, make_customer):
    response = admin.post("/admin/tickets/new/", data={
        "customer": str(make_customer()), "subject": "Sin sonido", "body": "No se oye.",
        "category": "__None", "priority": "normal", "channel": "web"})
    assert response.status_code == 302


@pytest.mark.parametrize(("path", "data"), [
    ("/admin/routing/new/", {"name": "R", "position": "1", "team": "999"}),
    ("/admin/categories/new/", {"code": "c", "name": "C", "default_team": "999"}),
    ("/admin/templates/new/", {"name": "T", "body": "Hola", "locale": "es",
                               "category": "999"}),
])
def test_unknown_id_in_any_relation_select_is_a_422(admin, path, data):
    response = admin.post(path, data=data)
    assert response.status_code == 422
    assert "No es una opción válida" in field_errors(response)


def test_unknown_team_in_a_multiple_select_is_a_422(admin):
    response = admin.post("/admin/agents/new/", data={
        "name": "Eva", "email": "eva@test.bayit", "password": "correct-horse-1",
        "role": "1", "teams": "999", "capacity": "5", "availability": "available",
        "locale": "es", "timezone": "UTC"})
    assert response.status_code == 422
    assert "No es una opción válida" in field_errors(response)


def test_built_in_messages_follow_the_viewers_language(app, login_as, make_user):
    """WTForms' and Flask-Admin's own messages ("Not a valid choice", "Not a valid integer
    value") in Spanish for a Spanish viewer and in English for an English one."""
    data = {"name": "R", "position": "x", "team": "999"}
    spanish = login_as(make_user(Role.SUPERVISOR, locale="es"))
    english = login_as(make_user(Role.SUPERVISOR, locale="en"))
    es = field_errors(spanish.post("/admin/routing/new/", data=data))
    en = field_errors(english.post("/admin/routing/new/", data=data))
    assert "No es una opción válida" in es and "No es un valor entero válido" in es
    assert "Not a valid choice" in en and "Not a valid integer value" in en


def test_refusals_speak_english_to_an_english_viewer(login_as, make_user, make_customer):
    english = login_as(make_user(Role.ADMIN, locale="en"))
    refused(english.get("/admin/tickets/?flt0_0=zzz"), 400, "Bad request", "does not accept")
    refused(english.get("/admin/customers/?page=-1"), 400, "must be a number")
    refused(english.post("/admin/customers/new/", data=b"name=%FF", csrf=False,
                         content_type="application/x-www-form-urlencoded"),
            400, "could not be read")
