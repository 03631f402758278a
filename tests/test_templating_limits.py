"""The template sandbox is bounded (issue 11): what would hold a web worker is refused at once,
with a message, by the reply workflow, the reply preview and the response-template form."""

import time

import pytest
from sqlalchemy import func, select

from helpdesk import sandbox, templating, workflows
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.models import Message, ResponseTemplate, Role, Ticket, User

from .pages import parse


def nested_ifs(n: int) -> str:
    return "{% if 1 %}" * n + "x" + "{% endif %}" * n


OVERLONG = "Hola {{ cliente.nombre }} " + "x" * sandbox.MAX_SOURCE

#: (template, message) — today each holds the worker for seconds, answers 500, renders, or is
#: refused with a misleading message. 200 nested ifs already break the tag count (400 > 100);
#: 40 show the depth limit on its own.
CASES = [
    pytest.param("{{ 10**4000000 }}", "número demasiado grande", id="power"),
    pytest.param("{{ 'a' * 100000000 }}", "texto demasiado largo", id="repeat"),
    pytest.param("{% for i in range(10**8) %}x{% endfor %}", "Marcador desconocido: range",
                 id="range"),
    pytest.param(nested_ifs(200), "demasiados marcadores o bloques", id="nested-200"),
    pytest.param(nested_ifs(40), "anida demasiados niveles", id="nested-40"),
    pytest.param(OVERLONG, "demasiado larga", id="overlong"),
    pytest.param("{{ lipsum() }}", "Marcador desconocido: lipsum", id="lipsum"),
]
QUICK = 2.0  # seconds: generous; before these limits the first two took far longer


@pytest.fixture
def desk(app, make_user, make_ticket):
    agent = make_user(Role.AGENT, name="Ana Agente")
    ticket = make_ticket("No puedo entrar")
    return {"agent": agent, "ticket": ticket}


def snapshot(app, ticket_id):
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        return (ticket.version, ticket.status, ticket.assignee_id,
                db.session.scalar(select(func.count()).select_from(Message)))


@pytest.mark.parametrize(("text", "message"), CASES)
def test_render_refuses_quickly(app, text, message):
    context = {"cliente": {"nombre": "Ana"}, "ticket": {}, "agente": {}}
    started = time.monotonic()
    with app.test_request_context(), pytest.raises(templating.TemplateProblem, match=message):
        templating.render(text, context)
    assert time.monotonic() - started < QUICK


@pytest.mark.parametrize(("text", "message"), CASES)
def test_reply_workflow_refuses_and_writes_nothing(app, desk, text, message):
    if text is OVERLONG:  # a reply has its own cap (REPLY_MAX), checked before rendering
        message = "como máximo"
    before = snapshot(app, desk["ticket"])
    started = time.monotonic()
    with app.app_context(), pytest.raises(DomainError, match=message), workflows.atomic():
        workflows.add_reply(db.session.get(Ticket, desk["ticket"]), text,
                            actor=db.session.get(User, desk["agent"]))
    assert time.monotonic() - started < QUICK
    assert snapshot(app, desk["ticket"]) == before


def preview(client, ticket_id, text):
    page = parse(client.get(f"/admin/tickets/{ticket_id}/"))
    headers = {"X-CSRFToken": page.one("script", id="hd-ticket-script").attrs["data-csrf"]}
    return client.post(f"/admin/tickets/{ticket_id}/preview", csrf=False, headers=headers,
                       data={"body": text})


@pytest.mark.parametrize(("text", "message"), CASES)
def test_preview_answers_422_with_the_message(app, desk, login_as, text, message):
    client = login_as(desk["agent"])
    before = snapshot(app, desk["ticket"])
    started = time.monotonic()
    response = preview(client, desk["ticket"], text)
    assert time.monotonic() - started < QUICK
    assert response.status_code == 422
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["ok"] is False and message in body["error"]
    assert snapshot(app, desk["ticket"]) == before


def test_preview_still_renders_the_placeholders(desk, login_as):
    response = preview(login_as(desk["agent"]), desk["ticket"],
                       "{% if cliente.nombre %}Hola {{ cliente.nombre|upper }}{% endif %}, "
                       "ticket {{ ticket.numero }} ({{ 6 * 7 }}) {{ agente.nombre }}")
    assert response.status_code == 200
    text = response.get_json()["text"]
    assert text.startswith("Hola CLIENTE") and "(42) Ana Agente" in text


@pytest.mark.parametrize(("text", "message"), CASES)
def test_admin_cannot_save_a_template_beyond_the_limits(app, make_user, login_as, text,
                                                        message):
    client = login_as(make_user(Role.ADMIN))
    started = time.monotonic()
    response = client.post("/admin/templates/new/", data={
        "name": "Peligrosa", "locale": "es", "body": text, "active": "y"})
    assert time.monotonic() - started < QUICK
    assert response.status_code == 422  # the form again, with its error
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ResponseTemplate)) == 0


def test_admin_saves_a_template_within_the_limits(app, make_user, login_as):
    client = login_as(make_user(Role.ADMIN))
    client.post("/admin/templates/new/", data={
        "name": "Saludo", "locale": "es", "active": "y",
        "body": "Hola {{ cliente.nombre }}{% if cliente.plan %} ({{ cliente.plan }}){% endif %}"})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ResponseTemplate)) == 1


@pytest.mark.parametrize(("text", "message"), [
    ("{{ lipsum }}", "Marcador desconocido: lipsum"),
    ("{{ cycler }}{{ joiner }}{{ namespace }}{{ dict }}", "Marcador desconocido: cycler"),
    ("{{ cliente.nombre|center(100000000) }}", "Filtro no disponible: center"),
    ("{{ '%0999999999d' % 1 }}", "operación no permitida"),
    ("{% set s = cliente.nombre %}{{ s }}", "«set»"),
    ("{% for a in 'abcdefghij' %}{% for b in 'abcdefghij' %}{% for c in 'abcdefghij' %}"
     "{% endfor %}{% endfor %}{% endfor %}", "demasiadas vueltas"),
    ("{% for a in ['x' * 40000] %}{% for b in [a ~ a] %}{% endfor %}{% endfor %}",
     "texto demasiado largo"),
    ("{{ cliente.nombre }}" * (sandbox.MAX_TAGS + 1), "demasiados marcadores"),
    ("{{ " + "-" * 3000 + "1 }}", "anida demasiados niveles"),
    ("{{ 1 / 0 }}", "no se puede usar"),
    ("{{ " + " ~ ".join(["cliente.nombre"] * 300) + " }}", "demasiados elementos"),
])
def test_other_ways_around_the_limits_are_refused(app, text, message):
    with app.test_request_context(), pytest.raises(templating.TemplateProblem, match=message):
        templating.check(text)


def test_the_time_budget_is_checked_while_rendering(app, monkeypatch):
    """No budget left: the first lookup refuses (a real render takes about a millisecond)."""
    monkeypatch.setattr(sandbox, "TIME_BUDGET", -1.0)
    with app.test_request_context(), pytest.raises(sandbox.LimitExceeded, match="tarda"):
        templating.render("Hola {{ cliente.nombre }}", {"cliente": {"nombre": "Ana"}})
